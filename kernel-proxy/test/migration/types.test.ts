// Every mapped PostgreSQL type with edge values, through a real PostgreSQL 15 and chDB: the default mapping,
// NULLs, empty arrays, max numerics, timestamptz across offsets, unicode, a huge text; validated end to end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { testConfig } from '../support/engine.js';
import { createEngine } from '../../src/clickhouse/create-engine.js';
import { migrationService, runToEnd, UNICODE, useTestSchema } from './support.js';
import { planBundle } from '../../src/migration/service.js';
import { combinePartials, sourceAggregates, sourcePartials, validationQueries } from '../../src/migration/validation.js';

const config = testConfig();
const engine = createEngine(config);
const service = migrationService(engine);
let admin: pg.Client;
let schema: string;

const HUGE = 5_000_000;

useTestSchema('mtypes', (client, name) => ((admin = client), (schema = name)));

beforeAll(async () => {
  await admin.query(`
    SET search_path = ${schema};
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'it''s "quoted"');
    CREATE DOMAIN pos_amount AS numeric(10, 2) CHECK (VALUE >= 0);
    CREATE TABLE all_types (
      id bigint PRIMARY KEY,
      i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision,
      n_bounded numeric(38, 6), n_wide numeric(76, 0), n_plain numeric, m money,
      t text, vc varchar(10), c char(5), b boolean,
      d date, ts timestamp, tstz timestamptz, tm time, tmtz timetz, iv interval,
      ip inet, net cidr, mac macaddr, by bytea, bits bit(4), vbits varbit(8), x xml, j json, jb jsonb,
      mood_col mood, dom pos_amount, i4r int4range, tsr tstzrange, pt point, bx box, circ circle, u uuid,
      ta text[], ia integer[], na numeric(10, 2)[], tsa timestamptz[], ba bytea[], ma mood[], i2d integer[][], tan text[],
      huge text
    );
    INSERT INTO all_types (id) VALUES (1);
    INSERT INTO all_types VALUES (
      2, -32768, -2147483648, -9223372036854775808, '-Infinity', -1.7976931348623157e308,
      '-99999999999999999999999999999999.999999', '-9999999999999999999999999999999999999999999999999999999999999999999999999999',
      '-123456789012345678901234567.0123456789', '-92233720368547758.08',
      '', '', '', false,
      '1900-01-01', '1900-01-01 00:00:00', '1900-01-01 00:00:00+00', '00:00:00', '00:00:00+14', '-178000000 years',
      '0.0.0.0', '0.0.0.0/0', '00:00:00:00:00:00', '\\x', B'0000', B'', '<a/>', '[]', '{}',
      'sad', 0, 'empty', 'empty', '(0,0)', '((0,0),(0,0))', '<(0,0),0>', '00000000-0000-0000-0000-000000000000',
      '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', ''
    );
    INSERT INTO all_types VALUES (
      3, 32767, 2147483647, 9223372036854775807, 'Infinity', 1.7976931348623157e308,
      '99999999999999999999999999999999.999999', '9999999999999999999999999999999999999999999999999999999999999999999999999999',
      '123456789012345678901234567.0123456789', '92233720368547758.07',
      $u$${UNICODE}$u$, 'ÄÖÜßéèñ李雷🎉', 'ab', true,
      '2299-12-31', '2299-12-31 23:59:59.999999', '2299-12-31 23:59:59.999999+00', '23:59:59.999999', '23:59:59.999999-12', '1 year 2 mons 3 days 04:05:06.789',
      '2001:db8::1/64', '10.0.0.0/8', '08:00:2b:01:02:03', '\\x00ff0a0d5c09', B'1010', B'10101', '<a b="1">é</a>', '{"k": [1, 2, {"x": null}]}', '{"z": 1, "a": "é\\n"}',
      'it''s "quoted"', 12345678.99, '[1,10)', '[2024-01-01 00:00:00+00,2024-02-01 00:00:00+00)', '(1.5,-2.25)', '((1,2),(3,4))', '<(1,2),3>', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
      ARRAY['a,b', 'c"d', '', 'NULL', 'é 李', E'tab\\tnl\\n'], '{1,-2,2147483647}', '{1.50,-99999999.99}', ARRAY['2024-03-31 02:30:00+02', '1999-12-31 23:59:59.999999-08']::timestamptz[],
      ARRAY['\\x00'::bytea, '\\xdeadbeef'::bytea], '{ok,happy}', '{{1,2},{3,4}}', '{a,NULL,b}', repeat('x', ${HUGE})
    );
    INSERT INTO all_types (id, tstz, ts, t) VALUES
      (4, '2024-03-31 02:30:00+02', '2024-03-31 02:30:00', 'offset +02'),
      (5, '2024-06-01 12:00:00+05:30', '2024-06-01 12:00:00.5', 'offset +05:30'),
      (6, '1999-12-31 23:59:59.999999-08', '1999-12-31 23:59:59.999999', 'offset -08');
    ANALYZE all_types;
    CREATE TABLE empty_t (id int PRIMARY KEY, v text);
  `);
}, 60_000);

