// Exactness under failure: a proxy killed with SIGKILL mid-copy and resumed by a new proxy process on the same
// data, a PostgreSQL connection dropped mid-copy (retried on a new connection), and retries exhausted → failed →
// resumed. Every case ends with exact row counts, no duplicate key and matching aggregates on both sides.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { testConfig } from '../support/engine.js';
import { createEngine } from '../../src/clickhouse/create-engine.js';
import { migrationService, pgConfig, useTestSchema } from './support.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROWS = 240_000;
let admin: pg.Client;
let schema: string;
let expected: { n: string; s: string; nn: string; ts: string };

useTestSchema('mresume', (client, name) => ((admin = client), (schema = name)));

beforeAll(async () => {
  await admin.query(`
    SET search_path = ${schema};
    CREATE TABLE events (id bigint PRIMARY KEY, amount numeric(12, 2) NOT NULL, note text, at timestamptz NOT NULL, tags text[] NOT NULL);
    INSERT INTO events SELECT g, (g % 100000) / 100.0, CASE WHEN g % 7 = 0 THEN NULL ELSE 'note ' || g END,
      timestamptz '2024-01-01 00:00:00+00' + (g || ' seconds')::interval, ARRAY['t' || (g % 5)] FROM generate_series(1, ${ROWS}) g;
    CREATE TABLE heap (a int NOT NULL, b text);
    INSERT INTO heap SELECT g, repeat('x', g % 50) FROM generate_series(1, 150000) g;
    ANALYZE events; ANALYZE heap;
  `);
  const r = await admin.query(`SELECT count(*)::text AS n, trim_scale(sum(amount))::text AS s, count(note)::text AS nn, sum(extract(epoch FROM at) * 1000000)::numeric(40,0)::text AS ts FROM events`);
  expected = r.rows[0];
}, 60_000);

interface Proxy {
  child: ChildProcess;
  port: number;
  call(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; json: any }>;
}

function startProxy(dataDir: string): Promise<Proxy> {
  const pgc = pgConfig();
  const child = spawn(process.execPath, ['--import', path.join(here, 'fixtures', 'register.mjs'), path.join(here, 'fixtures', 'proxy.ts')], {
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CLICKHOUSE_|POSTGRES_|S3_|AWS_)/.test(k))),
      CHLAB_DATA_DIR: dataDir,
      CHLAB_NOTEBOOK_DIR: path.join(dataDir, 'notebooks'),
      CHLAB_TOKEN: 'kill-test-token',
      CHLAB_DEMO_POSTGRES: '0',
      CHLAB_S3_DEMO: '0',
      POSTGRES_HOST: pgc.host,
      POSTGRES_PORT: String(pgc.port),
      POSTGRES_USER: pgc.user,
      POSTGRES_PASSWORD: pgc.password,
      POSTGRES_DB: pgc.database,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start: ${stderr}`)), 60_000);
    child.on('exit', (code) => reject(new Error(`proxy exited with ${code}: ${stderr}`)));
    child.stdout!.on('data', (d: Buffer) => {
      const match = /LISTENING (\d+)/.exec(String(d));
      if (!match) return;
      clearTimeout(timer);
      const port = Number(match[1]);
      resolve({
        child,
        port,
        async call(method, url, body) {
          const response = await fetch(`http://127.0.0.1:${port}${url}`, {
            method,
            headers: { Authorization: 'token kill-test-token', 'Content-Type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          return { status: response.status, json: await response.json() };
        },
      });
    });
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

async function query(proxy: Proxy, sql: string): Promise<Record<string, unknown>[]> {
  const response = await proxy.call('POST', '/api/query/execute', { query: sql });
  if (response.status !== 200) throw new Error(JSON.stringify(response.json));
  return response.json.data;
}

async function expectExact(rows: () => Promise<Record<string, unknown>[]>, table: string) {
  const [row] = await rows();
  expect(row).toEqual({ n: expected.n, d: expected.n, s: expected.s, nn: expected.nn, ts: expected.ts });
  return table;
}

const exactSql = (table: string) =>
  `SELECT toString(count()) AS n, toString(uniqExact(id)) AS d, toString(sum(amount)) AS s, toString(count(note)) AS nn, toString(sum(toInt128(toUnixTimestamp64Micro(at)))) AS ts FROM ${table}`;

