// Load on loopback: 50 kernels, each on its own WebSocket running a handful of small queries whose results are
// checked value by value, while another kernel streams a 2,000,000-row result through the chlab.results comm and a
// PostgreSQL → ClickHouse migration runs over REST. Asserts behaviour only (no errors, every result right, the
// migration exact); the latency percentiles are printed, not asserted — `npm run bench -- load` measures them
// against a one-kernel baseline. The scenario itself is kernel-proxy/src/bench/load.ts, shared with the bench.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/server.js';
import type { Config } from '../../src/config.js';
import { quantile, runLoadScenario } from '../../src/bench/load.js';
import { silentLogger, testConfig } from '../support/engine.js';
import { pgConfig, useTestSchema } from '../migration/support.js';

const KERNELS = 50;
const QUERIES_PER_KERNEL = 5;
const BIG_ROWS = 2_000_000;
const MIGRATION_ROWS = 100_000;

let config: Config;
let app: FastifyInstance;
let baseUrl: string;
let admin: pg.Client;
let schema: string;

useTestSchema('load', (pgAdmin, name) => ((admin = pgAdmin), (schema = name)));

beforeAll(async () => {
  await admin.query(`
    SET search_path = ${schema};
    CREATE TABLE orders (id bigint PRIMARY KEY, customer int NOT NULL, amount numeric(12, 2) NOT NULL, note text);
    INSERT INTO orders SELECT g, g % 997, (g % 50000) / 100.0, CASE WHEN g % 5 = 0 THEN NULL ELSE 'order ' || g END FROM generate_series(1, ${MIGRATION_ROWS}) g;
    ANALYZE orders;
  `);
  const pgc = pgConfig();
  config = testConfig({
    CHLAB_DEMO_POSTGRES: '0',
    CHLAB_S3_DEMO: '0',
    CHLAB_MAX_RESULT_ROWS: String(BIG_ROWS * 2),
    CHLAB_MAX_RESULT_BYTES: String(1024 ** 3),
    POSTGRES_HOST: pgc.host,
    POSTGRES_PORT: String(pgc.port),
    POSTGRES_USER: pgc.user,
    POSTGRES_PASSWORD: pgc.password,
    POSTGRES_DB: pgc.database,
  });
  ({ app } = await buildServer({ config, logger: silentLogger }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}, 120_000);

afterAll(async () => {
  await app?.close();
});

describe('load on loopback', () => {
  it(`${KERNELS} kernels × ${QUERIES_PER_KERNEL} small queries beside a ${BIG_ROWS.toLocaleString('en-US')}-row result and a migration: no error, every result right`, async () => {
    const outcome = await runLoadScenario({
      baseUrl,
      token: config.token,
      kernels: KERNELS,
      queriesPerKernel: QUERIES_PER_KERNEL,
      bigRows: BIG_ROWS,
      migration: { spec: `source: ${schema}.orders\ntarget: load_orders\noptions:\n  batch_size: 10000\n`, target: 'load_orders', expectedRows: MIGRATION_ROWS, key: 'id' },
    });
    const p50 = quantile(outcome.latencies, 0.5);
    const p99 = quantile(outcome.latencies, 0.99);
    console.log(
      `load: ${KERNELS} kernels × ${QUERIES_PER_KERNEL} small queries: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (p99/p50 ${(p99 / p50).toFixed(1)}), ` +
        `errors ${outcome.errors.length}; large result ${outcome.big?.rows} rows in ${outcome.big?.batches} batches, ${((outcome.big?.ms ?? 0) / 1000).toFixed(1)} s; ` +
        `migration ${outcome.migration?.records} rows ${outcome.migration?.status} in ${((outcome.migration?.ms ?? 0) / 1000).toFixed(1)} s; wall ${(outcome.wallMs / 1000).toFixed(1)} s`,
    );

    expect(outcome.errors.slice(0, 20), `${outcome.errors.length} errors`).toEqual([]);
    expect(outcome.latencies).toHaveLength(KERNELS * QUERIES_PER_KERNEL);
    expect(outcome.big).toMatchObject({ rows: BIG_ROWS });
    expect(outcome.migration).toMatchObject({ status: 'completed', records: MIGRATION_ROWS, loadedRows: MIGRATION_ROWS, validationOk: true });

    // The migrated table matches its source exactly, not only in count.
    const [loaded] = await app.chlab.engine.json<Record<string, string>>(
      'SELECT toString(count()) AS n, toString(sum(customer)) AS c, toString(sum(amount)) AS s, toString(count(note)) AS nn FROM load_orders',
    );
    const source = (await admin.query(`SELECT count(*)::text AS n, sum(customer)::text AS c, trim_scale(sum(amount))::text AS s, count(note)::text AS nn FROM ${schema}.orders`)).rows[0];
    expect(loaded).toEqual(source);

    // Every kernel is gone again and the server still answers.
    const kernels = (await (await fetch(`${baseUrl}/api/kernels`, { headers: { Authorization: `token ${config.token}` } })).json()) as unknown[];
    expect(kernels).toHaveLength(0);
    const health = await fetch(`${baseUrl}/api/query/health`, { headers: { Authorization: `token ${config.token}` } });
    expect(health.status).toBe(200);
  }, 300_000);
});
