import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requestUser, useRestConventions } from './rest-conventions.js';
import type { AuditLog, AuditOutcome } from '../access/audit.js';
import type { Config } from '../config.js';
import { QueryCancelledError } from '../clickhouse/embedded.js';
import { toClickHouseError } from '../clickhouse/errors.js';
import { toIpcBytes } from '../results/collect.js';
import { tableRowsAsJson } from '../results/json-rows.js';
import { S3Error } from '../s3/errors.js';
import { parseHeader } from '../s3/formats.js';
import { validateBucket, validateKey } from '../s3/location.js';
import type { S3Source } from '../s3/reader.js';
import type { S3Service } from '../s3/service.js';
import { zodMessage } from './query.js';

export interface S3ApiOptions {
  s3: S3Service;
  config: Config;
  audit?: AuditLog;
}

const connection = z.string().regex(/^[a-z][a-z0-9_]{0,47}$/, 'not a connection name').optional();
const bucket = z.string().min(1, 'bucket is required').max(63);
const key = z.string().min(1, 'key is required').max(1024);
const header = z.union([z.boolean(), z.enum(['yes', 'no', 'auto', 'true', 'false'])]).optional();
const format = z.string().max(64).optional();
const compression = z.string().max(16).optional();

const BucketsQuery = z.object({ connection });
const ListQuery = z.object({
  connection,
  bucket,
  prefix: z.string().max(1024).default(''),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
  token: z.string().max(4096).optional(),
  after: z.string().max(1024).optional(),
});
const PreviewBody = z.object({
  connection,
  bucket,
  key,
  format,
  header,
  compression,
  limit: z.number().int().min(0).max(1_000_000).default(100),
  count: z.boolean().default(false),
  output: z.enum(['json', 'arrow']).default('json'),
});
const Column = z.object({ name: z.string().min(1).max(256), type: z.string().min(1).max(1024) });
const ImportBody = z.object({
  connection,
  bucket,
  key,
  destination_table: z.string().min(1, 'destination_table is required').max(257),
  format,
  header,
  compression,
  create: z.enum(['auto', 'yes', 'no']).default('auto'),
  columns: z.array(Column).max(2000).optional(),
  order_by: z.array(z.string().min(1).max(256)).max(64).optional(),
});

function fail(reply: FastifyReply, status: number, message: string, extra: Record<string, unknown> = {}) {
  return reply.code(status).send({ success: false, error: { ...extra, message } });
}

/** Errors as `{success:false, error:{message}}` with a status that says what to fix; never a key in them. */
function sendError(reply: FastifyReply, error: unknown) {
  if (error instanceof S3Error) return fail(reply, error.status, error.message);
  if (error instanceof QueryCancelledError) return fail(reply, 499, 'Query cancelled', { type: 'CANCELLED' });
  const failure = toClickHouseError(error);
  return fail(reply, failure.type === 'CONNECTION_ERROR' ? 502 : 400, failure.message, { code: failure.code ?? null, type: failure.type ?? null });
}

