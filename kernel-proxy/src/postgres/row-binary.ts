// PostgreSQL's binary COPY (COPY … TO STDOUT (FORMAT binary)) re-encoded as ClickHouse RowBinary, one CopyData
// message (one row) at a time, as CopyOutStream takes the rows out of the protocol. Both are typed binary formats,
// so neither side prints or parses text: PostgreSQL skips its output functions (timestamps, numerics, JSON arrays)
// and ClickHouse reads fixed-width values. Formats: PostgreSQL "COPY" (binary format) and the *_send functions of
// each type; ClickHouse "RowBinary" (little-endian values, LEB128 lengths, a 0/1 byte before each Nullable value).

/** How one PostgreSQL column's binary value becomes its ClickHouse RowBinary value. */
export type FieldCodec =
  | { kind: 'int'; bytes: 2 | 4 | 8 }
  | { kind: 'float'; bytes: 4 | 8 }
  | { kind: 'bool' }
  | { kind: 'string' }
  /** jsonb: a version byte (1), then the JSON text. */
  | { kind: 'jsonb' }
  | { kind: 'uuid' }
  /** numeric with a precision (≤ 18) as Decimal32/64: the value × 10^scale as a 4- or 8-byte integer. */
  | { kind: 'decimal'; precision: number; scale: number }
  /** timestamptz as DateTime64(6): microseconds since 2000-01-01 UTC → since 1970-01-01. */
  | { kind: 'timestamptz' }
  /** date as Date32: days since 2000-01-01 → since 1970-01-01. */
  | { kind: 'date' }
  /** A text/varchar array as Array(Nullable(String)) (a multi-dimensional one flattened). */
  | { kind: 'string_array' };

export interface FieldEncoding {
  codec: FieldCodec;
  /** The ClickHouse read type is Nullable(…): a 0/1 byte comes first. */
  nullable: boolean;
  /** For messages: the column's name. */
  name: string;
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** 2000-01-01 00:00:00 UTC in microseconds since 1970, split in 32-bit halves. */
const EPOCH_2000_US_HI = 220417;
const EPOCH_2000_US_LO = 993517568;
const EPOCH_2000_DAYS = 10957;
const TWO_32 = 4294967296;
const NUMERIC_NEG = 0x4000;
const NUMERIC_SPECIAL = 0xc000;
/** Rows from this size on may grow when re-encoded: they get a buffer of their own. */
const LARGE_ROW = 2 << 20;
/** Shorter byte runs are copied in a loop: Buffer#copy builds an object per call. */
const SHORT_COPY = 48;

export class BinaryCopyError extends Error {
  constructor(message: string) {
    super(`binary COPY: ${message}`);
    this.name = 'BinaryCopyError';
  }
}

/** Codec kinds as numbers: one switch in the row loop instead of a call per field. */
const KIND = { int2: 0, int4: 1, int8: 2, float4: 3, float8: 4, bool: 5, string: 6, jsonb: 7, uuid: 8, decimal: 9, timestamptz: 10, date: 11, string_array: 12 } as const;

function kindOf(codec: FieldCodec): number {
  switch (codec.kind) {
    case 'int':
      return codec.bytes === 2 ? KIND.int2 : codec.bytes === 4 ? KIND.int4 : KIND.int8;
    case 'float':
      return codec.bytes === 4 ? KIND.float4 : KIND.float8;
    default:
      return KIND[codec.kind];
  }
}

/** The fixed byte length of a kind's value (-1: variable). */
const FIXED_LENGTH = [2, 4, 8, 4, 8, 1, -1, -1, 16, -1, 8, 4, -1];

/**
 * Re-encodes a binary COPY one CopyData message at a time (PostgreSQL sends one per row; the first also carries the
 * file header, and the trailer comes alone), in place: the row's RowBinary is written over its own bytes, which it
 * never outgrows when it is written no later than where the message starts (see the note above
 * encodeStringArray). A message of LARGE_ROW bytes or more, whose RowBinary may grow (a long value's LEB128 length
 * next to a Nullable byte), is first copied out, and needs room for `room(length)` bytes.
 */
export class RowBinaryEncoder {
  rows = 0;
  private readonly kinds: Uint8Array;
  private readonly nullable: Uint8Array;
  private readonly decimals: ((input: Buffer, at: number, length: number, output: Buffer, write: number) => number)[];
  private headerDone = false;
  private trailerSeen = false;

