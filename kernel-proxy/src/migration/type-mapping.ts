// PostgreSQL → ClickHouse type mapping (SPEC §3 and what it leaves out). For each source column this decides:
//  - the suggested ClickHouse type and the warnings where the mapping can lose something,
//  - how the value travels: the PostgreSQL expression in the COPY query, the ClickHouse type it is read as from
//    COPY text (TSV), and the ClickHouse expression that turns the read value into the suggested type.
import type { ResolvedPgType, SourceColumn } from '../postgres/analyze.js';
import { pgIdent } from './sql.js';

export type Category = 'int' | 'uint' | 'float' | 'decimal' | 'bool' | 'string' | 'bytes' | 'date' | 'datetime' | 'uuid' | 'enum' | 'json' | 'text_repr' | 'array';

export interface MappingContext {
  /** The stated choice for numeric without precision (options.unbounded_numeric). */
  unboundedNumeric?: string;
  /** ClickHouse session time zone (timestamp without time zone is wall-clock there). */
  clickhouseTimezone?: string;
  moneyScale?: number;
}

export interface ScalarMapping {
  /** Suggested ClickHouse type, not Nullable. */
  type: string;
  /** ClickHouse type the COPY text is parsed as (not Nullable). */
  read: string;
  /** PostgreSQL expression for the COPY query; `col` is the quoted column. */
  pg: (col: string) => string;
  /** ClickHouse expression turning the read value `x` into `type`; undefined = the read value as is. */
  convert?: (x: string) => string;
  /** For array elements (arriving as text): ClickHouse expression turning a String `x` into the element; undefined = CAST does it. */
  fromString?: (x: string) => string;
  /** PostgreSQL expression casting an array of this element to text[] for array_to_json (col = quoted array column). */
  arrayText?: (col: string) => string;
  category: Category;
  warnings: string[];
  notes: string[];
}

export interface TypeSuggestion extends ScalarMapping {
  dims: number;
  /** For arrays: the element's mapping. */
  element?: ScalarMapping;
  /** Whether ClickHouse allows Nullable(type). */
  nullableOk: boolean;
}

const CH_INT: Record<string, string> = { int2: 'Int16', int4: 'Int32', int8: 'Int64', oid: 'UInt32', xid: 'UInt32', cid: 'UInt32', regclass: 'UInt32', regtype: 'UInt32', regproc: 'UInt32' };
const STRINGISH = new Set(['text', 'varchar', 'name', 'citext', 'bpchar', 'char', 'unknown']);
const GEOMETRIC = new Set(['point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle']);
const NETWORK = new Set(['inet', 'cidr', 'macaddr', 'macaddr8']);

export const DEFAULT_UNBOUNDED_NUMERIC = 'Decimal(38, 10)';

function enumType(labels: readonly string[]): string {
  const quoted = labels.map((label, i) => `'${label.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' = ${i + 1}`);
  return labels.length <= 127 ? `Enum8(${quoted.join(', ')})` : `Enum16(${quoted.join(', ')})`;
}

const identity = (col: string) => col;

