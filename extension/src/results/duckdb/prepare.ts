import {
  type Data,
  DataType,
  DateDay,
  Field,
  List,
  Map_,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimeUnit,
  Timestamp,
  TimestampSecond,
  Utf8,
  makeData
} from 'apache-arrow';

import { fixedStringText, ipv4Text, ipv6Text, littleEndianToBigInt, scaledDecimalText } from '../binary.js';
import {
  type ClickHouseType,
  baseType,
  enumLabels,
  parseClickHouseType,
  stringArgs,
  typeArgs
} from '../clickhouse-type.js';

/** Arrow field metadata key with the ClickHouse type (set by the kernel on every result column). */
export const CLICKHOUSE_TYPE_KEY = 'clickhouse.type';

/** DuckDB's widest DECIMAL. */
const DUCKDB_MAX_DECIMAL_PRECISION = 38;

type Convert = (data: Data) => Data;

interface DataPlan {
  type: DataType;
  convert: Convert;
}

/**
 * How a result's Arrow batches go into DuckDB-WASM so that each ClickHouse type keeps its meaning there.
 * The kernel already sends top-level columns faithfully (DateTime → timestamp in its zone, Enum → labels,
 * UUID / IPs / wide integers → text); what remains is done here, on the typed arrays:
 *
 * - values nested in Array / Map / Tuple get the same treatment (DateTime, Date, Enum, UUID, IPv4, IPv6,
 *   (U)Int128/256 inside a list arrive as ClickHouse's raw integers and bytes);
 * - Decimal wider than DuckDB's DECIMAL(38) becomes its exact text;
 * - DateTime64 with more than microsecond precision loses its zone in DuckDB (TIMESTAMP_NS, UTC), because
 *   DuckDB's TIMESTAMPTZ holds microseconds; the grid still shows it in the column's zone;
 * - Int128 / UInt128, sent as text, become HUGEINT / UHUGEINT after the table is created.
 */
export interface DuckDBLoadPlan {
  /** Converts one batch; undefined when batches go to DuckDB as they are. */
  convert?: (batch: RecordBatch) => RecordBatch;
  /** Statements to run once, right after the table was created from the first batch. */
  afterCreate(tableRef: string): string[];
}

