// REST /api/migration/* (SPEC §4) driving the same engine as the cell: analyze, suggest, execute, status,
// history with filters, details; bad input and injection attempts get a clear 4xx; no credential in any answer.
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { testConfig, silentLogger } from '../support/engine.js';
import { createEngine } from '../../src/clickhouse/create-engine.js';
import { migrationApiPlugin } from '../../src/api/migration.js';
import { migrationService, pgConfig, useTestSchema } from './support.js';

const config = testConfig();
const engine = createEngine(config);
const service = migrationService(engine);
const app = Fastify({ loggerInstance: silentLogger });
let admin: pg.Client;
let schema: string;
const PASSWORD = pgConfig().password;
const bodies: string[] = [];

async function call(method: 'GET' | 'POST', url: string, payload?: unknown) {
  const response = await app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
  bodies.push(response.body);
  return response;
}

async function waitDone(id: string) {
  for (let i = 0; i < 300; i++) {
    const status = (await call('GET', `/api/migration/status/${id}`)).json();
    if (status.status === 'completed' || status.status === 'failed') return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('migration did not finish');
}

useTestSchema('mrest', (client, name) => ((admin = client), (schema = name)));

beforeAll(async () => {
  await app.register(migrationApiPlugin, { service });
  await admin.query(`
    SET search_path = ${schema};
    CREATE TABLE customers (id integer PRIMARY KEY, email text, plan text NOT NULL, balance numeric(10, 2), joined date NOT NULL);
    INSERT INTO customers SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'User' || g || '@Example.com' END, 'p' || (g % 4), g / 7.0, date '2024-01-01' + g % 365
      FROM generate_series(1, 20000) g;
    CREATE TABLE victim (x int);
    ANALYZE customers;
  `);
}, 60_000);

afterAll(async () => {
  await service.close();
  await app.close();
  await engine.close();
});

describe('REST /api/migration', () => {
  it('analyzes a source table', async () => {
    const response = await call('POST', '/api/migration/analyze-source', { schema, table: 'customers' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ table: 'customers', row_count: 20000, row_count_exact: true, primary_key: ['id'] });
    expect(body.estimated_size_mb).toBeGreaterThan(0);
    expect(body.columns.map((c: { name: string; type: string; nullable: boolean; primary_key: boolean }) => [c.name, c.type, c.nullable, c.primary_key])).toEqual([
      ['id', 'integer', false, true],
      ['email', 'text', true, false],
      ['plan', 'text', false, false],
      ['balance', 'numeric(10,2)', true, false],
      ['joined', 'date', false, false],
    ]);
  });

  it('suggests a mapping and DDL from an analysis', async () => {
    const analysis = (await call('POST', '/api/migration/analyze-source', { schema, table: 'customers' })).json();
    const response = await call('POST', '/api/migration/suggest-mapping', { source_schema: analysis, destination_table: 'rest_customers' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.suggested_ddl).toContain('CREATE TABLE IF NOT EXISTS `default`.`rest_customers`');
    expect(body.suggested_ddl).toContain('`balance` Nullable(Decimal(10, 2))');
    expect(body.mappings[1]).toMatchObject({ source_field: 'email', source_type: 'text', destination_field: 'email', destination_type: 'Nullable(String)', transformation: null, nulls: 'nullable' });
    expect(Array.isArray(body.warnings)).toBe(true);
  });

  it('executes, reports status and records the migration in migration_history', async () => {
    const response = await call('POST', '/api/migration/execute', {
      source_schema: schema,
      source_table: 'customers',
      destination_table: 'rest_customers',
      mappings: [{ source_field: 'email', destination_field: 'user_email', transformation: 'lower(email)' }, { source_field: 'plan', destination_type: 'LowCardinality(String)' }],
      create_table: true,
      batch_size: 5000,
      description: 'REST copy',
    });
    expect(response.statusCode).toBe(202);
    const { migration_id: id, status } = response.json();
    expect(status).toBe('running');
    const done = await waitDone(id);
    expect(done, JSON.stringify(done)).toMatchObject({ id, status: 'completed', progress: { total_records: 20000, processed_records: 20000, percentage: 100 } });
    const [row] = await engine.json<Record<string, unknown>>(
      `SELECT toString(id) AS id, source, destination, source_table, deskripsi, tabel_fields, field_mappings, toString(status) AS status, records_migrated,
              error_message, duration_seconds, created_by, metadata FROM migration_history WHERE toString(id) = '${id}'`,
    );
    expect(row).toMatchObject({ id, destination: 'default.rest_customers', source_table: `${schema}.customers`, deskripsi: 'REST copy', status: 'completed', records_migrated: 20000, error_message: null, created_by: 'analyst' });
    expect(row!.tabel_fields).toEqual(['id', 'email', 'plan', 'balance', 'joined']);
    expect(JSON.parse(row!.field_mappings as string)[1]).toMatchObject({ source_field: 'email', destination_field: 'user_email', transformation: 'lower(email)' });
    expect(JSON.parse(row!.metadata as string).validation.ok).toBe(true);
    const emails = await engine.json<{ e: string }>("SELECT user_email AS e FROM rest_customers WHERE id = 1");
    expect(emails).toEqual([{ e: 'user1@example.com' }]);
    const ranges = await engine.json<{ n: string }>(`SELECT toString(countIf(state = 'done')) AS n FROM migration_ranges WHERE toString(migration_id) = '${id}'`);
    expect(Number(ranges[0]!.n)).toBeGreaterThanOrEqual(4);

    const details = (await call('GET', `/api/migration/history/${id}`)).json();
    expect(details).toMatchObject({ id, status: 'completed', validation: { ok: true, row_count: { source: 20000, destination: 20000 } } });
    expect(details.spec_yaml).toContain(`source: ${schema}.customers`);
    expect(details.ddl).toContain('`user_email` Nullable(String)');
  });

  it('lists history with filters, search and sorting', async () => {
    const failing = await call('POST', '/api/migration/execute', { source_schema: schema, source_table: 'customers', destination_table: 'rest_fail', mappings: [{ source_field: 'balance', destination_type: 'Decimal(3, 2)' }] });
    await waitDone(failing.json().migration_id);
    const all = (await call('GET', '/api/migration/history?limit=10')).json();
    expect(all.total).toBeGreaterThanOrEqual(2);
    expect(all.migrations[0].started_at >= all.migrations[1].started_at).toBe(true);
    const failed = (await call('GET', '/api/migration/history?status=failed')).json();
    expect(failed.migrations.every((m: { status: string }) => m.status === 'failed')).toBe(true);
    expect(failed.migrations[0].error_message).toMatch(/balance: .*more than 1 digits before the decimal point/);
    const search = (await call('GET', '/api/migration/history?search=REST%20copy')).json();
    expect(search.migrations.map((m: { deskripsi: string }) => m.deskripsi)).toEqual(['REST copy']);
    const sorted = (await call('GET', '/api/migration/history?sort=records_migrated&order=asc')).json();
    expect(sorted.migrations[0].records_migrated).toBeLessThanOrEqual(sorted.migrations[sorted.migrations.length - 1].records_migrated);
    const today = new Date().toISOString().slice(0, 10);
    expect((await call('GET', `/api/migration/history?from=${today}`)).json().total).toBe(all.total);
    expect((await call('GET', '/api/migration/history?to=2000-01-01')).json().total).toBe(0);
    expect((await call('GET', '/api/migration/history?status=done')).statusCode).toBe(400);
    expect((await call('GET', '/api/migration/history?sort=id;DROP')).statusCode).toBe(400);
  });

  it('rejects bad input, unknown tables and injection attempts with clear errors', async () => {
    const expectError = async (method: 'GET' | 'POST', url: string, payload: unknown, status: number, pattern: RegExp) => {
      const response = await call(method, url, payload);
      expect(response.statusCode, `${url} ${JSON.stringify(payload)}: ${response.body}`).toBe(status);
      expect(response.json().success).toBe(false);
      expect(response.json().error.message).toMatch(pattern);
    };
    await expectError('POST', '/api/migration/analyze-source', {}, 400, /table/);
    await expectError('POST', '/api/migration/analyze-source', { schema, table: 'nope' }, 404, /table "mrest_\w+"\."nope" does not exist/);
    await expectError('POST', '/api/migration/analyze-source', { schema: 'no_such_schema', table: 'customers' }, 404, /schema "no_such_schema" does not exist/);
    await expectError('POST', '/api/migration/analyze-source', { schema, table: 'victim; DROP TABLE victim; --' }, 404, /does not exist/);
    await expectError('POST', '/api/migration/analyze-source', { schema, table: 'x'.repeat(64) }, 400, /table: .*63-byte/);
    await expectError('POST', '/api/migration/analyze-source', { schema, table: 'a\u0000b' }, 400, /table: name must not contain NUL/);
    await expectError('POST', '/api/migration/analyze-source', { schema: '"; DROP SCHEMA public CASCADE; --', table: 'customers' }, 404, /schema .* does not exist/);
    await expectError('POST', '/api/migration/analyze-source', { schema, table: 42 }, 400, /table/);
    await expectError('POST', '/api/migration/analyze-source', { schema, table: 'customers', extra: 1 }, 400, /extra: unknown field/);
    await expectError('POST', '/api/migration/execute', { source_schema: schema, source_table: 'customers', destination_table: 'x`; DROP TABLE victim; --' }, 400, /target: .*not a valid name/);
    await expectError('POST', '/api/migration/execute', { source_schema: schema, source_table: 'customers"; DROP TABLE victim; --', destination_table: 'ok_name' }, 404, /does not exist/);
    await expectError('POST', '/api/migration/execute', { source_schema: schema, source_table: 'customers', destination_table: 'inj', mappings: [{ source_field: 'email', transformation: '1) FROM system.tables --' }] }, 400, /columns\.email\.transform/);
    await expectError('POST', '/api/migration/execute', { source_schema: schema, source_table: 'customers', destination_table: 'inj', mappings: [{ source_field: 'email', transformation: 'lower(nonexistent_column)' }] }, 400, /columns\.email\.transform: ClickHouse rejects it/);
    await expectError('POST', '/api/migration/execute', { source_schema: schema, source_table: 'customers', destination_table: 'inj', mappings: [{ source_field: 'ghost', destination_type: 'String' }] }, 400, /columns\.ghost: no column "ghost"/);
    await expectError('POST', '/api/migration/execute', { source_schema: schema, source_table: 'customers', destination_table: 'inj', mappings: [{ source_field: 'email', destination_type: 'NotAType' }] }, 400, /columns\.email\.type/);
    await expectError('POST', '/api/migration/execute', { source_schema: schema, source_table: 'customers', destination_table: 'inj', batch_size: 5 }, 400, /options\.batch_size/);
    await expectError('POST', '/api/migration/execute', { source_schema: schema, source_table: 'customers', destination_table: 'inj', connection: 'elsewhere' }, 400, /unknown PostgreSQL connection "elsewhere"/);
    const broken = await app.inject({ method: 'POST', url: '/api/migration/execute', headers: { 'content-type': 'application/json' }, payload: '{"source_table":' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ success: false, error: { message: 'body: not valid JSON' } });
    await expectError('GET', '/api/migration/status/not-a-uuid', undefined, 400, /id must be a migration id/);
    await expectError('GET', '/api/migration/status/00000000-0000-4000-8000-000000000000', undefined, 404, /no migration/);
    await expectError('POST', '/api/migration/resume/00000000-0000-4000-8000-000000000000', undefined, 404, /no migration/);
    const victim = await admin.query(`SELECT to_regclass('${schema}.victim') IS NOT NULL AS ok`);
    expect(victim.rows[0].ok).toBe(true);
    const chTables = await engine.json<{ name: string }>("SELECT name FROM system.tables WHERE database = 'default' AND name LIKE 'inj%'");
    expect(chTables).toEqual([]);
  });

  it('offers a server-side pull through postgresql() over the same ranges, validated the same way', async () => {
    const { run } = await service.start(`source: ${schema}.customers\ntarget: pulled_customers\noptions:\n  method: pull\n  batch_size: 5000\n`, { rerun: true });
    const summary = await run.done;
    expect(summary.error_message).toBeNull();
    expect(summary.validation).toMatchObject({ ok: true, row_count: { source: 20000, destination: 20000 } });
    expect((await service.history.ranges(run.id)).plan.kind).toBe('key');
    const unsupported = await call('POST', '/api/migration/plan', { spec: `source: ${schema}.customers\noptions:\n  method: pull\n  unbounded_numeric: Decimal(20, 2)\ncolumns:\n  balance: { type: String }\n` });
    expect(unsupported.statusCode).toBe(400);
    expect(unsupported.json().error.message).toMatch(/options\.method: pull .* balance \(numeric\(10,2\)\).*use method: copy/);
  }, 60_000);

  it('never shows a credential', async () => {
    const wrong = migrationService(engine, { ...pgConfig(), database: 'no_such_db' });
    const scoped = Fastify({ loggerInstance: silentLogger });
    await scoped.register(migrationApiPlugin, { service: wrong });
    const response = await scoped.inject({ method: 'POST', url: '/api/migration/analyze-source', payload: { schema, table: 'customers' } });
    expect(response.statusCode).toBe(502);
    expect(response.json().error.message).toMatch(/no_such_db/);
    bodies.push(response.body);
    await scoped.close();
    expect(PASSWORD.length).toBeGreaterThan(3);
    for (const body of bodies) expect(body).not.toContain(PASSWORD);
    const metadata = await engine.json<{ m: string }>('SELECT concat(metadata, source, field_mappings, ifNull(error_message, \'\')) AS m FROM migration_history');
    for (const row of metadata) expect(row.m).not.toContain(PASSWORD);
  });
});
