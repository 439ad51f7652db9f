import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server.js';
import { hashPassword, newToken, tokenHash } from '../../src/access/password.js';
import { silentLogger, testConfig } from '../support/engine.js';
import { PlainJupyterClient } from '../support/jupyter-client.js';

const tokens = { viewer: newToken(), analyst: newToken(), admin: newToken(), tiny: newToken(), solo: newToken(), small: newToken() };
const PASSWORD = 'correct horse battery staple';
const SECRET = 'SUPERSECRET-named-collection-value-42';

let app: FastifyInstance;
let base: string;
let notebookDir: string;

const auth = (who: keyof typeof tokens) => ({ authorization: `token ${tokens[who]}` });

async function sql(who: keyof typeof tokens, query: string) {
  const response = await app.inject({ method: 'POST', url: '/api/query/execute', headers: auth(who), payload: { query } });
  return { status: response.statusCode, body: response.json() as { success: boolean; data?: Record<string, unknown>[]; rows?: number; truncated?: boolean; error?: { code: number | null; message: string } } };
}

async function auditRows(query: string) {
  const response = await app.inject({ method: 'GET', url: `/api/audit?${query}`, headers: auth('admin') });
  expect(response.statusCode).toBe(200);
  return (response.json() as { events: { user: string; role: string; address: string; action: string; target: string; outcome: string; detail: string }[] }).events;
}

async function startKernel(who: keyof typeof tokens): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/api/kernels', headers: auth(who), payload: { name: 'clickhouse' } });
  expect(response.statusCode).toBe(201);
  return (response.json() as { id: string }).id;
}

const errorOf = (iopub: { header: { msg_type: string }; content: Record<string, unknown> }[]) => iopub.find((m) => m.header.msg_type === 'error')?.content as { ename: string; evalue: string } | undefined;

