// Before loading: one scan of the source counting, per column, the rows whose value would not fit the
// destination (numeric overflow or lost digits, dates out of range, NULLs into non-Nullable targets, NULL
// array elements, too-long FixedString, …), then a few examples of each problem. Nothing is silently changed.
import type pg from 'pg';
import type { SourceColumn, SourceTable } from '../postgres/analyze.js';
import { activeColumns, type ColumnPlan } from './plan.js';
import { pgIdent, pgTable, truncate } from './sql.js';
import { unwrapNullable } from './type-mapping.js';

export interface ValueProblem {
  column: string;
  kind: string;
  description: string;
  count: number;
  examples: { row: Record<string, string | null>; value: string | null }[];
}

export interface ValueCheckResult {
  /** Rows scanned (0 when no column needed a check). */
  checked_rows: number;
  scanned: boolean;
  /** Checked row by row during the copy of a run (no separate scan). */
  during_copy?: boolean;
  problems: ValueProblem[];
  skipped: { column: string; reason: string }[];
  elapsed_ms: number;
}

interface Condition {
  column: string;
  kind: string;
  description: string;
  /** SQL boolean over the source row. */
  sql: string;
}

const DATE32 = { min: '1900-01-01', max: '2299-12-31' };
const DT64 = { min: '1900-01-01 00:00:00+00', max: '2300-01-01 00:00:00+00' };
const DATE = { min: '1970-01-01', max: '2149-06-06' };
const DT = { min: '1970-01-01 00:00:00+00', max: '2106-02-07 06:28:16+00' };
const INT_RANGE: Record<string, [string, string]> = {
  Int8: ['-128', '127'], Int16: ['-32768', '32767'], Int32: ['-2147483648', '2147483647'], Int64: ['-9223372036854775808', '9223372036854775807'],
  UInt8: ['0', '255'], UInt16: ['0', '65535'], UInt32: ['0', '4294967295'], UInt64: ['0', '18446744073709551615'],
};
const SOURCE_INT_RANGE: Record<string, [string, string]> = { int2: INT_RANGE.Int16!, int4: INT_RANGE.Int32!, int8: INT_RANGE.Int64! };

