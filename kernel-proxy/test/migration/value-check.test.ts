// The value check: before loading, one scan reports every row whose value would not fit the mapping, with
// examples; a run with problems loads nothing; fixing the mapping lets it through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { testConfig } from '../support/engine.js';
import { createEngine } from '../../src/clickhouse/create-engine.js';
import { migrationService, runToEnd, useTestSchema } from './support.js';

const config = testConfig();
const engine = createEngine(config);
const service = migrationService(engine);
let admin: pg.Client;
let schema: string;

useTestSchema('mcheck', (client, name) => ((admin = client), (schema = name)));

beforeAll(async () => {
  await admin.query(`
    SET search_path = ${schema};
    CREATE TABLE risky (
      id integer PRIMARY KEY,
      n numeric,
      nb numeric(10, 2),
      d date,
      ts timestamptz,
      nn text,
      arr integer[],
      code text,
      big bigint,
      f float8
    );
    INSERT INTO risky VALUES
      (1, 1.5, 1.50, '2024-01-01', '2024-01-01 00:00:00+00', 'a', '{1,2}', 'abc', 1, 1.5),
      (2, 1e30, 'NaN', '1800-01-01', '2500-01-01 00:00:00+00', NULL, '{1,NULL}', 'abcd', 3000000000, 'NaN'),
      (3, 1.123456789012, 2.00, 'infinity', '1899-12-31 23:59:59+00', 'c', '{{1,2},{3,4}}', 'ab', -1, 2),
      (4, 'NaN', 3.00, '2299-12-31', '2299-12-31 23:59:59+00', 'd', NULL, NULL, 2, 3);
  `);
}, 60_000);

afterAll(async () => {
  await service.close();
  await engine.close();
});

const spec = (columns: string) => `source: ${schema}.risky\ntarget: m_risky\ncolumns:\n${columns}`;
const RISKY = () => spec(`  nn: { nulls: fail }\n  code: { type: "FixedString(3)" }\n  big: { type: Int32 }\n  f: { type: "Decimal(10, 2)" }\n`);

describe('value check', () => {
  it('reports every value that would not fit, with counts and examples', async () => {
    const plan = await service.plan(RISKY());
    const problems = plan.value_check!.problems.map((p) => ({ column: p.column, kind: p.kind, count: p.count, ids: p.examples.map((e) => e.row.id).sort() }));
    expect(plan.value_check!.checked_rows).toBe(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        { column: 'n', kind: 'not_a_number', count: 1, ids: ['4'] },
        { column: 'n', kind: 'numeric_overflow', count: 1, ids: ['2'] },
        { column: 'n', kind: 'scale_loss', count: 1, ids: ['3'] },
        { column: 'nb', kind: 'not_a_number', count: 1, ids: ['2'] },
        { column: 'd', kind: 'date_out_of_range', count: 2, ids: ['2', '3'] },
        { column: 'ts', kind: 'date_out_of_range', count: 2, ids: ['2', '3'] },
        { column: 'nn', kind: 'null_into_non_nullable', count: 1, ids: ['2'] },
        { column: 'arr', kind: 'null_element', count: 1, ids: ['2'] },
        { column: 'arr', kind: 'array_dimensions', count: 1, ids: ['3'] },
        { column: 'arr', kind: 'null_into_non_nullable', count: 1, ids: ['4'] },
        { column: 'code', kind: 'too_long', count: 1, ids: ['2'] },
        { column: 'big', kind: 'integer_overflow', count: 1, ids: ['2'] },
        { column: 'f', kind: 'not_a_number', count: 1, ids: ['2'] },
      ]),
    );
    const d = plan.value_check!.problems.find((p) => p.column === 'd')!;
    expect(d.examples.map((e) => e.value).sort()).toEqual(['1800-01-01', 'infinity']);
    expect(d.description).toMatch(/1900-01-01 … 2299-12-31/);
  });

  it('refuses to load anything while problems remain', async () => {
    const summary = await runToEnd(service, RISKY());
    expect(summary.status).toBe('failed');
    expect(summary.error_message).toMatch(/would not fit: .*n: 1 row NaN/);
    expect(summary.value_check!.problems.length).toBeGreaterThan(5);
    const tables = await engine.json("SELECT name FROM system.tables WHERE database = 'default' AND name = 'm_risky'");
    expect(tables).toEqual([]);
  });

  it('lets a fixed mapping through: skip, nulls default, wider types, a transform', async () => {
    const fixed = spec(
      [
        '  n: { type: String }',
        '  nb: { type: Float64 }',
        '  d: { type: String }',
        '  ts: { skip: true }',
        '  nn: { nulls: default }',
        '  arr: { skip: true }',
        '  big: { type: Int64 }',
        '  f: { type: Float64 }',
        '  code: { transform: "upper(code)" }',
        '',
      ].join('\n'),
    );
    const plan = await service.plan(fixed);
    expect(plan.value_check!.problems).toEqual([]);
    expect(plan.value_check!.skipped).toEqual([{ column: 'code', reason: expect.stringMatching(/transformed/) }]);
    const summary = await runToEnd(service, fixed);
    expect(summary.error_message).toBeNull();
    expect(summary.validation!.ok).toBe(true);
    const rows = await engine.json<{ id: number; n: string; nn: string; d: string; nb: number | string; code: string | null }>('SELECT id, n, nn, d, toString(nb) AS nb, code FROM m_risky ORDER BY id');
    expect(rows.map((r) => r.nb)).toEqual(['1.5', 'nan', '2', '3']);
    expect(rows.map((r) => r.code)).toEqual(['ABC', 'ABCD', 'AB', null]);
    expect(rows.map((r) => r.n)).toEqual(['1.5', '1000000000000000000000000000000', '1.123456789012', 'NaN']);
    expect(rows.map((r) => r.nn)).toEqual(['a', '', 'c', 'd']);
    expect(rows.map((r) => r.d)).toEqual(['2024-01-01', '1800-01-01', 'infinity', '2299-12-31']);
  });
});
