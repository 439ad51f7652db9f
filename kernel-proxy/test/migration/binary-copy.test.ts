// Binary transport: a table whose every column has a binary codec travels as COPY (FORMAT binary) re-encoded as
// RowBinary; the same rows with one more column that has none (interval) travel as COPY text read as TSV. Both
// land identical, edge values included (minimums and maximums, NULLs, numerics of every shape, instants around
// 1970 and 2000 across offsets, unicode, NULL array elements, a nullable text over 2 MiB), and both validate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { testConfig } from '../support/engine.js';
import { createEngine } from '../../src/clickhouse/create-engine.js';
import { binaryTransport } from '../../src/migration/binary-transport.js';
import { BinaryCopyError, RowBinaryEncoder, type FieldEncoding } from '../../src/postgres/row-binary.js';
import { migrationService, runToEnd, UNICODE, useTestSchema } from './support.js';

const config = testConfig();
const engine = createEngine(config);
const service = migrationService(engine);
let admin: pg.Client;
let schema: string;

/** Over 2 MiB, so its RowBinary (a 4-byte length and a Nullable byte) is longer than PostgreSQL's 4-byte length. */
const HUGE = 3_000_000;
const COLUMNS = 'id, i2, i4, i8, f4, f8, n12, n18, n5, t, vc, c, b, d, tstz, j, jb, u, ta, vca, huge';

useTestSchema('mbinary', (client, name) => ((admin = client), (schema = name)));

beforeAll(async () => {
  await admin.query(`
    SET search_path = ${schema};
    CREATE TABLE bin_all (
      id bigint PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
      n12 numeric(12, 2), n18 numeric(18, 4), n5 numeric(5, 2), t text, vc varchar(20), c char(3), b boolean,
      d date, tstz timestamptz, j json, jb jsonb, u uuid, ta text[] NOT NULL, vca varchar[] NOT NULL, huge text
    );
    INSERT INTO bin_all (id, ta, vca) VALUES (1, '{}', '{}');
    INSERT INTO bin_all VALUES (
      2, -32768, -2147483648, -9223372036854775808, '-Infinity', -1.7976931348623157e308,
      -9999999999.99, -99999999999999.9999, -999.99, '', '', '', false,
      '1900-01-01', '1900-01-01 00:00:00+00', '[]', '{}', '00000000-0000-0000-0000-000000000000', '{}', '{}', ''
    );
    INSERT INTO bin_all VALUES (
      3, 32767, 2147483647, 9223372036854775807, 'NaN', 'Infinity',
      9999999999.99, 99999999999999.9999, 999.99, $u$${UNICODE}$u$, 'ÄÖÜßéèñ李雷🎉', 'ab', true,
      '2299-12-31', '2299-12-31 23:59:59.999999+00', '{"k": [1, 2, {"x": null}]}', '{"z": 1, "a": "é\\n"}',
      'ffffffff-ffff-ffff-ffff-ffffffffffff', ARRAY['a,b', 'c"d', '', 'NULL', 'é 李', E'tab\\tnl\\n'], '{x,NULL,y}', repeat('x', ${HUGE})
    );
    INSERT INTO bin_all (id, n12, n18, n5, d, tstz, u, ta, vca, f4, f8) VALUES
      (4, 0, 0.0001, 0.01, '1999-12-31', '1999-12-31 23:59:59.999999-08', '123e4567-e89b-12d3-a456-426614174000', '{a}', '{b}', 1.5, 0.1),
      (5, 0.01, -0.0001, -0.01, '2000-01-01', '2000-01-01 00:00:00+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{}', '{}', -0.0, 1e-300),
      (6, -0.01, 12345678901234.5678, 10.5, '1970-01-01', '1970-01-01 00:00:00+00', NULL, '{}', '{}', 3.4028235e38, -2.2250738585072014e-308),
      (7, 10000, 10000, 100, '1969-12-31', '1969-12-31 23:59:59.999999+00', NULL, '{}', '{}', NULL, NULL),
      (8, 12345678.9, -1.5, -100, '2024-02-29', '2024-03-31 02:30:00+02', NULL, '{}', '{}', NULL, NULL),
      (9, -100000000, 100000000, 1, '2106-02-07', '2106-02-07 06:28:16+00', NULL, '{}', '{}', NULL, NULL);
    INSERT INTO bin_all (id, i4, n12, t, d, tstz, jb, u, ta, vca, b)
      SELECT g, g * 7919 % 100000, (g * 31 % 10000000) / 100.0, CASE WHEN g % 5 = 0 THEN NULL ELSE 'note ' || g END,
             date '2000-01-01' + (g % 3000), timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
             jsonb_build_object('k', g), md5(g::text)::uuid, ARRAY['tag' || (g % 10), 'x' || (g % 3)], ARRAY[NULL, 'v' || g]::varchar[], g % 2 = 0
        FROM generate_series(10, 20000) AS g;
    CREATE TABLE text_all AS SELECT *, interval '1 day' AS iv FROM bin_all;
    ALTER TABLE text_all ADD PRIMARY KEY (id), ALTER COLUMN ta SET NOT NULL, ALTER COLUMN vca SET NOT NULL;
    CREATE TABLE bin_empty (LIKE bin_all INCLUDING CONSTRAINTS INCLUDING INDEXES);
    CREATE TABLE hazards (id integer PRIMARY KEY, amount numeric(10, 2) NOT NULL, at timestamptz NOT NULL, day date NOT NULL, tags text[] NOT NULL);
    INSERT INTO hazards SELECT g, g / 100.0, timestamptz '2024-01-01 00:00:00+00', date '2024-01-01', ARRAY['t' || g] FROM generate_series(1, 300) AS g;
  `);
}, 120_000);

