// migration_history (SPEC §3, with extra columns beside the required ones) and migration_ranges (per-range
// progress, the unit of resume) in ClickHouse. Values are always bound as query parameters.
import { BoundFilter } from '../clickhouse/filter.js';
import { onceUntilFailed } from '../util/once.js';
import type { ClickHouseEngine } from '../clickhouse/engine.js';
import type { RangePlan } from './planner.js';

export type MigrationStatus = 'pending' | 'running' | 'completed' | 'failed';

export const HISTORY_DDL = `CREATE TABLE IF NOT EXISTS migration_history (
    id UUID DEFAULT generateUUIDv4(),
    source String, destination String, source_table String,
    migration_time DateTime DEFAULT now(),
    deskripsi String,
    tabel_fields Array(String),
    field_mappings String,
    status Enum8('pending' = 1, 'running' = 2, 'completed' = 3, 'failed' = 4),
    records_migrated UInt64,
    error_message Nullable(String),
    duration_seconds UInt32,
    created_by String,
    metadata String
) ENGINE = MergeTree() ORDER BY (migration_time, id) PARTITION BY toYYYYMM(migration_time)`;

/** Columns chlab adds beside the required ones (added to an existing table too). */
const EXTRA_COLUMNS = [
  'total_records UInt64 DEFAULT 0',
  'started_at DateTime64(3) DEFAULT now64(3)',
  'finished_at Nullable(DateTime64(3))',
  'validation_ok Nullable(Bool)',
  'spec_key String DEFAULT \'\'',
];

export const RANGES_DDL = `CREATE TABLE IF NOT EXISTS migration_ranges (
    migration_id UUID,
    range_id UInt32,
    state Enum8('planned' = 1, 'done' = 2),
    kind String,
    lo Nullable(String),
    hi Nullable(String),
    rows UInt64,
    bytes UInt64,
    elapsed_ms UInt32,
    recorded_at DateTime64(3) DEFAULT now64(3)
) ENGINE = MergeTree ORDER BY (migration_id, range_id, state)`;

export interface HistoryRecord {
  id: string;
  source: string;
  destination: string;
  source_table: string;
  migration_time: string;
  deskripsi: string;
  tabel_fields: string[];
  field_mappings: string;
  status: MigrationStatus;
  records_migrated: number;
  error_message: string | null;
  duration_seconds: number;
  created_by: string;
  metadata: string;
  total_records: number;
  started_at: string;
  finished_at: string | null;
  validation_ok: boolean | null;
  spec_key: string;
}

export interface HistoryFilter {
  limit: number;
  offset: number;
  status?: MigrationStatus;
  search?: string;
  from?: string;
  to?: string;
  sort?: 'migration_time' | 'records_migrated' | 'duration_seconds' | 'status' | 'source_table' | 'destination';
  order?: 'asc' | 'desc';
}

const SORTS: Record<NonNullable<HistoryFilter['sort']>, string> = {
  migration_time: 'started_at',
  records_migrated: 'records_migrated',
  duration_seconds: 'duration_seconds',
  status: 'status',
  source_table: 'source_table',
  destination: 'destination',
};

const SELECT_FIELDS = `toString(id) AS id, source, destination, source_table, toUnixTimestamp(migration_time) AS migration_time, deskripsi, tabel_fields,
  field_mappings, toString(status) AS status, records_migrated, error_message, duration_seconds, created_by, metadata, total_records,
  toUnixTimestamp64Milli(started_at) AS started_at, toUnixTimestamp64Milli(finished_at) AS finished_at, validation_ok, spec_key`;

/**
 * Makes migration_history take lightweight `UPDATE`s (ClickHouse ≥ 25.7: patch parts, applied when read). A
 * mutation (`ALTER TABLE … UPDATE`) rewrites the table's part and waits for the background pool: 10-30 ms, but
 * 0.2-1 s whenever it queues behind a merge, twice per migration. Returns false where the server has no such thing.
 */
async function enableLightweightUpdates(engine: ClickHouseEngine): Promise<boolean> {
  const [table] = await engine.json<{ query: string }>("SELECT create_table_query AS query FROM system.tables WHERE database = currentDatabase() AND name = 'migration_history'");
  if (/enable_block_number_column = 1/.test(table?.query ?? '') && /enable_block_offset_column = 1/.test(table?.query ?? '')) return true;
  return engine.command('ALTER TABLE migration_history MODIFY SETTING enable_block_number_column = 1, enable_block_offset_column = 1').then(
    () => true,
    () => false,
  );
}

export class MigrationHistory {
  /** Whether records are updated with lightweight `UPDATE` (else a synchronous mutation). */
  private lightweightUpdates = false;

  constructor(private readonly engine: ClickHouseEngine) {}

