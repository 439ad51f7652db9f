// Named PostgreSQL sources from CHLAB_POSTGRES_CONNECTIONS: passwords come from the environment (`${VAR}`), a
// migration names its source with `connection:`, and no password reaches an answer.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server.js';
import { loadPostgresConnections } from '../../src/postgres/connections-file.js';
import { silentLogger, testConfig } from '../support/engine.js';
import { pgConfig, useTestSchema } from './support.js';

const source = pgConfig();
const config = testConfig({ CHLAB_DEMO_POSTGRES: '0', CHLAB_S3_DEMO: '0' });
const file = path.join(config.dataDir, 'postgres.json');
let admin: pg.Client;
let schema: string;

useTestSchema('mconn', (client, name) => ((admin = client), (schema = name)));

beforeAll(async () => {
  await admin.query(`CREATE TABLE ${schema}.orders (id integer PRIMARY KEY, total numeric(10, 2)); INSERT INTO ${schema}.orders SELECT g, g FROM generate_series(1, 1000) g`);
  writeFileSync(file, JSON.stringify({ connections: { warehouse: { host: source.host, port: source.port, user: source.user, password: '${CHLAB_TEST_PG_PASSWORD}', database: source.database } } }));
}, 60_000);

describe('CHLAB_POSTGRES_CONNECTIONS', () => {
  it('reads named sources, passwords from the environment, and says clearly what is wrong', () => {
    expect(loadPostgresConnections(file, { CHLAB_TEST_PG_PASSWORD: 'pw' })).toEqual({ warehouse: { ...source, password: 'pw' } });
    expect(() => loadPostgresConnections(file, {})).toThrow(/CHLAB_POSTGRES_CONNECTIONS warehouse: environment variable CHLAB_TEST_PG_PASSWORD is not set/);
    const bad = path.join(config.dataDir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ connections: { 'Bad-Name': { host: 'h', user: 'u', database: 'd' } } }));
    expect(() => loadPostgresConnections(bad, {})).toThrow(/connections\.Bad-Name: connection names/);
  });

  it('migrates from a named source over REST, with no password in any answer', async () => {
    process.env.CHLAB_TEST_PG_PASSWORD = source.password;
    const { app } = await buildServer({ config: { ...config, postgresConnectionsFile: file }, logger: silentLogger });
    try {
      const headers = { authorization: `token ${config.token}` };
      const analyzed = await app.inject({ method: 'POST', url: '/api/migration/analyze-source', headers, payload: { schema, table: 'orders', connection: 'warehouse' } });
      expect(analyzed.statusCode).toBe(200);
      expect(analyzed.json()).toMatchObject({ row_count: 1000 });
      const started = await app.inject({ method: 'POST', url: '/api/migration/execute', headers, payload: { spec: `source: ${schema}.orders\ntarget: m_conn_orders\nconnection: warehouse\n` } });
      expect(started.statusCode).toBe(202);
      const id = (started.json() as { migration_id: string }).migration_id;
      await expect.poll(async () => (await app.inject({ method: 'GET', url: `/api/migration/status/${id}`, headers })).json().status, { timeout: 60_000, interval: 200 }).toBe('completed');
      const count = await app.inject({ method: 'POST', url: '/api/query/execute', headers, payload: { query: 'SELECT count() AS n FROM m_conn_orders' } });
      expect(count.json()).toMatchObject({ data: [{ n: 1000 }] });
      const unknown = await app.inject({ method: 'POST', url: '/api/migration/analyze-source', headers, payload: { schema, table: 'orders', connection: 'nope' } });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().error.message).toMatch(/unknown PostgreSQL connection "nope" \(known: warehouse\)/);
      const history = await app.inject({ method: 'GET', url: `/api/migration/history/${id}`, headers });
      for (const body of [analyzed.body, started.body, history.body, unknown.body]) {
        if (source.password) expect(body).not.toContain(source.password);
      }
    } finally {
      delete process.env.CHLAB_TEST_PG_PASSWORD;
      await app.close();
    }
  }, 120_000);
});