/** Conditions a scalar value `v` (SQL expression) must not meet for destination type `dest`. */
function scalarConditions(column: SourceColumn, dest: string, v: string): Omit<Condition, 'column'>[] {
  const out: Omit<Condition, 'column'>[] = [];
  const base = column.resolved.base;
  const t = unwrapNullable(dest).base.replace(/^LowCardinality\((.*)\)$/, '$1');
  const decimal = /^Decimal(?:\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)|(32|64|128|256)\s*\(\s*(\d+)\s*\))$/i.exec(t);
  const numericSource = base === 'numeric' || base === 'money';
  if (decimal) {
    const precision = decimal[1] ? Number(decimal[1]) : { '32': 9, '64': 18, '128': 38, '256': 76 }[decimal[3]!]!;
    const scale = Number(decimal[2] ?? decimal[4]);
    const src = column.resolved;
    if (numericSource || SOURCE_INT_RANGE[base] || base === 'float4' || base === 'float8' || base === 'text' || base === 'varchar') {
      const numericExpr = base === 'text' || base === 'varchar' ? `${v}::numeric` : base === 'money' ? `${v}::numeric` : v;
      let sourceIntDigits = Infinity;
      let sourceScale = Infinity;
      if (base === 'numeric' && src.typmod >= 0) {
        const tm = src.typmod - 4;
        const p = (tm >> 16) & 0xffff;
        const s = ((tm & 0x7ff) ^ 1024) - 1024;
        sourceIntDigits = p - s;
        sourceScale = Math.max(0, s);
      } else if (SOURCE_INT_RANGE[base]) {
        sourceIntDigits = SOURCE_INT_RANGE[base]![1].length;
        sourceScale = 0;
      } else if (base === 'money') {
        sourceIntDigits = 17;
        sourceScale = 2;
      }
      if (base === 'numeric' || base === 'float4' || base === 'float8') {
        // (a numeric with a precision holds no infinity: one comparison instead of three, per row)
        const sql = base === 'numeric' && src.typmod >= 0 ? `${v} = 'NaN'` : `${v} IN ('NaN', 'Infinity', '-Infinity')`;
        out.push({ kind: 'not_a_number', description: `NaN or Infinity cannot be stored in ${t}`, sql });
      }
      if (sourceIntDigits > precision - scale) {
        out.push({
          kind: 'numeric_overflow',
          description: `more than ${precision - scale} digits before the decimal point do not fit ${t}`,
          sql: `${base === 'float4' || base === 'float8' ? `${v} NOT IN ('NaN', 'Infinity', '-Infinity') AND ` : base === 'numeric' ? `${v} NOT IN ('NaN', 'Infinity', '-Infinity') AND ` : ''}abs(${numericExpr}) >= 1e${precision - scale}`,
        });
      }
      if (sourceScale > scale) {
        out.push({
          kind: 'scale_loss',
          description: `more than ${scale} digits after the decimal point would be cut by ${t}`,
          sql: `${base === 'numeric' || base === 'float4' || base === 'float8' ? `${v} NOT IN ('NaN', 'Infinity', '-Infinity') AND ` : ''}${numericExpr}::numeric <> round(${numericExpr}::numeric, ${scale})`,
        });
      }
    }
  }
  const intRange = INT_RANGE[t];
  if (intRange && (SOURCE_INT_RANGE[base] || numericSource || base === 'float4' || base === 'float8')) {
    const src = SOURCE_INT_RANGE[base];
    const needs = !src || BigInt(src[0]) < BigInt(intRange[0]) || BigInt(src[1]) > BigInt(intRange[1]);
    if (needs) out.push({ kind: 'integer_overflow', description: `values outside ${intRange[0]} … ${intRange[1]} do not fit ${t}`, sql: `(${v} < ${intRange[0]} OR ${v} > ${intRange[1]})` });
    if (!src && (numericSource || base.startsWith('float'))) out.push({ kind: 'fraction_loss', description: `fractions would be cut by ${t}`, sql: `${v}::numeric <> trunc(${v}::numeric)` });
  }
  if (base === 'date' || base === 'timestamp' || base === 'timestamptz') {
    const lit = (s: string) => (base === 'date' ? `'${s.slice(0, 10)}'::date` : base === 'timestamp' ? `'${s.slice(0, 19)}'::timestamp` : `'${s}'::timestamptz`);
    let range: { min: string; max: string } | undefined;
    let exclusiveMax = false;
    if (/^Date32$/.test(t)) range = DATE32;
    else if (/^Date$/.test(t)) range = DATE;
    else if (/^DateTime64/.test(t)) {
      range = DT64;
      exclusiveMax = true;
    } else if (/^DateTime\b/.test(t)) {
      range = DT;
      exclusiveMax = true;
    }
    if (range) {
      out.push({
        kind: 'date_out_of_range',
        description: `outside ${range.min.slice(0, 10)} … ${range.max.slice(0, 10)}, the range of ${t} (includes ±infinity)`,
        sql: `(${v} < ${lit(range.min)} OR ${v} ${exclusiveMax ? '>=' : '>'} ${lit(range.max)})`,
      });
    }
  }
  const fixed = /^FixedString\((\d+)\)$/.exec(t);
  if (fixed) out.push({ kind: 'too_long', description: `longer than ${fixed[1]} bytes: does not fit ${t}`, sql: `octet_length(${v}::text) > ${fixed[1]}` });
  return out;
}

