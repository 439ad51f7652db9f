import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClickHouseEngine } from './engine.js';
import { scrubSecrets } from '../util/secrets.js';
import { BoundFilter } from './filter.js';
import { onceUntilFailed } from '../util/once.js';

export type QueryStatus = 'ok' | 'error' | 'cancelled';

export interface HistoryEntry {
  id: string;
  user: string;
  source: string;
  started_at: string;
  query: string;
  rows: number;
  elapsed_ms: number;
  status: QueryStatus;
  error: string | null;
}

export interface HistoryFilter {
  limit: number;
  offset: number;
  search?: string;
  status?: QueryStatus;
  user?: string;
}

export const QUERY_HISTORY_TABLE = 'chlab_query_history';

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${QUERY_HISTORY_TABLE} (
  id String,
  user String,
  source String,
  started_at DateTime,
  started_at_ms UInt64,
  query String,
  rows UInt64,
  elapsed_ms UInt64,
  status Enum8('ok' = 1, 'error' = 2, 'cancelled' = 3),
  error Nullable(String)
) ENGINE = MergeTree() PARTITION BY toYYYYMM(started_at) ORDER BY (started_at, id)`;

/** Every query, from cells and REST alike, kept in ClickHouse and searchable. */
export class QueryHistory {

  private readonly ensureTable = onceUntilFailed(() => this.engine.command(CREATE_TABLE).then(() => undefined));

  constructor(
    private readonly engine: ClickHouseEngine,
    private readonly log: Logger,
  ) {}

  async record(entry: Omit<HistoryEntry, 'id' | 'started_at'> & { startedAt: Date }): Promise<void> {
    try {
      await this.ensureTable();
      await this.engine.insertJson(QUERY_HISTORY_TABLE, [
        {
          id: randomUUID(),
          user: entry.user,
          source: entry.source,
          started_at: Math.floor(entry.startedAt.getTime() / 1000),
          started_at_ms: entry.startedAt.getTime(),
          // A key the proxy holds never lands in the history, even when a user typed it into a query.
          query: scrubSecrets(entry.query),
          rows: entry.rows,
          elapsed_ms: Math.round(entry.elapsed_ms),
          status: entry.status,
          error: entry.error === null ? null : scrubSecrets(entry.error),
        },
      ]);
    } catch (error) {
      this.log.warn({ err: error }, 'could not record query history');
    }
  }

  async list(filter: HistoryFilter): Promise<{ queries: HistoryEntry[]; total: number }> {
    await this.ensureTable();
    const { where, params } = new BoundFilter(filter).search(filter.search, ['query']).equals('status', 'status', filter.status).equals('user', 'user', filter.user);
    const queries = await this.engine.json<HistoryEntry & { started_at_ms: string | number }>(
      `SELECT id, user, source, started_at_ms, query, rows, elapsed_ms, status, error
       FROM ${QUERY_HISTORY_TABLE} ${where}
       ORDER BY started_at_ms DESC, id LIMIT {limit:UInt32} OFFSET {offset:UInt32}`,
      { params },
    );
    const [count] = await this.engine.json<{ total: string | number }>(
      `SELECT count() AS total FROM ${QUERY_HISTORY_TABLE} ${where}`,
      { params },
    );
    return {
      queries: queries.map(({ started_at_ms, ...q }) => ({
        ...q,
        rows: Number(q.rows),
        elapsed_ms: Number(q.elapsed_ms),
        started_at: new Date(Number(started_at_ms)).toISOString(),
      })),
      total: Number(count?.total ?? 0),
    };
  }
}
