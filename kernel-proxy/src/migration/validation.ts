// After loading: row counts and per-column aggregates computed on both sides and compared.
//  - every column: non-null count;  numbers: sum, min, max;  text/json/bytea: total bytes and min/max (md5);
//  - dates and times: min, max and the sum of epoch values;  booleans: count of true;  arrays: total elements.
// Transformed columns are only counted (a transform changes values on purpose).
import type pg from 'pg';
import type { ClickHouseEngine } from '../clickhouse/engine.js';
import type { SourceTable } from '../postgres/analyze.js';
import { activeColumns, type ColumnPlan } from './plan.js';
import { chIdent, chTable, pgIdent, pgTable } from './sql.js';

export interface ValidationCheck {
  name: string;
  source: string | null;
  destination: string | null;
  ok: boolean;
}

export interface ValidationResult {
  ok: boolean;
  row_count: { source: number; destination: number };
  columns: { column: string; destination_column: string; checks: ValidationCheck[]; note?: string }[];
  elapsed_ms: number;
  note?: string;
}

interface Aggregate {
  column: string;
  name: string;
  pg: string;
  ch: string;
  compare: 'exact' | 'decimal' | 'float';
  /**
   * The same aggregate in two steps, for a source side computed range by range (each range right after its COPY,
   * on the connection that copied it): `partial` over one range's rows (text), and `combine` over the partials of
   * every range (`{v}`: a text column), which gives exactly what `pg` gives over the whole table.
   */
  partial: string;
  combine: string;
}

/** How partials combine: counts and sums add up, minimums and maximums are taken again in the value's own order. */
const SUM = 'sum({v}::numeric)::text';
const SUM0 = 'coalesce(sum({v}::numeric), 0)::text';

