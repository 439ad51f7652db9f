import { randomUUID } from 'node:crypto';
import type { RecordBatch, Table } from 'apache-arrow';
import type { Limits } from '../config.js';
import type { ClickHouseEngine, ColumnInfo, CommandSummary, QueryOptions } from './engine.js';
import { QueryCancelledError } from './embedded.js';
import { ClickHouseQueryError, toClickHouseError } from './errors.js';
import { accessProfile, PermissionDeniedError, type Principal } from '../access/roles.js';
import { checkReach } from '../access/sql-guard.js';
import type { QueryLimiter } from '../access/limiter.js';
import type { AuditAction, AuditLog, AuditOutcome } from '../access/audit.js';
import type { QueryHistory } from './history.js';
import { classifyStatement, DDL_KEYWORDS, isSubqueryable } from './sql-split.js';
import { FaithfulBatches, keepsBuffers, streamingStatement } from '../results/faithful.js';
import { blockRowsFor, COMM_MESSAGE_BYTES } from '../results/block-rows.js';
import { collect, previewTable, type CollectedResult } from '../results/collect.js';

export interface StatementContext {
  user: string;
  /** Who runs it: ClickHouse holds the statement to their role, and their limits apply. None: the proxy's own. */
  principal?: Principal;
  /** Where the request came from (audit). */
  address?: string;
  source: 'kernel' | 'rest';
  signal?: AbortSignal;
  queryId?: string;
  sessionId?: string;
  /** Rows kept in memory for the caller (defaults to the cell preview size). */
  keepRows?: number;
  /** Values bound server-side to the statement's `{name:Type}` placeholders. */
  params?: Record<string, unknown>;
  /** What the query history records instead of `sql` (e.g. the statement with its parameters shown inline). */
  historyQuery?: string;
  /** Sees each result batch as it arrives, with the result's columns (streaming to clients). */
  onBatch?: (batch: RecordBatch, columns: ColumnInfo[] | undefined) => Promise<void>;
  /**
   * Asks ClickHouse for ZSTD-compressed Arrow record batches (`output_format_arrow_compression_method`), for onBatch
   * consumers that take them (browsers). Honoured only when every column's batches can go on as ClickHouse wrote
   * them (results/faithful.ts keepsBuffers); otherwise the batches come uncompressed.
   */
  arrowCompression?: 'zstd';
}

export type StatementOutcome =
  | { kind: 'rows'; table: Table; result: CollectedResult; columns: ColumnInfo[]; elapsedMs: number }
  | { kind: 'command'; keyword: string; summary: CommandSummary; elapsedMs: number };

/** ClickHouse's answers when a role or setting forbids a statement: READONLY, QUERY_IS_PROHIBITED, ACCESS_DENIED. */
const REFUSED_CODES = new Set([164, 392, 497]);

export interface QueryAccessControl {
  limiter: QueryLimiter;
  audit: AuditLog;
}

/** Runs one statement with the configured limits and records it in the query history. */
export class QueryService {
  constructor(
    readonly engine: ClickHouseEngine,
    private readonly history: QueryHistory,
    readonly limits: Limits,
    private readonly access?: QueryAccessControl,
  ) {}

  async run(sql: string, context: StatementContext): Promise<StatementOutcome> {
    const startedAt = new Date();
    const started = performance.now();
    const queryId = context.queryId ?? randomUUID();
    const principal = context.principal;
    const target = context.historyQuery ?? sql;
    const action: AuditAction = DDL_KEYWORDS.has(classifyStatement(sql).keyword) ? 'ddl' : 'query';
    let release: (() => void) | undefined;
    if (principal && this.access) {
      try {
        release = this.access.limiter.admit(principal);
      } catch (error) {
        this.audit(context, 'limit', target, 'denied', (error as Error).message);
        throw error;
      }
    }
    let rows = 0;
    try {
      const outcome = await this.execute(sql, { ...context, queryId });
      rows = outcome.kind === 'rows' ? outcome.result.rows : (outcome.summary.writtenRows ?? 0);
      this.audit(context, action, target, 'ok', `${rows} rows`);
      await this.history.record({ user: context.user, source: context.source, startedAt, query: target, rows, elapsed_ms: outcome.elapsedMs, status: 'ok', error: null });
      return outcome;
    } catch (error) {
      if (error instanceof PermissionDeniedError) {
        this.audit(context, action, target, 'denied', error.message);
        await this.history.record({ user: context.user, source: context.source, startedAt, query: target, rows, elapsed_ms: performance.now() - started, status: 'error', error: error.message });
        throw error;
      }
      const cancelled = error instanceof QueryCancelledError || context.signal?.aborted === true;
      const failure = cancelled ? new QueryCancelledError() : toClickHouseError(error);
      const refused = failure instanceof ClickHouseQueryError && failure.code !== undefined && REFUSED_CODES.has(failure.code);
      this.audit(context, action, target, cancelled ? 'cancelled' : refused ? 'denied' : 'error', failure instanceof ClickHouseQueryError ? failure.display : 'cancelled');
      await this.history.record({
        user: context.user,
        source: context.source,
        startedAt,
        query: context.historyQuery ?? sql,
        rows,
        elapsed_ms: performance.now() - started,
        status: cancelled ? 'cancelled' : 'error',
        error: failure instanceof QueryCancelledError ? 'cancelled' : failure.display,
      });
      throw failure;
    } finally {
      release?.();
    }
  }

