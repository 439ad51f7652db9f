import { DataType, type Field, type Table } from 'apache-arrow';
import { typeArgs, typeName, unwrapType } from './clickhouse-type.js';
import { enumLabels, ipv4Text, ipv6Text, littleEndianInteger, uuidText } from './faithful.js';

const HTML_ROWS = 100;
const TEXT_ROWS = 50;
const CELL_CHARS = 200;

export interface ResultSummary {
  rows: number;
  shownRows: number;
  truncated: boolean;
  elapsedMs: number;
  bytes: number;
  rowCap: number;
}

export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (value instanceof Date) return value.toISOString().replace('T', ' ').replace('Z', '');
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'object') {
    const json = (value as { toJSON?: () => unknown }).toJSON ? (value as { toJSON: () => unknown }).toJSON() : value;
    return JSON.stringify(json, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
  return String(value);
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function inZone(ms: number, timezone: string | null | undefined): string {
  const zone = timezone || 'UTC';
  let format = zoneFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('sv-SE', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    zoneFormats.set(zone, format);
  }
  const fraction = ms % 1000 === 0 ? '' : `.${String(Math.floor(((ms % 1000) + 1000) % 1000)).padStart(3, '0')}`;
  return `${format.format(new Date(ms))}${fraction}`;
}

/** An Arrow decimal (unscaled integer) as exact decimal text: -196440010 at scale 2 → "-1964400.10". */
export function decimalText(value: unknown, scale: number): string {
  const digits = String(value);
  if (scale <= 0) return digits;
  const negative = digits.startsWith('-');
  const unsigned = (negative ? digits.slice(1) : digits).padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${unsigned.slice(0, -scale)}.${unsigned.slice(-scale)}`;
}

type Format = (value: unknown) => string;

const COMPOSITE = new Set(['Array', 'Map', 'Tuple', 'Nested']);

/** ClickHouse's quoting of a string inside an Array / Map / Tuple: `'it\\'s'`. */
function quoted(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\t/g, '\\t')}'`;
}

function bytesOf(value: unknown): Uint8Array | undefined {
  return value instanceof Uint8Array ? value : undefined;
}

function timestampMs(value: unknown, arrow: DataType): number {
  // ClickHouse sends DateTime inside Array / Map / Tuple as its raw UInt32 seconds; timestamps arrive in ms.
  return DataType.isTimestamp(arrow) ? Number(value) : Number(value) * 1000;
}

/** `2024-01-02 03:04:05.120` for DateTime64(3): as many fraction digits as the type's precision. */
function withPrecision(ms: number, timezone: string | null | undefined, precision: number): string {
  const whole = Math.floor(ms / 1000) * 1000;
  const base = inZone(whole, timezone);
  if (precision <= 0) return base;
  const fraction = Math.round((ms - whole) * 1e6); // nanoseconds within the second
  return `${base}.${String(fraction).padStart(9, '0').slice(0, precision)}`;
}

/**
 * A value inside an Array, Map or Tuple as ClickHouse writes it (its Pretty and TSV formats): strings, dates,
 * times, Enum labels, UUIDs and IP addresses in single quotes, numbers bare, NULL, `[…]`, `{k:v}`, `(…)`.
 * ClickHouse's Arrow output sends DateTime, Enum, UUID, IPv4/6 and (U)Int128/256 inside those raw (seconds, codes,
 * bytes): the ClickHouse type says what they mean.
 */
export function nestedFormatter(clickhouseType: string, arrow: DataType): Format {
  const type = unwrapType(clickhouseType);
  const name = typeName(type);
  const inner = (f: Format): Format => (v) => (v === null || v === undefined ? 'NULL' : f(v));
  const children = (arrow as { children?: { type: DataType; name: string }[] }).children ?? [];
  if (name === 'Array' || name === 'Nested') {
    const elementType = name === 'Nested' ? `Tuple(${typeArgs(type).join(', ')})` : (typeArgs(type)[0] ?? '');
    const element = nestedFormatter(elementType, children[0]?.type ?? arrow);
    return inner((v) => {
      const list = v as { length: number; get(i: number): unknown };
      const parts: string[] = [];
      for (let i = 0; i < list.length; i++) parts.push(element(list.get(i)));
      return `[${parts.join(',')}]`;
    });
  }
  if (name === 'Map') {
    const [keyType = '', valueType = ''] = typeArgs(type);
    const entry = (children[0]?.type as { children?: { type: DataType }[] } | undefined)?.children ?? [];
    const key = nestedFormatter(keyType, entry[0]?.type ?? arrow);
    const value = nestedFormatter(valueType, entry[1]?.type ?? arrow);
    return inner((v) => `{${[...(v as Iterable<[unknown, unknown]>)].map(([k, x]) => `${key(k)}:${value(x)}`).join(',')}}`);
  }
  if (name === 'Tuple') {
    const elementTypes = typeArgs(type);
    const elements = children.map((child, i) => ({ name: child.name, format: nestedFormatter(elementTypes[i] ?? '', child.type) }));
    return inner((v) => {
      const row = v as Record<string, unknown>;
      return `(${elements.map((e) => e.format(row[e.name])).join(',')})`;
    });
  }
  if (name === 'DateTime') {
    const zone = /'([^']+)'/.exec(type)?.[1] ?? (DataType.isTimestamp(arrow) ? (arrow as { timezone?: string | null }).timezone : null);
    return inner((v) => quoted(inZone(timestampMs(v, arrow), zone)));
  }
  if (name === 'DateTime64') {
    const precision = Number(/^DateTime64\(\s*(\d+)/.exec(type)?.[1] ?? 3);
    const zone = /'([^']+)'/.exec(type)?.[1] ?? (DataType.isTimestamp(arrow) ? (arrow as { timezone?: string | null }).timezone : null);
    return inner((v) => quoted(withPrecision(Number(v), zone, precision)));
  }
  if (name === 'Date' || name === 'Date32') {
    // Date32<DAY> reads as ms; a raw UInt16 / Int32 as days.
    const days = DataType.isInt(arrow);
    return inner((v) => quoted(new Date(days ? Number(v) * 86_400_000 : Number(v)).toISOString().slice(0, 10)));
  }
  if (name === 'Enum8' || name === 'Enum16') {
    const labels = enumLabels(type);
    return inner((v) => quoted(typeof v === 'number' || typeof v === 'bigint' ? (labels.get(Number(v)) ?? String(v)) : String(v)));
  }
  if (name === 'UUID') return inner((v) => quoted(bytesOf(v) ? uuidText(bytesOf(v)!) : String(v)));
  if (name === 'IPv4') return inner((v) => quoted(typeof v === 'number' ? ipv4Text(v) : String(v)));
  if (name === 'IPv6') return inner((v) => quoted(bytesOf(v) ? ipv6Text(bytesOf(v)!) : String(v)));
  const wide = /^(U?)Int(128|256)$/.exec(name);
  if (wide) return inner((v) => (bytesOf(v) ? littleEndianInteger(bytesOf(v)!, wide[1] === '') : String(v)));
  if (DataType.isDecimal(arrow)) {
    const scale = (arrow as { scale: number }).scale;
    // As ClickHouse writes decimals (output_format_decimal_trailing_zeros = 0): 1.50 → 1.5.
    return inner((v) => decimalText(v, scale).replace(/\.?0+$/, (m) => (scale > 0 ? '' : m)));
  }
  if (name === 'String' || name === 'FixedString' || DataType.isUtf8(arrow) || DataType.isBinary(arrow) || DataType.isFixedSizeBinary(arrow)) {
    return inner((v) => {
      const bytes = bytesOf(v);
      // FixedString pads with zero bytes, as ClickHouse writes them.
      return quoted(bytes ? Buffer.from(bytes).toString('utf8') : String(v));
    });
  }
  if (DataType.isFloat(arrow)) {
    return inner((v) => {
      const n = Number(v);
      return Number.isNaN(n) ? 'nan' : n === Infinity ? 'inf' : n === -Infinity ? '-inf' : String(n);
    });
  }
  if (DataType.isBool(arrow)) return inner((v) => (v ? 'true' : 'false'));
  if (DataType.isInt(arrow)) return inner((v) => String(v));
  return inner((v) => formatValue(v));
}