describe('resume after kill -9 of the proxy', () => {
  it('finishes the job in a new process with no duplicate and no lost row', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'chlab-kill-'));
    const t0 = Date.now();
    const mark = (what: string) => process.stderr.write(`[kill test] ${what} at ${Date.now() - t0} ms\n`);
    const first = await startProxy(dataDir);
    mark('first proxy up');
    let id: string;
    try {
      const started = await first.call('POST', '/api/migration/execute', {
        spec: `source: ${schema}.events\ntarget: killed_events\noptions:\n  batch_size: 4000\n  parallelism: 2\n`,
      });
      expect(started.status, JSON.stringify(started.json)).toBe(202);
      id = started.json.migration_id;
      // Wait until a good part is copied, then SIGKILL: no shutdown hook runs.
      for (let i = 0; i < 600; i++) {
        const status = await first.call('GET', `/api/migration/status/${id}`);
        const processed = status.json.progress?.processed_records ?? 0;
        if (status.json.status === 'completed') throw new Error('the migration finished before the kill: make it slower');
        if (processed >= ROWS * 0.25) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      mark('killing');
      first.child.kill('SIGKILL');
      await killed(first.child);
    } finally {
      first.child.kill('SIGKILL');
    }

    const second = await startProxy(dataDir);
    mark('second proxy up');
    try {
      const before = await second.call('GET', `/api/migration/status/${id!}`);
      expect(before.json).toMatchObject({ status: 'running', active: false });
      const partial = before.json.progress.processed_records;
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(ROWS);
      const [loaded] = await query(second, 'SELECT toString(count()) AS n FROM killed_events');
      expect(Number(loaded!.n)).toBeLessThan(ROWS);

      const resumed = await second.call('POST', `/api/migration/resume/${id!}`);
      expect(resumed.status, JSON.stringify(resumed.json)).toBe(202);
      let final: any;
      for (let i = 0; i < 600; i++) {
        final = (await second.call('GET', `/api/migration/status/${id!}`)).json;
        if (final.status === 'completed' || final.status === 'failed') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      if (final.status !== 'completed') {
        const ranges = await query(second, `SELECT range_id, toString(state) AS state, lo, hi, toString(rows) AS rows, toString(recorded_at) AS at FROM migration_ranges WHERE toString(migration_id) = '${id!}' ORDER BY range_id, state, recorded_at`);
        const actual = await query(second, 'SELECT intDiv(id - 1, 4000) AS bucket, toString(count()) AS n, toString(min(id)) AS lo, toString(max(id)) AS hi FROM killed_events GROUP BY bucket ORDER BY bucket');
        process.stderr.write(`[kill test] ranges ${JSON.stringify(ranges)}\n[kill test] data ${JSON.stringify(actual)}\n`);
      }
      expect(final.status, JSON.stringify(final)).toBe('completed');
      mark('resumed and completed');
      await expectExact(() => query(second, exactSql('killed_events')), 'killed_events');
      const details = (await second.call('GET', `/api/migration/history/${id!}`)).json;
      expect(details.validation.ok).toBe(true);
      expect(details.records_migrated).toBe(ROWS);
      const [again] = await query(second, `SELECT toString(count()) AS n FROM migration_history WHERE toString(id) = '${id!}'`);
      expect(again!.n).toBe('1');
    } finally {
      second.child.kill('SIGKILL');
      await killed(second.child);
    }
  }, 150_000);
});

describe('PostgreSQL connection drops', () => {
  const config = testConfig({ CHLAB_DEMO_POSTGRES: '0' });
  const engine = createEngine(config);
  const service = migrationService(engine);
  afterAll(async () => {
    await service.close();
    await engine.close();
  });

  // Only this file's copy workers (other test files migrate from the same server at the same time).
  const terminateWorkers = () =>
    admin.query(
      `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = 'chlab-migration' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`,
      [schema],
    );

  async function dropMidCopy(spec: string) {
    const { run } = await service.start(spec, { rerun: true });
    let dropped = 0;
    for (let i = 0; i < 2000 && dropped === 0; i++) {
      if (run.processed > 0 && run.status === 'running') dropped = Number((await terminateWorkers()).rows[0].n);
      else await new Promise((r) => setTimeout(r, 5));
    }
    expect(dropped).toBeGreaterThan(0);
    return run;
  }

  it('retries the ranges of a dropped COPY on a new connection and stays exact', async () => {
    const run = await dropMidCopy(`source: ${schema}.events\ntarget: dropped_events\noptions:\n  batch_size: 4000\n`);
    const summary = await run.done;
    expect(summary.error_message).toBeNull();
    expect(summary.validation!.ok).toBe(true);
    const [row] = await engine.json<Record<string, unknown>>(exactSql('dropped_events'));
    expect(row).toEqual({ n: expected.n, d: expected.n, s: expected.s, nn: expected.nn, ts: expected.ts });
  }, 120_000);

  it('settles when interrupted at any moment (before ClickHouse reads a range, midway, between ranges), and a resume is exact', async () => {
    for (const [i, delayMs] of [0, 1, 3, 8, 20, 60, 150].entries()) {
      const target = `interrupted_${i}`;
      const { run } = await service.start(`source: ${schema}.events\ntarget: ${target}\noptions:\n  batch_size: 20000\n`, { rerun: true });
      await new Promise((r) => setTimeout(r, delayMs));
      service.interrupt(run.id);
      const summary = await run.done;
      if (summary.status !== 'completed') expect(summary).toMatchObject({ status: 'failed', error_message: expect.stringMatching(/interrupted/) });
      const final = summary.status === 'completed' ? summary : await (await service.resume(run.id)).done;
      expect(final.error_message).toBeNull();
      expect(final.validation!.ok).toBe(true);
      const [row] = await engine.json<Record<string, unknown>>(exactSql(target));
      expect(row).toEqual({ n: expected.n, d: expected.n, s: expected.s, nn: expected.nn, ts: expected.ts });
    }
  }, 240_000);

  it('fails cleanly when retries run out, then a resume finishes it exactly (ctid ranges, no key)', async () => {
    const run = await dropMidCopy(`source: ${schema}.heap\ntarget: dropped_heap\noptions:\n  batch_size: 5000\n  retries: 0\n`);
    const summary = await run.done;
    expect(summary.status).toBe('failed');
    expect(summary.error_message).toMatch(/PostgreSQL: terminating connection|Connection terminated|connection/i);
    const record = await service.history.get(run.id);
    expect(record!.status).toBe('failed');
    const resumed = await service.resume(run.id);
    const final = await resumed.done;
    expect(final.error_message).toBeNull();
    expect(final.validation!.ok).toBe(true);
    const [row] = await engine.json<{ n: string; s: string; b: string }>('SELECT toString(count()) AS n, toString(sum(a)) AS s, toString(sum(length(b))) AS b FROM dropped_heap');
    const source = await admin.query(`SELECT count(*)::text AS n, sum(a)::text AS s, sum(length(b))::text AS b FROM ${schema}.heap`);
    expect(row).toEqual(source.rows[0]);
    const plan = await service.history.ranges(run.id);
    expect(plan.plan.kind).toBe('ctid');
  }, 120_000);
});