function scalar(t: ResolvedPgType, column: SourceColumn, ctx: MappingContext): ScalarMapping {
  const base = t.base;
  const builtin = t.baseSchema === 'pg_catalog';
  const m = (type: string, category: Category, extra: Partial<ScalarMapping> = {}): ScalarMapping => ({
    type,
    read: type,
    pg: identity,
    category,
    warnings: [],
    notes: [],
    ...extra,
  });
  const asText = (category: Category, warnings: string[], notes: string[] = []): ScalarMapping => m('String', category, { warnings, notes });

  if (t.kind === 'enum') {
    const labels = t.enumLabels ?? [];
    if (labels.length > 32_767) return m('LowCardinality(String)', 'string', { notes: [`enum ${base}: ${labels.length} labels, kept as LowCardinality(String)`] });
    return m(enumType(labels), 'enum', { notes: [`enum ${base}: labels added in PostgreSQL later need an ALTER of the ClickHouse Enum`] });
  }
  if (t.kind === 'range' || t.kind === 'multirange') {
    return asText('text_repr', [`${base} kept as PostgreSQL range text such as [1,10): ClickHouse has no range type (bounds are not typed)`]);
  }
  if (t.kind === 'composite') {
    return asText('text_repr', [`composite type ${base} kept as PostgreSQL row text "(a,b)"`]);
  }
  if (builtin && CH_INT[base]) return m(CH_INT[base]!, base.startsWith('int') ? 'int' : 'uint');
  if (builtin && base === 'float4') return m('Float32', 'float');
  if (builtin && base === 'float8') return m('Float64', 'float');
  if (builtin && base === 'numeric') {
    if (t.typmod >= 0) {
      const v = t.typmod - 4;
      const precision = (v >> 16) & 0xffff;
      const scale = ((v & 0x7ff) ^ 1024) - 1024;
      if (scale < 0) {
        const p = Math.min(76, precision - scale);
        return m(`Decimal(${p}, 0)`, 'decimal', { read: 'String', notes: [`numeric(${precision},${scale}) has a negative scale: stored as Decimal(${p}, 0)`] });
      }
      if (precision <= 76) return m(`Decimal(${precision}, ${scale})`, 'decimal');
      return asText('text_repr', [`numeric(${precision},${scale}) exceeds ClickHouse's Decimal precision (76): kept as text`]);
    }
    const choice = ctx.unboundedNumeric ?? DEFAULT_UNBOUNDED_NUMERIC;
    const warnings = ctx.unboundedNumeric
      ? []
      : [`numeric without precision: stored as ${choice} by default; state the choice with options.unbounded_numeric (the value check reports values that would not fit)`];
    return m(choice, /^Decimal/i.test(choice) ? 'decimal' : /^Float/i.test(choice) ? 'float' : /String/.test(choice) ? 'string' : 'decimal', { read: 'String', warnings });
  }
  if (builtin && base === 'money') {
    const scale = ctx.moneyScale ?? 2;
    return m(`Decimal(19, ${scale})`, 'decimal', {
      pg: (col) => `${col}::numeric`,
      arrayText: (col) => `${col}::numeric[]::text[]`,
      warnings: [`money → Decimal(19, ${scale}): the currency symbol and locale formatting are dropped`],
    });
  }
  if (builtin && base === 'bool') return m('Bool', 'bool');
  if (builtin && STRINGISH.has(base)) {
    const notes = base === 'bpchar' && column.max_length && column.max_length > 1 ? [`char(${column.max_length}): values keep PostgreSQL's blank padding (retype to FixedString(${column.max_length}) or transform with trimRight)`] : [];
    return m('String', 'string', { notes, arrayText: base === 'text' || base === 'varchar' ? identity : undefined });
  }
  if (builtin && base === 'uuid') return m('UUID', 'uuid');
  if (builtin && base === 'date') return m('Date32', 'date', { notes: ['ClickHouse Date32 holds 1900-01-01 … 2299-12-31: the value check reports dates outside'] });
  if (builtin && base === 'timestamp') {
    const warnings = ctx.clickhouseTimezone && !/^(UTC|Etc\/UTC|GMT|Etc\/GMT|UCT|Zulu|Universal)$/i.test(ctx.clickhouseTimezone)
      ? [`timestamp without time zone is stored as wall-clock time in ClickHouse's time zone ${ctx.clickhouseTimezone}: wall times inside a DST gap shift (retype to DateTime64(6, 'UTC') to keep them exactly)`]
      : [];
    return m('DateTime64(6)', 'datetime', { fromString: (x) => `parseDateTime64BestEffort(${x}, 6)`, warnings });
  }
  if (builtin && base === 'timestamptz') {
    return m("DateTime64(6, 'UTC')", 'datetime', { fromString: (x) => `parseDateTime64BestEffort(${x}, 6, 'UTC')`, notes: ['the instant is kept (UTC); the original offset is not stored'] });
  }
  if (builtin && base === 'time') return asText('text_repr', [], ["time of day kept as text 'HH:MM:SS[.ffffff]' (sorts correctly; retype to Time64(6) on ClickHouse ≥ 25.6)"]);
  if (builtin && base === 'timetz') return asText('text_repr', ['time with time zone kept as text with its offset: ClickHouse has no such type']);
  if (builtin && base === 'interval') return asText('text_repr', ['interval kept as ISO 8601 text (P1Y2M3DT4H5M6S): ClickHouse has no column type for month/day/time intervals']);
  if (builtin && NETWORK.has(base)) {
    return asText('text_repr', [], [`${base} kept as text${base === 'inet' || base === 'cidr' ? ' (may mix IPv4/IPv6 and masks; retype to IPv6 with a transform if all values are host addresses)' : ''}`]);
  }
  if (builtin && base === 'bytea') {
    return m('String', 'bytes', {
      read: 'String',
      convert: (x) => `unhex(substring(${x}, 3))`,
      fromString: (x) => `unhex(substring(${x}, 3))`,
      notes: ['bytea → String holding the raw bytes'],
    });
  }
  if (builtin && (base === 'bit' || base === 'varbit')) return asText('text_repr', [], [`${base} kept as a text of 0 and 1`]);
  if (builtin && base === 'xml') return asText('string', [], ['xml kept as text']);
  if (builtin && (base === 'json' || base === 'jsonb')) return m('String', 'json', { notes: [`${base} kept as JSON text (retype to JSON where the server supports it)`] });
  if (builtin && base === 'jsonpath') return asText('string', []);
  if (builtin && GEOMETRIC.has(base)) {
    return asText('text_repr', [], [base === 'point' ? 'point kept as text "(x,y)" (retype to Tuple(Float64, Float64) to get numbers)' : `${base} kept as PostgreSQL text`]);
  }
  if (builtin && (base === 'tsvector' || base === 'tsquery')) return asText('text_repr', [`${base} kept as text: ClickHouse has no full-text document type`]);
  if (!builtin && (base === 'citext')) return m('String', 'string', { notes: ['citext → String (comparisons become case-sensitive)'] });
  return asText('text_repr', [`no ClickHouse equivalent for ${t.baseSchema === 'pg_catalog' ? base : `${t.baseSchema}.${base}`}: kept as its PostgreSQL text`]);
}