/** Formats a column's values by its Arrow type: timestamps in their zone, dates as dates, decimals exact. */
export function columnFormatter(field: Field): (value: unknown) => string {
  const clickhouseType = field.metadata.get('clickhouse.type');
  if (clickhouseType && COMPOSITE.has(typeName(clickhouseType))) return nestedFormatter(clickhouseType, field.type);
  if (DataType.isDecimal(field.type)) {
    const scale = (field.type as { scale: number }).scale;
    return (v) => (v === null || v === undefined ? 'NULL' : decimalText(v, scale));
  }
  if (DataType.isTimestamp(field.type)) {
    const timezone = (field.type as { timezone?: string | null }).timezone;
    return (v) => (v === null || v === undefined ? 'NULL' : inZone(Number(v), timezone));
  }
  if (DataType.isDate(field.type)) return (v) => (v === null || v === undefined ? 'NULL' : new Date(Number(v)).toISOString().slice(0, 10));
  return formatValue;
}

function clip(text: string): string {
  return text.length > CELL_CHARS ? `${text.slice(0, CELL_CHARS - 1)}…` : text;
}

export function summaryLine(s: ResultSummary): string {
  const parts = [`${s.rows.toLocaleString('en-US')} row${s.rows === 1 ? '' : 's'}`, `${s.elapsedMs.toLocaleString('en-US')} ms`, formatBytes(s.bytes)];
  let line = parts.join(' · ');
  if (s.truncated) line += ` · result cut at the cap (${s.rowCap.toLocaleString('en-US')} rows or size limit); add a LIMIT or raise CHLAB_MAX_RESULT_ROWS`;
  if (s.shownRows < s.rows) line += ` · first ${s.shownRows.toLocaleString('en-US')} rows kept in the notebook`;
  return line;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function typeOf(table: Table, index: number): string {
  const field = table.schema.fields[index]!;
  return field.metadata.get('clickhouse.type') ?? String(field.type);
}

export function renderHtml(table: Table, summary: ResultSummary): string {
  const fields = table.schema.fields;
  const head = fields
    .map((f, i) => `<th>${escapeHtml(f.name)}<br><small>${escapeHtml(typeOf(table, i))}</small></th>`)
    .join('');
  const rows: string[] = [];
  const columns = fields.map((_, i) => table.getChildAt(i)!);
  const formatters = fields.map(columnFormatter);
  const shown = Math.min(table.numRows, HTML_ROWS);
  for (let r = 0; r < shown; r++) {
    const cells = columns.map((c, i) => {
      const v = c.get(r);
      return v === null || v === undefined ? '<td><i>NULL</i></td>' : `<td>${escapeHtml(clip(formatters[i]!(v)))}</td>`;
    });
    rows.push(`<tr>${cells.join('')}</tr>`);
  }
  const more = table.numRows > shown ? `<p>… ${(summary.rows - shown).toLocaleString('en-US')} more rows</p>` : '';
  return `<table class="chlab-result"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>${more}<p>${escapeHtml(summaryLine(summary))}</p>`;
}

export function renderText(table: Table, summary: ResultSummary): string {
  const fields = table.schema.fields;
  const columns = fields.map((_, i) => table.getChildAt(i)!);
  const formatters = fields.map(columnFormatter);
  const shown = Math.min(table.numRows, TEXT_ROWS);
  const grid: string[][] = [fields.map((f) => f.name)];
  for (let r = 0; r < shown; r++) grid.push(columns.map((c, i) => clip(formatters[i]!(c.get(r))).replace(/\n/g, '\\n')));
  const widths = fields.map((_, i) => Math.max(...grid.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ');
  const out = [line(grid[0]!), widths.map((w) => '-'.repeat(w)).join('-+-'), ...grid.slice(1).map(line)];
  if (table.numRows > shown) out.push(`… ${(summary.rows - shown).toLocaleString('en-US')} more rows`);
  out.push(summaryLine(summary));
  return out.join('\n');
}
