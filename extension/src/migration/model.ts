/**
 * The mapping widget's model: the analysis (plan bundle) + the overrides currently in the cell source
 * → what each column becomes, which overrides an edit must write, and the DDL preview.
 */
import { readOption, readOverrides, type ColumnOverride, type OverrideKey, type OverrideValue } from './spec.js';
import {
  type ColumnMapping,
  type MappingValues,
  type MigrationPlan,
  readExpressionList,
  asString,
  stripNullable
} from './types.js';

/** One row of the widget: a column as it will be migrated. */
export interface ColumnState extends MappingValues {
  sourceField: string;
  sourceType: string;
  nullable: boolean;
  primaryKey: boolean;
  warnings: string[];
  /** `destinationType` holds the type without Nullable(); this is the full column type. */
  columnType: string;
}

/** Values of the table options: empty means "the default". */
export interface TableOptions {
  orderBy: string[];
  partitionBy: string;
}

const KEY_OF: Record<OverrideKey, keyof MappingValues> = {
  rename: 'destinationField',
  type: 'destinationType',
  transform: 'transformation',
  nulls: 'nulls',
  skip: 'skip'
};

/** Whether ClickHouse allows `Nullable(T)` (LowCardinality(T) becomes LowCardinality(Nullable(T))). */
export function canBeNullable(type: string): boolean {
  return (
    !/^\s*(Array|Map|Tuple|Nested|Nullable|JSON|Object|Variant|Dynamic|LowCardinality|AggregateFunction|SimpleAggregateFunction)\b/i.test(type) ||
    /^\s*LowCardinality\s*\(/i.test(type)
  );
}

/** The NULL handling the kernel picks when the cell says nothing: keep NULLs where the type allows it. */
export function defaultNulls(sourceNullable: boolean, baseType: string): MappingValues['nulls'] {
  return sourceNullable && canBeNullable(baseType) ? 'nullable' : 'fail';
}

const DESTINATION_NAME = /^[\p{L}_][\p{L}\p{N}_]*$/u;

/** The destination name the kernel suggests: the source name, made a plain identifier if it is not one. */
export function defaultDestinationName(sourceField: string): string {
  if (DESTINATION_NAME.test(sourceField) && sourceField.length <= 200) {
    return sourceField;
  }
  return sourceField.replace(/[^\p{L}\p{N}_]/gu, '_').replace(/^(\p{N})/u, '_$1') || '_';
}

/** The column type for a base type and a NULL handling: `Nullable(T)` only for `nullable`. */
export function columnType(baseType: string, nulls: MappingValues['nulls']): string {
  const base = baseType.trim();
  if (nulls !== 'nullable' || !base || !canBeNullable(base)) {
    return base;
  }
  const lowCardinality = /^LowCardinality\s*\(([\s\S]*)\)$/i.exec(base);
  if (lowCardinality) {
    const inner = lowCardinality[1].trim();
    return /^Nullable\s*\(/i.test(inner) ? base : `LowCardinality(Nullable(${inner}))`;
  }
  return `Nullable(${base})`;
}

function sameValue(key: keyof MappingValues, a: OverrideValue, b: OverrideValue): boolean {
  if (key === 'destinationType' && typeof a === 'string' && typeof b === 'string') {
    return a.replace(/\s+/g, '') === b.replace(/\s+/g, '');
  }
  if (typeof a === 'string' && typeof b === 'string') {
    return a.trim() === b.trim();
  }
  return a === b;
}

/** Quotes an identifier for ClickHouse: `name`, with backticks and backslashes escaped. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

export class MigrationEditModel {
  readonly plan: MigrationPlan;
  /** Overrides the kernel applied when it analyzed (the spec in the bundle). */
  private readonly analyzedOverrides: Record<string, ColumnOverride>;
  private readonly analyzedOrderBy: boolean;
  private readonly analyzedPartitionBy: boolean;

  constructor(plan: MigrationPlan) {
    this.plan = plan;
    this.analyzedOverrides = readOverrides(plan.spec);
    this.analyzedOrderBy = readOption(plan.spec, 'order_by') !== undefined;
    this.analyzedPartitionBy = readOption(plan.spec, 'partition_by') !== undefined;
  }

  /**
   * The suggested value of one attribute, as the kernel derives it (plan.ts): the source name made an
   * identifier, `suggested_type`, no transformation, not skipped, and NULLs kept where the (current) type
   * allows it. Explicit `suggested` values from the kernel win. Undefined when it cannot be known.
   */
  suggestion(mapping: ColumnMapping, key: keyof MappingValues, currentBaseType?: string): OverrideValue | undefined {
    const suggested = mapping.suggested?.[key];
    if (suggested !== undefined) {
      return key === 'destinationType' ? stripNullable(suggested as string) : suggested;
    }
    switch (key) {
      case 'destinationField':
        return defaultDestinationName(mapping.sourceField);
      case 'transformation':
        return '';
      case 'skip':
        return false;
      case 'destinationType':
        if (mapping.suggestedType) {
          return stripNullable(mapping.suggestedType);
        }
        return this.analyzedOverrides[mapping.sourceField]?.type === undefined ? stripNullable(mapping.destinationType) : undefined;
      case 'nulls': {
        const nullable = this.sourceNullable(mapping);
        const base = currentBaseType ?? (this.suggestion(mapping, 'destinationType') as string | undefined);
        if (nullable === undefined || base === undefined) {
          return this.analyzedOverrides[mapping.sourceField]?.nulls === undefined ? mapping.nulls : undefined;
        }
        return defaultNulls(nullable, base);
      }
    }
  }

  private sourceNullable(mapping: ColumnMapping): boolean | undefined {
    return mapping.sourceNullable ?? this.plan.source.columns.find(column => column.name === mapping.sourceField)?.nullable;
  }

  /** The attribute as the kernel reported it (with the analyzed overrides applied). */
  private analyzed(mapping: ColumnMapping, key: keyof MappingValues): OverrideValue {
    return key === 'destinationType' ? stripNullable(mapping.destinationType) : mapping[key];
  }

  /** The columns as they will be migrated, given the overrides now in the cell source. */
  columns(current: Record<string, ColumnOverride>): ColumnState[] {
    const sourceColumns = new Map(this.plan.source.columns.map(column => [column.name, column]));
    return this.plan.mappings.map(mapping => {
      const override = current[mapping.sourceField] ?? {};
      const pick = <K extends keyof MappingValues>(key: K, given: MappingValues[K] | undefined, base?: string): MappingValues[K] =>
        given !== undefined ? given : ((this.suggestion(mapping, key, base) ?? this.analyzed(mapping, key)) as MappingValues[K]);
      const destinationType = pick('destinationType', override.type !== undefined ? stripNullable(override.type) : undefined);
      // `type: Nullable(T)` asks for a nullable column.
      const typeSaysNullable = override.type !== undefined && /^\s*Nullable\s*\(/.test(override.type);
      const nulls = pick('nulls', override.nulls ?? (typeSaysNullable ? 'nullable' : undefined), destinationType);
      const source = sourceColumns.get(mapping.sourceField);
      return {
        sourceField: mapping.sourceField,
        sourceType: mapping.sourceType || source?.type || '',
        nullable: this.sourceNullable(mapping) ?? /^\s*Nullable\s*\(/.test(mapping.destinationType),
        primaryKey: mapping.primaryKey ?? source?.primaryKey ?? false,
        warnings: mapping.warnings,
        destinationField: pick('destinationField', override.rename || undefined) || mapping.sourceField,
        destinationType,
        transformation: pick('transformation', override.transform),
        nulls,
        skip: pick('skip', override.skip),
        columnType: columnType(destinationType, nulls)
      };
    });
  }

  /**
   * What an edit writes into `columns:`: the value, or undefined (remove the override) when the value is
   * the suggestion. An empty name means "the suggested name".
   */
  overrideFor(sourceField: string, key: OverrideKey, value: OverrideValue, current: Record<string, ColumnOverride> = {}): OverrideValue | undefined {
    const mapping = this.plan.mappings.find(m => m.sourceField === sourceField);
    if (typeof value === 'string' && value.trim() === '' && key !== 'transform') {
      return undefined;
    }
    if (!mapping) {
      return typeof value === 'string' ? value.trim() : value;
    }
    const attribute = KEY_OF[key];
    // The NULL handling's suggestion depends on the type the column gets.
    const base = key === 'nulls' ? this.columns(current).find(c => c.sourceField === sourceField)?.destinationType : undefined;
    const suggested = this.suggestion(mapping, attribute, base);
    if (suggested !== undefined && sameValue(attribute, value, suggested)) {
      return undefined;
    }
    if (key === 'transform' && typeof value === 'string' && value.trim() === '') {
      // No transformation is always the suggestion.
      return undefined;
    }
    return typeof value === 'string' ? value.trim() : value;
  }

  /** ORDER BY without an `order_by` option: the primary key columns (in key order) under their destination names. */
  defaultOrderBy(columns: ColumnState[]): string[] {
    const byField = new Map(columns.map(column => [column.sourceField, column]));
    const key = this.plan.source.primaryKey.length > 0 ? this.plan.source.primaryKey : columns.filter(c => c.primaryKey).map(c => c.sourceField);
    if (key.length > 0) {
      return key.flatMap(field => {
        const column = byField.get(field);
        return column && !column.skip ? [column.destinationField] : [];
      });
    }
    // No primary key known: whatever the kernel chose when the analyzed spec left it open.
    if (!this.analyzedOrderBy && this.plan.orderBy && this.plan.source.columns.length === 0) {
      return this.plan.orderBy;
    }
    return [];
  }

  /** PARTITION BY without a `partition_by` option: none, unless the kernel chose one for an open spec. */
  defaultPartitionBy(): string {
    return !this.analyzedPartitionBy && this.plan.partitionBy ? this.plan.partitionBy : '';
  }

  /** The `order_by` / `partition_by` options in the cell source. */
  options(spec: Record<string, unknown>): TableOptions {
    return {
      orderBy: readExpressionList(readOption(spec, 'order_by')) ?? [],
      partitionBy: asString(readOption(spec, 'partition_by'))?.trim() ?? ''
    };
  }

  /** The target table: the cell source's `target:` (in the database the kernel resolved), else the analyzed one. */
  target(spec: Record<string, unknown>): { database?: string; table: string } {
    const info = this.plan.targetInfo;
    const written = asString(spec.target)?.trim();
    const analyzedWritten = asString(this.plan.spec.target)?.trim();
    if (info.table && (written === undefined || written === analyzedWritten)) {
      return { database: info.database, table: info.table };
    }
    const text = written || this.plan.target || asString(spec.source)?.split('.').pop() || 'target_table';
    const parts = splitTableName(text);
    if (parts.length >= 2) {
      return { database: parts[0], table: parts.slice(1).join('.') };
    }
    // An unqualified name is in the session's database: the analyzed one when the analyzed target named none.
    const analyzedParts = analyzedWritten ? splitTableName(analyzedWritten) : [];
    return { database: analyzedParts.length < 2 ? info.database : undefined, table: parts[0] ?? text };
  }

  /** The DDL for the current edits, in the shape the kernel writes it (plan.ts buildDdl). */
  ddl(spec: Record<string, unknown>, current: Record<string, ColumnOverride>): string {
    const columns = this.columns(current);
    const options = this.options(spec);
    return buildDdl({
      target: this.target(spec),
      columns: columns.filter(column => !column.skip).map(column => ({ name: column.destinationField, type: column.columnType })),
      orderBy: options.orderBy.length > 0 ? options.orderBy : this.defaultOrderBy(columns),
      partitionBy: options.partitionBy || this.defaultPartitionBy(),
      settings: ddlSettings(this.plan.ddl)
    });
  }
}

/** `db.table` or `` `db`.`my table` `` → its parts, unquoted. */
function splitTableName(text: string): string[] {
  const parts: string[] = [];
  const pattern = /`((?:[^`\\]|\\.)*)`|"((?:[^"]|"")*)"|([^.]+)/g;
  for (const match of text.trim().matchAll(pattern)) {
    parts.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2] !== undefined ? match[2].replace(/""/g, '"') : match[3].trim());
  }
  return parts.filter(part => part !== '');
}

/** The `SETTINGS …` line the kernel ends its DDL with, kept in the preview. */
function ddlSettings(ddl: string | undefined): string | undefined {
  const match = ddl ? /^\s*SETTINGS\s+(.+?)\s*;?\s*$/im.exec(ddl) : null;
  return match ? match[1] : undefined;
}

export interface DdlInput {
  target: { database?: string; table: string };
  columns: { name: string; type: string }[];
  /** Destination column names. */
  orderBy: string[];
  partitionBy?: string;
  settings?: string;
}

/**
 * As the kernel writes it:
 *
 * CREATE TABLE IF NOT EXISTS `db`.`t`
 * (
 *     `id` Int64,
 *     `email` Nullable(String)
 * )
 * ENGINE = MergeTree
 * PARTITION BY toYYYYMM(created_at)
 * ORDER BY `id`
 * SETTINGS non_replicated_deduplication_window = 10000
 */
export function buildDdl(input: DdlInput): string {
  const table = input.target.database
    ? `${quoteIdentifier(input.target.database)}.${quoteIdentifier(input.target.table)}`
    : quoteIdentifier(input.target.table);
  const order =
    input.orderBy.length === 0
      ? 'tuple()'
      : input.orderBy.length === 1
        ? quoteIdentifier(input.orderBy[0])
        : `(${input.orderBy.map(quoteIdentifier).join(', ')})`;
  return [
    `CREATE TABLE IF NOT EXISTS ${table}`,
    '(',
    input.columns.map(column => `    ${quoteIdentifier(column.name)} ${column.type || 'String'}`).join(',\n'),
    ')',
    'ENGINE = MergeTree',
    ...(input.partitionBy ? [`PARTITION BY ${input.partitionBy}`] : []),
    `ORDER BY ${order}`,
    ...(input.settings ? [`SETTINGS ${input.settings}`] : [])
  ].join('\n');
}
