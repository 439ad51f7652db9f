// Transport tests: npm @clickhouse/client 1.23 over HTTP against a real ClickHouse server, Debian's
// clickhouse-server 18.16.1 (tests/support/clickhouse-server.ts). They pin down what the transport does,
// not chlab's own code.
//
// Facts about clickhouse-server 18.16.1 + @clickhouse/client 1.23 (checked by the tests below):
//  - Runs fine as root; no `clickhouse` user needed (the Debian package creates one; runuser -u clickhouse works too).
//    Starts in ~0.2-1 s with a minimal config; `GET /ping` → "Ok.\n". SIGTERM → exit takes a fixed ~8 s (even idle);
//    SIGKILL is instant. The binary has no --help/--version (exit 78, "Unknown option specified"); SELECT version()
//    = '18.16.1'. No server-wide memory cap (max_server_memory_usage is newer): only per-query max_memory_usage.
//  - Auth: Basic auth (what the client sends) and X-ClickHouse-User/Key headers both work. Wrong password → HTTP 401,
//    "Code: 193, … Wrong password for user chlab"; unknown user → HTTP 401, "Code: 192, … Unknown user nobody".
//    (Not 516: that is the newer servers' AUTHENTICATION_FAILED.) client.ping() hits /ping, which is unauthenticated:
//    it reports success with a wrong password, so a health check must run a query (SELECT 1).
//  - Error messages are the old format "Code: N, e.displayText() = DB::Exception: MSG, e.what() = DB::Exception".
//    The client's parser only knows "Code: N. DB::Exception: MSG (TYPE)", so errors arrive as plain Error, with
//    `code`/`type` undefined (not ClickHouseError): parse the code out of the message (see parseLegacyError below).
//  - Query parameters ({x:UInt8} + param_x, i.e. the client's `query_params`) do NOT exist: "Code: 115, … Unknown
//    setting param_x". Inline literals instead: string literals with \\ and \' escaping work.
//  - Formats: JSONEachRow, JSON (with meta), TabSeparated*, CSV*, RowBinary, Native, Values, … work.
//    JSONCompactEachRow, Arrow, ArrowStream, Parquet → "Code: 73, … Unknown format <name>" (18.16 has no Arrow at all).
//    (The client's DataFormat type has no Arrow/ArrowStream either; a cast is needed, and it sends the name as given.)
//  - JSONEachRow output: UInt64/Int64 as strings (count(), length() are UInt64 → "2"), DateTime "YYYY-MM-DD hh:mm:ss", UUID as text, Nullable → null.
//  - JSONEachRow INSERT with an omitted column fills the type's default ('' / 0), NOT the column's DEFAULT expression
//    (input_format_defaults_for_omitted_fields does not exist: Code 115).
//  - `INSERT … SELECT … FROM input('…')` does not exist (Code 62 syntax error). Raw-format inserts (TSV) work, but the
//    client needs a stream (or array) for `values`, not a string.
//  - KILL QUERY WHERE query_id = '…' SYNC works: returns a row with kill_status 'finished'; the killed HTTP query
//    rejects with "Code: 394, … Query was cancelled"; the query is gone from system.processes right after.
//  - Aborting the HTTP request (abort_signal) does NOT stop the query on the server (no
//    cancel_http_readonly_queries_on_client_close in 18.16: Code 115): interrupt = KILL QUERY by query_id.
//  - clickhouse_settings are passed as URL params and work (max_execution_time → "Code: 159, … Timeout exceeded").
//  - session_id works (temporary tables survive between requests of one session).
//  - Server down: query rejects with a plain Error, code 'ECONNREFUSED'; ping() resolves {success:false, error.code
//    'ECONNREFUSED'}. After restart the same client works again. Killed (SIGKILL) mid-query: the in-flight request
//    rejects with ECONNRESET / "socket hang up"; MergeTree data inserted before the crash is there after restart.
import { Readable } from 'node:stream';
import { createClient, ClickHouseLogLevel, type ClickHouseClient, type DataFormat } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedClickHouse, clickhouseSkipReason } from '../../../tests/support/services.js';
import { startClickHouseServer, type ClickHouseServer } from '../../../tests/support/clickhouse-server.js';

