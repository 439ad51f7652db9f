// chlab's own HTTP engine against a real ClickHouse server (Debian's clickhouse-server 18.16).
// 18.16 has no Arrow output and no query parameters: chlab encodes Arrow itself from
// TabSeparatedWithNamesAndTypes, and interrupts with KILL QUERY by query_id.
import { afterAll, describe, expect, it } from 'vitest';
import { ClickHouseQueryError } from '../../src/clickhouse/errors.js';
import { ClickHouseKernelManager } from '../../src/kernel/manager.js';
import { clickhouseSkipReason, sharedClickHouse } from '../../../tests/support/services.js';
import { startClickHouseServer } from '../../../tests/support/clickhouse-server.js';
import { silentLogger, testConfig, testQueryService } from '../support/engine.js';
import { IncomingMessageSchema, type JupyterMessage } from '../../src/kernel/messages.js';

const server = sharedClickHouse();
const reason = clickhouseSkipReason();

function httpServices(url: string, user: string, password: string) {
  return testQueryService(testConfig({ CLICKHOUSE_URL: url, CLICKHOUSE_USER: user, CLICKHOUSE_PASSWORD: password }));
}

describe.skipIf(!server)(`chlab over HTTP to ClickHouse 18.16 ${reason}`, () => {
  const { engine, queries } = server ? httpServices(server.url, server.user, server.password) : testQueryService();
  const ctx = { user: 'tester', source: 'rest' as const };
  afterAll(() => engine.close());

  it('runs a SELECT and delivers it as Arrow with ClickHouse types', async () => {
    const outcome = await queries.run("SELECT number AS n, toString(number) AS s, toDate('2024-01-02') AS d, CAST(NULL AS Nullable(Int32)) AS x FROM system.numbers LIMIT 10", ctx);
    if (outcome.kind !== 'rows') throw new Error('expected rows');
    expect(outcome.result.rows).toBe(10);
    expect(outcome.columns.map((c) => c.type)).toEqual(['UInt64', 'String', 'Date', 'Nullable(Int32)']);
    expect(outcome.table.getChild('s')!.get(9)).toBe('9');
    expect(outcome.table.getChild('n')!.get(9)).toBe(9n);
    expect(outcome.table.getChild('x')!.get(0)).toBeNull();
  });

  it('unescapes TSV values (tabs, newlines, backslashes, quotes)', async () => {
    const outcome = await queries.run("SELECT 'a\\tb\\nc\\\\d''e' AS tricky", ctx);
    if (outcome.kind !== 'rows') throw new Error('expected rows');
    expect(outcome.table.getChild('tricky')!.get(0)).toBe("a\tb\nc\\d'e");
  });

  it('reports the server error code and message', async () => {
    const e = (await queries.run('SELEC 1', ctx).catch((x: unknown) => x)) as ClickHouseQueryError;
    expect(e).toBeInstanceOf(ClickHouseQueryError);
    expect(e.code).toBe(62);
    expect(e.message).toMatch(/^Syntax error/);
    expect(e.message).not.toContain('e.what()');
  });

  it('runs DDL and INSERT, and records history in the server', async () => {
    await queries.run('CREATE TABLE IF NOT EXISTS http_t (a UInt32) ENGINE = MergeTree ORDER BY a', ctx);
    await queries.run('INSERT INTO http_t SELECT number FROM system.numbers LIMIT 5', ctx);
    const [row] = await engine.json<{ c: string }>('SELECT count() AS c FROM http_t');
    expect(Number(row!.c)).toBe(5);
    const [logged] = await engine.json<{ c: string }>("SELECT count() AS c FROM chlab_query_history WHERE query LIKE 'INSERT INTO http_t%' AND status = 'ok'");
    expect(Number(logged!.c)).toBeGreaterThanOrEqual(1);
  });

  it('fails auth with a clear error that does not contain the password', async () => {
    const wrong = httpServices(server!.url, server!.user, 'not-the-password-xyz');
    const e = (await wrong.queries.run('SELECT 1', ctx).catch((x: unknown) => x)) as ClickHouseQueryError;
    expect(e.code).toBe(193);
    expect(e.message).toContain('Wrong password');
    expect(e.message).not.toContain('not-the-password-xyz');
    const health = await wrong.engine.ping();
    expect(health.ok).toBe(false);
    await wrong.engine.close();
  });

  it('interrupts a running cell with KILL QUERY: the server no longer runs it', async () => {
    const manager = new ClickHouseKernelManager(queries, silentLogger);
    const model = await manager.start();
    const kernel = manager.kernel(model.id)!;
    const received: JupyterMessage[] = [];
    kernel.connect({ id: 'c', send: (m) => received.push(m) });
    kernel.handle(
      IncomingMessageSchema.parse({
        channel: 'shell',
        header: { msg_id: 'run-1', msg_type: 'execute_request', session: 's', username: 'u', version: '5.3' },
        content: { code: "SELECT count() FROM system.numbers WHERE NOT ignore(toString(number)) -- chlab-interrupt-marker" },
      }),
      { id: 'c', send: (m) => received.push(m) },
    );
    const running = async () => engine.json<{ query_id: string }>("SELECT query_id FROM system.processes WHERE query LIKE '%chlab-interrupt-marker%' AND query NOT LIKE '%system.processes%'");
    for (let i = 0; i < 100 && (await running()).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await running()).toHaveLength(1);
    await manager.interrupt(model.id);
    for (let i = 0; i < 100 && !received.some((m) => m.header.msg_type === 'execute_reply'); i++) await new Promise((r) => setTimeout(r, 50));
    const reply = received.find((m) => m.header.msg_type === 'execute_reply')!;
    expect(reply.content).toMatchObject({ status: 'error', ename: 'Interrupted' });
    expect(await running()).toHaveLength(0);
    await manager.shutdownAll();
  });
});

describe.skipIf(!server)('chlab when the ClickHouse server goes down and comes back', () => {
  it('gives a clear connection error, then works again after a restart', async () => {
    const own = await startClickHouseServer();
    const { engine, queries } = httpServices(own.url, own.user, own.password);
    try {
      const ok = await queries.run('SELECT 1 AS one', { user: 't', source: 'rest' });
      expect(ok.kind).toBe('rows');
      await own.kill();
      const down = (await queries.run('SELECT 1 AS one', { user: 't', source: 'rest' }).catch((x: unknown) => x)) as ClickHouseQueryError;
      expect(down).toBeInstanceOf(ClickHouseQueryError);
      expect(down.type).toBe('CONNECTION_ERROR');
      expect(down.message).toContain('unreachable');
      expect((await engine.ping()).ok).toBe(false);
      await own.restart();
      const again = await queries.run('SELECT 2 AS two', { user: 't', source: 'rest' });
      expect(again.kind).toBe('rows');
    } finally {
      await engine.close();
      await own.destroy();
    }
  });
});

