// The migration plan: source analysis + per-column mapping (suggestion + the spec's overrides) + DDL + warnings.
// Everything the transfer needs is derived here, so a resumed run (from the stored plan) moves rows exactly as
// the first run did.
import type { SourceColumn, SourceTable } from '../postgres/analyze.js';
import type { ColumnOverride, NullHandling, ResolvedSpec, SpecDoc } from './spec.js';
import { checkName, chIdent, chString, chTable, MigrationError, pgIdent } from './sql.js';
import { canBeNullable, normalizeType, retypeWarnings, suggest, unwrapNullable, wrapNullable, type Category, type MappingContext } from './type-mapping.js';

export interface ColumnPlan {
  source_field: string;
  source_type: string;
  udt_name: string;
  source_nullable: boolean;
  primary_key: boolean;
  destination_field: string;
  /** Full ClickHouse type, Nullable(…) included. */
  destination_type: string;
  /** The type without Nullable. */
  base_type: string;
  /** What the mapping suggests for this source type (not Nullable). */
  suggested_type: string;
  transformation: string | null;
  nulls: NullHandling;
  skip: boolean;
  warnings: string[];
  notes: string[];
  category: Category;
  element_category?: Category;
  dims: number;
  /** PostgreSQL expression in the COPY query. */
  pg_expr: string;
  /** ClickHouse type the COPY text is read as (Nullable when the source is). */
  read_type: string;
  /** ClickHouse expression over the read column `{r}` giving the suggested type. */
  convert: string;
}

export interface TargetInfo {
  database: string;
  table: string;
  qualified: string;
  exists: boolean;
  rows: number;
  engine?: string;
}

export interface MigrationPlan {
  spec: SpecDoc;
  resolved: ResolvedSpec;
  source: SourceTable;
  source_description: string;
  target: TargetInfo;
  mappings: ColumnPlan[];
  order_by: string[];
  ddl: string;
  warnings: string[];
}

export const READ_PREFIX = '__chlab_r';
/** The read column carrying the copy-time value check (rowCheckExpression): true = a value of the row does not fit. */
export const CHECK_COLUMN = `${READ_PREFIX}_check`;
/** What ClickHouse throws when a row fails the copy-time value check (the run then reports the value check). */
export const CHECK_FAILED = 'chlab value check: a value of this range does not fit the mapping';
export const DEDUP_WINDOW = 10_000;

/** Builds the column plans; throws MigrationError naming the spec field for bad overrides. */
export function planColumns(source: SourceTable, spec: ResolvedSpec, ctx: MappingContext): ColumnPlan[] {
  const byName = new Map(source.columns.map((c) => [c.name, c]));
  for (const name of Object.keys(spec.columns)) {
    if (!byName.has(name)) {
      throw new MigrationError(`columns.${name}`, `no column "${name}" in ${source.schema}.${source.table} (columns: ${source.columns.map((c) => c.name).join(', ')})`);
    }
  }
  const reserved = source.columns.find((c) => c.name.startsWith(READ_PREFIX));
  if (reserved) throw new MigrationError('source', `column name ${reserved.name} is reserved by chlab (prefix ${READ_PREFIX})`);
  const plans = source.columns.map((column) => planColumn(column, spec.columns[column.name] ?? {}, ctx));
  const seen = new Map<string, string>();
  for (const p of plans) {
    if (p.skip) continue;
    const key = p.destination_field.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) throw new MigrationError(`columns.${p.source_field}.rename`, `destination column "${p.destination_field}" is also the destination of "${other}"`);
    seen.set(key, p.source_field);
  }
  if (plans.every((p) => p.skip)) throw new MigrationError('columns', 'every column is skipped: nothing to migrate');
  return plans;
}

function defaultDestinationName(name: string): { name: string; warning?: string } {
  try {
    return { name: checkName('', name) };
  } catch {
    const cleaned = name.replace(/[^\p{L}\p{N}_]/gu, '_').replace(/^(\p{N})/u, '_$1') || '_';
    return { name: cleaned, warning: `column name "${name}" is not a plain identifier: renamed to ${cleaned}` };
  }
}

