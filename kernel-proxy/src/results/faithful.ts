import {
  DataType,
  Dictionary,
  Field,
  Int16,
  RecordBatch,
  Schema,
  Struct,
  TimeUnit,
  TimestampSecond,
  Utf8,
  makeData,
  vectorFromArray,
  type Data,
  type Vector,
} from 'apache-arrow';
import type { ColumnInfo } from '../clickhouse/engine.js';
import { isLazy, lazyLike, rawMessageOf, withRawMessage } from './ipc-messages.js';

type Converter = (data: Data) => Data;

/**
 * Makes ClickHouse's Arrow output mean what the ClickHouse types mean:
 * DateTime becomes a timestamp in its time zone, Enum a dictionary of its labels, UUID / IPv4 /
 * IPv6 / (U)Int128 / (U)Int256 exact text. Each field carries its ClickHouse type as metadata
 * `clickhouse.type`. Conversions work on the typed arrays, not value by value, where they can.
 */
export class FaithfulBatches {
  private schema: Schema | undefined;
  private converters: (Converter | undefined)[] = [];
  /** True when every conversion keeps the buffers as they are, so a batch's raw IPC message still holds. */
  private buffersKept = true;

  constructor(private readonly columns: ColumnInfo[] | undefined) {}

  convert(batch: RecordBatch): RecordBatch {
    if (!this.schema) this.prepare(batch.schema);
    const schema = this.schema!;
    const convertData = () => {
      const children = batch.schema.fields.map((_, i) => {
        const data = batch.data.children[i]!;
        const convert = this.converters[i];
        return convert ? convert(data) : data;
      });
      return makeData({ type: new Struct(schema.fields), length: batch.numRows, nullCount: 0, children });
    };
    // A compressed batch whose buffers stay as they are is converted (and decoded) only if its values are used.
    if (this.buffersKept && isLazy(batch)) return withRawMessage(lazyLike(batch, schema, convertData), rawMessageOf(batch));
    const converted = new RecordBatch(schema, convertData());
    return this.buffersKept ? withRawMessage(converted, rawMessageOf(batch)) : converted;
  }