  constructor(private readonly fields: readonly FieldEncoding[]) {
    this.kinds = Uint8Array.from(fields, (f) => kindOf(f.codec));
    this.nullable = Uint8Array.from(fields, (f) => (f.nullable ? 1 : 0));
    this.decimals = fields.map((f) => (f.codec.kind === 'decimal' ? decimalEncoder(f, f.codec.precision, f.codec.scale) : noDecimal));
  }

  /** Whether the trailer has come (the COPY's data is complete). */
  get complete(): boolean {
    return this.trailerSeen;
  }

  /** The bytes a message of `length` bytes may take once re-encoded. */
  room(length: number): number {
    return length < LARGE_ROW ? length : length + this.fields.length + (length >>> 21) + 1;
  }

  /**
   * Re-encodes the message buffer[start, end) at output[write…]; returns where its RowBinary ends. In place
   * (output === buffer), write ≤ start, and a message at least LARGE_ROW long may end past `end`: the buffer must
   * hold room(end - start) from `write`.
   */
  encode(buffer: Buffer, start: number, end: number, output: Buffer, write: number): number {
    if (this.trailerSeen) throw new BinaryCopyError('data after the trailer');
    let at = start;
    if (!this.headerDone) {
      if (end - at < 19 || !buffer.subarray(at, at + 11).equals(SIGNATURE)) throw new BinaryCopyError('not a binary COPY stream (bad signature)');
      at += 19 + uint32(buffer, at + 15);
      this.headerDone = true;
      if (at > end) throw new BinaryCopyError('the header is cut short');
      if (at === end) return write;
    }
    if (end - at < 2) throw new BinaryCopyError('a row is cut short');
    const count = int16(buffer, at);
    if (count === -1) {
      if (at + 2 !== end) throw new BinaryCopyError('data after the trailer');
      this.trailerSeen = true;
      return write;
    }
    if (count !== this.fields.length) throw new BinaryCopyError(`a row has ${count} fields, expected ${this.fields.length}`);
    this.rows++;
    if (output !== buffer || end - start < LARGE_ROW) return this.encodeRow(buffer, at + 2, end, output, write);
    const own = Buffer.from(buffer.subarray(at + 2, end));
    return this.encodeRow(own, 0, own.length, output, write);
  }