function planColumn(column: SourceColumn, override: ColumnOverride, ctx: MappingContext): ColumnPlan {
  const field = `columns.${column.name}`;
  const s = suggest(column, ctx);
  const dest = override.rename ? { name: override.rename } : defaultDestinationName(column.name);
  const warnings = [...s.warnings];
  if (dest.warning) warnings.push(dest.warning);

  let base = s.type;
  let nulls: NullHandling;
  if (override.type) {
    const { base: chosen, nullable } = unwrapNullable(override.type);
    base = chosen;
    if (nullable && override.nulls && override.nulls !== 'nullable') {
      throw new MigrationError(`${field}.nulls`, `conflicts with type ${override.type}: drop Nullable(…) from the type or set nulls: nullable`);
    }
    nulls = nullable ? 'nullable' : override.nulls ?? (column.nullable ? (canBeNullable(chosen) ? 'nullable' : 'fail') : 'fail');
    warnings.push(...retypeWarnings(column, s.type, chosen));
  } else {
    nulls = override.nulls ?? (column.nullable && s.nullableOk ? 'nullable' : 'fail');
  }
  if (nulls === 'nullable' && !canBeNullable(base)) {
    throw new MigrationError(`${field}.nulls`, `${base} cannot be Nullable in ClickHouse: choose nulls: default (NULL becomes ${/^Array/.test(base) ? '[]' : 'the type default'}) or nulls: fail`);
  }
  if (column.nullable && nulls === 'default') warnings.push(`NULL becomes ${/^Array/.test(base) ? '[]' : `the default of ${base}`} (nulls: default)`);
  if (column.nullable && !s.nullableOk && nulls === 'fail' && !override.nulls) {
    s.notes.push(`${base} cannot be Nullable in ClickHouse: a NULL ${column.name} is reported by the value check (set nulls: default to store ${/^Array/.test(base) ? '[]' : 'the default'})`);
  }
  // Retyped (without a transform) to text or to another number type: read PostgreSQL's text as is and let the
  // final CAST convert it (NaN can become a Float64 NaN, an out-of-range date stays its text instead of being
  // clamped). A transform always sees the column as its suggested type.
  let readBase = s.read;
  let convert = s.convert;
  const retyped = normalizeType(base) !== normalizeType(s.type);
  if (retyped && s.dims === 0 && !override.transform) {
    const toText = /^(String|FixedString\(\d+\)|LowCardinality\((Nullable\()?String\)?\))$/.test(normalizeType(base));
    const toNumber = /^(Float|Decimal|U?Int)/.test(base) && ['decimal', 'float', 'int', 'uint'].includes(s.category);
    if ((toText && s.category !== 'bytes') || toNumber) {
      readBase = 'String';
      convert = undefined;
    }
  }
  const readType = column.nullable && canBeNullable(readBase) ? wrapNullable(readBase) : readBase;
  return {
    source_field: column.name,
    source_type: column.type,
    udt_name: column.udt_name,
    source_nullable: column.nullable,
    primary_key: column.primary_key,
    destination_field: dest.name,
    destination_type: nulls === 'nullable' ? wrapNullable(base) : base,
    base_type: base,
    suggested_type: s.type,
    transformation: override.transform ?? null,
    nulls,
    skip: override.skip ?? false,
    warnings,
    notes: s.notes,
    category: s.category,
    element_category: s.element?.category,
    dims: s.dims,
    pg_expr: s.pg(pgIdent(column.name)),
    read_type: readType,
    convert: convert ? convert('{r}') : '{r}',
  };
}

export function activeColumns(plans: readonly ColumnPlan[]): ColumnPlan[] {
  return plans.filter((p) => !p.skip);
}

