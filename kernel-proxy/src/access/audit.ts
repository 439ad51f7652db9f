import type { Logger } from 'pino';
import type { ClickHouseEngine } from '../clickhouse/engine.js';
import { scrubSecrets } from '../util/secrets.js';
import { BoundFilter } from '../clickhouse/filter.js';
import { onceUntilFailed } from '../util/once.js';

export const AUDIT_TABLE = 'chlab_audit';

export const AUDIT_ACTIONS = ['query', 'ddl', 'migration', 'import', 'login', 'login_failed', 'logout', 'denied', 'limit'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export const AUDIT_OUTCOMES = ['ok', 'error', 'denied', 'cancelled'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditEvent {
  user: string;
  role: string;
  address: string;
  action: AuditAction;
  /** The statement, the migrated table, the imported file, the route… */
  target: string;
  outcome: AuditOutcome;
  detail?: string;
}

export interface AuditRow extends Required<AuditEvent> {
  time: string;
}

export interface AuditFilter {
  limit: number;
  offset: number;
  user?: string;
  action?: AuditAction;
  outcome?: AuditOutcome;
  search?: string;
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${AUDIT_TABLE} (
  time DateTime64(3, 'UTC'),
  user String,
  role LowCardinality(String),
  address String,
  action LowCardinality(String),
  target String,
  outcome LowCardinality(String),
  detail String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(time) ORDER BY (time, user)`;

const FLUSH_EVERY_MS = 500;
const FLUSH_AT_ROWS = 500;
/** Past this many unwritten rows (ClickHouse down), the oldest are dropped with a log line. */
const MAX_PENDING_ROWS = 50_000;
const MAX_TEXT = 64 * 1024;

const clip = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text);

/** Who did what, from where, and how it ended — kept in ClickHouse, written in small batches. */
export class AuditLog {
  private pending: Record<string, unknown>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly ensureTable = onceUntilFailed(() => this.engine.command(CREATE_TABLE).then(() => undefined));

  constructor(
    private readonly engine: ClickHouseEngine,
    private readonly log: Logger,
  ) {}

  record(event: AuditEvent): void {
    this.pending.push({
      time: new Date().toISOString().replace('T', ' ').replace('Z', ''),
      user: event.user,
      role: event.role,
      address: event.address,
      action: event.action,
      target: clip(scrubSecrets(event.target)),
      outcome: event.outcome,
      detail: clip(scrubSecrets(event.detail ?? '')),
    });
    if (this.pending.length > MAX_PENDING_ROWS) {
      const dropped = this.pending.length - MAX_PENDING_ROWS;
      this.pending.splice(0, dropped);
      this.log.error({ dropped }, 'audit rows dropped: ClickHouse is not taking them');
    }
    if (this.pending.length >= FLUSH_AT_ROWS) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_EVERY_MS).unref();
  }

  /** Writes what is pending; resolves once it is in ClickHouse (or has failed and been kept for the next try). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(async () => {
      if (this.pending.length === 0) return;
      const rows = this.pending;
      this.pending = [];
      try {
        await this.ensureTable();
        await this.engine.insertJson(AUDIT_TABLE, rows);
      } catch (error) {
        this.pending = [...rows, ...this.pending];
        this.log.error({ err: error, rows: rows.length }, 'audit rows not written yet');
        this.timer ??= setTimeout(() => void this.flush(), 5 * FLUSH_EVERY_MS).unref();
      }
    });
    return this.flushing;
  }

  async list(filter: AuditFilter): Promise<{ events: AuditRow[]; total: number }> {
    await this.flush();
    await this.ensureTable();
    const { where: clause, params } = new BoundFilter(filter)
      .equals('user', 'user', filter.user)
      .equals('action', 'action', filter.action)
      .equals('outcome', 'outcome', filter.outcome)
      .search(filter.search, ['target', 'detail']);
    const events = await this.engine.json<AuditRow>(
      `SELECT formatDateTime(time, '%Y-%m-%dT%H:%i:%S.%fZ') AS time, user, role, address, action, target, outcome, detail
       FROM ${AUDIT_TABLE} ${clause} ORDER BY time DESC LIMIT {limit:UInt32} OFFSET {offset:UInt32}`,
      { params },
    );
    const [count] = await this.engine.json<{ total: string | number }>(`SELECT count() AS total FROM ${AUDIT_TABLE} ${clause}`, { params });
    return { events, total: Number(count?.total ?? 0) };
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
