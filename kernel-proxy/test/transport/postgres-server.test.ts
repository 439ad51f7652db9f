// Smoke test of the shared throwaway PostgreSQL from tests/setup/global.ts (tests/support/postgres-server.ts),
// through npm `pg`: password auth over TCP, the url form, a table.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedPostgres, hasSharedPostgres } from '../../../tests/support/services.js';

if (!hasSharedPostgres()) it.skip('shared PostgreSQL: skipped, CHLAB_TEST_SERVICES=none', () => undefined);

describe.skipIf(!hasSharedPostgres())('shared PostgreSQL test cluster', () => {
  let info: ReturnType<typeof sharedPostgres>;
  let client: pg.Client;
  const schema = `t_smoke_${process.pid}`;

  beforeAll(async () => {
    info = sharedPostgres();
    client = new pg.Client({ host: info.host, port: info.port, user: info.user, password: info.password, database: info.database });
    await client.connect();
  });
  afterAll(async () => {
    await client?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await client?.end();
  });

  it('is PostgreSQL 15 on loopback with database chlab_test', async () => {
    expect(info.host).toBe('127.0.0.1');
    expect(info.database).toBe('chlab_test');
    expect(info.version).toMatch(/^15\./);
    const r = await client.query('SELECT current_database() AS db, current_user AS u, current_setting($1) AS tz', ['TimeZone']);
    expect(r.rows[0]).toEqual({ db: 'chlab_test', u: info.user, tz: 'UTC' });
  });

  it('rejects a wrong password', async () => {
    const bad = new pg.Client({ host: info.host, port: info.port, user: info.user, password: 'wrong', database: info.database });
    await expect(bad.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('connects with the url too and creates and fills a table', async () => {
    const c = new pg.Client({ connectionString: info.url });
    await c.connect();
    try {
      await c.query(`CREATE SCHEMA ${schema}`);
      await c.query(`CREATE TABLE ${schema}.t (id int PRIMARY KEY, name text, at timestamptz)`);
      await c.query(`INSERT INTO ${schema}.t SELECT g, 'n' || g, '2020-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 1000) g`);
      await c.query(`UPDATE ${schema}.t SET name = NULL WHERE id = 1`);
      const r = await c.query(`SELECT count(*)::int AS n, count(name)::int AS named FROM ${schema}.t`);
      expect(r.rows[0]).toEqual({ n: 1000, named: 999 });
    } finally {
      await c.end();
    }
  });
});
