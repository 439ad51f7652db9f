// The kernel's text/plain and text/html fallbacks print values inside Array / Map / Tuple as ClickHouse does
// (`toString` of the same value, on real chDB): DateTime, Enum, UUID, IPv4/6 and (U)Int128/256 arrive raw in
// ClickHouse's Arrow output there (seconds, codes, bytes) and must not be shown so.
import { afterAll, describe, expect, it } from 'vitest';
import { columnFormatter, renderHtml, renderText } from '../../src/results/render.js';
import { testQueryService } from '../support/engine.js';

const { engine, queries } = testQueryService();
const ctx = { user: 'tester', source: 'kernel' as const };
afterAll(() => engine.close());

const EXPRESSIONS: Record<string, string> = {
  datetimes: `[toDateTime('2024-01-02 03:04:05', 'UTC'), toDateTime('2023-12-31 23:59:59', 'UTC')]`,
  datetime_zone: `[toDateTime('2024-01-02 03:04:05', 'Asia/Tokyo')]`,
  datetime64: `[toDateTime64('2024-01-02 03:04:05.123', 3, 'UTC'), toDateTime64('2024-01-02 03:04:05', 3, 'UTC')]`,
  enums: `CAST(['a', 'b', 'a'] AS Array(Enum8('a' = 1, 'b' = 2)))`,
  enum16: `CAST(['x y'] AS Array(Enum16('x y' = -300, 'z' = 1000)))`,
  uuids: `[toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0'), toUUID('00000000-0000-0000-0000-000000000001')]`,
  ipv4: `[toIPv4('10.0.0.1'), toIPv4('255.255.255.0')]`,
  ipv6: `[toIPv6('2001:db8::1'), toIPv6('::ffff:1.2.3.4')]`,
  int128: `[toInt128(-5), toInt128('170141183460469231731687303715884105727')]`,
  uint256: `[toUInt256('115792089237316195423570985008687907853269984665640564039457584007913129639935')]`,
  decimals: `[toDecimal64(1.5, 2), toDecimal64(-0.05, 2)]`,
  dates: `[toDate('2024-01-02'), toDate('1970-01-01')]`,
  date32: `[toDate32('1900-02-03')]`,
  strings: `['a', 'it''s', 'back\\\\slash']`,
  nullable: `[NULL, 1, 2]`,
  nested: `[[1, 2], [], [3]]`,
  bools: `[true, false]`,
  floats: `[1.5::Float32, -0.25::Float64]`,
  map_datetime: `map('k', toDateTime('2024-01-02 03:04:05', 'UTC'), 'l', toDateTime('2024-05-06 07:08:09', 'UTC'))`,
  map_enum: `CAST(map(1, 'b') AS Map(UInt8, Enum8('a' = 1, 'b' = 2)))`,
  map_array: `map(1, [toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0')])`,
  tuple: `tuple(1, 'x', toDate('2024-01-02'), toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0'), toDateTime('2024-01-02 03:04:05', 'UTC'))`,
  named_tuple: `CAST((1, 'z', [toIPv4('1.2.3.4')]) AS Tuple(x UInt8, y String, ips Array(IPv4)))`,
  tuple_array: `[tuple(toDateTime('2024-01-02 03:04:05', 'UTC'), CAST('b' AS Enum8('a' = 1, 'b' = 2)))]`,
  lowcardinality: `[toLowCardinality('lc')]`,
  nullable_enum: `CAST([NULL, 'a'] AS Array(Nullable(Enum8('a' = 1))))`,
};

describe('text fallbacks of nested values (real chDB)', () => {
  it('prints each nested value as ClickHouse does (toString of the same value)', async () => {
    const names = Object.keys(EXPRESSIONS);
    const outcome = await queries.run(
      `SELECT ${names.map((n) => `${EXPRESSIONS[n]} AS ${n}`).join(', ')}, ${names.map((n) => `toString(${n}) AS ${n}_text`).join(', ')}`,
      ctx,
    );
    if (outcome.kind !== 'rows') throw new Error('expected rows');
    const fields = outcome.table.schema.fields;
    const row = outcome.table.get(0)!;
    const shown: Record<string, string> = {};
    const expected: Record<string, string> = {};
    names.forEach((name, i) => {
      shown[name] = columnFormatter(fields[i]!)(outcome.table.getChildAt(i)!.get(0));
      expected[name] = String(row[`${name}_text`]);
    });
    expect(shown).toEqual(expected);
    // Spot checks, so the expectation is not only "whatever toString says".
    expect(shown.datetimes).toBe("['2024-01-02 03:04:05','2023-12-31 23:59:59']");
    expect(shown.datetime_zone).toBe("['2024-01-02 03:04:05']");
    expect(shown.enums).toBe("['a','b','a']");
    expect(shown.uuids).toBe("['61f0c404-5cb3-11e7-907b-a6006ad3dba0','00000000-0000-0000-0000-000000000001']");
    expect(shown.map_datetime).toBe("{'k':'2024-01-02 03:04:05','l':'2024-05-06 07:08:09'}");
    expect(shown.tuple).toBe("(1,'x','2024-01-02','61f0c404-5cb3-11e7-907b-a6006ad3dba0','2024-01-02 03:04:05')");
    expect(shown.int128).toBe('[-5,170141183460469231731687303715884105727]');
  });

  it('uses them in the text/plain and text/html outputs', async () => {
    const outcome = await queries.run(
      `SELECT [toDateTime('2024-01-02 03:04:05', 'UTC')] AS times, CAST(['a', 'b'] AS Array(Enum8('a' = 1, 'b' = 2))) AS labels,
              [toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0')] AS ids, map('k', [toIPv4('1.2.3.4')]) AS m, tuple(1, toDateTime('2024-01-02 03:04:05', 'UTC')) AS t`,
      ctx,
    );
    if (outcome.kind !== 'rows') throw new Error('expected rows');
    const summary = { rows: 1, shownRows: 1, truncated: false, elapsedMs: 1, bytes: 1, rowCap: 1 };
    const text = renderText(outcome.table, summary).split('\n')[2]!;
    expect(text.split(' | ').map((c) => c.trim())).toEqual([
      "['2024-01-02 03:04:05']",
      "['a','b']",
      "['61f0c404-5cb3-11e7-907b-a6006ad3dba0']",
      "{'k':['1.2.3.4']}",
      "(1,'2024-01-02 03:04:05')",
    ]);
    expect(text).not.toMatch(/1704164645|\{"0":/);
    expect(renderHtml(outcome.table, summary)).toContain('<td>[&#39;2024-01-02 03:04:05&#39;]</td>');
  });
});