/** The suggested mapping of one source column. */
export function suggest(column: SourceColumn, ctx: MappingContext): TypeSuggestion {
  const t = column.resolved;
  const element = scalar(t, column, ctx);
  const domainWarnings = t.domains.filter((d) => d.hasChecks).map((d) => `domain ${d.name}: its CHECK constraints are not enforced in ClickHouse`);
  if (t.dims === 0) {
    return { ...element, dims: 0, nullableOk: canBeNullable(element.type), warnings: [...element.warnings, ...domainWarnings] };
  }
  let type = element.type;
  let jsonType = 'Nullable(String)';
  for (let d = 0; d < t.dims; d++) {
    type = `Array(${type})`;
    jsonType = `Array(${jsonType})`;
  }
  const fromString = element.fromString;
  const mapElements = (x: string, depth: number): string => {
    if (!fromString) return x;
    if (depth === 0) return fromString(x);
    const v = `e${depth}`;
    return `arrayMap(${v} -> ${mapElements(v, depth - 1)}, ${x})`;
  };
  const arrayText = element.arrayText ?? ((col: string) => `${col}::text[]`);
  return {
    type,
    read: 'String',
    pg: (col) => `array_to_json(${arrayText(col)})`,
    convert: (x) => mapElements(`JSONExtract(ifNull(${x}, ''), '${jsonType}')`, t.dims),
    category: 'array',
    warnings: [...element.warnings, ...domainWarnings],
    notes: [...element.notes, 'PostgreSQL arrays may hold NULL elements: the value check reports them (retype to Array(Nullable(…)) to keep them)'],
    dims: t.dims,
    element,
    nullableOk: false,
  };
}

/** Whether ClickHouse allows Nullable(type). */
export function canBeNullable(type: string): boolean {
  return !/^\s*(Array|Map|Tuple|Nested|Nullable|JSON|Object|Variant|Dynamic|LowCardinality)\b/i.test(type) || /^\s*LowCardinality\s*\(/i.test(type);
}

export function wrapNullable(type: string): string {
  const lc = /^\s*LowCardinality\s*\((.*)\)\s*$/is.exec(type);
  if (lc) return /^\s*Nullable\s*\(/i.test(lc[1]!) ? type : `LowCardinality(Nullable(${lc[1]!.trim()}))`;
  if (/^\s*Nullable\s*\(/i.test(type)) return type;
  return `Nullable(${type})`;
}

/** `Nullable(T)` → T; other types unchanged. */
export function unwrapNullable(type: string): { base: string; nullable: boolean } {
  const m = /^\s*Nullable\s*\((.*)\)\s*$/is.exec(type);
  return m ? { base: m[1]!.trim(), nullable: true } : { base: type.trim(), nullable: false };
}

export function quotedColumn(name: string): string {
  return pgIdent(name);
}

/** Extra warnings when a user retypes a column to something narrower than the suggestion. */
export function retypeWarnings(source: SourceColumn, suggested: string, chosen: string): string[] {
  const warnings: string[] = [];
  const s = normalizeType(suggested);
  const c = normalizeType(chosen);
  if (s === c) return warnings;
  if (/^Float(32|64)/.test(c) && /^(Decimal|Int64|UInt64|Int128)/.test(s)) warnings.push(`${chosen} keeps about ${c.startsWith('Float32') ? 7 : 15} significant digits: larger or more precise values are rounded`);
  if (/^Float32/.test(c) && /^Float64/.test(s)) warnings.push('Float32 keeps about 7 significant digits: values are rounded');
  if (/^DateTime\(|^DateTime$/.test(c) && /^DateTime64/.test(s)) warnings.push('DateTime has whole seconds from 1970 to 2106: fractions are dropped (the value check reports values out of range)');
  const p = /^DateTime64\((\d)/.exec(c);
  if (p && Number(p[1]) < 6 && /^DateTime64\(6/.test(s)) warnings.push(`DateTime64(${p[1]}) drops digits below 10^-${p[1]} s`);
  if (/^(Date)$/.test(c) && /^Date32/.test(s)) warnings.push('Date holds 1970-01-01 … 2149-06-06 (the value check reports dates outside)');
  if (/^String/.test(c) || /^LowCardinality\(String\)/.test(c)) return warnings;
  if (source.resolved.base === 'bytea' && !/^String|^FixedString/.test(c)) warnings.push('bytea arrives as raw bytes: transform it to fit the new type');
  return warnings;
}

export function normalizeType(type: string): string {
  return type.replace(/\s+/g, '').replace(/"/g, "'");
}
