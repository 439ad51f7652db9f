import {
  Binary,
  Bool,
  DataType,
  DateDay,
  Decimal,
  Field,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
  makeData,
  makeVector,
  type Data,
  type Vector,
} from 'apache-arrow';
import {
  DuckDBDataChunk,
  DuckDBTypeId,
  blobValue,
  dateValue,
  decimalValue,
  listValue,
  mapValue,
  structValue,
  timestampTZValue,
  timestampValue,
  timeValue,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';
import { formatValue } from '../results/render.js';
import { typeArgs, unwrapType } from '../results/clickhouse-type.js';

/**
 * Arrow ⇄ DuckDB in Node, for `%%duckdb` cells of the headless runner. Results arrive from the kernel
 * as the faithful Arrow the browser gets, and are loaded with the types DuckDB-WASM's Arrow scan gives
 * them in the browser: timestamps keep their zone (TIMESTAMPTZ), Decimal stays exact, Enum is its label,
 * UUID is text, (U)Int128 an integer (HUGEINT), lists, maps and tuples stay nested.
 */

const VECTOR_SIZE = 2048;
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

interface ColumnPlan {
  sqlType: string;
  /** The column's values of one Arrow chunk, `null` for NULL. */
  values(data: Data): DuckDBValue[];
}

// apache-arrow slices value and offset buffers with the data (values[i] is row i), while the validity
// bitmap keeps the data's offset.
function isValid(data: Data, i: number): boolean {
  const bitmap = data.nullBitmap;
  if (data.nullCount === 0 || !bitmap || bitmap.length === 0) return true;
  const bit = data.offset + i;
  return (bitmap[bit >> 3]! & (1 << (bit & 7))) !== 0;
}

function byGet(convert: (value: unknown) => DuckDBValue): (data: Data) => DuckDBValue[] {
  return (data) => {
    const vector = makeVector(data);
    const out = new Array<DuckDBValue>(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = vector.get(i);
      out[i] = v === null || v === undefined ? null : convert(v);
    }
    return out;
  };
}

/** A little-endian two's-complement integer of `words` 32-bit words. */
function wideInteger(words: Uint32Array, start: number, count: number): bigint {
  let value = 0n;
  for (let w = count - 1; w >= 0; w--) value = (value << 32n) | BigInt(words[start + w]!);
  const bits = BigInt(count * 32);
  return value >= 1n << (bits - 1n) ? value - (1n << bits) : value;
}

export function scaledText(value: bigint, scale: number): string {
  if (scale <= 0) return value.toString();
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

const TO_MICROS: Record<number, bigint> = { 0: 1_000_000n, 1: 1000n, 2: 1n };

// --- ClickHouse type text (see results/clickhouse-type.ts) ---------------------------------------------------

function enumLabels(type: string): Map<number, string> {
  const labels = new Map<number, string>();
  const pattern = /'((?:[^'\\]|\\.)*)'\s*=\s*(-?\d+)/g;
  for (let m = pattern.exec(type); m; m = pattern.exec(type)) labels.set(Number(m[2]), m[1]!.replace(/\\(.)/g, '$1'));
  return labels;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const uuidText = (b: Uint8Array) => {
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
const ipv4Text = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

function ipv6Text(bytes: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${[...bytes.subarray(12)].join('.')}`;
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j;
  }
  const text = groups.map((g) => g.toString(16));
  if (best < 0) return text.join(':');
  return `${text.slice(0, best).join(':')}::${text.slice(best + bestLength).join(':')}`;
}

function littleEndian(bytes: Uint8Array, signed: boolean): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (signed && bytes.length && bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(bytes.length * 8);
  return value;
}

function rawValues(data: Data, convert: (raw: number | bigint) => DuckDBValue): DuckDBValue[] {
  const values = data.values as ArrayLike<number | bigint>;
  return Array.from({ length: data.length }, (_, i) => (isValid(data, i) ? convert(values[i]!) : null));
}

function bytesValues(data: Data, width: number, convert: (bytes: Uint8Array) => DuckDBValue): DuckDBValue[] {
  const bytes = data.values as Uint8Array;
  return Array.from({ length: data.length }, (_, i) => {
    if (!isValid(data, i)) return null;
    return convert(bytes.subarray(i * width, (i + 1) * width));
  });
}

/**
 * Values ClickHouse writes raw inside Array / Map / Tuple (the kernel converts top-level columns only):
 * DateTime as seconds, Date as days, Enum as its code, IPv4 as an integer, UUID / IPv6 / wide integers /
 * FixedString as bytes. Same conversions as the browser's DuckDB-WASM loader.
 */
function nestedPlan(type: DataType, clickhouse: string): ColumnPlan | undefined {
  const base = unwrapType(clickhouse);
  const name = /^\w+/.exec(base)?.[0] ?? '';
  if (DataType.isInt(type)) {
    if (name === 'DateTime' || name === 'DateTime32') {
      const zoned = /'([^']+)'/.test(base);
      return { sqlType: zoned ? 'TIMESTAMPTZ' : 'TIMESTAMP', values: (d) => rawValues(d, (v) => (zoned ? timestampTZValue(BigInt(v) * 1_000_000n) : timestampValue(BigInt(v) * 1_000_000n))) };
    }
    if (name === 'Date' || name === 'Date32') return { sqlType: 'DATE', values: (d) => rawValues(d, (v) => dateValue(Number(v))) };
    if (/^Enum(8|16)?$/.test(name)) {
      const labels = enumLabels(base);
      return { sqlType: 'VARCHAR', values: (d) => rawValues(d, (v) => labels.get(Number(v)) ?? String(v)) };
    }
    if (name === 'IPv4') return { sqlType: 'VARCHAR', values: (d) => rawValues(d, (v) => ipv4Text(Number(v))) };
    return undefined;
  }
  if (DataType.isFixedSizeBinary(type)) {
    const width = (type as unknown as { byteWidth: number }).byteWidth;
    const wide = /^(U?)Int(128|256)$/.exec(name);
    const text =
      name === 'UUID' ? uuidText : name === 'IPv6' ? ipv6Text : wide ? (b: Uint8Array) => littleEndian(b, wide[1] === '').toString() : (b: Uint8Array) => Buffer.from(b).toString('utf8').replace(/\0+$/, '');
    return { sqlType: 'VARCHAR', values: (d) => bytesValues(d, width, text) };
  }
  if (DataType.isBinary(type) && name === 'FixedString') return { sqlType: 'VARCHAR', values: byGet((v) => Buffer.from(v as Uint8Array).toString('utf8').replace(/\0+$/, '')) };
  return undefined;
}

/**
 * How one column (or nested child) goes into DuckDB. `clickhouse` is its ClickHouse type: from the field
 * metadata at the top, followed into Array / Map / Tuple below.
 */
function planFor(field: Field, clickhouse: string = field.metadata.get('clickhouse.type') ?? '', topLevel = true): ColumnPlan {
  const type = field.type as DataType;
  const base = unwrapType(clickhouse);
  const wide = /^(U?)Int128$/.exec(base);
  if (wide && DataType.isUtf8(type)) return { sqlType: wide[1] ? 'UHUGEINT' : 'HUGEINT', values: byGet((v) => BigInt(String(v))) };
  if (!topLevel && clickhouse) {
    const nested = nestedPlan(type, clickhouse);
    if (nested) return nested;
  }

  if (DataType.isBool(type)) return { sqlType: 'BOOLEAN', values: byGet((v) => Boolean(v)) };
  if (DataType.isInt(type)) {
    const t = type as unknown as { bitWidth: number; isSigned: boolean };
    const name = { 8: 'TINYINT', 16: 'SMALLINT', 32: 'INTEGER', 64: 'BIGINT' }[t.bitWidth] ?? 'BIGINT';
    const big = t.bitWidth === 64;
    return { sqlType: t.isSigned ? name : `U${name}`, values: (d) => rawValues(d, (v) => (big ? BigInt(v) : Number(v))) };
  }
  if (DataType.isFloat(type)) {
    const precision = (type as unknown as { precision: number }).precision;
    return { sqlType: precision === 2 ? 'DOUBLE' : 'FLOAT', values: byGet((v) => Number(v)) };
  }
  if (DataType.isDecimal(type)) {
    const { scale, precision, bitWidth } = type as unknown as { scale: number; precision: number; bitWidth: number };
    const words = bitWidth / 32;
    const read = (data: Data, i: number) => wideInteger(data.values as Uint32Array, i * words, words);
    if (precision <= 38) {
      return {
        sqlType: `DECIMAL(${precision}, ${scale})`,
        values: (data) => Array.from({ length: data.length }, (_, i) => (isValid(data, i) ? decimalValue(read(data, i), precision, scale) : null)),
      };
    }
    // Wider than DuckDB's DECIMAL(38): exact text.
    return { sqlType: 'VARCHAR', values: (data) => Array.from({ length: data.length }, (_, i) => (isValid(data, i) ? scaledText(read(data, i), scale) : null)) };
  }
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type) || DataType.isDictionary(type)) return { sqlType: 'VARCHAR', values: byGet((v) => String(v)) };
  if (DataType.isBinary(type) || DataType.isLargeBinary(type) || DataType.isFixedSizeBinary(type)) return { sqlType: 'BLOB', values: byGet((v) => blobValue(v as Uint8Array)) };
  if (DataType.isDate(type)) {
    const days = (type as unknown as { unit: number }).unit === 0;
    return { sqlType: 'DATE', values: (d) => rawValues(d, (raw) => dateValue(days ? Number(raw) : Math.floor(Number(raw) / 86_400_000))) };
  }
  if (DataType.isTimestamp(type)) {
    const { unit, timezone } = type as unknown as { unit: number; timezone: string | null };
    return {
      sqlType: timezone ? 'TIMESTAMPTZ' : 'TIMESTAMP',
      values: (d) =>
        rawValues(d, (v) => {
          const raw = BigInt(v);
          const micros = unit === 3 ? raw / 1000n : raw * TO_MICROS[unit]!;
          return timezone ? timestampTZValue(micros) : timestampValue(micros);
        }),
    };
  }
  if (DataType.isTime(type)) {
    const unit = (type as unknown as { unit: number }).unit;
    return {
      sqlType: 'TIME',
      values: (d) =>
        rawValues(d, (v) => {
          const raw = BigInt(v);
          return timeValue(unit === 3 ? raw / 1000n : raw * TO_MICROS[unit]!);
        }),
    };
  }
  if (DataType.isList(type) || DataType.isFixedSizeList(type)) {
    const element = type.children[0]!;
    const child = planFor(element, typeArgs(clickhouse)[0] ?? '', false);
    const fixed = DataType.isFixedSizeList(type) ? (type as unknown as { listSize: number }).listSize : 0;
    return {
      sqlType: `${child.sqlType}[]`,
      values: (data) => {
        const items = child.values(data.children[0]!);
        const offsets = data.valueOffsets as Int32Array | undefined;
        return Array.from({ length: data.length }, (_, i) => {
          if (!isValid(data, i)) return null;
          const [from, to] = fixed ? [i * fixed, (i + 1) * fixed] : [offsets![i]!, offsets![i + 1]!];
          return listValue(items.slice(from, to));
        });
      },
    };
  }
  if (DataType.isMap(type)) {
    const entry = type.children[0]!;
    const [keyField, valueField] = (entry.type as DataType).children as Field[];
    const [keyType, valueType] = typeArgs(clickhouse);
    const key = planFor(keyField!, keyType ?? '', false);
    const value = planFor(valueField!, valueType ?? '', false);
    return {
      sqlType: `MAP(${key.sqlType}, ${value.sqlType})`,
      values: (data) => {
        const offsets = data.valueOffsets as Int32Array;
        const entries = data.children[0]!;
        const keys = key.values(entries.children[0]!);
        const vals = value.values(entries.children[1]!);
        return Array.from({ length: data.length }, (_, i) => {
          if (!isValid(data, i)) return null;
          const pairs = [];
          for (let k = offsets[i]!; k < offsets[i + 1]!; k++) pairs.push({ key: keys[k]!, value: vals[k]! });
          return mapValue(pairs);
        });
      },
    };
  }
  if (DataType.isStruct(type)) {
    const elements = typeArgs(clickhouse);
    const children = type.children.map((f, k) => ({ name: f.name, plan: planFor(f, elements[k] ?? '', false) }));
    return {
      sqlType: `STRUCT(${children.map((c) => `${quoteIdent(c.name)} ${c.plan.sqlType}`).join(', ')})`,
      values: (data) => {
        const columns = children.map((c, k) => c.plan.values(data.children[k]!));
        return Array.from({ length: data.length }, (_, i) =>
          isValid(data, i) ? structValue(Object.fromEntries(children.map((c, k) => [c.name, columns[k]![i]!]))) : null,
        );
      },
    };
  }
  // Anything else (intervals, unions, …): its text.
  return { sqlType: 'VARCHAR', values: byGet((v) => formatValue(v)) };
}

/** Creates (or replaces) `table` in DuckDB with `arrow`'s columns and rows. */
export async function loadArrowTable(connection: DuckDBConnection, table: string, arrow: Table): Promise<void> {
  const fields = arrow.schema.fields;
  if (fields.length === 0) {
    await connection.run(`CREATE OR REPLACE TABLE ${quoteIdent(table)} AS SELECT 1 AS "?" WHERE false`);
    return;
  }
  const plans = fields.map((field) => planFor(field));
  await connection.run(`CREATE OR REPLACE TABLE ${quoteIdent(table)} (${fields.map((f, i) => `${quoteIdent(f.name)} ${plans[i]!.sqlType}`).join(', ')})`);
  const appender = await connection.createAppender(table);
  try {
    const types = fields.map((_, i) => appender.columnType(i));
    for (const batch of arrow.batches) {
      const columns = plans.map((plan, i) => plan.values(batch.data.children[i]!));
      for (let start = 0; start < batch.numRows; start += VECTOR_SIZE) {
        const end = Math.min(start + VECTOR_SIZE, batch.numRows);
        const chunk = DuckDBDataChunk.create(types, end - start);
        chunk.setColumns(columns.map((column) => column.slice(start, end)));
        appender.appendDataChunk(chunk);
      }
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

// ---------------------------------------------------------------------------------------------------------
// DuckDB results → Arrow (the cell output, shown like any SQL result)

interface ArrowColumn {
  type: DataType;
  data: Data;
}

function validityOf(values: readonly DuckDBValue[]): { nullCount: number; nullBitmap?: Uint8Array } {
  let nullCount = 0;
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  values.forEach((v, i) => {
    if (v === null) nullCount++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  });
  return nullCount ? { nullCount, nullBitmap: bitmap } : { nullCount: 0 };
}

function utf8Column(texts: (string | null)[]): ArrowColumn {
  const encoder = new TextEncoder();
  const offsets = new Int32Array(texts.length + 1);
  const parts: Uint8Array[] = [];
  let total = 0;
  texts.forEach((text, i) => {
    if (text !== null) {
      const bytes = encoder.encode(text);
      parts.push(bytes);
      total += bytes.length;
    }
    offsets[i + 1] = total;
  });
  const data = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    data.set(part, at);
    at += part.length;
  }
  const type = new Utf8();
  return { type, data: makeData({ type, length: texts.length, valueOffsets: offsets, data, ...validityOf(texts) }) };
}

function jsonText(value: DuckDBValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return String(value);
}

function toColumn(type: DuckDBType, values: DuckDBValue[]): ArrowColumn {
  const length = values.length;
  const numeric = (arrowType: DataType, array: { new (n: number): { [i: number]: number | bigint } }, convert: (v: DuckDBValue) => number | bigint): ArrowColumn => {
    const data = new array(length);
    values.forEach((v, i) => {
      if (v !== null) data[i] = convert(v);
    });
    const props = { type: arrowType, length, data, ...validityOf(values) } as unknown as Parameters<typeof makeData>[0];
    return { type: arrowType, data: makeData(props) as Data };
  };
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN: {
      const bits = new Uint8Array(Math.ceil(length / 8));
      values.forEach((v, i) => {
        if (v === true) bits[i >> 3]! |= 1 << (i & 7);
      });
      const arrowType = new Bool();
      return { type: arrowType, data: makeData({ type: arrowType, length, data: bits, ...validityOf(values) }) };
    }
    case DuckDBTypeId.TINYINT:
      return numeric(new Int8(), Int8Array as never, Number);
    case DuckDBTypeId.SMALLINT:
      return numeric(new Int16(), Int16Array as never, Number);
    case DuckDBTypeId.INTEGER:
      return numeric(new Int32(), Int32Array as never, Number);
    case DuckDBTypeId.BIGINT:
      return numeric(new Int64(), BigInt64Array as never, (v) => BigInt(v as bigint));
    case DuckDBTypeId.UTINYINT:
      return numeric(new Uint8(), Uint8Array as never, Number);
    case DuckDBTypeId.USMALLINT:
      return numeric(new Uint16(), Uint16Array as never, Number);
    case DuckDBTypeId.UINTEGER:
      return numeric(new Uint32(), Uint32Array as never, Number);
    case DuckDBTypeId.UBIGINT:
      return numeric(new Uint64(), BigUint64Array as never, (v) => BigInt(v as bigint));
    case DuckDBTypeId.FLOAT:
      return numeric(new Float32(), Float32Array as never, Number);
    case DuckDBTypeId.DOUBLE:
      return numeric(new Float64(), Float64Array as never, Number);
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.DECIMAL: {
      // HUGEINT (what sum() of integers gives) as DuckDB's own Arrow export has it: Decimal(38, 0).
      const { width, scale } = type.typeId === DuckDBTypeId.HUGEINT ? { width: 38, scale: 0 } : (type as unknown as { width: number; scale: number });
      const arrowType = new Decimal(scale, width, 128);
      const words = new Uint32Array(length * 4);
      values.forEach((v, i) => {
        if (v === null) return;
        let unscaled = BigInt.asUintN(128, typeof v === 'bigint' ? v : (v as unknown as { value: bigint }).value);
        for (let w = 0; w < 4; w++) {
          words[i * 4 + w] = Number(unscaled & 0xffffffffn);
          unscaled >>= 32n;
        }
      });
      return { type: arrowType, data: makeData({ type: arrowType, length, data: words, ...validityOf(values) }) };
    }
    case DuckDBTypeId.DATE: {
      const arrowType = new DateDay();
      const days = new Int32Array(length);
      values.forEach((v, i) => {
        if (v !== null) days[i] = (v as unknown as { days: number }).days;
      });
      return { type: arrowType, data: makeData({ type: arrowType, length, data: days, ...validityOf(values) }) };
    }
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ: {
      const arrowType = new TimestampMicrosecond(type.typeId === DuckDBTypeId.TIMESTAMP_TZ ? 'UTC' : null);
      const micros = new BigInt64Array(length);
      values.forEach((v, i) => {
        if (v !== null) micros[i] = (v as unknown as { micros: bigint }).micros;
      });
      return { type: arrowType, data: makeData({ type: arrowType, length, data: micros, ...validityOf(values) }) };
    }
    case DuckDBTypeId.BLOB: {
      const arrowType = new Binary();
      const offsets = new Int32Array(length + 1);
      const parts = values.map((v) => (v === null ? new Uint8Array() : (v as unknown as { bytes: Uint8Array }).bytes));
      let total = 0;
      parts.forEach((p, i) => {
        total += p.length;
        offsets[i + 1] = total;
      });
      const data = new Uint8Array(total);
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.length;
      }
      return { type: arrowType, data: makeData({ type: arrowType, length, valueOffsets: offsets, data, ...validityOf(values) }) };
    }
    default:
      return utf8Column(values.map((v) => (v === null ? null : jsonText(v))));
  }
}

/** A DuckDB result as an Arrow table; each field carries its DuckDB type as `duckdb.type`. */
export function duckdbToArrow(names: string[], types: DuckDBType[], columns: DuckDBValue[][], rows: number): Table {
  const built = types.map((type, i) => toColumn(type, columns[i] ?? []));
  const fields = names.map((name, i) => new Field(name, built[i]!.type, true, new Map([['duckdb.type', types[i]!.toString()]])));
  const schema = new Schema(fields);
  if (rows === 0) return new Table(schema);
  const data = makeData({ type: new Struct(fields), length: rows, nullCount: 0, children: built.map((c) => c.data) });
  return new Table([new RecordBatch(schema, data)]);
}