afterAll(async () => {
  await service.close();
  await engine.close();
});

const spec = (table: string, target: string) =>
  `source: ${schema}.${table}\ntarget: ${target}\ncolumns:\n  vca: { type: Array(Nullable(String)) }\noptions: { batch_size: 4000, parallelism: 2 }\n`;

describe('binary transport', () => {
  it('is chosen when every column has a binary codec, and not otherwise', async () => {
    const binary = await service.plan(spec('bin_all', 'm_bin_all'), { valueCheck: false });
    const text = await service.plan(spec('text_all', 'm_text_all'), { valueCheck: false });
    const chosen = binaryTransport(binary.mappings, 'true');
    expect(chosen?.fields.map((f) => f.codec.kind)).toEqual([
      'int', 'int', 'int', 'int', 'float', 'float', 'decimal', 'decimal', 'decimal', 'string', 'string', 'string', 'bool',
      'date', 'timestamptz', 'string', 'jsonb', 'uuid', 'string_array', 'string_array', 'string', 'bool',
    ]);
    expect(binaryTransport(text.mappings, 'true')).toBeNull();
    // Codecs whose values ClickHouse would refuse as text only travel binary behind the copy-time value check.
    expect(binaryTransport(binary.mappings, null)).toBeNull();
  });

  it('loads every value exactly as the text path does, and validates', async () => {
    const [binary, text] = await Promise.all([runToEnd(service, spec('bin_all', 'm_bin_all')), runToEnd(service, spec('text_all', 'm_text_all'))]);
    for (const summary of [binary, text]) {
      expect(summary.status, summary.error_message ?? '').toBe('completed');
      expect(summary.records_migrated).toBe(20_000);
      expect(summary.validation?.ok, JSON.stringify(summary.validation)).toBe(true);
    }
    const read = (table: string) => engine.json<Record<string, unknown>>(`SELECT ${COLUMNS} FROM default.${table} ORDER BY id`, { settings: { output_format_json_quote_64bit_integers: 1, output_format_json_quote_denormals: 1 } });
    const [fromBinary, fromText] = await Promise.all([read('m_bin_all'), read('m_text_all')]);
    expect(fromBinary).toHaveLength(20_000);
    expect(fromBinary).toEqual(fromText);
    const [edges] = await engine.json<Record<string, string>>(
      `SELECT toString(groupArray(n12)) AS n12, toString(groupArray(n18)) AS n18, toString(groupArray(tstz)) AS tstz, toString(groupArray(d)) AS d, toString(groupArray(u)) AS u
         FROM (SELECT * FROM default.m_bin_all WHERE id BETWEEN 2 AND 9 ORDER BY id)`,
    );
    expect(edges!.n12).toBe('[-9999999999.99,9999999999.99,0,0.01,-0.01,10000,12345678.9,-100000000]');
    expect(edges!.n18).toBe('[-99999999999999.9999,99999999999999.9999,0.0001,-0.0001,12345678901234.5678,10000,-1.5,100000000]');
    expect(edges!.tstz).toBe(
      "['1900-01-01 00:00:00.000000','2299-12-31 23:59:59.999999','2000-01-01 07:59:59.999999','2000-01-01 00:00:00.000000','1970-01-01 00:00:00.000000','1969-12-31 23:59:59.999999','2024-03-31 00:30:00.000000','2106-02-07 06:28:16.000000']",
    );
    expect(edges!.d).toBe("['1900-01-01','2299-12-31','1999-12-31','2000-01-01','1970-01-01','1969-12-31','2024-02-29','2106-02-07']");
    expect(edges!.u).toContain("'ffffffff-ffff-ffff-ffff-ffffffffffff','123e4567-e89b-12d3-a456-426614174000'");
    const [huge] = await engine.json<{ n: string; vca: string }>(`SELECT toString(length(huge)) AS n, toString(vca) AS vca FROM default.m_bin_all WHERE id = 3`);
    expect(huge).toEqual({ n: String(HUGE), vca: "['x',NULL,'y']" });
  }, 180_000);

  it('loads an empty table (the header and the trailer in one message)', async () => {
    const summary = await runToEnd(service, spec('bin_empty', 'm_bin_empty'));
    expect(summary.status, summary.error_message ?? '').toBe('completed');
    expect(summary.records_migrated).toBe(0);
    expect(summary.validation?.ok).toBe(true);
  });

  it('refuses, through the copy-time value check, the values it cannot encode: NaN, ±infinity, NULL elements, nested arrays', async () => {
    const target = 'm_bin_hazards';
    const plan = await service.plan(`source: ${schema}.hazards\ntarget: ${target}\n`, { valueCheck: false });
    expect(binaryTransport(plan.mappings, 'true')).not.toBeNull();
    for (const [fix, problem] of [
      ["amount = 'NaN'", 'not_a_number'],
      ["at = 'infinity'", 'date_out_of_range'],
      ["day = '-infinity'", 'date_out_of_range'],
      ["tags = ARRAY['x', NULL]", 'null_element'],
      ["tags = '{{a,b},{c,d}}'", 'array_dimensions'],
    ] as const) {
      await admin.query(`UPDATE ${schema}.hazards SET ${fix} WHERE id = 250`);
      const summary = await runToEnd(service, `source: ${schema}.hazards\ntarget: ${target}\noptions: { batch_size: 100, parallelism: 1 }\n`);
      expect(summary.status, fix).toBe('failed');
      expect(summary.value_check?.problems.map((p) => p.kind), fix).toContain(problem);
      const [exists] = await engine.json<{ n: string }>(`SELECT toString(count()) AS n FROM system.tables WHERE database = 'default' AND name = '${target}'`);
      expect(exists!.n, `${fix}: the table the run created is dropped`).toBe('0');
      await admin.query(`UPDATE ${schema}.hazards SET amount = 2.5, at = now(), day = current_date, tags = '{t}' WHERE id = 250`);
    }
  }, 120_000);
});

