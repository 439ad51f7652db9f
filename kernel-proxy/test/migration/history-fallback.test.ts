// On a server where lightweight UPDATE is unavailable (turned off in the profile: SUPPORT_IS_DISABLED; older than
// 25.7: a syntax error), migration_history records are updated with a synchronous mutation instead.
// (its own file: chDB opens one data directory per process)
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmbeddedEngine } from '../../src/clickhouse/embedded.js';
import { baseSettings } from '../../src/clickhouse/engine.js';
import { MigrationHistory } from '../../src/migration/history.js';

describe('migration_history updates without lightweight UPDATE', () => {
  it('falls back to a synchronous mutation on a server where lightweight updates are turned off', async () => {
    const restricted = new EmbeddedEngine(path.join(mkdtempSync(path.join(tmpdir(), 'chlab-lwu-off-')), 'chdb'), { ...baseSettings(0), enable_lightweight_update: 0 });
    try {
      const history = new MigrationHistory(restricted);
      const id = randomUUID();
      await history.insert({ id, source: 'default', destination: 'default.t', source_table: 'public.t', deskripsi: 'kept', tabel_fields: ['a'], field_mappings: '[]', status: 'pending', created_by: 'analyst', metadata: '{}', total_records: 5, spec_key: id, started_at: new Date() });
      await history.update(id, { status: 'running', metadata: '{"version":2}' });
      expect(await history.get(id)).toMatchObject({ status: 'running', metadata: '{"version":2}', deskripsi: 'kept' });
      await history.update(id, { status: 'completed', records_migrated: 5, validation_ok: true, finished_at: new Date() });
      expect(await history.get(id)).toMatchObject({ status: 'completed', records_migrated: 5, validation_ok: true, metadata: '{"version":2}', deskripsi: 'kept' });
      const done = await restricted.json<{ n: string | number; pending: string | number }>("SELECT count() AS n, countIf(NOT is_done) AS pending FROM system.mutations WHERE table = 'migration_history'");
      expect(Number(done[0]!.n)).toBe(2);
      expect(Number(done[0]!.pending)).toBe(0);
      const rows = await restricted.json<{ n: string | number }>('SELECT count() AS n FROM migration_history');
      expect(Number(rows[0]!.n)).toBe(1);
    } finally {
      await restricted.close();
    }
  });
});