  /**
   * Writes the row whose fields are input[read, end); returns the new output length. A field that would end past
   * `end` stops it before it is read (the message's data is then malformed, and the stream fails).
   */
  private encodeRow(input: Buffer, read: number, end: number, output: Buffer, write: number): number {
    const kinds = this.kinds;
    for (let f = 0; f < kinds.length; f++) {
      if (read + 4 > end) throw new BinaryCopyError('a row is cut short');
      const length = int32(input, read);
      read += 4;
      if (length > end - read) throw new BinaryCopyError('a row is cut short');
      if (this.nullable[f]) {
        if (length === -1) {
          output[write++] = 1;
          continue;
        }
        output[write++] = 0;
      } else if (length === -1) {
        throw new BinaryCopyError(`NULL in ${this.fields[f]!.name}, whose read type is not Nullable`);
      }
      const kind = kinds[f]!;
      const fixed = FIXED_LENGTH[kind]!;
      if (fixed !== -1 && length !== fixed) throw new BinaryCopyError(`${this.fields[f]!.name}: a ${fixed}-byte value was expected, got ${length} bytes`);
      switch (kind) {
        case KIND.int2: {
          const b0 = input[read]!;
          output[write++] = input[read + 1]!;
          output[write++] = b0;
          break;
        }
        case KIND.int4:
        case KIND.float4: {
          const b0 = input[read]!;
          const b1 = input[read + 1]!;
          const b2 = input[read + 2]!;
          output[write++] = input[read + 3]!;
          output[write++] = b2;
          output[write++] = b1;
          output[write++] = b0;
          break;
        }
        case KIND.int8:
        case KIND.float8:
          write = reverse8(input, read, output, write);
          break;
        case KIND.bool:
          output[write++] = input[read]! ? 1 : 0;
          break;
        case KIND.string:
          write = copyBytes(input, read, read + length, output, writeLength(output, write, length));
          break;
        case KIND.jsonb:
          if (length < 1 || input[read] !== 1) throw new BinaryCopyError(`${this.fields[f]!.name}: unknown jsonb version ${length < 1 ? '(empty)' : input[read]}`);
          write = copyBytes(input, read + 1, read + length, output, writeLength(output, write, length - 1));
          break;
        case KIND.uuid:
          // ClickHouse's UUID is two UInt64 (the first 8 bytes, then the last 8), each little-endian.
          write = reverse8(input, read + 8, output, reverse8(input, read, output, write));
          break;
        case KIND.decimal:
          write = this.decimals[f]!(input, read, length, output, write);
          break;
        case KIND.timestamptz: {
          const lo = uint32(input, read + 4) + EPOCH_2000_US_LO;
          const carry = lo >= TWO_32 ? 1 : 0;
          write = writeInt64(output, write, int32(input, read) + EPOCH_2000_US_HI + carry, lo - carry * TWO_32);
          break;
        }
        case KIND.date: {
          // (±infinity wraps here: the copy-time value check refuses those rows)
          const days = (int32(input, read) + EPOCH_2000_DAYS) | 0;
          output[write++] = days;
          output[write++] = days >> 8;
          output[write++] = days >> 16;
          output[write++] = days >> 24;
          break;
        }
        case KIND.string_array:
          write = encodeStringArray(this.fields[f]!, input, read, length, output, write);
          break;
      }
      read += length;
    }
    if (read !== end) throw new BinaryCopyError('a row is longer than its fields');
    return write;
  }
}

function copyBytes(input: Buffer, from: number, to: number, output: Buffer, write: number): number {
  if (to - from < SHORT_COPY) {
    while (from < to) output[write++] = input[from++]!;
    return write;
  }
  if (input === output) input.copyWithin(write, from, to);
  else input.copy(output, write, from, to);
  return write + to - from;
}

function int32(input: Buffer, at: number): number {
  return (input[at]! << 24) | (input[at + 1]! << 16) | (input[at + 2]! << 8) | input[at + 3]!;
}

function uint32(input: Buffer, at: number): number {
  return int32(input, at) >>> 0;
}

function int16(input: Buffer, at: number): number {
  return (((input[at]! << 8) | input[at + 1]!) << 16) >> 16;
}

function writeLength(output: Buffer, write: number, length: number): number {
  while (length >= 0x80) {
    output[write++] = (length & 0x7f) | 0x80;
    length >>>= 7;
  }
  output[write++] = length;
  return write;
}

/** Writes the 64-bit integer hi·2^32 + lo (lo unsigned) little-endian. */
function writeInt64(output: Buffer, write: number, hi: number, lo: number): number {
  output[write] = lo;
  output[write + 1] = lo >>> 8;
  output[write + 2] = lo >>> 16;
  output[write + 3] = lo >>> 24;
  output[write + 4] = hi;
  output[write + 5] = hi >> 8;
  output[write + 6] = hi >> 16;
  output[write + 7] = hi >> 24;
  return write + 8;
}


// Each field is written in at most its input's length plus the field's 4-byte length word: a LEB128 length is at
// most 4 bytes below 2^28 (PostgreSQL values stay below 1 GiB), every fixed-width value is written at its own width
// or narrower, and a numeric's binary form (8 bytes + its digits) is as wide as a Decimal64 or wider. An array
// element costs 1 + LEB128 bytes for PostgreSQL's 4: one more from 2 MiB on.

/** A one-dimensional array's elements (a multi-dimensional one flattened: the value check refuses those rows). */
function encodeStringArray(field: FieldEncoding, input: Buffer, at: number, length: number, output: Buffer, write: number): number {
  const ndim = int32(input, at);
  let count = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) count *= int32(input, at + 12 + 8 * d);
  let read = at + 12 + 8 * ndim;
  write = writeLength(output, write, count);
  for (let e = 0; e < count; e++) {
    const size = int32(input, read);
    read += 4;
    if (size === -1) {
      output[write++] = 1;
      continue;
    }
    output[write++] = 0;
    write = copyBytes(input, read, read + size, output, writeLength(output, write, size));
    read += size;
  }
  if (read !== at + length) throw new BinaryCopyError(`${field.name}: malformed array`);
  return write;
}