export function clickhouseTypeOf(field: Field): ClickHouseType | undefined {
  const text = field.metadata.get(CLICKHOUSE_TYPE_KEY);
  return text ? parseClickHouseType(text) : undefined;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Arrow extension metadata that no longer matches the field's type (e.g. arrow.uuid on text). */
function staleExtension(field: Field): boolean {
  const name = field.metadata.get('ARROW:extension:name');
  return !!name && !(name === 'arrow.uuid' && DataType.isFixedSizeBinary(field.type));
}

function withoutExtension(metadata: Map<string, string>): Map<string, string> {
  return new Map([...metadata].filter(([key]) => !key.startsWith('ARROW:extension:')));
}

export function planDuckDBLoad(schema: Schema): DuckDBLoadPlan {
  const plans: (DataPlan | undefined)[] = schema.fields.map(field => {
    const plan = planData(field.type, clickhouseTypeOf(field), true);
    // DuckDB reads the extension name: UUID text marked arrow.uuid would become garbage UUIDs.
    return plan ?? (staleExtension(field) ? { type: field.type, convert: data => data } : undefined);
  });
  const wide = schema.fields.flatMap((field, index) => {
    const name = baseOf(clickhouseTypeOf(field))?.name;
    if (!plans[index] && DataType.isUtf8(field.type) && (name === 'Int128' || name === 'UInt128')) {
      return [{ name: field.name, sqlType: name === 'Int128' ? 'HUGEINT' : 'UHUGEINT' }];
    }
    return [];
  });
  const afterCreate = (tableRef: string) =>
    wide.map(
      column =>
        `ALTER TABLE ${tableRef} ALTER COLUMN ${quote(column.name)} SET DATA TYPE ${column.sqlType} USING CAST(${quote(column.name)} AS ${column.sqlType})`
    );
  if (plans.every(plan => !plan)) {
    return { afterCreate };
  }
  const fields = schema.fields.map(
    (field, index) =>
      new Field(field.name, plans[index]?.type ?? field.type, field.nullable, plans[index] ? withoutExtension(field.metadata) : field.metadata)
  );
  const converted = new Schema(fields, schema.metadata);
  return {
    afterCreate,
    convert(batch) {
      const children = batch.data.children.map((data, index) => plans[index]?.convert(data) ?? data);
      const data = makeData({ type: new Struct(fields), length: batch.numRows, nullCount: 0, children });
      return new RecordBatch(converted, data);
    }
  };
}

/** Converts a whole table with a plan (for previews loaded at once). */
export function convertTable(table: Table, plan: DuckDBLoadPlan): Table {
  return plan.convert ? new Table(table.batches.map(batch => plan.convert!(batch))) : table;
}

function baseOf(type: ClickHouseType | undefined): ClickHouseType | undefined {
  return type ? baseType(type) : undefined;
}

function isValid(data: Data, index: number): boolean {
  const bitmap = data.nullBitmap;
  if (!bitmap || bitmap.length === 0 || data.nullCount === 0) {
    return true;
  }
  const bit = data.offset + index;
  return (bitmap[bit >> 3] & (1 << (bit & 7))) !== 0;
}

/** The validity of `data` as a fresh bitmap starting at bit 0. */
function validity(data: Data): { nullCount: number; nullBitmap?: Uint8Array } {
  if (data.nullCount === 0 || !data.nullBitmap || data.nullBitmap.length === 0) {
    return { nullCount: 0 };
  }
  const bitmap = new Uint8Array(Math.ceil(data.length / 8));
  let nulls = 0;
  for (let i = 0; i < data.length; i++) {
    if (isValid(data, i)) {
      bitmap[i >> 3] |= 1 << (i & 7);
    } else {
      nulls++;
    }
  }
  return { nullCount: nulls, nullBitmap: bitmap };
}

const encoder = new TextEncoder();

function utf8Data(data: Data, textAt: (index: number) => string): Data {
  const offsets = new Int32Array(data.length + 1);
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < data.length; i++) {
    if (isValid(data, i)) {
      const bytes = encoder.encode(textAt(i));
      parts.push(bytes);
      total += bytes.length;
    }
    offsets[i + 1] = total;
  }
  const values = new Uint8Array(total);
  let position = 0;
  for (const part of parts) {
    values.set(part, position);
    position += part.length;
  }
  return makeData({ type: new Utf8(), length: data.length, ...validity(data), valueOffsets: offsets, data: values });
}

function integerAt(data: Data, index: number): number | bigint {
  return (data.values as ArrayLike<number | bigint>)[data.offset + index];
}

function bytesAt(data: Data, index: number, width: number): Uint8Array {
  const start = (data.offset + index) * width;
  return (data.values as Uint8Array).subarray(start, start + width);
}

function decimalTextAt(data: Data, index: number, bitWidth: number, scale: number): string {
  const width = bitWidth / 8;
  const start = (data.offset + index) * width;
  const values = data.values as Uint32Array;
  const bytes = new Uint8Array(values.buffer, values.byteOffset + start, width);
  return scaledDecimalText(littleEndianToBigInt(bytes, true), scale);
}

function hexText(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) {
    text += byte.toString(16).padStart(2, '0');
  }
  return text;
}