beforeAll(async () => {
  const config = testConfig({ CHLAB_S3_DEMO: '0', CHLAB_DEMO_POSTGRES: '0' });
  const usersFile = path.join(config.dataDir, 'users.json');
  writeFileSync(
    usersFile,
    JSON.stringify({
      roles: { viewer: { max_concurrent_queries: 4, queries_per_minute: 1000 } },
      users: [
        { name: 'vera', role: 'viewer', token_sha256: tokenHash(tokens.viewer) },
        { name: 'ana', role: 'analyst', token_sha256: tokenHash(tokens.analyst) },
        { name: 'pat', role: 'analyst', password_hash: await hashPassword(PASSWORD) },
        { name: 'dora', role: 'admin', token_sha256: tokenHash(tokens.admin) },
        { name: 'tiny', role: 'analyst', token_sha256: tokenHash(tokens.tiny), limits: { queries_per_minute: 3 } },
        { name: 'small', role: 'viewer', token_sha256: tokenHash(tokens.small), limits: { max_result_rows: 10, max_execution_time: 1 } },
        { name: 'solo', role: 'analyst', token_sha256: tokenHash(tokens.solo), limits: { max_concurrent_queries: 1, queries_per_minute: 0 } },
      ],
    }),
  );
  notebookDir = config.notebookDir;
  mkdirSync(notebookDir, { recursive: true });
  writeFileSync(path.join(notebookDir, 'shared.ipynb'), JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }));
  ({ app } = await buildServer({ config: { ...config, usersFile }, logger: silentLogger }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  expect((await sql('admin', 'CREATE TABLE roles_t (x UInt32) ENGINE = MergeTree ORDER BY x')).status).toBe(200);
  expect((await sql('admin', `CREATE NAMED COLLECTION roles_secret AS secret_access_key = '${SECRET}'`)).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await app?.close();
});

describe('roles: ClickHouse itself holds each statement to the role', () => {
  it('a viewer reads, and is refused INSERT, DROP, SET readonly = 0, file() and secrets', async () => {
    expect(await sql('viewer', 'SELECT count() AS n FROM roles_t')).toMatchObject({ status: 200, body: { success: true } });
    for (const refused of [
      'INSERT INTO roles_t VALUES (1)',
      'DROP TABLE roles_t',
      'SET readonly = 0',
      'SELECT 1 SETTINGS readonly = 0',
      'SET format_display_secrets_in_show_and_select = 1',
    ]) {
      const { status, body } = await sql('viewer', refused);
      expect(status, refused).toBe(400);
      expect(body.error?.code, refused).toBe(164);
      expect(body.error?.message, refused).toMatch(/readonly/i);
    }
    const collections = await sql('viewer', 'SELECT * FROM system.named_collections');
    expect(JSON.stringify(collections.body)).not.toContain(SECRET);
    expect((await sql('admin', 'SELECT count() AS n FROM roles_t')).body.data).toEqual([{ n: 0 }]);
  });

  it('neither a viewer nor an analyst reaches files, processes or other servers from the ClickHouse host', async () => {
    const outfile = path.join(notebookDir, '..', 'outfile-by-analyst.txt');
    for (const [who, statement, reach] of [
      ['viewer', "SELECT file('/etc/hostname')", 'file()'],
      ['viewer', "SELECT * FROM file('/etc/hostname', 'LineAsString')", 'file()'],
      ['analyst', "SELECT * FROM file('/etc/hostname', 'LineAsString')", 'file()'],
      ['analyst', "WITH x AS (SELECT * FROM url('http://127.0.0.1:1/', 'CSV')) SELECT * FROM x", 'url()'],
      ['analyst', "SELECT * FROM s3('http://127.0.0.1:1/bucket/x.csv')", 's3() on a URL'],
      ['analyst', "INSERT INTO FUNCTION file('/tmp/chlab-pwned.csv', 'CSV') SELECT 1", 'file()'],
      ['analyst', `SELECT 1 INTO OUTFILE '${outfile}'`, 'INTO OUTFILE'],
      ['analyst', "INSERT INTO roles_t FROM INFILE '/etc/hostname' FORMAT LineAsString", 'FROM INFILE'],
      ['analyst', "SELECT * FROM postgresql('127.0.0.1:1', 'db', 't', 'u', 'p')", 'postgresql()'],
      ['analyst', 'SYSTEM FLUSH LOGS', 'SYSTEM'],
      ['analyst', 'KILL QUERY WHERE 1', 'KillQueryQuery'],
    ] as const) {
      const { status, body } = await sql(who, statement);
      expect(status, statement).toBe(403);
      expect(body.error?.message, statement).toContain(reach);
      expect(body.error?.message, statement).toMatch(/^Permission denied: /);
    }
    expect(existsSync(outfile)).toBe(false);
    expect(existsSync('/tmp/chlab-pwned.csv')).toBe(false);
    // An admin (the operator) keeps them.
    expect((await sql('admin', "SELECT count() AS n FROM file('/etc/hostname', 'LineAsString')")).status).toBe(200);
  });

  it('an analyst writes rows but is refused DDL (allow_ddl = 0, which they cannot lift)', async () => {
    expect(await sql('analyst', 'INSERT INTO roles_t VALUES (1), (2)')).toMatchObject({ status: 200 });
    for (const refused of ['CREATE TABLE roles_u (x UInt8) ENGINE = Memory', 'DROP TABLE roles_t', 'SET allow_ddl = 1']) {
      const { status, body } = await sql('analyst', refused);
      expect(status, refused).toBe(400);
      expect(body.error?.code, refused).toBe(392);
    }
    expect((await sql('admin', 'SELECT count() AS n FROM roles_t')).body.data).toEqual([{ n: 2 }]);
  });

  it('an admin runs DDL; the REST routes of migrations, imports and the audit log are theirs alone', async () => {
    expect(await sql('admin', 'CREATE TABLE roles_u (x UInt8) ENGINE = Memory')).toMatchObject({ status: 200 });
    for (const [who, method, url] of [
      ['analyst', 'POST', '/api/migration/execute'],
      ['analyst', 'POST', '/api/s3/import'],
      ['analyst', 'GET', '/api/audit'],
      ['viewer', 'GET', '/api/s3/buckets'],
      ['viewer', 'POST', '/api/migration/analyze-source'],
    ] as const) {
      const response = await app.inject({ method, url, headers: auth(who), payload: method === 'POST' ? {} : undefined });
      expect(response.statusCode, `${who} ${url}`).toBe(403);
      expect(response.json()).toMatchObject({ success: false, error: { message: expect.stringMatching(/^Permission denied: .* \(you are \w+, (viewer|analyst)\)$/) } });
    }
    // Allowed through the policy (then answered by the route itself: here a 400 for the empty body).
    const adminImport = await app.inject({ method: 'POST', url: '/api/s3/import', headers: auth('admin'), payload: {} });
    expect(adminImport.statusCode).toBe(400);
    const history = await app.inject({ method: 'GET', url: '/api/migration/history', headers: auth('viewer') });
    expect(history.statusCode).toBe(200);
  });

  it('in cells too: a viewer kernel cannot write, an analyst cannot %%migrate or %%s3 import', async () => {
    const viewerKernel = await startKernel('viewer');
    const viewer = await PlainJupyterClient.connect(base, tokens.viewer, viewerKernel);
    const insert = await viewer.execute('INSERT INTO roles_t VALUES (3)');
    expect(insert.reply.content.status).toBe('error');
    expect(errorOf(insert.iopub)?.evalue).toMatch(/Code: 164.*readonly/i);
    const migrate = await viewer.execute('%%migrate\nsource: public.t\n');
    expect(errorOf(migrate.iopub)).toMatchObject({ ename: 'PermissionDenied', evalue: expect.stringContaining('%%migrate') });
    viewer.close();

    const analystKernel = await startKernel('analyst');
    const analyst = await PlainJupyterClient.connect(base, tokens.analyst, analystKernel);
    const importing = await analyst.execute('%%s3 import s3://bucket/file.csv INTO t');
    expect(errorOf(importing.iopub)).toMatchObject({ ename: 'PermissionDenied', evalue: expect.stringContaining('%%s3 import') });
    const select = await analyst.execute('SELECT count() FROM roles_t');
    expect(select.reply.content.status).toBe('ok');
    analyst.close();
  });

  it("kernels belong to whoever started them: others neither see nor attach to them", async () => {
    const mine = await startKernel('analyst');
    const listed = await app.inject({ method: 'GET', url: '/api/kernels', headers: auth('viewer') });
    expect((listed.json() as { id: string }[]).map((k) => k.id)).not.toContain(mine);
    expect((await app.inject({ method: 'POST', url: `/api/kernels/${mine}/interrupt`, headers: auth('viewer') })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: `/api/kernels/${mine}`, headers: auth('admin') })).statusCode).toBe(404);
    const socket = new WebSocket(`${base.replace('http', 'ws')}/api/kernels/${mine}/channels`, { headers: auth('viewer') });
    const code = await new Promise<number>((resolve) => socket.on('close', (c) => resolve(c)));
    expect(code).toBe(4004);
    const sessions = await app.inject({ method: 'POST', url: '/api/sessions', headers: auth('analyst'), payload: { path: 'shared.ipynb', type: 'notebook', kernel: { name: 'clickhouse' } } });
    const other = await app.inject({ method: 'POST', url: '/api/sessions', headers: auth('viewer'), payload: { path: 'shared.ipynb', type: 'notebook', kernel: { name: 'clickhouse' } } });
    expect((other.json() as { kernel: { id: string } }).kernel.id).not.toBe((sessions.json() as { kernel: { id: string } }).kernel.id);
  });
});

