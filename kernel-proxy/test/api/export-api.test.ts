import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportApiPlugin } from '../../src/api/export.js';
import { silentLogger, testQueryService } from '../support/engine.js';

const { engine, history, queries } = testQueryService();
const app = Fastify({ loggerInstance: silentLogger });
beforeAll(async () => {
  await app.register(exportApiPlugin, { queries, history });
});
afterAll(async () => {
  await app.close();
  await engine.close();
});

const QUERY = "SELECT number AS n, if(number % 3 = 0, NULL, concat('v', toString(number))) AS s FROM numbers(300000)";

describe('/api/query/export', () => {
  it('streams the whole result as CSV with one header, beyond any result cap', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/query/export', payload: { query: QUERY, format: 'csv', filename: 'numbers' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-disposition']).toBe('attachment; filename="numbers.csv"');
    const lines = response.body.trimEnd().split('\n');
    expect(lines).toHaveLength(300001);
    expect(lines[0]).toBe('"n","s"');
    expect(lines[1]).toBe('0,\\N');
    expect(lines[300000]).toBe('299999,"v299999"');
  });

  it('exports TSV and JSON Lines', async () => {
    const tsv = await app.inject({ method: 'GET', url: `/api/query/export?format=tsv&query=${encodeURIComponent('SELECT 1 AS a, \'x\ty\' AS b')}` });
    expect(tsv.body).toBe('a\tb\n1\tx\\ty\n');
    const jsonl = await app.inject({ method: 'POST', url: '/api/query/export', payload: { query: 'SELECT number AS n FROM numbers(3)', format: 'jsonl' } });
    expect(jsonl.body.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
  });

  it('exports Parquet that ClickHouse reads back whole', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/query/export', payload: { query: QUERY, format: 'parquet' } });
    expect(response.statusCode).toBe(200);
    const bytes = response.rawPayload;
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    const { writeFile, mkdtemp } = await import('node:fs/promises');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join((await import('node:os')).tmpdir(), 'chlab-parquet-'));
    const file = path.join(dir, 'r.parquet');
    await writeFile(file, bytes);
    const [row] = await engine.json<{ c: string; nulls: string }>(`SELECT count() AS c, countIf(s IS NULL) AS nulls FROM file('${file}', Parquet)`);
    expect(Number(row!.c)).toBe(300000);
    expect(Number(row!.nulls)).toBe(100000);
  });

  it('refuses anything but one SELECT, and reports ClickHouse errors', async () => {
    for (const query of ['DROP TABLE x', 'SELECT 1; SELECT 2', 'SELECT 1 FORMAT CSV', '']) {
      const response = await app.inject({ method: 'POST', url: '/api/query/export', payload: { query, format: 'csv' } });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.message).toMatch(/query/);
    }
    const bad = await app.inject({ method: 'POST', url: '/api/query/export', payload: { query: 'SELECT * FROM no_such_table_for_export', format: 'csv' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe(60);
    const format = await app.inject({ method: 'POST', url: '/api/query/export', payload: { query: 'SELECT 1', format: 'xlsx' } });
    expect(format.json().error.message).toContain('format');
    const name = await app.inject({ method: 'POST', url: '/api/query/export', payload: { query: 'SELECT 1', filename: '../../etc/passwd' } });
    expect(name.json().error.message).toContain('filename');
  });
});
