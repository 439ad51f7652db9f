import {
  Bool,
  Decimal,
  FixedSizeBinary,
  Float32,
  Int8,
  List,
  Field,
  makeBuilder,
  makeData,
  makeTable,
  makeVector,
  TimestampMicrosecond,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
  vectorFromArray,
  type Vector
} from 'apache-arrow';
import { describe, expect, it } from 'vitest';

import { ipv6Text, littleEndianToBigInt, scaledDecimalText } from '../src/results/binary.js';
import { baseType, enumLabels, parseClickHouseType } from '../src/results/clickhouse-type.js';
import { columnFormat } from '../src/results/format.js';
import { readResultMetadata } from '../src/results/metadata.js';
import { formatBytes, summarizeResult } from '../src/results/summary.js';

function texts(vector: Vector, clickhouseType?: string): (string | null)[] {
  const format = columnFormat(
    vector.type,
    clickhouseType ? parseClickHouseType(clickhouseType) : undefined
  );
  const out: (string | null)[] = [];
  for (const data of vector.data) {
    const chunk = makeVector(data);
    for (let i = 0; i < chunk.length; i++) {
      out.push(chunk.isValid(i) ? format.text(chunk, i) : null);
    }
  }
  return out;
}

function fixedBinary(values: Uint8Array[], width: number): Vector {
  const builder = makeBuilder({ type: new FixedSizeBinary(width) });
  values.forEach(value => builder.append(value));
  return builder.finish().toVector();
}

describe('ClickHouse type names', () => {
  it('parses wrappers, parameters, enums and named tuples', () => {
    const type = parseClickHouseType(
      "Nullable(Tuple(a String, `b c` Map(LowCardinality(String), Array(Enum8('x' = -1, 'y\\'z' = 2)))))"
    );
    const tuple = baseType(type);
    expect(tuple.name).toBe('Tuple');
    const [a, map] = tuple.args.map(arg => (arg.kind === 'type' ? arg.type : undefined));
    expect(a).toMatchObject({ name: 'String', element: 'a' });
    expect(map).toMatchObject({ name: 'Map', element: 'b c' });
    const enumType = parseClickHouseType("Enum8('x' = -1, 'y\\'z' = 2)");
    expect([...enumLabels(enumType)]).toEqual([
      [-1, 'x'],
      [2, "y'z"]
    ]);
  });

  it('keeps an unparsable name as text', () => {
    expect(parseClickHouseType('Weird(')).toEqual({ name: 'Weird(', args: [] });
  });
});

describe('cell text', () => {
  it('keeps 64-bit integers exact and right-aligns numbers', () => {
    const vector = vectorFromArray([18446744073709551615n], new Uint64());
    expect(texts(vector, 'UInt64')).toEqual(['18446744073709551615']);
    expect(columnFormat(vector.type, parseClickHouseType('UInt64')).numeric).toBe(true);
  });

  it('prints Float32 the short way and NULLs as null', () => {
    expect(texts(vectorFromArray([0.1, null], new Float32()))).toEqual(['0.1', null]);
  });

  it('shows timestamps with their full precision and time zone', () => {
    const micros = makeVector(
      makeData({
        type: new TimestampMicrosecond('UTC'),
        length: 1,
        nullCount: 0,
        data: BigInt64Array.from([1714571107123456n])
      })
    );
    expect(texts(micros, "DateTime64(6, 'UTC')")).toEqual(['2024-05-01 13:45:07.123456']);
    const seconds = vectorFromArray([1714571107], new Uint32());
    expect(texts(seconds, "DateTime('Europe/Berlin')")).toEqual(['2024-05-01 15:45:07']);
    expect(texts(vectorFromArray([19844], new Uint16()), 'Date')).toEqual(['2024-05-01']);
  });

  it('fills Arrow gaps from the ClickHouse type', () => {
    expect(texts(vectorFromArray([1, 2], new Int8()), "Enum8('on' = 1, 'off' = 2)")).toEqual(['on', 'off']);
    expect(texts(vectorFromArray([3232235777], new Uint32()), 'IPv4')).toEqual(['192.168.1.1']);
    // As ClickHouse's Arrow output carries it (checked against chDB): the bytes in text order.
    const bytes = Uint8Array.from(Buffer.from('61f0c4045cb311e7907ba6006ad3dba0', 'hex'));
    expect(texts(fixedBinary([bytes], 16), 'UUID')).toEqual(['61f0c404-5cb3-11e7-907b-a6006ad3dba0']);
    expect(texts(fixedBinary([new Uint8Array(16).fill(0xff)], 16), 'Int128')).toEqual(['-1']);
  });

  it('writes exact decimals', () => {
    const builder = makeBuilder({ type: new Decimal(2, 18, 128) });
    builder.append(Uint32Array.from([0xfffffffb, 0xffffffff, 0xffffffff, 0xffffffff])); // -5
    expect(texts(builder.finish().toVector(), 'Decimal(18, 2)')).toEqual(['-0.05']);
    expect(scaledDecimalText(123456n, 3)).toBe('123.456');
    expect(littleEndianToBigInt(Uint8Array.from([0, 1]), false)).toBe(256n);
  });

  it('quotes strings inside arrays like ClickHouse', () => {
    const list = vectorFromArray([["it's", 'b']], new List(new Field('item', new Utf8(), true)));
    expect(texts(list, 'Array(String)')).toEqual(["['it\\'s', 'b']"]);
    expect(texts(vectorFromArray([true], new Bool()))).toEqual(['true']);
  });

  it('shortens IPv6 addresses', () => {
    const bytes = new Uint8Array(16);
    bytes[0] = 0x20;
    bytes[1] = 0x01;
    bytes[2] = 0x0d;
    bytes[3] = 0xb8;
    bytes[15] = 1;
    expect(ipv6Text(bytes)).toBe('2001:db8::1');
  });
});

describe('summary', () => {
  it('reports rows, time, bytes and truncation', () => {
    const metadata = readResultMetadata({
      rows: 1200,
      total_rows: 5000,
      truncated: true,
      elapsed_ms: 12.5,
      bytes_read: 1234567
    });
    const summary = summarizeResult(1200, 1000, metadata);
    expect(summary.line).toBe('1,200 of 5,000 rows · 13 ms · 1.18 MiB read');
    expect(summary.truncationNote).toContain('truncated');
    expect(summary.displayNote).toContain('first 1,000 rows');
    expect(formatBytes(512)).toBe('512 B');
  });

  it('tolerates missing metadata', () => {
    expect(summarizeResult(1, 1, readResultMetadata(undefined))).toEqual({ line: '1 row' });
    expect(makeTable({ a: vectorFromArray([1]) }).numRows).toBe(1);
  });
});
