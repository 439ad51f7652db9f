import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ExportFormat } from '../clickhouse/engine.js';
import { toClickHouseError } from '../clickhouse/errors.js';
import type { QueryHistory } from '../clickhouse/history.js';
import type { QueryService } from '../clickhouse/query-service.js';
import { isSubqueryable, splitStatements } from '../clickhouse/sql-split.js';
import { zodMessage } from './query.js';
import { requestUser, useRestConventions } from './rest-conventions.js';
import type { QueryLimiter } from '../access/limiter.js';
import type { AuditLog, AuditOutcome } from '../access/audit.js';
import { accessProfile, PermissionDeniedError } from '../access/roles.js';
import { checkReach } from '../access/sql-guard.js';

export interface ExportApiOptions {
  queries: QueryService;
  history: QueryHistory;
  limiter?: QueryLimiter;
  audit?: AuditLog;
}

const FORMATS: Record<string, { clickhouse: ExportFormat; mime: string; extension: string }> = {
  csv: { clickhouse: 'CSVWithNames', mime: 'text/csv; charset=utf-8', extension: 'csv' },
  tsv: { clickhouse: 'TSVWithNames', mime: 'text/tab-separated-values; charset=utf-8', extension: 'tsv' },
  jsonl: { clickhouse: 'JSONEachRow', mime: 'application/x-ndjson; charset=utf-8', extension: 'jsonl' },
  parquet: { clickhouse: 'Parquet', mime: 'application/vnd.apache.parquet', extension: 'parquet' },
};

const ExportRequest = z.object({
  query: z.string().min(1, 'query must not be empty').max(1024 * 1024, 'query is longer than 1 MiB'),
  format: z.enum(['csv', 'tsv', 'jsonl', 'parquet']).default('csv'),
  filename: z
    .string()
    .regex(/^[\w.-]{1,100}$/, 'filename: letters, digits, _ . - only')
    .optional(),
});

/**
 * `/api/query/export`: the whole result of one SELECT, streamed by ClickHouse in CSV, TSV, JSON Lines
 * or Parquet — not limited by the result caps that bound what a notebook holds.
 */
export const exportApiPlugin: FastifyPluginAsync<ExportApiOptions> = async (app, { queries, history, limiter, audit }) => {
  const handle = async (request: FastifyRequest, reply: FastifyReply, input: unknown) => {
    const parsed = ExportRequest.safeParse(input);
    if (!parsed.success) return reply.code(400).send({ success: false, error: { message: zodMessage(parsed.error) } });
    const statements = splitStatements(parsed.data.query);
    if (statements.length !== 1 || !isSubqueryable(statements[0]!)) {
      return reply.code(400).send({ success: false, error: { message: 'query: export takes exactly one SELECT (without FORMAT or INTO OUTFILE)' } });
    }
    const format = FORMATS[parsed.data.format]!;
    const controller = new AbortController();
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    const startedAt = new Date();
    const started = performance.now();
    const principal = request.user ?? undefined;
    const record = (outcome: AuditOutcome, detail: string) =>
      principal && audit?.record({ user: principal.username, role: principal.role, address: request.ip, action: 'query', target: statements[0]!, outcome, detail });
    let release: (() => void) | undefined;
    try {
      release = principal && limiter ? limiter.admit(principal) : undefined;
    } catch (error) {
      record('denied', (error as Error).message);
      return reply.code(429).send({ success: false, error: { code: null, type: 'LIMIT_EXCEEDED', message: (error as Error).message } });
    }
    try {
      // Under the user's own profile: a viewer's export is as read-only as their cells.
      const profile = principal ? accessProfile(principal) : undefined;
      if (principal && principal.role !== 'admin') checkReach(principal, await queries.engine.explainAst(statements[0]!, { signal: controller.signal, profile }));
      const stream = await queries.engine.exportStream(statements[0]!, format.clickhouse, { signal: controller.signal, profile });
      record('ok', `export ${parsed.data.format}`);
      await history.record({ user: requestUser(request), source: 'export', startedAt, query: statements[0]!, rows: 0, elapsed_ms: performance.now() - started, status: 'ok', error: null });
      const filename = `${parsed.data.filename ?? 'result'}.${format.extension}`;
      return reply.header('Content-Type', format.mime).header('Content-Disposition', `attachment; filename="${filename}"`).send(stream);
    } catch (error) {
      if (error instanceof PermissionDeniedError) {
        record('denied', error.message);
        return reply.code(403).send({ success: false, error: { code: null, type: 'PERMISSION_DENIED', message: error.message } });
      }
      const failure = toClickHouseError(error);
      record('error', failure.display);
      await history.record({ user: requestUser(request), source: 'export', startedAt, query: statements[0]!, rows: 0, elapsed_ms: performance.now() - started, status: 'error', error: failure.display });
      return reply.code(400).send({ success: false, error: { code: failure.code ?? null, type: failure.type ?? null, message: failure.message } });
    } finally {
      release?.();
    }
  };

  useRestConventions(app, 'export');
  app.post('/api/query/export', (request, reply) => handle(request, reply, request.body));
  app.get('/api/query/export', (request, reply) => handle(request, reply, request.query));
};