describe('limits per user, enforced where they belong', () => {
  it('queries per minute: the fourth is refused with when to try again', async () => {
    for (let i = 0; i < 3; i++) expect((await sql('tiny', 'SELECT 1')).status).toBe(200);
    const refused = await sql('tiny', 'SELECT 1');
    expect(refused.status).toBe(429);
    expect(refused.body.error?.message).toMatch(/^Limit reached: tiny \(analyst\) may start 3 queries per minute; try again in \d+ s$/);
  });

  it('concurrent queries: a second at once is refused while the first runs', async () => {
    const slow = sql('solo', 'SELECT sleepEachRow(0.5) FROM numbers(4)');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await sql('solo', 'SELECT 1');
    expect(second.status).toBe(429);
    expect(second.body.error?.message).toMatch(/may run 1 query at a time/);
    expect((await slow).status).toBe(200);
    expect((await sql('solo', 'SELECT 1')).status).toBe(200);
  });

  it('result rows are cut at the user limit and max_execution_time is ClickHouse’s', async () => {
    const rows = await sql('small', 'SELECT number FROM numbers(100)');
    expect(rows.body).toMatchObject({ success: true, truncated: true });
    expect(rows.body.data).toHaveLength(10);
    // A viewer cannot raise it either: readonly forbids changing any setting.
    const raised = await sql('small', 'SELECT sleepEachRow(0.3) FROM numbers(10) SETTINGS max_execution_time = 100');
    expect(raised.body.error?.code).toBe(164);
    const slow = await sql('small', 'SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 0');
    expect(slow.status).toBe(400);
    expect(slow.body.error?.code).toBe(159);
  });
});

