/**
 * The migration MIME bundles (docs/contracts/migration.md), read defensively: every field may be
 * missing or of the wrong type in an old or hand-edited notebook, and the views degrade to what is there.
 */

export const MIGRATION_PLAN_MIME = 'application/vnd.chlab.migration-plan+json';
export const MIGRATION_PROGRESS_MIME = 'application/vnd.chlab.migration-progress+json';
export const MIGRATION_SUMMARY_MIME = 'application/vnd.chlab.migration-summary+json';

/** `%%migrate history [n]`: `{migrations:[…], total}` as `GET /api/migration/history` answers. */
export const MIGRATION_HISTORY_MIME = 'application/vnd.chlab.migration-history+json';

export const MIGRATION_MIME_TYPES = [MIGRATION_PLAN_MIME, MIGRATION_PROGRESS_MIME, MIGRATION_SUMMARY_MIME, MIGRATION_HISTORY_MIME];

export type NullHandling = 'nullable' | 'default' | 'fail';
export const NULL_HANDLINGS: readonly NullHandling[] = ['nullable', 'default', 'fail'];

export type MigrationStatus = 'pending' | 'running' | 'completed' | 'failed' | string;

export interface SourceColumn {
  name: string;
  type: string;
  nullable: boolean;
  primaryKey: boolean;
}

/** One column's mapping. `suggested` is the mapping before the cell's overrides, when the kernel sends it. */
export interface ColumnMapping {
  sourceField: string;
  sourceType: string;
  destinationField: string;
  destinationType: string;
  transformation: string;
  nulls: NullHandling;
  skip: boolean;
  warnings: string[];
  /** Informational notes (not problems), e.g. how a type is kept. */
  notes: string[];
  /** The suggested ClickHouse type for the source type, without Nullable (kernel: `suggested_type`). */
  suggestedType?: string;
  /** Whether the source column is nullable / in the primary key, as the mapping says. */
  sourceNullable?: boolean;
  primaryKey?: boolean;
  /** Explicit suggestions, should the kernel send them (`suggested: {destination_field, …}`). */
  suggested?: Partial<MappingValues>;
}

/** The editable part of a mapping. */
export interface MappingValues {
  destinationField: string;
  destinationType: string;
  transformation: string;
  nulls: NullHandling;
  skip: boolean;
}

export interface ValueExample {
  /** The offending value ('NULL' for NULL). */
  text: string;
  /** The row it came from, as `key: value` text, when sent. */
  detail?: string;
}

export interface ValueProblem {
  column: string;
  kind: string;
  count?: number;
  examples: ValueExample[];
  message?: string;
}

export interface TargetInfo {
  database?: string;
  table?: string;
  qualified?: string;
  exists?: boolean;
  rows?: number;
}

export interface MigrationPlan {
  /** The spec the kernel parsed (object as in the YAML), if sent. */
  spec: Record<string, unknown>;
  source: {
    schema?: string;
    table?: string;
    columns: SourceColumn[];
    /** Primary key columns in key order. */
    primaryKey: string[];
    rowCount?: number;
    rowCountExact?: boolean;
    estimatedSizeMb?: number;
  };
  /** The target as `[database.]table` text. */
  target?: string;
  targetInfo: TargetInfo;
  mappings: ColumnMapping[];
  ddl?: string;
  warnings: string[];
  valueCheck?: { checkedRows?: number; problems: ValueProblem[]; skipped: string[] };
  orderBy?: string[];
  partitionBy?: string;
  engine?: string;
}

export interface MigrationProgress {
  migrationId?: string;
  status?: MigrationStatus;
  processed?: number;
  total?: number;
  percentage?: number;
  rowsPerSecond?: number;
  etaSeconds?: number;
  startedAt?: string;
  message?: string;
  /** preparing | value_check | copying | validating | done */
  phase?: string;
  totalExact?: boolean;
  rangesDone?: number;
  rangesTotal?: number;
}

export interface ValidationCheck {
  name: string;
  source?: string;
  destination?: string;
  ok?: boolean;
}

export interface MigrationSummary {
  migrationId?: string;
  status?: MigrationStatus;
  recordsMigrated?: number;
  durationSeconds?: number;
  /** Unrounded duration, ms (newer proxies). */
  elapsedMs?: number;
  destination?: string;
  source?: string;
  validation?: {
    ok?: boolean;
    rowCount?: { source?: number; destination?: number };
    columns: { column: string; destinationColumn?: string; checks: ValidationCheck[]; note?: string }[];
    note?: string;
  };
  valueProblems: ValueProblem[];
  errorMessage?: string;
}

type Json = Record<string, unknown>;

export function asObject(value: unknown): Json {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

export function asString(value: unknown): string | undefined {
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    return String(value);
  }
  return undefined;
}

export function asNumber(value: unknown): number | undefined {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : undefined;
}

function asBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') {
    return value;
  }
  if (value === 1 || value === 'true') {
    return true;
  }
  if (value === 0 || value === 'false') {
    return false;
  }
  return undefined;
}

/** Strings of a list; a single string counts as a list of one; objects become their `message`/JSON. */
export function asStringList(value: unknown): string[] {
  const items = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return items.flatMap(item => {
    const text = asString(item);
    if (text !== undefined) {
      return [text];
    }
    const object = asObject(item);
    const message = asString(object.message) ?? asString(object.warning) ?? asString(object.text);
    if (message !== undefined) {
      const column = asString(object.column) ?? asString(object.field);
      return [column && !message.includes(column) ? `${column}: ${message}` : message];
    }
    return item && typeof item === 'object' ? [JSON.stringify(item)] : [];
  });
}

export function asNullHandling(value: unknown): NullHandling | undefined {
  return typeof value === 'string' && (NULL_HANDLINGS as string[]).includes(value)
    ? (value as NullHandling)
    : undefined;
}

/** `Nullable(T)` → `T`; anything else unchanged. */
export function stripNullable(type: string): string {
  const match = /^\s*Nullable\s*\(([\s\S]*)\)\s*$/.exec(type);
  return match ? match[1].trim() : type.trim();
}

export function isNullableType(type: string): boolean {
  return /^\s*Nullable\s*\(/.test(type);
}

function readSourceColumn(raw: unknown): SourceColumn | undefined {
  const column = asObject(raw);
  const name = asString(column.name);
  if (name === undefined) {
    return undefined;
  }
  return {
    name,
    type: asString(column.type) ?? asString(column.data_type) ?? asString(column.udt_name) ?? '',
    nullable: asBoolean(column.nullable) ?? false,
    primaryKey: asBoolean(column.primary_key) ?? false
  };
}

function readMappingValues(raw: unknown): Partial<MappingValues> | undefined {
  if (!raw || typeof raw !== 'object') {
    return undefined;
  }
  const object = asObject(raw);
  const values: Partial<MappingValues> = {};
  const destinationField = asString(object.destination_field);
  const destinationType = asString(object.destination_type);
  const transformation = object.transformation === null ? '' : asString(object.transformation);
  const nulls = asNullHandling(object.nulls);
  const skip = asBoolean(object.skip);
  if (destinationField !== undefined) values.destinationField = destinationField;
  if (destinationType !== undefined) values.destinationType = destinationType;
  if (transformation !== undefined) values.transformation = transformation;
  if (nulls !== undefined) values.nulls = nulls;
  if (skip !== undefined) values.skip = skip;
  return values;
}

function readMapping(raw: unknown, columns: SourceColumn[]): ColumnMapping | undefined {
  const mapping = asObject(raw);
  const sourceField = asString(mapping.source_field) ?? asString(mapping.source);
  if (sourceField === undefined) {
    return undefined;
  }
  const column = columns.find(c => c.name === sourceField);
  const destinationType = asString(mapping.destination_type) ?? '';
  const nulls = asNullHandling(mapping.nulls) ?? (isNullableType(destinationType) ? 'nullable' : 'fail');
  return {
    sourceField,
    sourceType: asString(mapping.source_type) ?? column?.type ?? '',
    destinationField: asString(mapping.destination_field) ?? sourceField,
    destinationType,
    transformation: mapping.transformation === null ? '' : (asString(mapping.transformation) ?? ''),
    nulls,
    skip: asBoolean(mapping.skip) ?? false,
    warnings: asStringList(mapping.warnings ?? mapping.warning),
    notes: asStringList(mapping.notes),
    suggestedType: asString(mapping.suggested_type),
    sourceNullable: asBoolean(mapping.source_nullable) ?? column?.nullable,
    primaryKey: asBoolean(mapping.primary_key) ?? column?.primaryKey,
    suggested: readMappingValues(mapping.suggested)
  };
}

function readProblem(raw: unknown): ValueProblem | undefined {
  const problem = asObject(raw);
  const column = asString(problem.column) ?? asString(problem.field) ?? '';
  const kind = asString(problem.kind) ?? asString(problem.type) ?? '';
  if (!column && !kind) {
    return undefined;
  }
  return {
    column,
    kind,
    count: asNumber(problem.count),
    examples: (Array.isArray(problem.examples) ? problem.examples : []).map(readExample),
    message: asString(problem.description) ?? asString(problem.message)
  };
}

function readExample(example: unknown): ValueExample {
  if (example === null || example === undefined) {
    return { text: 'NULL' };
  }
  if (typeof example !== 'object') {
    return { text: String(example) };
  }
  const object = asObject(example);
  if ('value' in object) {
    const row = object.row && typeof object.row === 'object' ? asObject(object.row) : undefined;
    return {
      text: object.value === null ? 'NULL' : (asString(object.value) ?? JSON.stringify(object.value)),
      detail: row
        ? Object.entries(row)
            .map(([key, value]) => `${key}: ${value === null ? 'NULL' : typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
            .join('\n')
        : undefined
    };
  }
  return { text: JSON.stringify(example) };
}

/** An ORDER BY given as a list or a `(a, b)` / `a, b` string. */
export function readExpressionList(value: unknown): string[] | undefined {
  if (Array.isArray(value)) {
    return value.flatMap(item => (asString(item) !== undefined ? [asString(item)!.trim()] : []));
  }
  const text = asString(value);
  if (text === undefined) {
    return undefined;
  }
  return splitTopLevel(unwrapTuple(text.trim()));
}

/** `(a, b)` → `a, b` when the parentheses enclose the whole text; `tuple()` → ``. */
function unwrapTuple(text: string): string {
  if (/^tuple\(\s*\)$/i.test(text)) {
    return '';
  }
  if (text.startsWith('(') && text.endsWith(')') && matchingParen(text, 0) === text.length - 1) {
    return text.slice(1, -1).trim();
  }
  return text;
}

/**
 * Calls `visit` with each character of `text` from `from` on that is outside quotes ('…', "…", `…`, with
 * backslash escapes); returns the index where `visit` returned true, or -1.
 */
function scanUnquoted(text: string, from: number, visit: (char: string, index: number) => boolean): number {
  let quote: string | undefined;
  for (let i = from; i < text.length; i++) {
    const char = text[i];
    if (quote) {
      if (char === '\\') {
        i++;
      } else if (char === quote) {
        quote = undefined;
      }
    } else if (char === "'" || char === '"' || char === '`') {
      quote = char;
    } else if (visit(char, i)) {
      return i;
    }
  }
  return -1;
}

function matchingParen(text: string, open: number): number {
  let depth = 0;
  return scanUnquoted(text, open, char => {
    if (char === '(') {
      depth++;
    } else if (char === ')') {
      depth--;
      return depth === 0;
    }
    return false;
  });
}

/** Splits at commas outside parentheses, brackets and quotes; trims; drops empty parts. */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  scanUnquoted(text, 0, (char, i) => {
    if (char === '(' || char === '[') {
      depth++;
    } else if (char === ')' || char === ']') {
      depth--;
    } else if (char === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
    return false;
  });
  parts.push(text.slice(start));
  return parts.map(part => part.trim()).filter(part => part !== '');
}

/** `ORDER BY …` / `PARTITION BY …` of a CREATE TABLE statement, as written. */
export function ddlClause(ddl: string | undefined, clause: 'ORDER BY' | 'PARTITION BY'): string | undefined {
  if (!ddl) {
    return undefined;
  }
  const match = new RegExp(`^\\s*${clause.replace(' ', '\\s+')}\\s+(.+?)\\s*;?\\s*$`, 'im').exec(ddl);
  return match ? match[1].replace(/;$/, '').trim() : undefined;
}

export function readPlan(raw: unknown): MigrationPlan {
  const plan = asObject(raw);
  const source = asObject(plan.source);
  const columns = (Array.isArray(source.columns) ? source.columns : []).flatMap(column => {
    const read = readSourceColumn(column);
    return read ? [read] : [];
  });
  const mappings = (Array.isArray(plan.mappings) ? plan.mappings : []).flatMap(mapping => {
    const read = readMapping(mapping, columns);
    return read ? [read] : [];
  });
  const spec = asObject(plan.spec);
  const options = asObject(spec.options);
  const table = asObject(plan.table);
  const target = plan.target && typeof plan.target === 'object' ? asObject(plan.target) : {};
  const targetInfo: TargetInfo = {
    database: asString(target.database),
    table: asString(target.table),
    qualified: asString(target.qualified),
    exists: asBoolean(target.exists),
    rows: asNumber(target.rows)
  };
  const primaryKey = Array.isArray(source.primary_key)
    ? source.primary_key.flatMap(name => (asString(name) !== undefined ? [asString(name)!] : []))
    : columns.filter(column => column.primaryKey).map(column => column.name);
  const valueCheck = plan.value_check && typeof plan.value_check === 'object' ? asObject(plan.value_check) : undefined;
  const ddl = asString(plan.ddl) ?? asString(plan.suggested_ddl);
  const orderBy =
    readExpressionList(plan.order_by) ??
    readExpressionList(table.order_by) ??
    readExpressionList(options.order_by) ??
    readExpressionList(ddlClause(ddl, 'ORDER BY'));
  const partitionBy =
    asString(table.partition_by) ?? asString(options.partition_by) ?? ddlClause(ddl, 'PARTITION BY');
  return {
    spec,
    source: {
      schema: asString(source.schema),
      table: asString(source.table),
      columns,
      primaryKey,
      rowCount: asNumber(source.row_count),
      rowCountExact: asBoolean(source.row_count_exact),
      estimatedSizeMb: asNumber(source.estimated_size_mb)
    },
    target:
      targetInfo.qualified ??
      (targetInfo.table ? [targetInfo.database, targetInfo.table].filter(Boolean).join('.') : undefined) ??
      asString(plan.target) ??
      asString(spec.target) ??
      asString(plan.destination_table),
    targetInfo,
    mappings,
    ddl,
    // The kernel repeats each column's warnings in the overall list as `field: warning`: those are shown by their column.
    warnings: asStringList(plan.warnings).filter(
      warning => !mappings.some(mapping => mapping.warnings.some(w => warning === `${mapping.sourceField}: ${w}`))
    ),
    valueCheck: valueCheck
      ? {
          checkedRows: asNumber(valueCheck.checked_rows),
          problems: (Array.isArray(valueCheck.problems) ? valueCheck.problems : []).flatMap(problem => {
            const read = readProblem(problem);
            return read ? [read] : [];
          }),
          skipped: asStringList(
            (Array.isArray(valueCheck.skipped) ? valueCheck.skipped : []).map(item => {
              const object = asObject(item);
              return asString(object.column) && asString(object.reason) ? `${asString(object.column)}: ${asString(object.reason)}` : item;
            })
          )
        }
      : undefined,
    orderBy,
    partitionBy: partitionBy || undefined,
    engine: asString(table.engine)
  };
}

export function readProgress(raw: unknown): MigrationProgress {
  const progress = asObject(raw);
  const nested = asObject(progress.progress);
  const processed = asNumber(progress.processed_records) ?? asNumber(nested.processed_records);
  const total = asNumber(progress.total_records) ?? asNumber(nested.total_records);
  let percentage = asNumber(progress.percentage) ?? asNumber(nested.percentage);
  if (percentage === undefined && processed !== undefined && total) {
    percentage = (processed / total) * 100;
  }
  return {
    migrationId: asString(progress.migration_id) ?? asString(progress.id),
    status: asString(progress.status),
    processed,
    total,
    percentage: percentage === undefined ? undefined : Math.max(0, Math.min(100, percentage)),
    rowsPerSecond: asNumber(progress.rows_per_second),
    etaSeconds: asNumber(progress.eta_seconds),
    startedAt: asString(progress.started_at),
    message: asString(progress.message),
    phase: asString(progress.phase),
    totalExact: asBoolean(progress.total_exact),
    rangesDone: asNumber(progress.ranges_done),
    rangesTotal: asNumber(progress.ranges_total)
  };
}

function readCheck(raw: unknown): ValidationCheck | undefined {
  const check = asObject(raw);
  const name = asString(check.name) ?? asString(check.check);
  if (name === undefined) {
    return undefined;
  }
  return {
    name,
    source: check.source === null ? 'NULL' : asString(check.source),
    destination: check.destination === null ? 'NULL' : asString(check.destination),
    ok: asBoolean(check.ok)
  };
}

export function readSummary(raw: unknown): MigrationSummary {
  const summary = asObject(raw);
  const validation =
    summary.validation && typeof summary.validation === 'object' ? asObject(summary.validation) : undefined;
  const rowCount = validation ? asObject(validation.row_count) : {};
  return {
    migrationId: asString(summary.migration_id) ?? asString(summary.id),
    status: asString(summary.status),
    recordsMigrated: asNumber(summary.records_migrated),
    durationSeconds: asNumber(summary.duration_seconds),
    elapsedMs: asNumber(summary.elapsed_ms),
    destination: asString(summary.destination),
    source: asString(summary.source),
    validation: validation
      ? {
          ok: asBoolean(validation.ok),
          rowCount:
            validation.row_count && typeof validation.row_count === 'object'
              ? { source: asNumber(rowCount.source), destination: asNumber(rowCount.destination) }
              : undefined,
          columns: (Array.isArray(validation.columns) ? validation.columns : []).flatMap(entry => {
            const object = asObject(entry);
            const column = asString(object.column);
            if (column === undefined) {
              return [];
            }
            const checks = (Array.isArray(object.checks) ? object.checks : []).flatMap(check => {
              const read = readCheck(check);
              return read ? [read] : [];
            });
            return [{ column, destinationColumn: asString(object.destination_column), checks, note: asString(object.note) }];
          }),
          note: asString(validation.note)
        }
      : undefined,
    valueProblems: (Array.isArray(asObject(summary.value_check).problems) ? (asObject(summary.value_check).problems as unknown[]) : []).flatMap(problem => {
      const read = readProblem(problem);
      return read ? [read] : [];
    }),
    errorMessage: asString(summary.error_message) ?? asString(summary.error)
  };
}