  readonly ensureTables = onceUntilFailed(async () => {
    // A new table gets the extra columns at once (no ALTER per column); an older one has them added below.
    await this.engine.command(HISTORY_DDL.replace('    metadata String\n)', `    metadata String,\n${EXTRA_COLUMNS.map((c) => `    ${c}`).join(',\n')}\n)`));
    const present = new Set(
      (await this.engine.json<{ name: string }>("SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'migration_history'")).map((c) => c.name),
    );
    for (const column of EXTRA_COLUMNS) {
      if (!present.has(column.split(' ')[0]!)) await this.engine.command(`ALTER TABLE migration_history ADD COLUMN IF NOT EXISTS ${column}`);
    }
    await this.engine.command(RANGES_DDL);
    this.lightweightUpdates = await enableLightweightUpdates(this.engine);
  });

  async insert(record: Omit<HistoryRecord, 'migration_time' | 'started_at' | 'finished_at' | 'validation_ok' | 'duration_seconds' | 'records_migrated' | 'error_message'> & { started_at: Date }): Promise<void> {
    await this.ensureTables();
    await this.engine.command(
      `INSERT INTO migration_history (id, source, destination, source_table, migration_time, deskripsi, tabel_fields, field_mappings, status,
         records_migrated, error_message, duration_seconds, created_by, metadata, total_records, started_at, spec_key)
       SELECT {id:UUID}, {source:String}, {destination:String}, {source_table:String}, toDateTime(parseDateTime64BestEffort({started:String}, 3, 'UTC')), {deskripsi:String},
         {fields:Array(String)}, {mappings:String}, {status:String}, 0, NULL, 0, {created_by:String}, {metadata:String}, {total:UInt64},
         parseDateTime64BestEffort({started:String}, 3, 'UTC'), {spec_key:String}`,
      {
        params: {
          id: record.id,
          source: record.source,
          destination: record.destination,
          source_table: record.source_table,
          started: record.started_at.toISOString(),
          deskripsi: record.deskripsi,
          fields: record.tabel_fields,
          mappings: record.field_mappings,
          status: record.status,
          created_by: record.created_by,
          metadata: record.metadata,
          total: record.total_records,
          spec_key: record.spec_key,
        },
      },
    );
  }

