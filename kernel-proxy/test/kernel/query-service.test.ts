import { afterAll, describe, expect, it } from 'vitest';
import { QueryCancelledError } from '../../src/clickhouse/embedded.js';
import { ClickHouseQueryError } from '../../src/clickhouse/errors.js';
import { QueryService } from '../../src/clickhouse/query-service.js';
import { testQueryService } from '../support/engine.js';

const { engine, history, queries } = testQueryService();
const ctx = { user: 'tester', source: 'kernel' as const };

afterAll(() => engine.close());

describe('QueryService on embedded chDB', () => {
  it('streams a SELECT as Arrow with faithful types', async () => {
    const outcome = await queries.run(
      `SELECT number AS n, toString(number) AS s, toDateTime(1700000000 + number, 'UTC') AS t,
              CAST(if(number % 2 = 0, 'even', 'odd') AS Enum8('even' = 1, 'odd' = 2)) AS e,
              toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0') AS u, toInt128(-5) - number AS big,
              toIPv4('10.0.0.1') AS ip
       FROM numbers(10)`,
      ctx,
    );
    expect(outcome.kind).toBe('rows');
    if (outcome.kind !== 'rows') return;
    expect(outcome.result.rows).toBe(10);
    expect(outcome.columns.map((c) => c.type)).toEqual(["UInt64", 'String', "DateTime('UTC')", "Enum8('even' = 1, 'odd' = 2)", 'UUID', 'Int128', 'IPv4']);
    const row = outcome.table.get(1)!.toJSON();
    expect(row.n).toBe(1n);
    expect(row.s).toBe('1');
    expect(row.t).toBe(1700000001000);
    expect(row.e).toBe('odd');
    expect(row.u).toBe('61f0c404-5cb3-11e7-907b-a6006ad3dba0');
    expect(row.big).toBe('-6');
    expect(row.ip).toBe('10.0.0.1');
    expect(String(outcome.table.schema.fields[2]!.type)).toContain('Timestamp');
  });

  it('keeps only a bounded preview but counts every row, and stops at the row cap', async () => {
    const capped = new QueryService(engine, history, { ...queries.limits, maxResultRows: 100_000, previewRows: 1000 });
    const outcome = await capped.run('SELECT number FROM numbers(10000000)', ctx);
    if (outcome.kind !== 'rows') throw new Error('expected rows');
    expect(outcome.table.numRows).toBe(1000);
    expect(outcome.result.rows).toBe(100_000);
    expect(outcome.result.truncated).toBe(true);
    const after = await capped.run('SELECT 1 AS one', ctx);
    expect(after.kind).toBe('rows');
  });

  it('reports ClickHouse errors with code and name, not a stack', async () => {
    const failure = await queries.run('SELEC 1', ctx).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ClickHouseQueryError);
    const e = failure as ClickHouseQueryError;
    expect(e.code).toBe(62);
    expect(e.type).toBe('SYNTAX_ERROR');
    expect(e.display).toMatch(/^Code: 62 \(SYNTAX_ERROR\)\. Syntax error/);
    expect(e.display).not.toMatch(/\n\s+at /);

    const unknown = (await queries.run('SELECT * FROM no_such_table_xyz', ctx).catch((x: unknown) => x)) as ClickHouseQueryError;
    expect(unknown.code).toBe(60);
    expect(unknown.message).toContain('no_such_table_xyz');
  });

  it('runs DDL and INSERT as commands, and tables persist in the data dir', async () => {
    const created = await queries.run('CREATE TABLE t_cmd (a UInt32, b String) ENGINE = MergeTree ORDER BY a', ctx);
    expect(created).toMatchObject({ kind: 'command', keyword: 'CREATE' });
    await queries.run("INSERT INTO t_cmd VALUES (1, 'x'), (2, 'y')", ctx);
    const rows = await engine.json<{ c: string }>('SELECT count() AS c FROM t_cmd');
    expect(Number(rows[0]!.c)).toBe(2);
  });

  it('cancels a running query through its signal', async () => {
    const controller = new AbortController();
    const running = queries.run('SELECT number, sleepEachRow(0.01) FROM numbers(100000) SETTINGS max_block_size = 10', { ...ctx, signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await expect(running).rejects.toBeInstanceOf(QueryCancelledError);
    const next = await queries.run('SELECT 2 AS two', ctx);
    expect(next.kind).toBe('rows');
  });

  it('lets a query sent while a stream runs wait its turn instead of ending the stream', async () => {
    // chDB ends an open stream when another query runs on its session ("No active streaming query"):
    // a REST call, a completion or another notebook's query must wait for the running cell instead.
    const streaming = queries.run('SELECT number, sleepEachRow(0.01) FROM numbers(100) SETTINGS max_block_size = 1', ctx);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const health = await engine.ping();
    expect(health.ok).toBe(true);
    const [row] = await engine.json<{ n: number }>('SELECT 7 AS n');
    expect(Number(row!.n)).toBe(7);
    const outcome = await streaming;
    expect(outcome.kind === 'rows' && outcome.result.rows).toBe(100);
  });

  it('records every query in the history with status, rows and user', async () => {
    const { queries: list } = await history.list({ limit: 100, offset: 0 });
    const statuses = new Set(list.map((q) => q.status));
    expect(statuses).toEqual(new Set(['ok', 'error', 'cancelled']));
    const syntax = list.find((q) => q.query === 'SELEC 1')!;
    expect(syntax).toMatchObject({ user: 'tester', status: 'error', source: 'kernel' });
    expect(syntax.error).toContain('SYNTAX_ERROR');
    const searched = await history.list({ limit: 10, offset: 0, search: 't_cmd', status: 'ok' });
    expect(searched.total).toBe(2);
  });
});

describe('text and HTML fallbacks', () => {
  it('show timestamps in their zone, NULL as NULL, and escape HTML', async () => {
    const { renderHtml, renderText } = await import('../../src/results/render.js');
    const outcome = await queries.run(
      "SELECT toDateTime('2024-01-02 03:04:05', 'Asia/Tokyo') AS t, CAST(NULL AS Nullable(String)) AS n, '<b>x</b>' AS h, toDate('2024-02-29') AS d",
      ctx,
    );
    if (outcome.kind !== 'rows') throw new Error('expected rows');
    const summary = { rows: 1, shownRows: 1, truncated: false, elapsedMs: 1, bytes: 10, rowCap: 10 };
    const text = renderText(outcome.table, summary);
    expect(text).toContain('2024-01-02 03:04:05');
    expect(text).toContain('NULL');
    expect(text).toContain('2024-02-29');
    const html = renderHtml(outcome.table, summary);
    expect(html).toContain('&#60;b&#62;x&#60;/b&#62;');
    expect(html).toContain("DateTime(&#39;Asia/Tokyo&#39;)");
  });
});

describe('type fidelity with NULLs and wide types', () => {
  it('keeps NULLs and converts Nullable DateTime / Enum / UUID / IPv6 / UInt256', async () => {
    const outcome = await queries.run(
      `SELECT
         if(number = 1, NULL, toDateTime(86400 * number, 'Europe/Berlin')) AS t,
         if(number = 1, NULL, CAST(if(number = 0, 'a', 'b') AS Enum16('a' = -5, 'b' = 300))) AS e,
         if(number = 1, NULL, toUUID('00112233-4455-6677-8899-aabbccddeeff')) AS u,
         toIPv6('2001:db8::1') AS ip6,
         toUInt256('115792089237316195423570985008687907853269984665640564039457584007913129639935') AS u256,
         toInt128('-170141183460469231731687303715884105728') AS i128min
       FROM numbers(3)`,
      ctx,
    );
    if (outcome.kind !== 'rows') throw new Error('expected rows');
    const rows = outcome.table.toArray().map((r) => r.toJSON());
    expect(rows[1]).toMatchObject({ t: null, e: null, u: null });
    expect(rows[0]!.t).toBe(0);
    expect(rows[2]!.t).toBe(2 * 86400 * 1000);
    expect(rows.map((r) => r.e)).toEqual(['a', null, 'b']);
    expect(rows[0]!.u).toBe('00112233-4455-6677-8899-aabbccddeeff');
    expect(rows[0]!.ip6).toBe('2001:db8::1');
    expect(rows[0]!.u256).toBe('115792089237316195423570985008687907853269984665640564039457584007913129639935');
    expect(rows[0]!.i128min).toBe('-170141183460469231731687303715884105728');
    expect((outcome.table.schema.fields[0]!.type as { timezone?: string }).timezone).toBe('Europe/Berlin');
  });
});

describe('decimal text', () => {
  it('shows decimals exactly in the text and HTML fallbacks', async () => {
    const { renderText, decimalText } = await import('../../src/results/render.js');
    expect(decimalText('-196440010', 2)).toBe('-1964400.10');
    expect(decimalText('5', 2)).toBe('0.05');
    expect(decimalText('-5', 3)).toBe('-0.005');
    const outcome = await queries.run("SELECT toDecimal64(-1964400.10, 2) AS d", ctx);
    if (outcome.kind !== 'rows') throw new Error('expected rows');
    expect(renderText(outcome.table, { rows: 1, shownRows: 1, truncated: false, elapsedMs: 1, bytes: 1, rowCap: 1 })).toContain('-1964400.10');
  });
});