function abortOnClose(_request: FastifyRequest, reply: FastifyReply): AbortSignal {
  // The request's 'close' fires once its body is read; the reply's 'close' before it finished means the client left.
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/**
 * REST for scripts (same auth as the rest):
 *   GET  /api/s3/connections                       → {connections:[{name, endpoint, region, url_style, collection}]}
 *   GET  /api/s3/buckets?connection=               → {buckets:[{name, created}]}
 *   GET  /api/s3/list?bucket=&prefix=&limit=&token= → {prefixes, objects:[{key, size, last_modified}], next_token, truncated}
 *   POST /api/s3/preview {bucket, key, format?, limit?, header?, compression?, count?}
 *                                                  → the /api/query/execute shape + schema (+ count)
 *   POST /api/s3/import {bucket, key, destination_table, format?, create?, columns?} → {rows, destination_table, …}
 */
export const s3ApiPlugin: FastifyPluginAsync<S3ApiOptions> = async (app, { s3, config, audit }) => {
  useRestConventions(app, 'S3');

  const sourceOf = (body: { connection?: string; bucket: string; key: string; format?: string; compression?: string; header?: string | boolean }): S3Source => ({
    connection: s3.connection(body.connection),
    bucket: validateBucket(body.bucket),
    key: validateKey(body.key),
    format: body.format,
    compression: body.compression,
    header: parseHeader(body.header),
  });

  // Requests wait until the named collections (and the demo files) are ready.
  app.addHook('preHandler', async (request) => {
    if (request.url.startsWith('/api/s3/')) await s3.start();
  });

  app.get('/api/s3/connections', async () => ({ connections: s3.infos() }));

  app.get('/api/s3/buckets', async (request, reply) => {
    const query = BucketsQuery.safeParse(request.query);
    if (!query.success) return fail(reply, 400, zodMessage(query.error));
    try {
      const buckets = await s3.listing.buckets(s3.connection(query.data.connection), abortOnClose(request, reply));
      return { buckets };
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.get('/api/s3/list', async (request, reply) => {
    const query = ListQuery.safeParse(request.query);
    if (!query.success) return fail(reply, 400, zodMessage(query.error));
    try {
      const { bucket, prefix, limit, token, after } = query.data;
      validateBucket(bucket);
      validateKey(prefix, 'prefix', { allowEmpty: true });
      if (after !== undefined) validateKey(after, 'after', { allowEmpty: true });
      const page = await s3.listing.list(s3.connection(query.data.connection), bucket, prefix, { limit, token, after }, abortOnClose(request, reply));
      return page;
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.post('/api/s3/preview', async (request, reply) => {
    const body = PreviewBody.safeParse(request.body ?? {});
    if (!body.success) return fail(reply, 400, zodMessage(body.error));
    const started = performance.now();
    try {
      const source = sourceOf(body.data);
      const limit = Math.min(body.data.limit, config.limits.restMaxRows);
      const result = await s3.reader.preview(source, { user: requestUser(request), origin: 'rest', signal: abortOnClose(request, reply), limit, keepRows: limit, count: body.data.count });
      const { outcome } = result;
      const data = body.data.output === 'arrow' ? Buffer.from(toIpcBytes(outcome.table)).toString('base64') : tableRowsAsJson(outcome.table);
      const read = result.tableFunction.read;
      return {
        success: true,
        data,
        rows: outcome.table.numRows,
        total_rows: outcome.result.rows,
        truncated: outcome.result.truncated,
        execution_time_ms: Math.round(performance.now() - started),
        metadata: { columns: outcome.columns.map((c) => c.name), types: outcome.columns.map((c) => c.type) },
        schema: result.schema,
        source: { connection: source.connection.name, bucket: source.bucket, key: source.key, format: read.format ?? null, compression: read.compression ?? null },
        sql: result.sql,
        ...(result.count ? { count: result.count } : {}),
      };
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.post('/api/s3/import', async (request, reply) => {
    const body = ImportBody.safeParse(request.body ?? {});
    if (!body.success) return fail(reply, 400, zodMessage(body.error));
    try {
      const source = { ...sourceOf(body.data), columns: body.data.columns };
      const target = `s3://${body.data.bucket}/${body.data.key} → ${body.data.destination_table}`;
      const record = (outcome: AuditOutcome, detail: string) =>
        request.user && audit?.record({ user: request.user.username, role: request.user.role, address: request.ip, action: 'import', target, outcome, detail });
      const result = await s3.importer.run({
        source,
        table: body.data.destination_table,
        create: body.data.create,
        orderBy: body.data.order_by,
        user: requestUser(request),
        origin: 'rest',
        signal: abortOnClose(request, reply),
      }).catch((error: unknown) => {
        record('error', error instanceof Error ? error.message : String(error));
        throw error;
      });
      record('ok', `${result.rows} rows`);
      return { success: true, ...result };
    } catch (error) {
      return sendError(reply, error);
    }
  });
};