  private audit(context: StatementContext, action: AuditAction, target: string, outcome: AuditOutcome, detail: string): void {
    if (!this.access || !context.principal) return;
    const { username, role } = context.principal;
    this.access.audit.record({ user: username, role, address: context.address ?? '', action, target, outcome, detail });
  }

  private async execute(sql: string, context: StatementContext & { queryId: string }): Promise<StatementOutcome> {
    const started = performance.now();
    const { kind, keyword } = classifyStatement(sql);
    const profile = context.principal ? accessProfile(context.principal) : undefined;
    const options = { queryId: context.queryId, sessionId: context.sessionId, params: context.params, profile };
    if (context.principal && context.principal.role !== 'admin') {
      checkReach(context.principal, await this.engine.explainAst(sql, { ...options, signal: context.signal }));
    }
    if (kind === 'command') {
      const summary = await this.engine.command(sql, { ...options, signal: context.signal });
      return { kind: 'command', keyword, summary, elapsedMs: performance.now() - started };
    }
    const columns = isSubqueryable(sql) ? await this.describe(sql, options) : undefined;
    const cap = new AbortController();
    const signal = context.signal ? AbortSignal.any([context.signal, cap.signal]) : cap.signal;
    const faithful = new FaithfulBatches(columns);
    // ClickHouse makes the columns what the browser needs, in blocks of about one comm message each, so a streamed
    // result's batches go on as ClickHouse wrote them (kernel/result-stream.ts).
    const shapes = columns !== undefined && (await this.engine.shapesStreams());
    const statement = streamingStatement(sql, columns, {
      dateTimeAsTimestamp: shapes,
      // readonly = 1 refuses every setting, max_block_size included.
      blockRows: shapes && context.onBatch && !profile?.readonly ? blockRowsFor(columns, COMM_MESSAGE_BYTES) : undefined,
    });
    const compress =
      context.arrowCompression === 'zstd' && context.onBatch !== undefined && shapes && !profile?.readonly && keepsBuffers(columns!, { dateTimeAsTimestamp: shapes });
    const settings = compress ? { output_format_arrow_compression_method: 'zstd' } : undefined;
    const batches = this.engine.arrowBatches(statement, { ...options, signal, ...(settings ? { settings } : {}) });
    const converted = (async function* () {
      for await (const batch of batches) yield faithful.convert(batch);
    })();
    const result = await collect(converted, {
      previewRows: context.keepRows ?? this.limits.previewRows,
      maxRows: context.principal?.limits.maxResultRows ?? this.limits.maxResultRows,
      maxBytes: context.principal?.limits.maxResultBytes ?? this.limits.maxResultBytes,
      onBatch: context.onBatch ? (batch) => context.onBatch!(batch, columns) : undefined,
    });
    if (result.truncated) cap.abort();
    await converted.return(undefined);
    const table = previewTable(result);
    const described = columns ?? table.schema.fields.map((f) => ({ name: f.name, type: f.metadata.get('clickhouse.type') ?? String(f.type) }));
    return { kind: 'rows', table, result, columns: described, elapsedMs: performance.now() - started };
  }

  /** Under the statement's own profile: describing a query can read data (schema inference of file(), s3()). */
  private async describe(sql: string, options: QueryOptions): Promise<ColumnInfo[] | undefined> {
    try {
      const rows = await this.engine.json<{ name: string; type: string }>(`DESCRIBE TABLE (${sql})`, options);
      return rows.map(({ name, type }) => ({ name, type }));
    } catch {
      return undefined;
    }
  }
}
