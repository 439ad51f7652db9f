import { DataType, Precision, TimeUnit, type Vector } from 'apache-arrow';

import { uuidText } from './duckdb/prepare.js';
import {
  fixedStringText,
  ipv4Text,
  ipv6Text,
  littleEndianToBigInt,
  scaledDecimalText
} from './binary.js';
import {
  type ClickHouseType,
  baseType,
  enumLabels,
  isNumericType,
  numberArgs,
  stringArgs,
  typeArgs
} from './clickhouse-type.js';
import {
  fitFraction,
  formatDateFromDays,
  formatDateFromMs,
  formatDateTime,
  formatTimeOfDay,
  splitTimestamp
} from './time.js';

/** How one result column is shown. */
export interface ColumnFormat {
  /** Numbers are right-aligned. */
  readonly numeric: boolean;
  /** Text for the non-null cell `index` of a single-chunk vector of the column. */
  text(chunk: Vector, index: number): string;
}

interface Rendered {
  text: string;
  /** Strings, dates, UUIDs …: quoted when they appear inside Array/Tuple/Map. */
  textual: boolean;
}

const UNITS_PER_SECOND: Record<TimeUnit, bigint> = {
  [TimeUnit.SECOND]: 1n,
  [TimeUnit.MILLISECOND]: 1_000n,
  [TimeUnit.MICROSECOND]: 1_000_000n,
  [TimeUnit.NANOSECOND]: 1_000_000_000n
};

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const textual = (text: string): Rendered => ({ text, textual: true });
const literal = (text: string): Rendered => ({ text, textual: false });

function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Binary that is not valid UTF-8 is shown as hex rather than mojibake. */
function bytesText(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return `0x${Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')}`;
  }
}

function floatText(value: number, precision: Precision): string {
  if (Number.isNaN(value)) {
    return 'nan';
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? 'inf' : '-inf';
  }
  if (precision !== Precision.DOUBLE) {
    // Shortest text that reads back as the same Float32, as ClickHouse prints it.
    for (let digits = 1; digits <= 9; digits++) {
      const candidate = Number(value.toPrecision(digits));
      if (Math.fround(candidate) === value) {
        return String(candidate);
      }
    }
  }
  return String(value);
}

function timeZoneOf(type: ClickHouseType | undefined): string | undefined {
  return type ? stringArgs(type)[0] : undefined;
}

/** Fraction digits ClickHouse shows for the type; undefined keeps Arrow's unit. */
function dateTimePrecision(clickhouse: ClickHouseType | undefined): number | undefined {
  switch (clickhouse?.name) {
    case 'DateTime64':
      return numberArgs(clickhouse)[0] ?? 3;
    case 'DateTime':
    case 'DateTime32':
      return 0;
    default:
      return undefined;
  }
}

function asBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) {
    return value;
  }
  const view = value as ArrayBufferView;
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** An integer column whose ClickHouse type says what it really is. */
function renderInteger(value: number | bigint, clickhouse: ClickHouseType | undefined): Rendered {
  switch (clickhouse?.name) {
    case 'Enum':
    case 'Enum8':
    case 'Enum16': {
      const label = enumLabels(clickhouse).get(Number(value));
      return label === undefined ? literal(String(value)) : textual(label);
    }
    case 'IPv4':
      return textual(ipv4Text(value));
    case 'Bool':
      return literal(value ? 'true' : 'false');
    case 'Date':
    case 'Date32':
      return textual(formatDateFromDays(Number(value)));
    case 'DateTime':
    case 'DateTime32':
      return textual(formatDateTime(value, '', timeZoneOf(clickhouse)));
    case 'DateTime64': {
      const precision = numberArgs(clickhouse)[0] ?? 3;
      const { seconds, fraction } = splitTimestamp(BigInt(value), 10n ** BigInt(precision));
      return textual(formatDateTime(seconds, fraction, timeZoneOf(clickhouse)));
    }
    default:
      return literal(String(value));
  }
}

function renderFixedBinary(bytes: Uint8Array, clickhouse: ClickHouseType | undefined): Rendered {
  const name = clickhouse?.name ?? '';
  if (name === 'UUID') {
    // ClickHouse writes a UUID into Arrow in its text byte order (not its two little-endian halves).
    return textual(uuidText(bytes));
  }
  if (name === 'IPv6') {
    return textual(ipv6Text(bytes));
  }
  if (/^U?Int(128|256)$/.test(name)) {
    return literal(littleEndianToBigInt(bytes, !name.startsWith('U')).toString());
  }
  if (name === 'FixedString') {
    return textual(fixedStringText(bytes));
  }
  return textual(bytesText(bytes));
}

function renderNested(values: Iterable<unknown>, type: DataType, clickhouse?: ClickHouseType): string {
  const items: string[] = [];
  for (const item of values) {
    items.push(renderItem(item, type, clickhouse));
  }
  return items.join(', ');
}

/** A value inside Array/Tuple/Map, quoted the way ClickHouse writes literals. */
function renderItem(value: unknown, type: DataType, clickhouse?: ClickHouseType): string {
  if (value === null || value === undefined) {
    return 'NULL';
  }
  const rendered = render(value, type, clickhouse);
  return rendered.textual ? quote(rendered.text) : rendered.text;
}