/** (in place, the output may start up to 3 bytes before the input: every byte is read before any is written) */
function reverse8(input: Buffer, at: number, output: Buffer, write: number): number {
  const b0 = input[at]!;
  const b1 = input[at + 1]!;
  const b2 = input[at + 2]!;
  const b3 = input[at + 3]!;
  const b4 = input[at + 4]!;
  const b5 = input[at + 5]!;
  const b6 = input[at + 6]!;
  output[write] = input[at + 7]!;
  output[write + 1] = b6;
  output[write + 2] = b5;
  output[write + 3] = b4;
  output[write + 4] = b3;
  output[write + 5] = b2;
  output[write + 6] = b1;
  output[write + 7] = b0;
  return write + 8;
}

/** 10^0 … 10^22, every one exact as a double. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

const noDecimal = (): number => {
  throw new Error('not a decimal field');
};

/**
 * numeric (base-10000 digits: ndigits, weight, sign, dscale, digits) → the value × 10^scale, exact. PostgreSQL
 * enforces the column's typmod, so a value has at most `scale` decimals; NaN is written as 0 (the copy-time value
 * check refuses those rows). Up to precision 12 the digits fit a double exactly (< 10^15 with 3 digits of a
 * last base-10000 group), beyond that BigInt.
 */
function decimalEncoder(field: FieldEncoding, precision: number, scale: number) {
  const width = precision <= 9 ? 4 : 8;
  const small = precision <= 12;
  return (input: Buffer, at: number, length: number, output: Buffer, write: number): number => {
    if (length < 8) throw new BinaryCopyError(`${field.name}: malformed numeric`);
    const ndigits = int16(input, at);
    const weight = int16(input, at + 2);
    const sign = (input[at + 4]! << 8) | input[at + 5]!;
    if (length !== 8 + 2 * ndigits) throw new BinaryCopyError(`${field.name}: malformed numeric`);
    // the digits as one integer, scaled by 10^shift
    const shift = 4 * (ndigits - 1 - weight);
    const negative = sign === NUMERIC_NEG;
    if ((sign & NUMERIC_SPECIAL) === NUMERIC_SPECIAL || ndigits === 0) {
      output.fill(0, write, write + width);
      return write + width;
    }
    if (small) {
      let digits = 0;
      for (let i = 0, d = at + 8; i < ndigits; i++, d += 2) digits = digits * 10000 + ((input[d]! << 8) | input[d + 1]!);
      let value = scale >= shift ? digits * POW10[scale - shift]! : Math.round(digits / POW10[shift - scale]!);
      if (negative) value = -value;
      if (width === 4) {
        output[write] = value;
        output[write + 1] = value >> 8;
        output[write + 2] = value >> 16;
        output[write + 3] = value >> 24;
        return write + 4;
      }
      const hi = Math.floor(value / TWO_32);
      return writeInt64(output, write, hi, value - hi * TWO_32);
    }
    let digits = 0n;
    for (let i = 0, d = at + 8; i < ndigits; i++, d += 2) digits = digits * 10000n + BigInt((input[d]! << 8) | input[d + 1]!);
    let value = scale >= shift ? digits * 10n ** BigInt(scale - shift) : digits / 10n ** BigInt(shift - scale);
    if (negative) value = -value;
    if (width === 4) output.writeInt32LE(Number(value), write);
    else output.writeBigInt64LE(BigInt.asIntN(64, value), write);
    return write + width;
  };
}