afterAll(async () => {
  await service.close();
  await engine.close();
});

const arrayColumns = ['ta', 'ia', 'na', 'tsa', 'ba', 'ma', 'i2d', 'tan'];
const spec = () => `
source: ${schema}.all_types
target: m_all_types
options:
  batch_size: 2000
  unbounded_numeric: Decimal(38, 10)
columns:
${arrayColumns.map((c) => `  ${c}: { nulls: default${c === 'tan' ? ', type: "Array(Nullable(String))"' : ''} }`).join('\n')}
`;

describe('type mapping end to end', () => {
  it('migrates an empty table', async () => {
    const summary = await runToEnd(service, `source: ${schema}.empty_t\ntarget: m_empty\n`);
    expect(summary).toMatchObject({ status: 'completed', records_migrated: 0, validation: { ok: true, row_count: { source: 0, destination: 0 } } });
  });

  it('suggests a type for every column, with warnings where the mapping can lose something', async () => {
    const plan = planBundle(await service.plan(spec()));
    const types = Object.fromEntries(plan.mappings.map((m) => [m.source_field, m.destination_type]));
    expect(types).toMatchObject({
      id: 'Int64', i2: 'Nullable(Int16)', i4: 'Nullable(Int32)', i8: 'Nullable(Int64)', f4: 'Nullable(Float32)', f8: 'Nullable(Float64)',
      n_bounded: 'Nullable(Decimal(38, 6))', n_wide: 'Nullable(Decimal(76, 0))', n_plain: 'Nullable(Decimal(38, 10))', m: 'Nullable(Decimal(19, 2))',
      t: 'Nullable(String)', vc: 'Nullable(String)', c: 'Nullable(String)', b: 'Nullable(Bool)',
      d: 'Nullable(Date32)', ts: 'Nullable(DateTime64(6))', tstz: "Nullable(DateTime64(6, 'UTC'))",
      tm: 'Nullable(String)', tmtz: 'Nullable(String)', iv: 'Nullable(String)', ip: 'Nullable(String)', by: 'Nullable(String)',
      j: 'Nullable(String)', jb: 'Nullable(String)', u: 'Nullable(UUID)', dom: 'Nullable(Decimal(10, 2))',
      ta: 'Array(String)', ia: 'Array(Int32)', na: 'Array(Decimal(10, 2))', tsa: "Array(DateTime64(6, 'UTC'))", ma: expect.stringMatching(/^Array\(Enum8\('sad' = 1/), i2d: 'Array(Array(Int32))', tan: 'Array(Nullable(String))',
    });
    expect(types.mood_col).toBe("Nullable(Enum8('sad' = 1, 'ok' = 2, 'happy' = 3, 'it\\'s \"quoted\"' = 4))");
    const warned = (col: string) => plan.mappings.find((m) => m.source_field === col)!.warnings.join(' ');
    expect(warned('m')).toMatch(/currency/);
    expect(warned('iv')).toMatch(/interval/);
    expect(warned('tmtz')).toMatch(/time zone/);
    expect(warned('i4r')).toMatch(/range/);
    expect(warned('dom')).toMatch(/CHECK/);
    expect(warned('ta')).toMatch(/NULL becomes \[\]/);
    expect(plan.source.row_count).toBe(6);
    expect(plan.source.row_count_exact).toBe(true);
    expect(plan.source.columns.find((c) => c.name === 'n_bounded')).toMatchObject({ precision: 38, scale: 6 });
    expect(plan.source.columns.find((c) => c.name === 'c')).toMatchObject({ max_length: 5 });
    expect(plan.source.columns.find((c) => c.name === 'ma')).toMatchObject({ array_dims: 1, enum_labels: ['sad', 'ok', 'happy', 'it\'s "quoted"'] });
    expect(plan.source.columns.find((c) => c.name === 'id')).toMatchObject({ primary_key: true, nullable: false });
    expect(plan.ddl).toContain('ORDER BY `id`');
    expect(plan.value_check?.problems).toEqual([]);
  });

  it('computes the source side range by range exactly as over the whole table (every type, NULLs, an empty range)', async () => {
    const plan = await service.plan(spec(), { valueCheck: false });
    const queries = validationQueries(plan.source, plan.mappings);
    expect(queries.aggregates.length).toBeGreaterThan(60);
    const whole = await sourceAggregates(admin, plan.source, queries);
    // Ranges as the copy splits a key: open-ended first and last, one range with no row at all.
    const wheres = ['"id" < 2', '"id" >= 2 AND "id" < 3', '"id" >= 3 AND "id" < 5', '"id" >= 5 AND "id" < 5', '"id" >= 5'];
    const partials = [];
    for (const where of wheres) partials.push(await sourcePartials(admin, plan.source, queries, where));
    const combined = await combinePartials(admin, plan.source, queries, partials);
    expect(combined).toEqual(whole);
    expect(whole.__chlab_n).toBe('6');
    // One range holding the whole table gives the same, too.
    expect(await combinePartials(admin, plan.source, queries, [await sourcePartials(admin, plan.source, queries, '')])).toEqual(whole);
  });

  it('migrates every type exactly and validates counts and aggregates', async () => {
    const summary = await runToEnd(service, spec());
    expect(summary.error_message).toBeNull();
    expect(summary.status).toBe('completed');
    expect(summary.records_migrated).toBe(6);
    expect(summary.validation?.ok).toBe(true);
    const checks = summary.validation!.columns.flatMap((c) => c.checks.map((k) => `${c.column}.${k.name}`));
    expect(checks).toEqual(expect.arrayContaining(['i8.sum', 'n_bounded.max', 'tstz.sum_epoch_us', 't.total_bytes', 'huge.total_bytes', 'ta.total_elements', 'b.count_true', 'by.total_bytes', 'u.min']));

    const [row3] = await engine.json<Record<string, unknown>>(
      `SELECT toString(i8) AS i8, toString(f4) AS f4, toString(n_bounded) AS nb, toString(n_wide) AS nw, toString(n_plain) AS np, toString(m) AS m,
              t, vc, c, b, toString(d) AS d, toString(ts) AS ts, toString(tstz) AS tstz, tm, tmtz, iv, ip, net, mac, hex(by) AS by, bits, vbits, x, j, jb,
              toString(mood_col) AS mood, toString(dom) AS dom, i4r, tsr, pt, toString(u) AS u, ta, ia, toString(na) AS na, toString(tsa) AS tsa,
              arrayMap(x -> hex(x), ba) AS ba, toString(ma) AS ma, i2d, tan, length(huge) AS huge
         FROM m_all_types WHERE id = 3`,
    );
    expect(row3).toMatchObject({
      i8: '9223372036854775807', f4: 'inf', nb: '99999999999999999999999999999999.999999', nw: '9999999999999999999999999999999999999999999999999999999999999999999999999999',
      np: '123456789012345678901234567.0123456789', m: '92233720368547758.07',
      t: UNICODE, vc: 'ÄÖÜßéèñ李雷🎉', c: 'ab   ', b: true, d: '2299-12-31', ts: '2299-12-31 23:59:59.999999', tstz: '2299-12-31 23:59:59.999999',
      tm: '23:59:59.999999', tmtz: '23:59:59.999999-12', iv: 'P1Y2M3DT4H5M6.789S', ip: '2001:db8::1/64', net: '10.0.0.0/8', mac: '08:00:2b:01:02:03',
      by: '00FF0A0D5C09', bits: '1010', vbits: '10101', x: '<a b="1">é</a>', j: '{"k": [1, 2, {"x": null}]}', jb: '{"a": "é\\n", "z": 1}',
      mood: 'it\'s "quoted"', dom: '12345678.99', i4r: '[1,10)', pt: '(1.5,-2.25)', u: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
      ta: ['a,b', 'c"d', '', 'NULL', 'é 李', 'tab\tnl\n'], ia: [1, -2, 2147483647], na: '[1.5,-99999999.99]',
      tsa: "['2024-03-31 00:30:00.000000','2000-01-01 07:59:59.999999']", ba: ['00', 'DEADBEEF'], ma: "['ok','happy']", i2d: [[1, 2], [3, 4]], tan: ['a', null, 'b'], huge: HUGE,
    });
    const [row2] = await engine.json<Record<string, unknown>>(
      `SELECT toString(i8) AS i8, toString(f4) AS f4, toString(f8) AS f8, toString(n_plain) AS np, toString(m) AS m, t, c, toString(d) AS d, toString(tstz) AS tstz, iv, hex(by) AS by, ta, i2d, huge FROM m_all_types WHERE id = 2`,
    );
    expect(row2).toMatchObject({ i8: '-9223372036854775808', f4: '-inf', f8: '-1.7976931348623157e308', np: '-123456789012345678901234567.0123456789', m: '-92233720368547758.08', t: '', c: '     ', d: '1900-01-01', tstz: '1900-01-01 00:00:00.000000', iv: 'P-178000000Y', by: '', ta: [], i2d: [], huge: '' });
    const [row1] = await engine.json<Record<string, unknown>>('SELECT i2, t, tstz, ta, ia, tan, huge FROM m_all_types WHERE id = 1');
    expect(row1).toEqual({ i2: null, t: null, tstz: null, ta: [], ia: [], tan: [], huge: null });
    const offsets = await engine.json<{ id: number; tstz: string; ts: string }>('SELECT id, toString(tstz) AS tstz, toString(ts) AS ts FROM m_all_types WHERE id IN (4, 5, 6) ORDER BY id');
    expect(offsets).toEqual([
      { id: 4, tstz: '2024-03-31 00:30:00.000000', ts: '2024-03-31 02:30:00.000000' },
      { id: 5, tstz: '2024-06-01 06:30:00.000000', ts: '2024-06-01 12:00:00.500000' },
      { id: 6, tstz: '2000-01-01 07:59:59.999999', ts: '1999-12-31 23:59:59.999999' },
    ]);
    const described = await engine.json<{ name: string; type: string }>("SELECT name, type FROM system.columns WHERE database = 'default' AND table = 'm_all_types'");
    expect(Object.fromEntries(described.map((c) => [c.name, c.type]))).toMatchObject({ id: 'Int64', tstz: "Nullable(DateTime64(6, 'UTC'))", ta: 'Array(String)' });
  }, 60_000);
});
