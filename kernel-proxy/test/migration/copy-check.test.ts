// The value check during a run: values are checked as they stream (one more COPY column computed by PostgreSQL,
// refused by ClickHouse per range), not by a separate scan before loading. A value that does not fit fails its
// range as a whole with the value check's examples; nothing half-loaded stays; a resume after fixing the source
// finishes exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { testConfig } from '../support/engine.js';
import { createEngine } from '../../src/clickhouse/create-engine.js';
import { rowCheckExpression } from '../../src/migration/value-check.js';
import { migrationService, useTestSchema } from './support.js';

const config = testConfig();
const engine = createEngine(config);
const service = migrationService(engine);
let admin: pg.Client;
let schema: string;

useTestSchema('mcopychk', (client, name) => ((admin = client), (schema = name)));

beforeAll(async () => {
  for (const table of ['kept', 'fresh', 'bad']) {
    await admin.query(`
      CREATE TABLE ${schema}.${table} (id integer PRIMARY KEY, amount numeric(10, 2) NOT NULL, tags text[] NOT NULL);
      INSERT INTO ${schema}.${table} SELECT g, g / 100.0, ARRAY['t' || g] FROM generate_series(1, 300) AS g;
      UPDATE ${schema}.${table} SET amount = 'NaN' WHERE id = 250;
      UPDATE ${schema}.${table} SET tags = ARRAY['x', NULL] WHERE id = 260;
    `);
  }
}, 60_000);

afterAll(async () => {
  await service.close();
  await engine.close();
});

// Three key ranges ([…, 101), [101, 201), [201, …)) copied one after the other: the bad rows are in the last.
const spec = (table: string) => `source: ${schema}.${table}\ntarget: m_copychk_${table}\noptions: { batch_size: 100, parallelism: 1 }\n`;

async function count(table: string): Promise<{ n: number; ids: number; max: number }> {
  const [row] = await engine.json<{ n: string; ids: string; max: string }>(`SELECT toString(count()) AS n, toString(uniqExact(id)) AS ids, toString(max(id)) AS max FROM default.${table}`);
  return { n: Number(row!.n), ids: Number(row!.ids), max: Number(row!.max) };
}

describe('value check during the copy', () => {
  it('is one boolean per row for the COPY, null when nothing needs a check', async () => {
    const plan = await service.plan(spec('kept'), { valueCheck: false });
    const check = rowCheckExpression(plan.source, plan.mappings)!;
    expect(check).toMatch(/^coalesce\(/);
    expect(check).toContain('array_position("tags", NULL)');
    const one = await admin.query<{ bad: boolean }>(`SELECT ${check} AS bad FROM ${schema}.kept WHERE id IN (1, 250, 260) ORDER BY id`);
    expect(one.rows.map((r) => r.bad)).toEqual([false, true, true]);
    const skipped = plan.mappings.map((m) => (m.source_field === 'id' ? m : { ...m, skip: true }));
    expect(rowCheckExpression(plan.source, skipped)).toBeNull();
  });

  it('scans before loading into an existing target (nothing loaded on a problem), and a resume after fixing checks during the copy', async () => {
    const plan = await service.plan(spec('kept'));
    // The analysis shows the problems before anything is loaded.
    expect(plan.value_check!.problems.map((p) => p.kind).sort()).toEqual(['not_a_number', 'null_element']);
    await engine.command(plan.ddl);
    const { run } = await service.start(spec('kept'), { rerun: true });
    const failed = await run.done;
    expect(failed.status).toBe('failed');
    expect(failed.error_message).toMatch(/2 value\(s\) would not fit: amount: 1 row NaN .*\(e\.g\. NaN\); tags: 1 row array with a NULL element/);
    expect(failed.error_message).toMatch(/Nothing was loaded/);
    expect(failed.phases_ms.copy).toBeUndefined();
    expect(failed.value_check!.problems.find((p) => p.kind === 'not_a_number')!.examples).toEqual([{ row: { id: '250' }, value: 'NaN' }]);
    expect(await count('m_copychk_kept')).toEqual({ n: 0, ids: 0, max: 0 });

    await admin.query(`UPDATE ${schema}.kept SET amount = 2.50 WHERE id = 250; UPDATE ${schema}.kept SET tags = ARRAY['x'] WHERE id = 260`);
    const resumed = await service.resume(failed.migration_id);
    const done = await resumed.done;
    expect(done.error_message).toBeNull();
    expect(done.status).toBe('completed');
    expect(done.validation!.ok).toBe(true);
    expect(done.value_check).toMatchObject({ during_copy: true, problems: [], checked_rows: 300 });
    expect(await count('m_copychk_kept')).toEqual({ n: 300, ids: 300, max: 300 });
  });

  it('drops a target the run created (nothing stays) and a resume after fixing loads every range', async () => {
    const { run } = await service.start(spec('fresh'), { rerun: true });
    const failed = await run.done;
    expect(failed.status).toBe('failed');
    expect(failed.error_message).toMatch(/would not fit: .*nothing was loaded/);
    expect(await engine.json("SELECT name FROM system.tables WHERE database = 'default' AND name = 'm_copychk_fresh'")).toEqual([]);
    const { done } = await service.history.ranges(failed.migration_id);
    expect(done.size).toBe(0);

    await admin.query(`UPDATE ${schema}.fresh SET amount = 2.50 WHERE id = 250; UPDATE ${schema}.fresh SET tags = ARRAY['x'] WHERE id = 260`);
    const summary = await (await service.resume(failed.migration_id)).done;
    expect(summary.error_message).toBeNull();
    expect(summary.validation!.ok).toBe(true);
    expect(await count('m_copychk_fresh')).toEqual({ n: 300, ids: 300, max: 300 });
  });

  it('scans before loading whenever the target holds rows: append, replace and truncate leave them untouched', async () => {
    await engine.command('CREATE TABLE default.m_copychk_old (id Int32, amount Decimal(10, 2), tags Array(String)) ENGINE = MergeTree ORDER BY id');
    await engine.command("INSERT INTO default.m_copychk_old VALUES (7, 1.5, ['a'])");
    for (const mode of ['append', 'replace', 'truncate']) {
      const summary = (await service.start(`source: ${schema}.bad\ntarget: m_copychk_old\noptions: { on_existing_rows: ${mode} }\n`, { rerun: true })).run.done;
      const failed = await summary;
      expect(failed.status).toBe('failed');
      expect(failed.error_message).toMatch(/would not fit: .*Nothing was loaded/);
      expect(failed.phases_ms.copy).toBeUndefined();
      // The target was neither dropped nor emptied.
      expect(await engine.json<{ id: number }>('SELECT id FROM default.m_copychk_old')).toEqual([{ id: 7 }]);
      expect(failed.value_check!.during_copy).toBeUndefined();
    }
  });
});