const shared = sharedClickHouse();
if (!shared) it.skip(`ClickHouse server transport tests skipped: ${clickhouseSkipReason()}`, () => undefined);
const legacy = !!shared?.version.startsWith('18.');

/** The 18.16 error format: "Code: 193, e.displayText() = DB::Exception: Wrong password for user chlab, e.what() = DB::Exception". */
function parseLegacyError(err: unknown): { code: number; message: string } | null {
  const m = /Code: (\d+), e\.displayText\(\) = (?:DB::)?Exception: ([\s\S]*?)(?:, e\.what\(\) = [\w:]+)?\s*$/.exec(
    (err as Error)?.message ?? '',
  );
  return m ? { code: Number(m[1]), message: m[2]! } : null;
}

function client(info: { url: string; user: string; password: string }, extra: Parameters<typeof createClient>[0] = {}) {
  return createClient({
    url: info.url,
    username: info.user,
    password: info.password,
    log: { level: ClickHouseLogLevel.OFF },
    request_timeout: 30_000,
    ...extra,
  });
}

async function rows<T = Record<string, unknown>>(c: ClickHouseClient, query: string, extra: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await c.query({ query, format: 'JSONEachRow', ...extra });
  return rs.json<T>();
}

/** Rejection of `p`, or a failure if it resolves. */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: unknown; type?: unknown }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const waitFor = async (cond: () => Promise<boolean>, timeoutMs = 5000) => {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.skipIf(!shared)('clickhouse-server over HTTP with @clickhouse/client (shared instance)', () => {
  let ch: ClickHouseClient;
  beforeAll(() => {
    ch = client(shared!);
  });
  afterAll(async () => {
    await ch?.close();
  });

  it('answers /ping and reports its version', async () => {
    const res = await fetch(`${shared!.url}/ping`);
    expect(await res.text()).toBe('Ok.\n');
    expect(await ch.ping()).toEqual({ success: true });
    const [v] = await rows<{ v: string }>(ch, 'SELECT version() AS v');
    expect(v!.v).toBe(shared!.version);
    if (legacy) expect(v!.v).toMatch(/^18\.16\./);
  });

  it('streams JSONEachRow rows (64-bit ints as strings, DateTime/UUID as text, NULL as null)', async () => {
    expect(await rows(ch, 'SELECT number AS n, toString(number) AS s FROM system.numbers LIMIT 3')).toEqual([
      { n: '0', s: '0' },
      { n: '1', s: '1' },
      { n: '2', s: '2' },
    ]);
    const [r] = await rows(
      ch,
      "SELECT toDateTime('2020-01-02 03:04:05') AS d, toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0') AS u, " +
        '[1, 2] AS a, CAST(NULL AS Nullable(Int32)) AS n, toInt64(-5) AS i64, toUInt8(7) AS u8, 1.5 AS f',
    );
    expect(r).toEqual({ d: '2020-01-02 03:04:05', u: '61f0c404-5cb3-11e7-907b-a6006ad3dba0', a: [1, 2], n: null, i64: '-5', u8: 7, f: 1.5 });
    // the stream API, row by row
    const rs = await ch.query({ query: 'SELECT number FROM system.numbers LIMIT 1000', format: 'JSONEachRow' });
    let count = 0;
    for await (const batch of rs.stream()) count += batch.length;
    expect(count).toBe(1000);
  });

  it('JSON format carries column types in meta', async () => {
    const rs = await ch.query({ query: 'SELECT 1 AS a, toString(2) AS b', format: 'JSON' });
    const j = await rs.json<{ a: number; b: string }>();
    expect(j.meta).toEqual([
      { name: 'a', type: 'UInt8' },
      { name: 'b', type: 'String' },
    ]);
    expect(j.data).toEqual([{ a: 1, b: '2' }]);
  });

  it.runIf(legacy)('query_params ({x:Type}) are unsupported: Code 115 "Unknown setting param_x"; inline literals work', async () => {
    const err = await rejection(rows(ch, 'SELECT {x:UInt8} AS v', { query_params: { x: 5 } }));
    expect(err.message).toMatch(/^Code: 115, e\.displayText\(\) = DB::Exception: Unknown setting param_x/);
    // the client does not recognise the old error format: plain Error, no code/type
    expect(err.constructor.name).toBe('Error');
    expect(err.code).toBeUndefined();
    expect(parseLegacyError(err)).toEqual({ code: 115, message: 'Unknown setting param_x' });
    // what a driver for 18.16 must do instead: quote literals itself
    const tricky = "O'Brien \\ tab\there";
    const lit = "'" + tricky.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
    expect(await rows(ch, `SELECT ${lit} AS s, length(${lit}) AS l`)).toEqual([{ s: tricky, l: String(Buffer.byteLength(tricky)) }]);
  });

  it.runIf(legacy)('has no Arrow: ArrowStream/Arrow/Parquet/JSONCompactEachRow → Code 73 "Unknown format"', async () => {
    for (const format of ['ArrowStream', 'Arrow', 'Parquet'] as const) {
      // the client's DataFormat type has no Arrow/ArrowStream (1.23), but it sends any format name as given
      const err = await rejection(ch.query({ query: 'SELECT 1 AS v', format: format as DataFormat }).then((r) => r.text()));
      expect(parseLegacyError(err)).toEqual({ code: 73, message: `Unknown format ${format}` });
    }
    const err = await rejection(rows(ch, 'SELECT 1', { format: 'JSONCompactEachRow' }));
    expect(parseLegacyError(err)).toEqual({ code: 73, message: 'Unknown format JSONCompactEachRow' });
    const formats = (await rows<{ name: string }>(ch, 'SELECT name FROM system.formats')).map((r) => r.name);
    expect(formats).toEqual(expect.arrayContaining(['JSONEachRow', 'JSON', 'TabSeparated', 'CSV', 'RowBinary', 'Native']));
    expect(formats.filter((f) => /arrow|parquet/i.test(f))).toEqual([]);
  });

  it('rejects a wrong password (HTTP 401, Code 193) and an unknown user (Code 192); /ping does not check auth', async () => {
    const bad = client({ ...shared!, password: 'wrong' });
    try {
      const err = await rejection(rows(bad, 'SELECT 1'));
      if (legacy) expect(parseLegacyError(err)).toEqual({ code: 193, message: `Wrong password for user ${shared!.user}` });
      else expect(err.message).toMatch(/password|Authentication failed/i);
      // ping() only GETs /ping: no credentials involved
      expect(await bad.ping()).toEqual({ success: true });
    } finally {
      await bad.close();
    }
    const raw = await fetch(`${shared!.url}/?query=SELECT%201`, {
      headers: { Authorization: 'Basic ' + Buffer.from(`${shared!.user}:wrong`).toString('base64') },
    });
    expect(raw.status).toBe(401);
    const nobody = client({ ...shared!, user: 'nobody', password: 'x' });
    try {
      const err = await rejection(rows(nobody, 'SELECT 1'));
      if (legacy) expect(parseLegacyError(err)).toEqual({ code: 192, message: 'Unknown user nobody' });
    } finally {
      await nobody.close();
    }
    // X-ClickHouse-User / X-ClickHouse-Key headers work too
    const hdr = await fetch(`${shared!.url}/?query=SELECT%2042`, {
      headers: { 'X-ClickHouse-User': shared!.user, 'X-ClickHouse-Key': shared!.password },
    });
    expect(await hdr.text()).toBe('42\n');
  });

  it('lets `default` in without a password from localhost', async () => {
    const def = client({ url: shared!.url, user: 'default', password: '' });
    try {
      expect(await rows(def, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await def.close();
    }
  });

  it('passes clickhouse_settings (max_execution_time → Code 159 timeout)', async () => {
    const err = await rejection(rows(ch, 'SELECT count() FROM system.numbers', { clickhouse_settings: { max_execution_time: 1 } }));
    if (legacy) expect(parseLegacyError(err)?.code).toBe(159);
    expect(err.message).toMatch(/Timeout exceeded/);
  });

  it.runIf(legacy)('JSONEachRow inserts ignore DEFAULT expressions; input() does not exist; TSV inserts need a stream', async () => {
    const table = `t_ins_${Date.now()}`;
    await ch.command({ query: `CREATE TABLE ${table} (a UInt32, b String DEFAULT 'dflt', c UInt8 DEFAULT 7) ENGINE = MergeTree ORDER BY a` });
    try {
      await ch.insert({ table, values: [{ a: 1, b: 'x', c: 1 }, { a: 2 }], format: 'JSONEachRow' });
      expect(await rows(ch, `SELECT * FROM ${table} ORDER BY a`)).toEqual([
        { a: 1, b: 'x', c: 1 },
        { a: 2, b: '', c: 0 }, // not 'dflt' / 7
      ]);
      const noSetting = await rejection(
        ch.insert({ table, values: [{ a: 3 }], format: 'JSONEachRow', clickhouse_settings: { input_format_defaults_for_omitted_fields: 1 } }),
      );
      expect(parseLegacyError(noSetting)?.code).toBe(115);

      const noInput = await rejection(
        ch.command({ query: `INSERT INTO ${table} (a, b) SELECT a, upper(b) FROM input('a UInt32, b String') FORMAT TSV\n5\tq\n` }),
      );
      expect(parseLegacyError(noInput)?.code).toBe(62); // syntax error

      const notAString = await rejection(ch.insert({ table, values: '7\tz\t9\n' as never, format: 'TabSeparated' }));
      expect(notAString.message).toMatch(/expected "values" to be an array, a stream/);
      // …and for raw formats a byte stream (objectMode: false), not Readable.from()'s default object mode
      await ch.insert({ table, values: Readable.from(['7\tz\t9\n', '8\tw\t1\n'], { objectMode: false }), format: 'TabSeparated' });
      expect(await rows(ch, `SELECT a, b, c FROM ${table} WHERE a >= 7 ORDER BY a`)).toEqual([
        { a: 7, b: 'z', c: 9 },
        { a: 8, b: 'w', c: 1 },
      ]);
    } finally {
      await ch.command({ query: `DROP TABLE IF EXISTS ${table}` });
    }
  });

  it('keeps a session (session_id) across requests: temporary tables', async () => {
    const s = client(shared!, { session_id: `chlab-test-${process.pid}-${Date.now()}` });
    try {
      await s.command({ query: 'CREATE TEMPORARY TABLE tmp_sess (x UInt8)' });
      await s.command({ query: 'INSERT INTO tmp_sess VALUES (1), (2)' });
      expect(await rows(s, 'SELECT count() AS c FROM tmp_sess')).toEqual([{ c: '2' }]);
    } finally {
      await s.close();
    }
  });

  it('KILL QUERY WHERE query_id = … SYNC stops a long query (Code 394 for its caller), gone from system.processes', async () => {
    const queryId = `chlab-kill-${process.pid}-${Date.now()}`;
    const t0 = Date.now();
    const long = rows(ch, 'SELECT count() FROM system.numbers', { query_id: queryId }).then(
      () => new Error('the long query finished?!'),
      (e: Error) => e,
    );
    const running = async () =>
      (await rows(ch, `SELECT query_id FROM system.processes WHERE query_id = '${queryId}'`)).length > 0;
    await waitFor(running);
    const [proc] = await rows<{ user: string; query: string }>(ch, `SELECT user, query FROM system.processes WHERE query_id = '${queryId}'`);
    expect(proc!.user).toBe(shared!.user);
    expect(proc!.query).toContain('system.numbers');

    const killed = await rows<{ kill_status: string; query_id: string; user: string }>(
      ch,
      `KILL QUERY WHERE query_id = '${queryId}' SYNC`,
    );
    expect(killed).toEqual([expect.objectContaining({ kill_status: 'finished', query_id: queryId, user: shared!.user })]);
    const err = await long;
    expect(Date.now() - t0).toBeLessThan(10_000);
    if (legacy) expect(parseLegacyError(err)).toEqual({ code: 394, message: 'Query was cancelled' });
    else expect(err.message).toMatch(/cancel/i);
    expect(await running()).toBe(false);
  });

  it.runIf(legacy)('aborting the HTTP request does not stop the query server-side (needs KILL QUERY)', async () => {
    const queryId = `chlab-abort-${process.pid}-${Date.now()}`;
    const ac = new AbortController();
    const p = rows(ch, 'SELECT count() FROM system.numbers', { query_id: queryId, abort_signal: ac.signal }).then(
      () => new Error('finished?!'),
      (e: Error) => e,
    );
    const running = async () =>
      (await rows(ch, `SELECT query_id FROM system.processes WHERE query_id = '${queryId}'`)).length > 0;
    await waitFor(running);
    ac.abort();
    const err = await p;
    expect(err.message).toMatch(/abort/i);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await running()).toBe(true); // still burning CPU on the server
    const noCancelSetting = await rejection(rows(ch, 'SELECT 1', { clickhouse_settings: { cancel_http_readonly_queries_on_client_close: 1 } }));
    expect(parseLegacyError(noCancelSetting)?.code).toBe(115);
    await ch.command({ query: `KILL QUERY WHERE query_id = '${queryId}' SYNC` });
    expect(await running()).toBe(false);
  });
});

describe.skipIf(!shared)('clickhouse-server faults (own instance: stop, crash, restart)', () => {
  let server: ClickHouseServer;
  let ch: ClickHouseClient;

  beforeAll(async () => {
    server = await startClickHouseServer();
    ch = client(server);
  });
  afterAll(async () => {
    await ch?.close();
    await server?.destroy();
  });

  it('server down (graceful stop) → ECONNREFUSED (query rejects, ping reports it); restart → the same client works again', async () => {
    expect(await rows(ch, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    const pidBefore = server.pid;
    const t0 = Date.now();
    await server.stop(); // SIGTERM: 18.16 needs ~8 s to exit
    console.log(`clickhouse-server ${server.version} graceful stop (SIGTERM → exit): ${Date.now() - t0} ms`);
    expect(server.running).toBe(false);

    const err = await rejection(rows(ch, 'SELECT 1 AS one'));
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(err.message).toMatch(/connect ECONNREFUSED 127\.0\.0\.1:\d+/);
    const ping = await ch.ping();
    expect(ping.success).toBe(false);
    expect(!ping.success && (ping.error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');

    await server.restart();
    expect(server.pid).not.toBe(pidBefore);
    expect(await rows(ch, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(await ch.ping()).toEqual({ success: true });
  });

  it('crash (SIGKILL) mid-query → the in-flight request fails with a socket error; data survives a restart', async () => {
    await ch.command({ query: 'CREATE TABLE IF NOT EXISTS crash_t (a UInt32) ENGINE = MergeTree ORDER BY a' });
    await ch.insert({ table: 'crash_t', values: [{ a: 1 }, { a: 2 }, { a: 3 }], format: 'JSONEachRow' });

    const queryId = `chlab-crash-${Date.now()}`;
    const long = rows(ch, 'SELECT count() FROM system.numbers', { query_id: queryId }).then(
      () => new Error('finished?!'),
      (e: Error) => e,
    );
    await waitFor(async () => (await rows(ch, `SELECT query_id FROM system.processes WHERE query_id = '${queryId}'`)).length > 0);
    await server.kill();
    const err = (await long) as NodeJS.ErrnoException;
    expect(err.code === 'ECONNRESET' || /socket hang up|ECONNRESET/.test(err.message)).toBe(true);

    await server.restart();
    expect(await rows(ch, 'SELECT count() AS c, sum(a) AS s FROM crash_t')).toEqual([{ c: '3', s: '6' }]);
  });

  it('restarts quickly (measured)', async () => {
    await server.restart(); // SIGKILL + start
    expect(server.startupMs).toBeLessThan(15_000);
    console.log(`clickhouse-server ${server.version} restart: ${server.startupMs} ms to /ping Ok.`);
  });
});
