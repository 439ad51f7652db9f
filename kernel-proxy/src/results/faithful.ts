import {
  Field,
  RecordBatch,
  Schema,
  Struct,
  TimestampSecond,
  Utf8,
  makeData,
  vectorFromArray,
  type Data,
  type DataType,
  type Vector,
} from 'apache-arrow';
import type { ColumnInfo } from '../clickhouse/engine.js';

type Converter = (vector: Vector) => Data;

/**
 * Makes ClickHouse's Arrow output mean what the ClickHouse types mean:
 * DateTime becomes a timestamp in its time zone, Enum its label, UUID / IPv4 / IPv6 /
 * (U)Int128 / (U)Int256 exact text. Each field carries its ClickHouse type as
 * metadata `clickhouse.type`.
 */
export class FaithfulBatches {
  private schema: Schema | undefined;
  private converters: (Converter | undefined)[] = [];

  constructor(private readonly columns: ColumnInfo[] | undefined) {}

  convert(batch: RecordBatch): RecordBatch {
    if (!this.schema) this.prepare(batch.schema);
    const schema = this.schema!;
    if (this.converters.every((c) => c === undefined) && schema === batch.schema) return batch;
    const children = batch.schema.fields.map((_, i) => {
      const vector = batch.getChildAt(i)!;
      const convert = this.converters[i];
      return convert ? convert(vector) : vector.data[0]!;
    });
    const data = makeData({ type: new Struct(schema.fields), length: batch.numRows, nullCount: 0, children });
    return new RecordBatch(schema, data);
  }

  private prepare(source: Schema): void {
    const fields = source.fields.map((field, i) => {
      const column = this.columns?.[i];
      const clickhouseType = column && column.name === field.name ? column.type : undefined;
      const plan = clickhouseType ? planFor(clickhouseType, field.type) : undefined;
      this.converters.push(plan?.convert);
      const metadata = new Map(field.metadata);
      if (clickhouseType) metadata.set('clickhouse.type', clickhouseType);
      return new Field(field.name, plan?.type ?? field.type, field.nullable, metadata);
    });
    this.schema = new Schema(fields, source.metadata);
  }
}

function unwrap(type: string): string {
  const m = /^(?:Nullable|LowCardinality)\((.*)\)$/.exec(type.trim());
  return m ? unwrap(m[1]!) : type.trim();
}

function planFor(clickhouseType: string, arrowType: DataType): { type: DataType; convert: Converter } | undefined {
  const t = unwrap(clickhouseType);
  const typeId = String(arrowType);
  if (/^DateTime(\(|$)/.test(t) && typeId === 'Uint32') {
    const tz = /'([^']+)'/.exec(t)?.[1] ?? null;
    const type = new TimestampSecond(tz);
    return { type, convert: (v) => mapVector(v, type, (x) => (x === null ? null : Number(x) * 1000)) };
  }
  if (/^Enum(8|16)\(/.test(t)) {
    const labels = enumLabels(t);
    return { type: new Utf8(), convert: (v) => mapVector(v, new Utf8(), (x) => (x === null ? null : labels.get(Number(x)) ?? String(x))) };
  }
  if (t === 'UUID') return { type: new Utf8(), convert: (v) => mapVector(v, new Utf8(), (x) => (x === null ? null : uuidText(x as Uint8Array))) };
  if (t === 'IPv4' && typeId === 'Uint32') {
    return { type: new Utf8(), convert: (v) => mapVector(v, new Utf8(), (x) => (x === null ? null : ipv4Text(Number(x)))) };
  }
  if (t === 'IPv6') return { type: new Utf8(), convert: (v) => mapVector(v, new Utf8(), (x) => (x === null ? null : ipv6Text(x as Uint8Array))) };
  const wide = /^(U?)Int(128|256)$/.exec(t);
  if (wide && typeId.startsWith('FixedSizeBinary')) {
    const signed = wide[1] === '';
    return { type: new Utf8(), convert: (v) => mapVector(v, new Utf8(), (x) => (x === null ? null : littleEndianInteger(x as Uint8Array, signed))) };
  }
  return undefined;
}

function mapVector(vector: Vector, type: DataType, map: (value: unknown) => unknown): Data {
  const values = new Array<unknown>(vector.length);
  for (let i = 0; i < vector.length; i++) values[i] = map(vector.get(i));
  if (type instanceof TimestampSecond) {
    return vectorFromArray(values.map((x) => (x === null ? null : new Date(x as number))), type).data[0]!;
  }
  return vectorFromArray(values, type).data[0]!;
}

export function enumLabels(type: string): Map<number, string> {
  const labels = new Map<number, string>();
  const pattern = /'((?:[^'\\]|\\.)*)'\s*=\s*(-?\d+)/g;
  for (let m = pattern.exec(type); m; m = pattern.exec(type)) labels.set(Number(m[2]), m[1]!.replace(/\\(.)/g, '$1'));
  return labels;
}

function uuidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function ipv4Text(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
}

function ipv6Text(bytes: Uint8Array): string {
  const b = Buffer.from(bytes);
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${[...b.subarray(12)].join('.')}`;
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
  const text = groups.join(':');
  const runs = /(^|:)0(:0)+(:|$)/g;
  let best = '';
  for (let m = runs.exec(text); m; m = runs.exec(text)) if (m[0].length > best.length) best = m[0];
  return best ? text.replace(best, '::') : text;
}

function littleEndianInteger(bytes: Uint8Array, signed: boolean): string {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (signed && bytes.length > 0 && (bytes[bytes.length - 1]! & 0x80) !== 0) value -= 1n << BigInt(bytes.length * 8);
  return value.toString();
}