function render(value: unknown, type: DataType, clickhouse: ClickHouseType | undefined): Rendered {
  const base = clickhouse ? baseType(clickhouse) : undefined;

  if (DataType.isDictionary(type)) {
    return render(value, type.dictionary, base);
  }
  if (DataType.isInt(type)) {
    return renderInteger(value as number | bigint, base);
  }
  if (DataType.isFloat(type)) {
    return literal(floatText(value as number, type.precision));
  }
  if (DataType.isDecimal(type)) {
    return literal(scaledDecimalText(littleEndianToBigInt(asBytes(value), true), type.scale));
  }
  if (DataType.isBool(type)) {
    return literal(value ? 'true' : 'false');
  }
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type) || DataType.isUtf8View(type)) {
    // FixedString(N) pads with zero bytes: shown without them.
    return textual(base?.name === 'FixedString' ? String(value).replace(/\0+$/, '') : String(value));
  }
  if (DataType.isFixedSizeBinary(type)) {
    return renderFixedBinary(asBytes(value), base);
  }
  if (DataType.isBinary(type) || DataType.isLargeBinary(type) || DataType.isBinaryView(type)) {
    return textual(base?.name === 'FixedString' ? fixedStringText(asBytes(value)) : bytesText(asBytes(value)));
  }
  if (DataType.isDate(type)) {
    // Both Date32 (days) and Date64 (ms) come out of Arrow as epoch milliseconds.
    return textual(formatDateFromMs(value instanceof Date ? value.getTime() : Number(value)));
  }
  if (DataType.isTimestamp(type)) {
    // Nested timestamps arrive as (possibly fractional) milliseconds.
    const ms = Number(value);
    const seconds = Math.floor(ms / 1000);
    const fraction = String(Math.floor(ms - seconds * 1000)).padStart(3, '0');
    const timeZone = timeZoneOf(base) ?? type.timezone ?? undefined;
    return textual(formatDateTime(seconds, fitFraction(fraction, dateTimePrecision(base)), timeZone));
  }
  if (DataType.isTime(type)) {
    return textual(formatTimeOfDay(BigInt(value as number | bigint), UNITS_PER_SECOND[type.unit]));
  }
  if (DataType.isList(type) || DataType.isLargeList(type) || DataType.isFixedSizeList(type)) {
    const element = base ? typeArgs(base)[0] : undefined;
    return literal(`[${renderNested(value as Iterable<unknown>, type.children[0].type, element)}]`);
  }
  if (DataType.isMap(type)) {
    const [keyType, valueType] = base ? typeArgs(base) : [];
    const entries: string[] = [];
    for (const [key, item] of value as Iterable<[unknown, unknown]>) {
      entries.push(
        `${renderItem(key, type.keyType, keyType)}:${renderItem(item, type.valueType, valueType)}`
      );
    }
    return literal(`{${entries.join(', ')}}`);
  }
  if (DataType.isStruct(type)) {
    const elements = base ? typeArgs(base) : [];
    const row = value as Record<string, unknown>;
    const items = type.children.map((field, i) => renderItem(row[field.name], field.type, elements[i]));
    return literal(`(${items.join(', ')})`);
  }
  if (DataType.isNull(type)) {
    return literal('NULL');
  }
  return textual(typeof value === 'string' ? value : String(value));
}

function isNumericArrowType(type: DataType): boolean {
  if (DataType.isDictionary(type)) {
    return isNumericArrowType(type.dictionary);
  }
  return DataType.isInt(type) || DataType.isFloat(type) || DataType.isDecimal(type);
}

function timestampFormat(
  type: DataType & { unit: TimeUnit; timezone?: string | null },
  clickhouse: ClickHouseType | undefined
): ColumnFormat {
  const unitsPerSecond = UNITS_PER_SECOND[type.unit];
  const timeZone = timeZoneOf(clickhouse) ?? type.timezone ?? undefined;
  const precision = dateTimePrecision(clickhouse);
  return {
    numeric: false,
    text(chunk, index) {
      // Read the raw integer: Vector#get would round to milliseconds.
      const raw = chunk.data[0].values[index] as bigint | number;
      const { seconds, fraction } = splitTimestamp(BigInt(raw), unitsPerSecond);
      return formatDateTime(seconds, fitFraction(fraction, precision), timeZone);
    }
  };
}

/**
 * Chooses how to show a column from its Arrow type and, when known, its
 * ClickHouse type, which fills Arrow's gaps (DateTime sent as UInt32, UUID and
 * Int128 as 16 raw bytes, Enum8 as Int8, IPv4 as UInt32 …).
 */
export function columnFormat(type: DataType, clickhouseType?: ClickHouseType): ColumnFormat {
  const base = clickhouseType ? baseType(clickhouseType) : undefined;
  if (DataType.isTimestamp(type)) {
    return timestampFormat(type, base);
  }
  return {
    numeric: base ? isNumericType(base) : isNumericArrowType(type),
    text: (chunk, index) => render(chunk.get(index), type, base).text
  };
}

/** Text for a single value, e.g. for tests and tooltips. */
export function formatValue(value: unknown, type: DataType, clickhouseType?: ClickHouseType): string {
  if (value === null || value === undefined) {
    return 'NULL';
  }
  return render(value, type, clickhouseType).text;
}