export function valueConditions(source: SourceTable, plans: readonly ColumnPlan[]): { conditions: Condition[]; skipped: ValueCheckResult['skipped'] } {
  const conditions: Condition[] = [];
  const skipped: ValueCheckResult['skipped'] = [];
  for (const p of activeColumns(plans)) {
    const column = source.columns.find((c) => c.name === p.source_field)!;
    const col = pgIdent(p.source_field);
    if (p.transformation) {
      skipped.push({ column: p.source_field, reason: 'transformed: its values are checked by ClickHouse while loading' });
      continue;
    }
    if (column.nullable && p.nulls === 'fail') {
      conditions.push({ column: p.source_field, kind: 'null_into_non_nullable', description: `NULL cannot be stored in ${p.destination_type} (nulls: fail)`, sql: `${col} IS NULL` });
    }
    if (p.dims > 0) {
      const elementType = unwrapNullable(p.base_type.replace(/^(Array\()+/, '').replace(/\)+$/, ''));
      if (/^Array\(/.test(p.base_type) && !/Nullable\(/.test(p.base_type)) {
        // array_position(a, NULL) finds a NULL element without unnesting (one-dimensional arrays of a type with
        // equality only; anything else takes the general EXISTS (unnest …)).
        const unnest = `EXISTS (SELECT 1 FROM unnest(${col}) AS u(e) WHERE e IS NULL)`;
        const fast = column.resolved.dims === 1 && column.resolved.baseSchema === 'pg_catalog' && POSITION_SAFE.has(column.resolved.base);
        const sql = fast ? `(CASE WHEN array_ndims(${col}) = 1 THEN array_position(${col}, NULL) IS NOT NULL ELSE ${unnest} END)` : unnest;
        conditions.push({ column: p.source_field, kind: 'null_element', description: `array with a NULL element: ${p.base_type} has no NULL elements (retype to Array(Nullable(…)))`, sql });
      }
      const depth = (p.base_type.match(/Array\(/g) ?? []).length;
      conditions.push({ column: p.source_field, kind: 'array_dimensions', description: `array with other than ${depth} dimension${depth > 1 ? 's' : ''}`, sql: `coalesce(array_ndims(${col}), ${depth}) <> ${depth}` });
      const inner = scalarConditions(column, elementType.base, 'e');
      for (const c of inner) conditions.push({ column: p.source_field, kind: c.kind, description: `an element: ${c.description}`, sql: `EXISTS (SELECT 1 FROM unnest(${col}) AS u(e) WHERE ${c.sql})` });
      continue;
    }
    for (const c of scalarConditions(column, p.base_type, col)) conditions.push({ column: p.source_field, ...c });
  }
  return { conditions, skipped };
}

/** Element types whose arrays array_position can search (they have a default equality operator). */
const POSITION_SAFE = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'text', 'varchar', 'bpchar', 'name', 'date', 'timestamp', 'timestamptz', 'uuid', 'bool', 'bytea', 'jsonb', 'money', 'time', 'interval']);

/**
 * The value check as one boolean per row, for the copy itself: true when any value of the row would not fit.
 * The run sends it as an extra COPY column and ClickHouse refuses the range's insert block when it is true
 * (see plan.ts insertSelect), so a run needs no separate scan before loading. Null when nothing is checked.
 */
export function rowCheckExpression(source: SourceTable, plans: readonly ColumnPlan[]): string | null {
  const { conditions } = valueConditions(source, plans);
  if (!conditions.length) return null;
  return `coalesce(${conditions.map((c) => `(${c.sql})`).join(' OR ')}, false)`;
}

/** Runs the value check (one scan) and fetches up to `examples` rows per problem. */
export async function runValueCheck(
  client: pg.Client,
  source: SourceTable,
  plans: readonly ColumnPlan[],
  options: { examples?: number; signal?: AbortSignal; extraSelect?: string; onExtra?: (row: Record<string, string | null>) => void } = {},
): Promise<ValueCheckResult> {
  const started = performance.now();
  const { conditions, skipped } = valueConditions(source, plans);
  if (conditions.length === 0 && !options.extraSelect) return { checked_rows: 0, scanned: false, problems: [], skipped, elapsed_ms: 0 };
  const table = pgTable(source.schema, source.table);
  // One scan: the checks, and (during a run) the source side of the validation in the same snapshot.
  const list = ['count(*)::text AS __chlab_checked', ...conditions.map((c, i) => `count(*) FILTER (WHERE ${c.sql}) AS __chlab_p${i}`), ...(options.extraSelect ? [options.extraSelect] : [])].join(', ');
  const counts = await client.query<Record<string, string>>(`SELECT ${list} FROM ${table}`);
  const row = counts.rows[0]!;
  options.onExtra?.(row);
  if (conditions.length === 0) return { checked_rows: Number(row.__chlab_checked), scanned: true, problems: [], skipped, elapsed_ms: Math.round(performance.now() - started) };
  const problems: ValueProblem[] = [];
  const key = source.primary_key.length ? source.primary_key : null;
  for (const [i, c] of conditions.entries()) {
    const count = Number(row[`__chlab_p${i}`]);
    if (!count) continue;
    const identity = key ? key.map((k) => `${pgIdent(k)}::text AS ${pgIdent(`k:${k}`)}`).join(', ') : `ctid::text AS ${pgIdent('k:ctid')}`;
    const sample = await client.query<Record<string, string | null>>(
      `SELECT ${identity}, left(${pgIdent(c.column)}::text, 200) AS v FROM ${table} WHERE ${c.sql} LIMIT ${Math.max(1, Math.min(20, options.examples ?? 5))}`,
    );
    problems.push({
      column: c.column,
      kind: c.kind,
      description: c.description,
      count,
      examples: sample.rows.map((r) => ({
        row: Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith('k:')).map(([k, v]) => [k.slice(2), v])),
        value: r.v === null || r.v === undefined ? null : truncate(r.v, 200),
      })),
    });
  }
  return { checked_rows: Number(row.__chlab_checked), scanned: true, problems, skipped, elapsed_ms: Math.round(performance.now() - started) };
}

export function describeProblems(result: ValueCheckResult): string {
  return result.problems
    .map((p) => `${p.column}: ${p.count.toLocaleString('en-US')} row${p.count === 1 ? '' : 's'} ${p.description}${p.examples.length ? ` (e.g. ${p.examples.map((e) => e.value ?? 'NULL').slice(0, 3).join(', ')})` : ''}`)
    .join('; ');
}