export function resolveOrderBy(plans: readonly ColumnPlan[], spec: ResolvedSpec, source: SourceTable): { orderBy: string[]; warnings: string[] } {
  const active = activeColumns(plans);
  const warnings: string[] = [];
  let orderBy: string[];
  if (spec.options.order_by?.length) {
    orderBy = spec.options.order_by;
    orderBy.forEach((name, i) => {
      const p = active.find((c) => c.destination_field === name);
      if (!p) throw new MigrationError(`options.order_by.${i}`, `"${name}" is not a destination column (${active.map((c) => c.destination_field).join(', ')})`);
    });
  } else {
    orderBy = [];
    for (const key of source.primary_key) {
      const p = plans.find((c) => c.source_field === key)!;
      if (p.skip) {
        warnings.push(`primary key column ${key} is skipped: ORDER BY uses the remaining key columns`);
        continue;
      }
      orderBy.push(p.destination_field);
    }
    if (source.primary_key.length === 0) warnings.push('the source has no primary key: the table is created with ORDER BY tuple() (set options.order_by)');
  }
  for (const name of orderBy) {
    const p = active.find((c) => c.destination_field === name)!;
    if (/^\s*Nullable\s*\(/i.test(p.destination_type)) {
      throw new MigrationError('options.order_by', `${name} is Nullable: ClickHouse sort keys must not be Nullable (set columns.${p.source_field}.nulls to fail or default)`);
    }
  }
  return { orderBy, warnings };
}

export function buildDdl(target: { database: string; table: string }, plans: readonly ColumnPlan[], orderBy: readonly string[], partitionBy: string | undefined): string {
  const lines = activeColumns(plans).map((p) => `    ${chIdent(p.destination_field)} ${p.destination_type}`);
  const order = orderBy.length === 0 ? 'tuple()' : orderBy.length === 1 ? chIdent(orderBy[0]!) : `(${orderBy.map(chIdent).join(', ')})`;
  return [
    `CREATE TABLE IF NOT EXISTS ${chTable(target.database, target.table)}`,
    '(',
    lines.join(',\n'),
    ')',
    'ENGINE = MergeTree',
    ...(partitionBy ? [`PARTITION BY ${partitionBy}`] : []),
    `ORDER BY ${order}`,
    `SETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`,
  ].join('\n');
}

/** The ClickHouse structure string of what COPY sends, one read column per active source column. */
export function readStructure(plans: readonly ColumnPlan[], check = false): string {
  return [...activeColumns(plans).map((p, i) => `${READ_PREFIX}${i} ${p.read_type}`), ...(check ? [`${CHECK_COLUMN} Bool`] : [])].join(', ');
}

/** The PostgreSQL SELECT list of the COPY query. */
export function copySelectList(plans: readonly ColumnPlan[], check?: string | null): string {
  return [...activeColumns(plans).map((p) => p.pg_expr), ...(check ? [check] : [])].join(', ');
}

/**
 * INSERT … SELECT turning read columns into destination values. `from` is the ClickHouse source
 * (url(…), input(…)). Two levels: the inner SELECT names each converted value after its source column
 * (what transforms refer to), the outer one applies transforms, NULL handling and the final CAST, by position
 * (no aliases, so renamed columns never shadow each other).
 */
export function insertSelect(target: { database: string; table: string }, plans: readonly ColumnPlan[], from: string, check = false): string {
  const active = activeColumns(plans);
  const inner = active.map((p, i) => `${p.convert.replaceAll('{r}', `${READ_PREFIX}${i}`)} AS ${chIdent(p.source_field)}`).join(', ');
  const outer = active.map((p) => finalExpression(p)).join(', ');
  const columns = active.map((p) => chIdent(p.destination_field)).join(', ');
  return `INSERT INTO ${chTable(target.database, target.table)} (${columns}) SELECT ${outer} FROM (SELECT ${inner} FROM ${from}${nullGuard(active, check)})`;
}

/** nulls: fail on a nullable source: a NULL stops the load with a clear message (the value check reports them first). */
function nullGuard(active: readonly ColumnPlan[], check = false): string {
  const guards = active
    .map((p, i) => (p.source_nullable && p.nulls === 'fail' && !p.transformation ? `throwIf(${READ_PREFIX}${i} IS NULL, ${chString(`NULL in ${p.source_field}: ${p.destination_type} takes no NULL (nulls: fail)`)}) = 0` : null))
    .filter((g): g is string => g !== null);
  if (check) guards.unshift(`throwIf(${CHECK_COLUMN}, ${chString(CHECK_FAILED)}) = 0`);
  return guards.length ? ` WHERE ${guards.join(' AND ')}` : '';
}

export function finalExpression(p: ColumnPlan): string {
  let value = p.transformation ? `(${p.transformation})` : chIdent(p.source_field);
  if (p.nulls === 'default') value = `ifNull(${value}, defaultValueOfTypeName(${chString(p.base_type)}))`;
  return `CAST(${value}, ${chString(p.destination_type)})`;
}

export function urlSource(url: string, plans: readonly ColumnPlan[], check = false, format: 'TSV' | 'RowBinary' = 'TSV'): string {
  return `url(${chString(url)}, '${format}', ${chString(readStructure(plans, check))})`;
}

export function inputSource(plans: readonly ColumnPlan[], check = false): string {
  return `input(${chString(readStructure(plans, check))})`;
}

/** A no-row source with the read structure: ClickHouse type-checks every conversion, transform and CAST. */
export function nullSource(plans: readonly ColumnPlan[]): string {
  return `null(${chString(readStructure(plans))})`;
}

export function selectForCheck(plans: readonly ColumnPlan[]): string {
  const active = activeColumns(plans);
  const inner = active.map((p, i) => `${p.convert.replaceAll('{r}', `${READ_PREFIX}${i}`)} AS ${chIdent(p.source_field)}`).join(', ');
  return `SELECT ${active.map(finalExpression).join(', ')} FROM (SELECT ${inner} FROM ${nullSource(plans)}${nullGuard(active)}) LIMIT 0`;
}