describe('RowBinaryEncoder', () => {
  const fields: FieldEncoding[] = [
    { codec: { kind: 'int', bytes: 4 }, nullable: false, name: 'a' },
    { codec: { kind: 'string' }, nullable: true, name: 'b' },
  ];
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  const row = (...parts: Buffer[]) => Buffer.concat([Buffer.from([0, 2]), ...parts]);
  const int4 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(4, 0);
    b.writeInt32BE(v, 4);
    return b;
  };
  const text = (s: string | null) => {
    if (s === null) return Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const b = Buffer.alloc(4);
    b.writeInt32BE(Buffer.byteLength(s), 0);
    return Buffer.concat([b, Buffer.from(s)]);
  };
  const encode = (encoder: RowBinaryEncoder, message: Buffer) => {
    const buffer = Buffer.concat([Buffer.alloc(5), message]);
    return buffer.subarray(0, encoder.encode(buffer, 5, buffer.length, buffer, 0));
  };

  it('writes RowBinary in place: little-endian values, LEB128 lengths, a byte before each Nullable value', () => {
    const encoder = new RowBinaryEncoder(fields);
    expect([...encode(encoder, Buffer.concat([header, row(int4(-2), text('hé'))]))]).toEqual([0xfe, 0xff, 0xff, 0xff, 0, 3, 0x68, 0xc3, 0xa9]);
    expect([...encode(encoder, row(int4(1), text(null)))]).toEqual([1, 0, 0, 0, 1]);
    expect(encoder.complete).toBe(false);
    expect(encode(encoder, Buffer.from([0xff, 0xff])).length).toBe(0);
    expect(encoder.complete).toBe(true);
    expect(encoder.rows).toBe(2);
  });

  it('refuses data that is not a binary COPY of the expected row, with what is wrong', () => {
    const bad: [Buffer[], RegExp][] = [
      [[Buffer.from('1\tx\n')], /bad signature/],
      [[Buffer.concat([header, Buffer.from([0, 3]), int4(1), text('x'), text('y')])], /a row has 3 fields, expected 2/],
      [[Buffer.concat([header, row(int4(1), text('xyz')).subarray(0, 14)])], /cut short/],
      [[Buffer.concat([header, row(int4(1), text('x')), Buffer.from([0])])], /longer than its fields/],
      [[header, Buffer.from([0xff, 0xff, 0])], /data after the trailer/],
      [[header, Buffer.from([0xff, 0xff]), row(int4(1), text('x'))], /data after the trailer/],
      [[Buffer.concat([header, row(Buffer.from([0, 0, 0, 2, 0, 1]), text('x'))])], /a: a 4-byte value was expected, got 2 bytes/],
      [[Buffer.concat([header, Buffer.from([0, 1]), text(null)]).subarray(0, 25)], /a row has 1 fields|cut short/],
    ];
    for (const [messages, error] of bad) {
      const encoder = new RowBinaryEncoder(fields);
      expect(() => messages.forEach((m) => encode(encoder, m))).toThrow(BinaryCopyError);
      expect(() => {
        const again = new RowBinaryEncoder(fields);
        messages.forEach((m) => encode(again, m));
      }).toThrow(error);
    }
  });
});