/** ClickHouse writes a UUID into Arrow in its text byte order. */
export function uuidText(bytes: Uint8Array): string {
  const hex = hexText(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A plan for one column (or nested child); undefined when DuckDB can take the data as it is.
 * `topLevel`: the kernel already converted the column's own values, only nested ones may need it.
 */
function planData(type: DataType, clickhouse: ClickHouseType | undefined, topLevel: boolean): DataPlan | undefined {
  const base = baseOf(clickhouse);
  const name = base?.name ?? '';

  if (DataType.isDecimal(type) && type.precision > DUCKDB_MAX_DECIMAL_PRECISION) {
    const { bitWidth, scale } = type;
    return { type: new Utf8(), convert: data => utf8Data(data, i => decimalTextAt(data, i, bitWidth, scale)) };
  }
  if (DataType.isTimestamp(type) && type.unit === TimeUnit.NANOSECOND && type.timezone) {
    const naive = new Timestamp(TimeUnit.NANOSECOND, null);
    return { type: naive, convert: data => makeData({ ...dataProps(data), type: naive, data: data.values }) };
  }
  if (DataType.isList(type) && type.children[0]) {
    const child = type.children[0];
    const plan = planData(child.type, base ? typeArgs(base)[0] : undefined, false);
    if (!plan) {
      return undefined;
    }
    const list = new List(new Field(child.name, plan.type, child.nullable));
    return {
      type: list,
      convert: data =>
        makeData({ ...dataProps(data), type: list, valueOffsets: data.valueOffsets, child: plan.convert(data.children[0]) })
    };
  }
  if (DataType.isMap(type)) {
    const entries = type.children[0];
    const [keyField, valueField] = entries.type.children as Field[];
    const [keyType, valueType] = base ? typeArgs(base) : [];
    const keyPlan = planData(keyField.type, keyType, false);
    const valuePlan = planData(valueField.type, valueType, false);
    if (!keyPlan && !valuePlan) {
      return undefined;
    }
    const entryFields = [
      new Field(keyField.name, keyPlan?.type ?? keyField.type, keyField.nullable),
      new Field(valueField.name, valuePlan?.type ?? valueField.type, valueField.nullable)
    ];
    const entryType = new Struct(entryFields);
    const map = new Map_(new Field(entries.name, entryType, entries.nullable), type.keysSorted);
    return {
      type: map,
      convert: data => {
        const entryData = data.children[0];
        const [keys, values] = entryData.children;
        const child = makeData({
          ...dataProps(entryData),
          type: entryType,
          children: [keyPlan ? keyPlan.convert(keys) : keys, valuePlan ? valuePlan.convert(values) : values]
        });
        return makeData({ ...dataProps(data), type: map, valueOffsets: data.valueOffsets, child });
      }
    };
  }
  if (DataType.isStruct(type)) {
    const elements = base ? typeArgs(base) : [];
    const plans = type.children.map((field, i) => planData(field.type, elements[i], false));
    if (plans.every(plan => !plan)) {
      return undefined;
    }
    const fields = type.children.map(
      (field, i) => new Field(field.name, plans[i]?.type ?? field.type, field.nullable, field.metadata)
    );
    const struct = new Struct(fields);
    return {
      type: struct,
      convert: data =>
        makeData({
          ...dataProps(data),
          type: struct,
          children: data.children.map((child, i) => plans[i]?.convert(child) ?? child)
        })
    };
  }
  if (topLevel) {
    return undefined;
  }
  // Values nested in Array / Map / Tuple, as ClickHouse wrote them.
  if (DataType.isInt(type)) {
    if (name === 'DateTime' || name === 'DateTime32') {
      const timestamp = new TimestampSecond(stringArgs(base!)[0] ?? null);
      return {
        type: timestamp,
        convert: data => {
          const values = new BigInt64Array(data.length);
          for (let i = 0; i < data.length; i++) {
            values[i] = BigInt(integerAt(data, i));
          }
          return makeData({ type: timestamp, length: data.length, ...validity(data), data: values });
        }
      };
    }
    if (name === 'Date' || name === 'Date32') {
      const date = new DateDay();
      return {
        type: date,
        convert: data => {
          const values = new Int32Array(data.length);
          for (let i = 0; i < data.length; i++) {
            values[i] = Number(integerAt(data, i));
          }
          return makeData({ type: date, length: data.length, ...validity(data), data: values });
        }
      };
    }
    if (/^Enum(8|16)?$/.test(name)) {
      const labels = enumLabels(base!);
      return {
        type: new Utf8(),
        convert: data =>
          utf8Data(data, i => {
            const code = Number(integerAt(data, i));
            return labels.get(code) ?? String(code);
          })
      };
    }
    if (name === 'IPv4') {
      return { type: new Utf8(), convert: data => utf8Data(data, i => ipv4Text(integerAt(data, i))) };
    }
    return undefined;
  }
  if (DataType.isFixedSizeBinary(type)) {
    const width = type.byteWidth;
    const text =
      name === 'UUID'
        ? uuidText
        : name === 'IPv6'
          ? ipv6Text
          : /^U?Int(128|256)$/.test(name)
            ? (bytes: Uint8Array) => littleEndianToBigInt(bytes, !name.startsWith('U')).toString()
            : fixedStringText;
    return { type: new Utf8(), convert: data => utf8Data(data, i => text(bytesAt(data, i, width))) };
  }
  return undefined;
}

function dataProps(data: Data): { offset: number; length: number; nullCount: number; nullBitmap?: Uint8Array } {
  return { offset: data.offset, length: data.length, nullCount: data.nullCount, nullBitmap: data.nullBitmap };
}
