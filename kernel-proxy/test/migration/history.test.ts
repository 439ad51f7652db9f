// migration_history records are updated in place without mutations (lightweight UPDATE), including on a table an
// older chlab or another client created with SPEC §3's DDL alone, and each update is visible on return.
import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { testConfig } from '../support/engine.js';
import { createEngine } from '../../src/clickhouse/create-engine.js';
import { HISTORY_DDL, MigrationHistory } from '../../src/migration/history.js';

const engine = createEngine(testConfig());

afterAll(async () => {
  await engine.close();
});

const mutations = async () => (await engine.json<{ n: string | number }>("SELECT count() AS n FROM system.mutations WHERE table = 'migration_history'"))[0]!.n;

describe('migration_history updates', () => {
  it('takes over a table created with the SPEC DDL alone, keeps its rows, and updates them without a mutation', async () => {
    await engine.command(HISTORY_DDL);
    const old = randomUUID();
    await engine.command(
      `INSERT INTO migration_history (id, source, destination, source_table, deskripsi, tabel_fields, field_mappings, status, records_migrated, error_message, duration_seconds, created_by, metadata)
       VALUES ({id:UUID}, 'default', 'default.t', 'public.t', 'from another client', ['a'], '[]', 'running', 0, NULL, 0, 'someone', '{}')`,
      { params: { id: old } },
    );
    const history = new MigrationHistory(engine);
    await history.ensureTables();
    const [table] = await engine.json<{ query: string }>("SELECT create_table_query AS query FROM system.tables WHERE database = currentDatabase() AND name = 'migration_history'");
    expect(table!.query).toMatch(/enable_block_number_column = 1/);
    expect(table!.query).toMatch(/ORDER BY \(migration_time, id\)/);

    await history.update(old, { status: 'failed', error_message: 'interrupted', records_migrated: 42, duration_seconds: 7 });
    const [row] = await engine.json<Record<string, unknown>>(`SELECT toString(status) AS status, error_message, records_migrated, duration_seconds, deskripsi, created_by FROM migration_history WHERE id = {id:UUID}`, { params: { id: old } });
    expect(row).toEqual({ status: 'failed', error_message: 'interrupted', records_migrated: 42, duration_seconds: 7, deskripsi: 'from another client', created_by: 'someone' });
    expect(Number(await mutations())).toBe(0);
  });

  it('shows every update at once, one row per migration', async () => {
    const history = new MigrationHistory(engine);
    const ids = Array.from({ length: 12 }, () => randomUUID());
    for (const id of ids) {
      await history.insert({ id, source: 'default', destination: 'default.t', source_table: 'public.t', deskripsi: '', tabel_fields: [], field_mappings: '[]', status: 'pending', created_by: 'analyst', metadata: '{}', total_records: 10, spec_key: id, started_at: new Date() });
      await history.update(id, { status: 'running', metadata: '{"version":1}' });
      expect((await history.get(id))!.status).toBe('running');
      await history.update(id, { status: 'completed', records_migrated: 10, validation_ok: true, finished_at: new Date() });
      expect(await history.get(id)).toMatchObject({ status: 'completed', records_migrated: 10, metadata: '{"version":1}', validation_ok: true });
    }
    const rows = await engine.json<{ n: string | number }>(`SELECT count() AS n FROM migration_history WHERE has({ids:Array(UUID)}, id) AND status = 'completed'`, { params: { ids } });
    expect(Number(rows[0]!.n)).toBe(ids.length);
    expect(Number(await mutations())).toBe(0);
  });
});
