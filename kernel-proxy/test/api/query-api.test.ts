import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableFromIPC } from 'apache-arrow';
import { queryApiPlugin } from '../../src/api/query.js';
import { silentLogger, testQueryService } from '../support/engine.js';

const { config, engine, history, queries } = testQueryService();
const app = Fastify({ loggerInstance: silentLogger });

beforeAll(async () => {
  await app.register(queryApiPlugin, { queries, history, config });
});
afterAll(async () => {
  await app.close();
  await engine.close();
});

const execute = (body: unknown) => app.inject({ method: 'POST', url: '/api/query/execute', payload: body as object });

describe('REST /api/query', () => {
  it('executes a query and returns rows with column names and ClickHouse types', async () => {
    const response = await execute({ query: "SELECT number AS n, toString(number) AS s, toDateTime(0, 'UTC') AS t, toUInt64(18446744073709551615) AS big FROM numbers(3)" });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      success: true,
      rows: 3,
      metadata: { columns: ['n', 's', 't', 'big'], types: ['UInt64', 'String', "DateTime('UTC')", 'UInt64'] },
    });
    expect(body.data[2]).toEqual({ n: 2, s: '2', t: '1970-01-01T00:00:00.000Z', big: '18446744073709551615' });
    expect(typeof body.execution_time_ms).toBe('number');
  });

  it('returns Arrow when asked', async () => {
    const body = (await execute({ query: 'SELECT number FROM numbers(5)', format: 'arrow' })).json();
    expect(tableFromIPC(Buffer.from(body.data, 'base64')).numRows).toBe(5);
  });

  it('runs several statements and answers with the last one', async () => {
    const body = (await execute({ query: 'CREATE TABLE rest_t (a UInt8) ENGINE = Memory; INSERT INTO rest_t VALUES (1), (2); SELECT sum(a) AS s FROM rest_t' })).json();
    expect(body.data).toEqual([{ s: 3 }]);
  });

  it('maps a ClickHouse error to success:false with code and message and a 4xx', async () => {
    const response = await execute({ query: 'SELECT * FROM missing_table_for_rest' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ success: false, error: { code: 60, type: 'UNKNOWN_TABLE' } });
    expect(response.json().error.message).toContain('missing_table_for_rest');
  });

  it('rejects bad input with a message naming the field', async () => {
    for (const body of [{}, { query: '' }, { query: 42 }, { query: 'SELECT 1', format: 'xml' }]) {
      const response = await execute(body);
      expect(response.statusCode).toBe(400);
      expect(response.json().success).toBe(false);
      expect(response.json().error.message).toMatch(/query|format/);
    }
    const onlyComment = await execute({ query: '-- nothing here' });
    expect(onlyComment.statusCode).toBe(400);
  });

  it('binds nothing from input into SQL it builds: history search is parameterized', async () => {
    const response = await app.inject({ method: 'GET', url: `/api/query/history?search=${encodeURIComponent("' OR 1=1 --")}` });
    expect(response.statusCode).toBe(200);
    expect(response.json().queries).toEqual([]);
  });

  it('lists the history, newest first, with filters', async () => {
    const all = (await app.inject({ method: 'GET', url: '/api/query/history?limit=50' })).json();
    expect(all.total).toBeGreaterThanOrEqual(6);
    expect(all.queries[0]).toHaveProperty('started_at');
    const failed = (await app.inject({ method: 'GET', url: '/api/query/history?status=error' })).json();
    expect(failed.queries.every((q: { status: string }) => q.status === 'error')).toBe(true);
    expect(failed.queries[0].error).toContain('UNKNOWN_TABLE');
    const bad = await app.inject({ method: 'GET', url: '/api/query/history?limit=abc' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain('limit');
  });

  it('reports health of ClickHouse and PostgreSQL', async () => {
    const body = (await app.inject({ method: 'GET', url: '/api/query/health' })).json();
    expect(body.clickhouse).toMatchObject({ ok: true, kind: 'embedded' });
    expect(body.postgres).toMatchObject({ configured: false });
  });
});

describe('REST /api/query body handling', () => {
  it('reads JSON sent as text/plain or form content type (curl -d), and rejects invalid JSON clearly', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const response = await app.inject({ method: 'POST', url: '/api/query/execute', headers: { 'content-type': type }, payload: '{"query":"SELECT 1 AS one"}' });
      expect(response.json()).toMatchObject({ success: true, data: [{ one: 1 }] });
    }
    const broken = await app.inject({ method: 'POST', url: '/api/query/execute', headers: { 'content-type': 'application/json' }, payload: '{"query":' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ success: false, error: { message: 'body: not valid JSON' } });
  });
});

describe('REST decimals', () => {
  it('returns decimals exactly: numbers when they fit a double exactly, text otherwise', async () => {
    const body = (await execute({ query: "SELECT toDecimal64(-1964400.10, 2) AS d, toDecimal128('12345678901234567890.123', 3) AS big, toDecimal32(0.05, 2) AS small" })).json();
    expect(body.data).toEqual([{ d: -1964400.1, big: '12345678901234567890.123', small: 0.05 }]);
  });
});
