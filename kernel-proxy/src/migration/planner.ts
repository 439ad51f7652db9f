// Splits a source table into ranges that are copied in parallel and recorded one by one (the unit of resume).
//  - key ranges: a single-column integer primary key, boundaries from pg_stats' histogram (equal-population
//    buckets, interpolated) or evenly between min and max; the first and last ranges are open-ended so rows
//    outside the planned bounds are never missed;
//  - ctid ranges: heap page ranges (TID range scans, PostgreSQL ≥ 14) for tables without such a key;
//  - one range: views, partitioned tables without an integer key, or ranges: none.
import type pg from 'pg';
import type { SourceTable } from '../postgres/analyze.js';
import type { MigrationOptions } from './spec.js';
import { MigrationError, pgIdent } from './sql.js';

export interface CopyRange {
  id: number;
  /** Inclusive lower bound (key value or heap page); null = unbounded. */
  lo: string | null;
  /** Exclusive upper bound; null = unbounded. */
  hi: string | null;
}

export interface RangePlan {
  kind: 'key' | 'ctid' | 'full';
  /** The key column (kind key). */
  column?: string;
  ranges: CopyRange[];
}

const INTEGER_KEYS = new Set(['int2', 'int4', 'int8']);

export function keyColumn(source: SourceTable): string | undefined {
  if (source.primary_key.length !== 1) return undefined;
  const column = source.columns.find((c) => c.name === source.primary_key[0]);
  return column && column.resolved.dims === 0 && INTEGER_KEYS.has(column.resolved.base) && column.resolved.baseSchema === 'pg_catalog' ? column.name : undefined;
}

export async function planRanges(client: pg.Client, source: SourceTable, options: Pick<MigrationOptions, 'ranges' | 'batch_size'>, forceKey = false): Promise<RangePlan> {
  const count = Math.max(1, Math.ceil(Math.max(source.row_count, 1) / options.batch_size));
  const key = keyColumn(source);
  const want = forceKey ? 'key' : options.ranges;
  if (want === 'none' || (count === 1 && want === 'auto')) return { kind: 'full', ranges: [{ id: 0, lo: null, hi: null }] };
  if (want === 'key' && !key) throw new MigrationError('options.ranges', 'key ranges need a single-column integer primary key on the source');
  if (key && (want === 'key' || want === 'auto')) return { kind: 'key', column: key, ranges: await keyRanges(client, source, key, count) };
  if (source.relkind !== 'r' && source.relkind !== 'm') {
    if (want === 'ctid') throw new MigrationError('options.ranges', `ctid ranges need a plain table (${source.schema}.${source.table} is a ${relkindName(source.relkind)})`);
    return { kind: 'full', ranges: [{ id: 0, lo: null, hi: null }] };
  }
  return { kind: 'ctid', ranges: await ctidRanges(client, source, count) };
}

function relkindName(kind: string): string {
  return { p: 'partitioned table', v: 'view', f: 'foreign table', m: 'materialized view' }[kind] ?? 'relation';
}

async function keyRanges(client: pg.Client, source: SourceTable, key: string, count: number): Promise<CopyRange[]> {
  const table = `${pgIdent(source.schema)}.${pgIdent(source.table)}`;
  const bounds = await client.query<{ lo: string | null; hi: string | null }>(`SELECT min(${pgIdent(key)})::text AS lo, max(${pgIdent(key)})::text AS hi FROM ${table}`);
  const { lo, hi } = bounds.rows[0] ?? { lo: null, hi: null };
  if (lo === null || hi === null) return [{ id: 0, lo: null, hi: null }];
  const min = BigInt(lo);
  const max = BigInt(hi) + 1n;
  let cuts: bigint[] = [];
  const stats = await client
    .query<{ bounds: string | null }>('SELECT histogram_bounds::text AS bounds FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = $3', [source.schema, source.table, key])
    .catch(() => ({ rows: [] as { bounds: string | null }[] }));
  const histogram = stats.rows[0]?.bounds?.replace(/[{}]/g, '').split(',').filter(Boolean).map((v) => BigInt(v)) ?? [];
  if (histogram.length >= 3) {
    // Equal-population buckets: interpolate `count` quantiles between histogram bounds (clamped to min/max).
    const points = [min, ...histogram.filter((v) => v > min && v < max), max];
    for (let i = 1; i < count; i++) {
      const q = (i / count) * (points.length - 1);
      const at = Math.floor(q);
      const frac = q - at;
      const a = points[at]!;
      const b = points[Math.min(at + 1, points.length - 1)]!;
      cuts.push(a + BigInt(Math.round(Number(b - a) * frac)));
    }
  } else {
    const span = max - min;
    for (let i = 1; i < count; i++) cuts.push(min + (span * BigInt(i)) / BigInt(count));
  }
  cuts = [...new Set(cuts.filter((c) => c > min && c < max).map(String))].map((v) => BigInt(v)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const edges: (bigint | null)[] = [null, ...cuts, null];
  const ranges: CopyRange[] = [];
  for (let i = 0; i < edges.length - 1; i++) ranges.push({ id: i, lo: edges[i] === null ? null : String(edges[i]), hi: edges[i + 1] === null ? null : String(edges[i + 1]) });
  return ranges;
}

async function ctidRanges(client: pg.Client, source: SourceTable, count: number): Promise<CopyRange[]> {
  const result = await client.query<{ pages: string }>('SELECT (pg_relation_size(format($3, $1::text, $2::text)::regclass) / current_setting(\'block_size\')::int)::text AS pages', [source.schema, source.table, '%I.%I']);
  const pages = Number(result.rows[0]?.pages ?? 0);
  if (pages <= 1) return [{ id: 0, lo: null, hi: null }];
  const n = Math.min(count, pages);
  const per = Math.ceil(pages / n);
  const ranges: CopyRange[] = [];
  for (let start = 0, id = 0; start < pages; start += per, id++) {
    const end = start + per;
    ranges.push({ id, lo: start === 0 ? null : String(start), hi: end >= pages ? null : String(end) });
  }
  return ranges;
}

const INTEGER = /^-?\d{1,20}$/;

/** The WHERE condition of one range; bounds are integers we planned (checked again here, then inlined: COPY takes no parameters). */
export function rangeCondition(plan: RangePlan, range: CopyRange): string {
  const parts: string[] = [];
  for (const [bound, op] of [[range.lo, '>='], [range.hi, '<']] as const) {
    if (bound === null) continue;
    if (!INTEGER.test(bound)) throw new Error(`invalid range bound ${bound}`);
    if (plan.kind === 'key') parts.push(`${pgIdent(plan.column!)} ${op} ${bound}`);
    else if (plan.kind === 'ctid') parts.push(`ctid ${op} '(${bound},0)'::tid`);
  }
  return parts.join(' AND ');
}