  private prepare(source: Schema): void {
    const fields = source.fields.map((field, i) => {
      const column = this.columns?.[i];
      const clickhouseType = column && column.name === field.name ? column.type : undefined;
      const plan = clickhouseType ? planFor(clickhouseType, field.type) : undefined;
      this.converters.push(plan?.convert);
      if (plan && !plan.sameLayout) this.buffersKept = false;
      const metadata = new Map(field.metadata);
      if (plan) {
        // The Arrow extension (e.g. arrow.uuid on FixedSizeBinary(16)) described the old type, not the text.
        for (const key of [...metadata.keys()]) if (key.startsWith('ARROW:extension:') || key.startsWith('PARQUET:')) metadata.delete(key);
      }
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

interface ColumnPlan {
  type: DataType;
  convert: Converter;
  /** Only the field's type changes, not its buffers: the batch's IPC body stays valid. */
  sameLayout?: boolean;
}

function planFor(clickhouseType: string, arrowType: DataType): ColumnPlan | undefined {
  const t = unwrap(clickhouseType);
  const arrow = String(arrowType);
  if (/^DateTime(\(|$)/.test(t)) {
    const type = new TimestampSecond(/'([^']+)'/.exec(t)?.[1] ?? null);
    if (arrow === 'Uint32') return { type, convert: (d) => secondsToTimestamp(d, type) };
    // Sent by ClickHouse as DateTime64(0) (see shapeForStreaming): the same seconds, in the zone the type names.
    if (DataType.isTimestamp(arrowType) && arrowType.unit === TimeUnit.SECOND) return { type, convert: (d) => d.clone(type), sameLayout: true };
  }
  if (/^Enum(8|16)\(/.test(t) && /^Int(8|16)$/.test(arrow)) {
    const labels = enumLabels(t);
    const dictionary = vectorFromArray([...labels.values()], new Utf8());
    const type = new Dictionary(new Utf8(), new Int16());
    const indexOf = new Map([...labels.keys()].map((code, i) => [code, i]));
    return { type, convert: (d) => enumToDictionary(d, type, dictionary, indexOf) };
  }
  if ((t === 'UUID' || t === 'IPv6') && arrow.startsWith('FixedSizeBinary')) {
    const format = t === 'UUID' ? uuidText : ipv6Text;
    return { type: new Utf8(), convert: (d) => fixedBinaryToText(d, 16, format) };
  }
  if (t === 'IPv4' && arrow === 'Uint32') return { type: new Utf8(), convert: (d) => mapToText(d, (v) => ipv4Text(Number(v))) };
  const wide = /^(U?)Int(128|256)$/.exec(t);
  if (wide && arrow.startsWith('FixedSizeBinary')) {
    const signed = wide[1] === '';
    const width = Number(wide[2]) / 8;
    return { type: new Utf8(), convert: (d) => fixedBinaryToText(d, width, (bytes) => littleEndianInteger(bytes, signed)) };
  }
  return undefined;
}

// A sliced Data (apache-arrow) has its value buffers sliced already; only its null bitmap counts from `offset`.
function isValid(data: Data, i: number): boolean {
  const bitmap = data.nullBitmap;
  if (!bitmap || bitmap.length === 0 || data.nullCount === 0) return true;
  const bit = data.offset + i;
  return (bitmap[bit >> 3]! & (1 << (bit & 7))) !== 0;
}

function validity(data: Data): { nullCount: number; nullBitmap?: Uint8Array } {
  if (data.nullCount === 0 || !data.nullBitmap || data.nullBitmap.length === 0) return { nullCount: 0 };
  const bitmap = new Uint8Array(Math.ceil(data.length / 8));
  if (data.offset % 8 === 0) {
    // Byte-aligned: the bitmap's bytes as they are.
    bitmap.set(data.nullBitmap.subarray(data.offset >> 3, (data.offset >> 3) + bitmap.length));
    return { nullCount: data.nullCount, nullBitmap: bitmap };
  }
  for (let i = 0; i < data.length; i++) if (isValid(data, i)) bitmap[i >> 3]! |= 1 << (i & 7);
  return { nullCount: data.nullCount, nullBitmap: bitmap };
}

function secondsToTimestamp(data: Data, type: TimestampSecond): Data {
  const seconds = (data.values as Uint32Array).subarray(0, data.length);
  // Unsigned 32-bit seconds widen to int64 by writing the low words of a little-endian buffer.
  const words = new Uint32Array(data.length * 2);
  for (let i = 0; i < seconds.length; i++) words[2 * i] = seconds[i]!;
  return makeData({ type, length: data.length, data: new BigInt64Array(words.buffer), ...validity(data) });
}

function enumToDictionary(data: Data, type: Dictionary<Utf8, Int16>, dictionary: Vector<Utf8>, indexOf: Map<number, number>): Data {
  const codes = (data.values as Int8Array | Int16Array).subarray(0, data.length);
  const indices = new Int16Array(data.length);
  for (let i = 0; i < codes.length; i++) indices[i] = indexOf.get(codes[i]!) ?? 0;
  return makeData({ type, length: data.length, data: indices, dictionary, ...validity(data) });
}

function buildUtf8(length: number, textAt: (i: number) => string | null): Data {
  const encoder = new TextEncoder();
  const offsets = new Int32Array(length + 1);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const bitmap = new Uint8Array(Math.ceil(length / 8));
  let nullCount = 0;
  for (let i = 0; i < length; i++) {
    const text = textAt(i);
    if (text === null) nullCount++;
    else {
      bitmap[i >> 3]! |= 1 << (i & 7);
      const bytes = encoder.encode(text);
      chunks.push(bytes);
      total += bytes.length;
    }
    offsets[i + 1] = total;
  }
  const values = new Uint8Array(total);
  let position = 0;
  for (const chunk of chunks) {
    values.set(chunk, position);
    position += chunk.length;
  }
  return makeData({ type: new Utf8(), length, nullCount, nullBitmap: nullCount ? bitmap : undefined, valueOffsets: offsets, data: values });
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * UUID text straight into a Utf8 buffer: 36 bytes a value, no intermediate strings. The hex digits come from
 * Node's native hex encoder for the whole column at once; the loop only places them around the dashes.
 */
function uuidColumn(data: Data): Data {
  const length = data.length;
  const bytes = data.values as Uint8Array;
  const start = bytes.byteOffset;
  const hex = Buffer.from(Buffer.from(bytes.buffer, start, length * 16).toString('hex'), 'latin1');
  const offsets = new Int32Array(length + 1);
  const out = new Uint8Array(36 * length);
  for (let i = 0; i < length; i++) {
    let s = i * 32;
    let p = i * 36;
    for (let k = 0; k < 8; k++) out[p++] = hex[s++]!;
    out[p++] = 45;
    for (let k = 0; k < 4; k++) out[p++] = hex[s++]!;
    out[p++] = 45;
    for (let k = 0; k < 4; k++) out[p++] = hex[s++]!;
    out[p++] = 45;
    for (let k = 0; k < 4; k++) out[p++] = hex[s++]!;
    out[p++] = 45;
    for (let k = 0; k < 12; k++) out[p++] = hex[s++]!;
    offsets[i + 1] = p;
  }
  const { nullCount, nullBitmap } = validity(data);
  return makeData({ type: new Utf8(), length, nullCount, nullBitmap, valueOffsets: offsets, data: out });
}

function fixedBinaryToText(data: Data, width: number, format: (bytes: Uint8Array) => string): Data {
  if (format === uuidText) return uuidColumn(data);
  const bytes = data.values as Uint8Array;
  return buildUtf8(data.length, (i) => {
    if (!isValid(data, i)) return null;
    const start = i * width;
    return format(bytes.subarray(start, start + width));
  });
}

function mapToText(data: Data, format: (value: number) => string): Data {
  const values = data.values as Uint32Array;
  return buildUtf8(data.length, (i) => (isValid(data, i) ? format(values[i]!) : null));
}

export function enumLabels(type: string): Map<number, string> {
  const labels = new Map<number, string>();
  const pattern = /'((?:[^'\\]|\\.)*)'\s*=\s*(-?\d+)/g;
  for (let m = pattern.exec(type); m; m = pattern.exec(type)) labels.set(Number(m[2]), m[1]!.replace(/\\(.)/g, '$1'));
  return labels;
}

export function uuidText(bytes: Uint8Array): string {
  let hex = '';
  for (const b of bytes) hex += HEX[b];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function ipv4Text(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function ipv6Text(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${[...b.subarray(12)].join('.')}`;
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
  const text = groups.join(':');
  const runs = /(^|:)0(:0)+(:|$)/g;
  let best = '';
  for (let m = runs.exec(text); m; m = runs.exec(text)) if (m[0].length > best.length) best = m[0];
  return best ? text.replace(best, '::') : text;
}

export function littleEndianInteger(bytes: Uint8Array, signed: boolean): string {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (signed && bytes.length > 0 && (bytes[bytes.length - 1]! & 0x80) !== 0) value -= 1n << BigInt(bytes.length * 8);
  return value.toString();
}


/**
 * Whether FaithfulBatches keeps the buffers of every column of a result shaped by streamingStatement (with `shape`),
 * so its record batches can go to the browser as ClickHouse wrote them, compressed ones included. Enum, IPv6, and
 * DateTime that ClickHouse does not send as a timestamp are converted in the proxy: their batches are re-encoded.
 */
export function keepsBuffers(columns: ColumnInfo[], shape: StreamingShape): boolean {
  const rewritten = new Set(columns.map((c) => c.name)).size === columns.length;
  return columns.every((c) => {
    const type = unwrap(c.type);
    if (TEXT_IN_CLICKHOUSE.test(type)) return rewritten;
    if (DATE_TIME.test(type)) return rewritten && shape.dateTimeAsTimestamp && !c.type.includes('LowCardinality');
    return !/^Enum(8|16)\(/.test(type) && type !== 'IPv6';
  });
}

/** Top-level types ClickHouse turns into the same text the proxy would (toString), faster and in its own threads. */
const TEXT_IN_CLICKHOUSE = /^(UUID|IPv4|U?Int(128|256))$/;
const DATE_TIME = /^DateTime(\(|$)/;

export interface StreamingShape {
  /** ClickHouse sends DateTime as DateTime64(0), an Arrow timestamp (servers before 20.1 lack toDateTime64). */
  dateTimeAsTimestamp: boolean;
  /** Rows per ClickHouse block (`max_block_size`): each block arrives as one Arrow record batch. */
  blockRows?: number;
}

/**
 * The statement wrapped so that ClickHouse itself makes the columns what the browser needs, and in blocks the size
 * of a comm message: `SELECT * REPLACE (toString(`u`) AS `u`, toDateTime64(`t`, 0) AS `t`) FROM (…) SETTINGS
 * max_block_size = N`. UUID, IPv4 and (U)Int128/256 become their text and DateTime a timestamp, so the proxy can
 * pass ClickHouse's Arrow on as it is; each field keeps its ClickHouse type as `clickhouse.type`. The statement is
 * left as it is when there is nothing to do or when column names repeat (REPLACE could not tell them apart). IPv6
 * stays with the proxy: ClickHouse writes IPv4-compatible addresses (`::1.2.3.4`) differently from the proxy's text.
 */
export function streamingStatement(sql: string, columns: ColumnInfo[] | undefined, shape: StreamingShape): string {
  if (!columns || columns.length === 0) return sql;
  const names = new Set(columns.map((c) => c.name));
  if (names.size !== columns.length) return sql;
  const quote = (name: string) => `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
  const replacements = columns.flatMap((c) => {
    const type = unwrap(c.type);
    if (TEXT_IN_CLICKHOUSE.test(type)) return [`toString(${quote(c.name)}) AS ${quote(c.name)}`];
    if (shape.dateTimeAsTimestamp && DATE_TIME.test(type) && !c.type.includes('LowCardinality')) return [`toDateTime64(${quote(c.name)}, 0) AS ${quote(c.name)}`];
    return [];
  });
  const settings = shape.blockRows ? `\nSETTINGS max_block_size = ${Math.trunc(shape.blockRows)}` : '';
  if (replacements.length === 0 && !settings) return sql;
  const select = replacements.length > 0 ? `SELECT * REPLACE (${replacements.join(', ')})` : 'SELECT *';
  // The statement on its own lines: a trailing `-- comment` in it cannot swallow the closing parenthesis.
  return `${select} FROM (\n${sql}\n)${settings}`;
}