function aggregatesFor(p: ColumnPlan, source: SourceTable, utcClickHouse: boolean): Aggregate[] {
  const s = pgIdent(p.source_field);
  const d = chIdent(p.destination_field);
  const column = source.columns.find((c) => c.name === p.source_field)!;
  const base = column.resolved.base;
  const out: Aggregate[] = [];
  // nulls: default turns NULL into the type's default: sums and byte totals still compare (a default adds 0),
  // minimum and maximum do not.
  const add = (name: string, pgExpr: string, chExpr: string, compare: Aggregate['compare'], combine: string, partial = pgExpr) => {
    if (p.nulls === 'default' && /^(min|max)/.test(name)) return;
    out.push({ column: p.source_field, name, pg: pgExpr, ch: chExpr, compare, partial, combine });
  };
  // (a NOT NULL column: its non-null count is the row count, which PostgreSQL computes once for every such column)
  if (p.nulls !== 'default') add('non_null', column.nullable ? `count(${s})::text` : 'count(*)::text', `toString(count(${d}))`, 'exact', SUM);
  const dest = p.base_type;
  const sameKind = p.suggested_type.replace(/\s/g, '') === dest.replace(/\s/g, '');
  switch (p.category) {
    case 'int':
    case 'uint':
      add('sum', `sum(${s})::text`, `toString(sum(toInt128(${d})))`, 'exact', SUM);
      add('min', `min(${s})::text`, `toString(min(${d}))`, 'exact', 'min({v}::numeric)::text');
      add('max', `max(${s})::text`, `toString(max(${d}))`, 'exact', 'max({v}::numeric)::text');
      break;
    case 'decimal': {
      const v = base === 'money' ? `${s}::numeric` : s;
      if (/^Decimal/i.test(dest)) {
        add('sum', `sum(${v})::text`, `toString(sum(${d}))`, 'decimal', SUM);
        add('min', `min(${v})::text`, `toString(min(${d}))`, 'decimal', 'min({v}::numeric)::text');
        add('max', `max(${v})::text`, `toString(max(${d}))`, 'decimal', 'max({v}::numeric)::text');
      } else if (/^Float/i.test(dest)) {
        add('sum', `sum(${v}::float8)::text`, `toString(sum(toFloat64(${d})))`, 'float', 'sum({v}::float8)::text');
      }
      break;
    }
    case 'float':
      add('sum', `sum(${s}::float8)::text`, `toString(sum(toFloat64(${d})))`, 'float', 'sum({v}::float8)::text');
      // NaN is the largest value in PostgreSQL and ignored by ClickHouse's min/max: compare without it.
      add('min', `(min(${s}) FILTER (WHERE ${s} <> 'NaN'))::float8::text`, `toString(toFloat64(minIf(${d}, NOT isNaN(${d}))))`, 'float', 'min({v}::float8)::text');
      add('max', `(max(${s}) FILTER (WHERE ${s} <> 'NaN'))::float8::text`, `toString(toFloat64(maxIf(${d}, NOT isNaN(${d}))))`, 'float', 'max({v}::float8)::text');
      break;
    case 'bool':
      if (/^Bool/.test(dest)) add('count_true', `count(*) FILTER (WHERE ${s})::text`, `toString(countIf(${d}))`, 'exact', SUM);
      break;
    case 'string':
    case 'json':
    case 'text_repr':
    case 'enum':
      if (sameKind || /^(LowCardinality\()?String/.test(dest)) {
        // format('%s') is the type's output function (what COPY sent); ::text may differ (inet adds /32).
        // (json/jsonb: the cast is the output function, and cheaper than format per row.)
        const pgText = base === 'bpchar' || base === 'text' || base === 'varchar' ? s : base === 'json' || base === 'jsonb' ? `${s}::text` : `(CASE WHEN ${s} IS NULL THEN NULL ELSE format('%s', ${s}) END)`;
        add('total_bytes', `coalesce(sum(octet_length(${pgText})), 0)::text`, `toString(sum(length(toString(${d}))))`, 'exact', SUM0);
        if ((p.category === 'string' || p.category === 'enum') && base !== 'bpchar') {
          add('min_md5', `md5(min(${pgText} COLLATE "C"))`, `lower(hex(MD5(min(toString(${d})))))`, 'exact', 'md5(min({v} COLLATE "C"))', `min(${pgText} COLLATE "C")`);
          add('max_md5', `md5(max(${pgText} COLLATE "C"))`, `lower(hex(MD5(max(toString(${d})))))`, 'exact', 'md5(max({v} COLLATE "C"))', `max(${pgText} COLLATE "C")`);
        }
      }
      break;
    case 'bytes':
      if (sameKind) add('total_bytes', `coalesce(sum(octet_length(${s})), 0)::text`, `toString(sum(length(${d})))`, 'exact', SUM0);
      break;
    case 'uuid':
      // Compared as text on both sides (ClickHouse orders UUIDs otherwise). PostgreSQL 15 has no min(uuid), but
      // min(anyarray) compares one-element arrays with uuid's own order - its 16 bytes, which is also the order of
      // their lowercase hex text - without printing every value (a third cheaper than min(uuid::text)).
      add('min', `((min(ARRAY[${s}]) FILTER (WHERE ${s} IS NOT NULL))[1])::text`, `min(toString(${d}))`, 'exact', 'min({v} COLLATE "C")');
      add('max', `((max(ARRAY[${s}]) FILTER (WHERE ${s} IS NOT NULL))[1])::text`, `max(toString(${d}))`, 'exact', 'max({v} COLLATE "C")');
      break;
    case 'date':
      if (/^Date/.test(dest)) {
        // (partials: the value's own text, read back as the same type in the same DateStyle)
        add('min', `to_char(min(${s}), 'YYYY-MM-DD')`, `toString(min(${d}))`, 'exact', "to_char(min({v}::date), 'YYYY-MM-DD')", `min(${s})::text`);
        add('max', `to_char(max(${s}), 'YYYY-MM-DD')`, `toString(max(${d}))`, 'exact', "to_char(max({v}::date), 'YYYY-MM-DD')", `max(${s})::text`);
        add('sum_days', `coalesce(sum(${s} - date '1970-01-01'), 0)::text`, `toString(sum(toInt64(toInt32(${d}))))`, 'exact', SUM0);
      }
      break;
    case 'datetime':
      if (/^DateTime64\(\s*6/.test(dest)) {
        const type = base === 'timestamptz' ? 'timestamptz' : 'timestamp';
        add('min', `to_char(min(${s}), 'YYYY-MM-DD HH24:MI:SS.US')`, `formatDateTime(min(${d}), '%Y-%m-%d %H:%i:%S.%f')`, 'exact', `to_char(min({v}::${type}), 'YYYY-MM-DD HH24:MI:SS.US')`, `min(${s})::text`);
        add('max', `to_char(max(${s}), 'YYYY-MM-DD HH24:MI:SS.US')`, `formatDateTime(max(${d}), '%Y-%m-%d %H:%i:%S.%f')`, 'exact', `to_char(max({v}::${type}), 'YYYY-MM-DD HH24:MI:SS.US')`, `max(${s})::text`);
        if (base === 'timestamptz' || utcClickHouse) {
          // Exact numerics (epoch seconds with six decimals) summed, then scaled to microseconds once, not per row;
          // partials stay seconds and are scaled at the end, as over the whole table.
          add(
            'sum_epoch_us',
            `(coalesce(sum(extract(epoch from ${s})), 0) * 1000000)::numeric(40,0)::text`,
            `toString(sum(toInt128(toUnixTimestamp64Micro(${d}))))`,
            'exact',
            '(coalesce(sum({v}::numeric), 0) * 1000000)::numeric(40,0)::text',
            `coalesce(sum(extract(epoch from ${s})), 0)::text`,
          );
        }
      }
      break;
    case 'array':
      add('total_elements', `coalesce(sum(cardinality(${s})), 0)::text`, `toString(sum(length(${p.dims > 1 ? `arrayFlatten(${d})` : d})))`, 'exact', SUM0);
      break;
  }
  return out;
}

function normalizeDecimal(value: string): string {
  let v = value.trim();
  if (v.includes('.')) v = v.replace(/0+$/, '').replace(/\.$/, '');
  if (v === '-0') v = '0';
  return v;
}

function equal(a: string | null, b: string | null, compare: Aggregate['compare']): boolean {
  if (a === null || b === null) return a === b || (a === null && b === '0') || (b === null && a === '0');
  if (compare === 'decimal') return normalizeDecimal(a) === normalizeDecimal(b);
  if (compare === 'float') {
    const x = Number(a.replace(/^inf$/i, 'Infinity').replace(/^-inf$/i, '-Infinity'));
    const y = Number(b.replace(/^inf$/i, 'Infinity').replace(/^-inf$/i, '-Infinity'));
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
    if (x === y) return true;
    return Math.abs(x - y) <= 1e-6 * Math.max(Math.abs(x), Math.abs(y));
  }
  return a === b;
}

export interface ValidationQueries {
  aggregates: Aggregate[];
  /** PostgreSQL select list (aliases __chlab_n, __chlab_a<i>). */
  pg: string;
  /** The same, as partials over one range's rows (same aliases; see Aggregate.partial). */
  partial: string;
  ch: string;
}

/** The aggregates compared for these columns (transformed columns are only counted). */
export function validationQueries(source: SourceTable, plans: readonly ColumnPlan[], options: { utcClickHouse?: boolean } = {}): ValidationQueries {
  const aggregates = activeColumns(plans)
    .filter((p) => !p.transformation)
    .flatMap((p) => aggregatesFor(p, source, options.utcClickHouse ?? true));
  return {
    aggregates,
    pg: ['count(*)::text AS __chlab_n', ...aggregates.map((a, i) => `${a.pg} AS __chlab_a${i}`)].join(', '),
    partial: ['count(*)::text AS __chlab_n', ...aggregates.map((a, i) => `${a.partial} AS __chlab_a${i}`)].join(', '),
    ch: ['toString(count()) AS __chlab_n', ...aggregates.map((a, i) => `${a.ch} AS __chlab_a${i}`)].join(', '),
  };
}

/** The source side, in `client`'s current snapshot. */
export async function sourceAggregates(client: pg.Client, source: SourceTable, queries: ValidationQueries): Promise<Record<string, string | null>> {
  return (await client.query<Record<string, string | null>>(`SELECT ${queries.pg} FROM ${pgTable(source.schema, source.table)}`)).rows[0]!;
}

/** The partials of one range (`where`: its condition, as in its COPY), in `client`'s current snapshot. */
export async function sourcePartials(client: pg.Client, source: SourceTable, queries: ValidationQueries, where: string): Promise<Record<string, string | null>> {
  return (await client.query<Record<string, string | null>>(`SELECT ${queries.partial} FROM ${pgTable(source.schema, source.table)}${where ? ` WHERE ${where}` : ''}`)).rows[0]!;
}

/**
 * The source side from the partials of every range (together they cover the table once), combined by PostgreSQL
 * itself: the same values sourceAggregates would give over the whole table in that snapshot.
 */
export async function combinePartials(client: pg.Client, _source: SourceTable, queries: ValidationQueries, partials: readonly Record<string, string | null>[]): Promise<Record<string, string | null>> {
  const keys = ['__chlab_n', ...queries.aggregates.map((_a, i) => `__chlab_a${i}`)];
  const combine = ['sum({v}::numeric)::text', ...queries.aggregates.map((a) => a.combine)];
  const list = keys.map((k, i) => `${combine[i]!.replaceAll('{v}', `p.v${i}`)} AS ${k}`).join(', ');
  const unnest = keys.map((_k, i) => `$${i + 1}::text[]`).join(', ');
  const sql = `SELECT ${list} FROM unnest(${unnest}) AS p(${keys.map((_k, i) => `v${i}`).join(', ')})`;
  return (await client.query<Record<string, string | null>>(sql, keys.map((k) => partials.map((row) => row[k] ?? null)))).rows[0]!;
}

/**
 * Compares the source with the destination. The source side is `sourceRow` when it was computed in the snapshot
 * the copy read (in the value check's scan), else it is read now through `client`. `rowsBefore`: rows the
 * destination held before this migration (append mode): then only the row delta is compared.
 */
export async function validate(
  client: pg.Client | undefined,
  engine: ClickHouseEngine,
  source: SourceTable,
  plans: readonly ColumnPlan[],
  target: { database: string; table: string },
  options: { rowsBefore?: number; utcClickHouse?: boolean; queries?: ValidationQueries; sourceRow?: Record<string, string | null> } = {},
): Promise<ValidationResult> {
  const started = performance.now();
  const active = activeColumns(plans);
  const append = (options.rowsBefore ?? 0) > 0;
  const queries = options.queries ?? validationQueries(source, plans, options);
  const aggregates = append ? [] : queries.aggregates;
  const pgRow = options.sourceRow ?? (await sourceAggregates(client!, source, queries));
  // (not JIT-compiled by chDB: once a table's aggregates have been seen three times, compiling them took ~100 ms,
  // more than the query itself; a server of any version is left to its defaults)
  const settings = { max_execution_time: 0, ...(engine.kind === 'embedded' ? { compile_expressions: 0, compile_aggregate_expressions: 0 } : {}) };
  const [chRow] = await engine.json<Record<string, string | null>>(`SELECT ${queries.ch} FROM ${chTable(target.database, target.table)}`, { settings });
  const sourceRows = Number(pgRow.__chlab_n);
  const destinationRows = Number(chRow!.__chlab_n) - (options.rowsBefore ?? 0);
  const columns: ValidationResult['columns'] = active.map((p) => ({
    column: p.source_field,
    destination_column: p.destination_field,
    checks: [],
    ...(p.transformation ? { note: 'transformed: values not compared' } : append ? { note: 'append mode: only the row count is compared' } : {}),
  }));
  aggregates.forEach((a, i) => {
    const s = pgRow[`__chlab_a${i}`] ?? null;
    const d = chRow![`__chlab_a${i}`] ?? null;
    const skipEmpty = sourceRows === 0 && destinationRows === 0;
    columns.find((c) => c.column === a.column)!.checks.push({ name: a.name, source: s, destination: d, ok: skipEmpty || equal(s, d, a.compare) });
  });
  const ok = sourceRows === destinationRows && columns.every((c) => c.checks.every((k) => k.ok));
  return {
    ok,
    row_count: { source: sourceRows, destination: destinationRows },
    columns,
    elapsed_ms: Math.round(performance.now() - started),
    ...(append ? { note: `append mode: the destination held ${options.rowsBefore} rows before; the row delta is compared` } : {}),
  };
}

export function describeMismatches(result: ValidationResult): string {
  const parts: string[] = [];
  if (result.row_count.source !== result.row_count.destination) parts.push(`row count ${result.row_count.source} in PostgreSQL vs ${result.row_count.destination} in ClickHouse`);
  for (const c of result.columns) for (const k of c.checks) if (!k.ok) parts.push(`${c.column}.${k.name}: ${k.source} vs ${k.destination}`);
  return parts.join('; ');
}