describe('notebooks: analysts change their own, viewers none', () => {
  const nb = JSON.stringify({ type: 'notebook', content: { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 } });
  const put = (who: keyof typeof tokens, file: string) =>
    app.inject({ method: 'PUT', url: `/api/contents/${file}`, headers: { ...auth(who), 'content-type': 'application/json' }, payload: nb });

  it('grants the audit log and migration permissions in /api/me to admins only (the frontend offers the panel and the Stop / Resume buttons from them)', async () => {
    const permissions = encodeURIComponent(JSON.stringify({ 'chlab:audit': ['read'], 'chlab:migrations': ['run'], contents: ['read'] }));
    const asked = (who: keyof typeof tokens) => app.inject({ method: 'GET', url: `/api/me?permissions=${permissions}`, headers: auth(who) }).then((r) => r.json());
    expect(await asked('admin')).toMatchObject({ identity: { username: 'dora' }, permissions: { 'chlab:audit': ['read'], 'chlab:migrations': ['run'], contents: ['read'] } });
    expect(await asked('analyst')).toMatchObject({ permissions: { 'chlab:audit': [], 'chlab:migrations': [], contents: ['read'] } });
  });

  it('keeps lab settings and workspaces per user', async () => {
    const layout = { data: { 'layout-restorer:data': { main: { dock: null } }, marker: 'ana' }, metadata: { id: 'default' } };
    expect((await app.inject({ method: 'PUT', url: '/lab/api/workspaces/default', headers: auth('analyst'), payload: layout })).statusCode).toBe(204);
    const own = await app.inject({ method: 'GET', url: '/lab/api/workspaces/default', headers: auth('analyst') });
    expect(own.json()).toMatchObject({ data: { marker: 'ana' } });
    const other = await app.inject({ method: 'GET', url: '/lab/api/workspaces/default', headers: auth('viewer') });
    expect(JSON.stringify(other.json())).not.toContain('"marker"');
  });

  it('enforces ownership on save, rename and delete', async () => {
    expect((await put('viewer', 'vera.ipynb')).statusCode).toBe(403);
    expect((await put('analyst', 'ana.ipynb')).statusCode).toBe(201);
    expect((await put('analyst', 'ana.ipynb')).statusCode).toBe(200);
    expect((await put('solo', 'ana.ipynb')).statusCode).toBe(403);
    expect((await put('analyst', 'shared.ipynb')).statusCode).toBe(403);
    expect((await put('admin', 'shared.ipynb')).statusCode).toBe(200);
    const renamed = await app.inject({ method: 'PATCH', url: '/api/contents/ana.ipynb', headers: auth('analyst'), payload: { path: 'ana2.ipynb' } });
    expect(renamed.statusCode).toBe(200);
    expect((await app.inject({ method: 'DELETE', url: '/api/contents/ana2.ipynb', headers: auth('solo') })).statusCode).toBe(403);
    expect((await app.inject({ method: 'DELETE', url: '/api/contents/ana2.ipynb', headers: auth('analyst') })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/api/contents/shared.ipynb', headers: auth('viewer') })).statusCode).toBe(200);
  });
});

describe('login, audit and the browser-facing defenses', () => {
  it('logs a password user in, refuses a wrong password, and slows down guessing', async () => {
    const form = (username: string, password: string) => ({
      method: 'POST' as const,
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username, password, next: '/lab' }).toString(),
    });
    const page = await app.inject({ method: 'GET', url: '/login' });
    expect(page.body).toContain('name="password"');
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'none'; .*form-action 'self'; frame-ancestors 'none'/);
    const ok = await app.inject(form('pat', PASSWORD));
    expect(ok.statusCode).toBe(302);
    const cookies = ([] as string[]).concat(ok.headers['set-cookie'] ?? []);
    const session = cookies.find((c) => c.startsWith('chlab-session-'))!.split(';')[0]!;
    expect(session).toBeTruthy();
    const lab = await app.inject({ method: 'GET', url: '/lab', headers: { cookie: session, accept: 'text/html' } });
    expect(lab.statusCode).toBe(200);
    expect(lab.headers['content-security-policy']).toMatch(/default-src 'self'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval' blob: 'sha256-[A-Za-z0-9+/=]+'.*object-src 'none'/);
    expect(lab.body).not.toContain('token_sha256');
    const me = await app.inject({ method: 'GET', url: '/api/me', headers: { cookie: session } });
    expect(me.json()).toMatchObject({ identity: { username: 'pat' } });
    // A state-changing request on the cookie needs the XSRF token, as in Jupyter.
    const noXsrf = await app.inject({ method: 'POST', url: '/api/query/execute', headers: { cookie: session }, payload: { query: 'SELECT 1' } });
    expect(noXsrf.statusCode).toBe(403);

    expect((await app.inject(form('pat', 'wrong password'))).statusCode).toBe(401);
    expect((await app.inject(form('nobody', PASSWORD))).statusCode).toBe(401);
    let last = 0;
    for (let i = 0; i < 10; i++) last = (await app.inject(form('pat', `guess ${i}`))).statusCode;
    expect(last).toBe(429);
    expect((await app.inject(form('pat', PASSWORD))).statusCode).toBe(429);
  });

  it('refuses paths outside the notebooks folder, encoded or not (origin and XSRF checks: auth.test.ts, above)', async () => {
    for (const url of ['/api/contents/..%2f..%2fetc%2fpasswd', '/api/contents/%2e%2e/%2e%2e/etc/passwd', '/files/..%2fusers.json']) {
      const response = await app.inject({ method: 'GET', url, headers: auth('admin') });
      expect(response.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, url).toBeLessThan(500);
      expect(response.body).not.toContain('token_sha256');
    }
  });

  it('writes logins, failed logins, refusals, DDL and queries to the audit log, with user, address and outcome', async () => {
    const failed = await auditRows('action=login_failed&limit=100');
    expect(failed.length).toBeGreaterThanOrEqual(12);
    expect(failed[0]).toMatchObject({ address: '127.0.0.1', outcome: 'denied' });
    expect(failed.map((e) => e.user)).toContain('nobody');
    expect(await auditRows('action=login&user=pat')).toEqual([expect.objectContaining({ role: 'analyst', outcome: 'ok', target: 'login form' })]);
    const denied = await auditRows('action=denied&limit=100');
    expect(denied).toEqual(expect.arrayContaining([expect.objectContaining({ user: 'ana', target: 'POST /api/migration/execute', outcome: 'denied' })]));
    expect(denied).toEqual(expect.arrayContaining([expect.objectContaining({ user: 'vera', target: expect.stringMatching(/^%%migrate /), outcome: 'denied' })]));
    const ddl = await auditRows('action=ddl&limit=100');
    expect(ddl).toEqual(expect.arrayContaining([expect.objectContaining({ user: 'dora', role: 'admin', target: 'CREATE TABLE roles_u (x UInt8) ENGINE = Memory', outcome: 'ok' })]));
    expect(ddl).toEqual(expect.arrayContaining([expect.objectContaining({ user: 'ana', outcome: 'denied', detail: expect.stringContaining('392') })]));
    const readonlyRefusals = await auditRows('user=vera&action=query&outcome=denied&limit=100');
    expect(readonlyRefusals.map((e) => e.target)).toContain('INSERT INTO roles_t VALUES (1)');
    expect(JSON.stringify(await auditRows('limit=1000'))).not.toContain(SECRET);
    const limits = await auditRows('action=limit');
    expect(limits.map((e) => e.user)).toEqual(expect.arrayContaining(['tiny', 'solo']));
  });
});