  /** Updates a record in place (one row per migration, as SPEC §3 has it), visible to every reader on return. */
  async update(id: string, fields: Partial<Pick<HistoryRecord, 'status' | 'records_migrated' | 'error_message' | 'duration_seconds' | 'metadata' | 'total_records' | 'validation_ok'>> & { finished_at?: Date | null }): Promise<void> {
    const sets: string[] = [];
    const params: Record<string, unknown> = { id };
    const types: Record<string, string> = {
      status: 'String', records_migrated: 'UInt64', error_message: 'Nullable(String)', duration_seconds: 'UInt32', metadata: 'String', total_records: 'UInt64', validation_ok: 'Nullable(Bool)', finished_at: 'Nullable(String)',
    };
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const type = types[key];
      if (!type) continue;
      if (key === 'status') sets.push(`status = CAST({status:String}, 'Enum8(\\'pending\\' = 1, \\'running\\' = 2, \\'completed\\' = 3, \\'failed\\' = 4)')`);
      else if (key === 'finished_at') sets.push(`finished_at = parseDateTime64BestEffortOrNull({finished_at:Nullable(String)}, 3, 'UTC')`);
      else sets.push(`${key} = {${key}:${type}}`);
      params[key] = value instanceof Date ? value.toISOString() : value === null ? null : typeof value === 'boolean' ? (value ? 1 : 0) : value;
    }
    if (!sets.length) return;
    await this.ensureTables();
    if (this.lightweightUpdates) {
      try {
        await this.engine.command(`UPDATE migration_history SET ${sets.join(', ')} WHERE id = {id:UUID}`, { params });
        return;
      } catch (error) {
        if (!isUnsupported(error)) throw error;
        this.lightweightUpdates = false;
      }
    }
    await this.engine.command(`ALTER TABLE migration_history UPDATE ${sets.join(', ')} WHERE id = {id:UUID}`, { params, settings: { mutations_sync: 2 } });
  }

  async get(id: string): Promise<HistoryRecord | undefined> {
    await this.ensureTables();
    const rows = await this.engine.json<HistoryRecord>(`SELECT ${SELECT_FIELDS} FROM migration_history WHERE toString(id) = {id:String} LIMIT 1`, { params: { id } });
    return rows[0] ? normalize(rows[0]) : undefined;
  }

  async findCompleted(specKey: string): Promise<HistoryRecord | undefined> {
    await this.ensureTables();
    const rows = await this.engine.json<HistoryRecord>(
      `SELECT ${SELECT_FIELDS} FROM migration_history WHERE spec_key = {key:String} AND status = 'completed' ORDER BY started_at DESC LIMIT 1`,
      { params: { key: specKey } },
    );
    return rows[0] ? normalize(rows[0]) : undefined;
  }

  async list(filter: HistoryFilter): Promise<{ migrations: HistoryRecord[]; total: number }> {
    await this.ensureTables();
    const { where: clause, params } = new BoundFilter(filter)
      .equals('toString(status)', 'status', filter.status)
      .search(filter.search, ['source_table', 'destination', 'deskripsi', 'toString(id)', "ifNull(error_message, '')"])
      .when('from', filter.from, 'started_at >= parseDateTime64BestEffort({from:String}, 3)')
      .when('to', filter.to, 'started_at <= parseDateTime64BestEffort({to:String}, 3)');
    const sort = SORTS[filter.sort ?? 'migration_time'];
    const order = filter.order === 'asc' ? 'ASC' : 'DESC';
    const [rows, total] = await Promise.all([
      this.engine.json<HistoryRecord>(`SELECT ${SELECT_FIELDS} FROM migration_history ${clause} ORDER BY ${sort} ${order}, id LIMIT {limit:UInt32} OFFSET {offset:UInt32}`, { params }),
      this.engine.json<{ n: string | number }>(`SELECT count() AS n FROM migration_history ${clause}`, { params }),
    ]);
    return { migrations: rows.map(normalize), total: Number(total[0]?.n ?? 0) };
  }

  async recordPlannedRanges(id: string, plan: RangePlan): Promise<void> {
    await this.ensureTables();
    const rows = plan.ranges.map((r) => ({ migration_id: id, range_id: r.id, state: 'planned', kind: plan.kind, lo: r.lo, hi: r.hi, rows: 0, bytes: 0, elapsed_ms: 0 }));
    for (let i = 0; i < rows.length; i += 10_000) await this.engine.insertJson('migration_ranges', rows.slice(i, i + 10_000));
  }

  async recordRangeDone(id: string, range: { id: number; lo: string | null; hi: string | null }, kind: string, rows: number, bytes: number, elapsedMs: number): Promise<void> {
    await this.engine.command(
      `INSERT INTO migration_ranges (migration_id, range_id, state, kind, lo, hi, rows, bytes, elapsed_ms)
       SELECT {id:UUID}, {range:UInt32}, 'done', {kind:String}, {lo:Nullable(String)}, {hi:Nullable(String)}, {rows:UInt64}, {bytes:UInt64}, {ms:UInt32}`,
      { params: { id, range: range.id, kind, lo: range.lo, hi: range.hi, rows, bytes, ms: Math.round(elapsedMs) } },
    );
  }

  /** Forgets which ranges were loaded (their rows were removed with the target): a resume loads every range again. */
  async forgetDoneRanges(id: string): Promise<void> {
    await this.ensureTables();
    await this.engine.command("ALTER TABLE migration_ranges DELETE WHERE migration_id = {id:UUID} AND state = 'done'", { params: { id }, settings: { mutations_sync: 2 } });
  }

  async ranges(id: string): Promise<{ plan: RangePlan; done: Map<number, { rows: number; bytes: number }> }> {
    await this.ensureTables();
    const rows = await this.engine.json<{ range_id: number; state: string; kind: string; lo: string | null; hi: string | null; rows: string | number; bytes: string | number }>(
      'SELECT range_id, toString(state) AS state, kind, lo, hi, rows, bytes FROM migration_ranges WHERE migration_id = {id:UUID} ORDER BY range_id, state',
      { params: { id } },
    );
    const planned = rows.filter((r) => r.state === 'planned');
    const done = new Map<number, { rows: number; bytes: number }>();
    for (const r of rows) if (r.state === 'done' && !done.has(r.range_id)) done.set(r.range_id, { rows: Number(r.rows), bytes: Number(r.bytes) });
    const kind = (planned[0]?.kind ?? 'full') as RangePlan['kind'];
    return { plan: { kind, ranges: planned.map((r) => ({ id: r.range_id, lo: r.lo, hi: r.hi })) }, done };
  }
}

function normalize(row: HistoryRecord): HistoryRecord {
  const iso = (ms: unknown) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
  return {
    ...row,
    migration_time: new Date(Number(row.migration_time) * 1000).toISOString(),
    started_at: iso(row.started_at)!,
    finished_at: iso(row.finished_at),
    records_migrated: Number(row.records_migrated),
    duration_seconds: Number(row.duration_seconds),
    total_records: Number(row.total_records),
    validation_ok: row.validation_ok === null || row.validation_ok === undefined ? null : Boolean(row.validation_ok),
  };
}

/** A server without lightweight updates: a syntax error, NOT_IMPLEMENTED, or the feature turned off. */
function isUnsupported(error: unknown): boolean {
  const e = error as { code?: string | number; message?: string };
  return ['62', '48', '344'].includes(String(e.code ?? '')) || /Syntax error|NOT_IMPLEMENTED|SUPPORT_IS_DISABLED|Lightweight updates? (are|is) not/i.test(e.message ?? '');
}
