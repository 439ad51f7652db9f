import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Config } from '../config.js';
import { QueryCancelledError } from '../clickhouse/embedded.js';
import { ClickHouseQueryError, toClickHouseError } from '../clickhouse/errors.js';
import type { QueryHistory } from '../clickhouse/history.js';
import type { QueryService, StatementOutcome } from '../clickhouse/query-service.js';
import { splitStatements } from '../clickhouse/sql-split.js';
import { toIpcBytes } from '../results/collect.js';
import { checkPostgres } from '../postgres/health.js';
import { tableRowsAsJson } from '../results/json-rows.js';
import { requestUser, useRestConventions } from './rest-conventions.js';
import { LimitExceededError } from '../access/limiter.js';
import { PermissionDeniedError } from '../access/roles.js';

export interface QueryApiOptions {
  queries: QueryService;
  history: QueryHistory;
  config: Config;
}

const ExecuteBody = z.object({
  query: z.string().min(1, 'query must not be empty').max(1024 * 1024, 'query is longer than 1 MiB'),
  format: z.enum(['json', 'arrow']).default('json'),
});

const HistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
  search: z.string().max(1000).optional(),
  status: z.enum(['ok', 'error', 'cancelled']).optional(),
  user: z.string().max(256).optional(),
});

export function zodMessage(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

/** REST for scripts: /api/query/execute, /api/query/health, /api/query/history (SPEC §4). */
export const queryApiPlugin: FastifyPluginAsync<QueryApiOptions> = async (app, { queries, history, config }) => {
  useRestConventions(app, 'query');

  app.post('/api/query/execute', async (request, reply) => {
    const body = ExecuteBody.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ success: false, error: { message: zodMessage(body.error) } });
    const statements = splitStatements(body.data.query);
    if (statements.length === 0) return reply.code(400).send({ success: false, error: { message: 'query: no statement found' } });

    const controller = new AbortController();
    // The client went away before the answer: stop the query on the server.
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    const started = performance.now();
    let last: StatementOutcome | undefined;
    try {
      for (const statement of statements) {
        last = await queries.run(statement, {
          user: requestUser(request),
          principal: request.user ?? undefined,
          address: request.ip,
          source: 'rest',
          signal: controller.signal,
          keepRows: config.limits.restMaxRows,
        });
      }
    } catch (error) {
      if (error instanceof PermissionDeniedError) return reply.code(403).send({ success: false, error: { code: null, type: 'PERMISSION_DENIED', message: error.message } });
      if (error instanceof LimitExceededError) return reply.code(429).send({ success: false, error: { code: null, type: 'LIMIT_EXCEEDED', message: error.message } });
      const failure = error instanceof QueryCancelledError ? new ClickHouseQueryError('Query cancelled', undefined, 'CANCELLED') : toClickHouseError(error);
      const status = failure.type === 'CONNECTION_ERROR' ? 502 : 400;
      return reply.code(status).send({ success: false, error: { code: failure.code ?? null, type: failure.type ?? null, message: failure.message } });
    }
    const executionMs = Math.round(performance.now() - started);
    if (!last || last.kind === 'command') {
      return { success: true, data: [], rows: last?.kind === 'command' ? (last.summary.writtenRows ?? 0) : 0, execution_time_ms: executionMs, metadata: { columns: [], types: [] } };
    }
    const data = body.data.format === 'arrow' ? Buffer.from(toIpcBytes(last.table)).toString('base64') : tableRowsAsJson(last.table);
    return {
      success: true,
      data,
      rows: last.table.numRows,
      total_rows: last.result.rows,
      truncated: last.result.truncated || last.table.numRows < last.result.rows,
      execution_time_ms: executionMs,
      metadata: { columns: last.columns.map((c) => c.name), types: last.columns.map((c) => c.type) },
    };
  });

  app.get('/api/query/health', async (_request, reply) => {
    const [clickhouse, postgres] = await Promise.all([queries.engine.ping(), checkPostgres(config.postgres)]);
    const healthy = clickhouse.ok && (!postgres.configured || postgres.ok);
    return reply.code(clickhouse.ok ? 200 : 503).send({
      status: healthy ? 'ok' : 'degraded',
      clickhouse: { ...clickhouse, kind: queries.engine.kind, description: queries.engine.description },
      postgres,
    });
  });

  app.get('/api/query/history', async (request, reply) => {
    const filter = HistoryQuery.safeParse(request.query);
    if (!filter.success) return reply.code(400).send({ success: false, error: { message: zodMessage(filter.error) } });
    return history.list(filter.data);
  });
};
