// A real Jupyter client: Debian's Python Jupyter Server (python3-jupyter-server) started with --gateway-url
// pointing at the kernel-proxy, so the proxy answers as a Jupyter Kernel Gateway. The test talks to
// jupyter_server only (its REST API and its kernel WebSocket, JSON frames), as JupyterLab or VS Code on
// top of it would, and checks that the clickhouse kernel runs behind it.
//
// Needs `apt-get install python3-jupyter-server` (.ci/run installs it). Without it the tests skip with the
// reason outside CI, and fail in CI.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server.js';
import { ARROW_MIME } from '../../src/kernel/spec.js';
import { PlainJupyterClient, type WireMessage } from '../support/jupyter-client.js';
import { silentLogger, testConfig } from '../support/engine.js';
import { freePort } from '../../../tests/support/ports.js';

/** Debian's own Python (another python may come first on PATH, without jupyter_server). */
const PYTHON = '/usr/bin/python3';

function jupyterServerVersion(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import jupyter_server; print(jupyter_server.__version__)'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

const inCI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
const version = jupyterServerVersion();
const skipReason = version ? '' : `${PYTHON} has no jupyter_server: apt-get install python3-jupyter-server`;
if (!version && inCI) throw new Error(`CI=${process.env.CI}: the gateway test needs Jupyter Server, but ${skipReason}`);
if (!version) process.stderr.write(`[gateway test] skipped: ${skipReason}\n`);

const config = testConfig({ CHLAB_TOKEN: 'gateway-token-0123456789' });
const JUPYTER_TOKEN = 'jupyter-token-9876543210';
let app: FastifyInstance;
let jupyter: ChildProcess | undefined;
let jupyterLog = '';
let base = '';
let scratch = '';
const auth = { Authorization: `token ${JUPYTER_TOKEN}` };

async function api<T = any>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function stopJupyter(): Promise<void> {
  const child = jupyter;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Waits until jupyter_server relays to the gateway. Jupyter Server 1.23 opens its own WebSocket to the gateway
 * only after the client's is open, and drops what the client sends in between (its handler queues the message
 * on a future it then replaces), so a client asks for kernel_info until it gets an answer, as JupyterLab does
 * when a kernel does not answer in time.
 */
async function relayed(client: PlainJupyterClient): Promise<WireMessage> {
  for (let attempt = 1; ; attempt++) {
    const id = client.send('shell', 'kernel_info_request', {});
    try {
      return await client.waitFor((m) => m.parent_header?.msg_id === id && m.header.msg_type === 'kernel_info_reply', 2000);
    } catch (error) {
      if (attempt === 10) throw error;
    }
  }
}

describe.skipIf(!version)(`Python Jupyter Server ${version ?? ''} in gateway mode, in front of the kernel-proxy`, () => {
  beforeAll(async () => {
    ({ app } = await buildServer({ config, logger: silentLogger }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const gatewayUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    scratch = await mkdtemp(path.join(tmpdir(), 'chlab-gateway-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    jupyter = spawn(
      PYTHON,
      [
        '-m',
        'jupyter_server',
        `--gateway-url=${gatewayUrl}`,
        `--GatewayClient.auth_token=${config.token}`,
        '--GatewayClient.request_timeout=60',
        `--ServerApp.token=${JUPYTER_TOKEN}`,
        `--ServerApp.root_dir=${scratch}`,
        '--ServerApp.ip=127.0.0.1',
        `--ServerApp.port=${port}`,
        '--ServerApp.port_retries=0',
        '--ServerApp.open_browser=False',
        '--allow-root',
      ],
      {
        cwd: scratch,
        // Its config, data and runtime files go to the scratch folder, not ~/.jupyter.
        env: { ...process.env, JUPYTER_CONFIG_DIR: path.join(scratch, 'config'), JUPYTER_DATA_DIR: path.join(scratch, 'data'), JUPYTER_RUNTIME_DIR: path.join(scratch, 'runtime'), JUPYTER_PLATFORM_DIRS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    jupyter.stdout!.on('data', (d: Buffer) => (jupyterLog = (jupyterLog + d.toString()).slice(-20_000)));
    jupyter.stderr!.on('data', (d: Buffer) => (jupyterLog = (jupyterLog + d.toString()).slice(-20_000)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (jupyter.exitCode !== null) throw new Error(`jupyter_server exited (${jupyter.exitCode}):\n${jupyterLog}`);
      try {
        if ((await fetch(`${base}/api/status`, { headers: auth })).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`jupyter_server did not start in 60 s:\n${jupyterLog}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 120_000);

  afterAll(async () => {
    await stopJupyter();
    await app?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }, 60_000);

  it('lists the clickhouse kernelspec from the gateway', async () => {
    const { status, body } = await api<{ default: string; kernelspecs: Record<string, { name: string; spec: { language: string; display_name: string } }> }>('GET', '/api/kernelspecs');
    expect(status, jupyterLog).toBe(200);
    expect(Object.keys(body.kernelspecs)).toEqual(['clickhouse']);
    expect(body.kernelspecs.clickhouse!.spec).toMatchObject({ language: 'sql', display_name: 'ClickHouse SQL' });
    // jupyter_server adopts the gateway's default kernel once it has seen it.
    expect((await api('GET', '/api/kernelspecs')).body.default).toBe('clickhouse');
    const logo = await fetch(`${base}/kernelspecs/clickhouse/logo-svg.svg`, { headers: auth });
    expect(logo.status).toBe(200);
    expect(await logo.text()).toContain('<svg');
  });

  it('runs SQL in a notebook session: Arrow results, errors, completion, interrupt, restart, shutdown', async () => {
    const created = await api<{ id: string; kernel: { id: string; name: string } }>('POST', '/api/sessions', {
      path: 'gateway.ipynb',
      name: 'gateway.ipynb',
      type: 'notebook',
      kernel: { name: 'clickhouse' },
    });
    expect(created.status, jupyterLog).toBe(201);
    const kernelId = created.body.kernel.id;
    expect(created.body.kernel.name).toBe('clickhouse');
    // The kernel lives in the proxy; jupyter_server only relays.
    expect(app.chlab.kernels.list().map((k) => k.id)).toContain(kernelId);
    expect((await api('GET', `/api/kernels/${kernelId}`)).body).toMatchObject({ id: kernelId, name: 'clickhouse' });

    const client = await PlainJupyterClient.connect(base, JUPYTER_TOKEN, kernelId, 'json');
    try {
      const info = await relayed(client);
      expect(info.content).toMatchObject({ status: 'ok', implementation: 'chlab', language_info: { name: 'sql' } });

      const ddl = await client.execute(`
        CREATE TABLE gw_orders (id UInt32, placed DateTime('UTC'), amount Decimal(10, 2)) ENGINE = MergeTree ORDER BY id;
        INSERT INTO gw_orders SELECT number, toDateTime('2024-05-01 00:00:00', 'UTC') + number * 60, number / 4 FROM numbers(100);`);
      expect(ddl.reply.content).toMatchObject({ status: 'ok', execution_count: 1 });
      expect(ddl.iopub.filter((m) => m.header.msg_type === 'display_data').map((m) => m.content.data['text/plain'])).toEqual([
        expect.stringMatching(/^CREATE: OK/),
        expect.stringMatching(/^INSERT: OK/),
      ]);

      const query = await client.execute('SELECT count() AS n, sum(amount) AS total, max(placed) AS last FROM gw_orders');
      expect(query.reply.content).toMatchObject({ status: 'ok', execution_count: 2 });
      const types = query.iopub.map((m) => m.header.msg_type);
      expect(types[0]).toBe('status');
      expect(types).toContain('execute_input');
      const display = query.iopub.find((m) => m.header.msg_type === 'display_data')!;
      const table = tableFromIPC(Buffer.from(display.content.data[ARROW_MIME], 'base64'));
      expect(Number(table.getChild('n')!.get(0))).toBe(100);
      expect(display.content.data['text/plain']).toContain('1237.50');
      expect(display.content.data['text/plain']).toContain('2024-05-01 01:39:00');
      expect(display.content.metadata[ARROW_MIME]).toMatchObject({ rows: 1, columns: [{ name: 'n', type: 'UInt64' }, { name: 'total' }, { name: 'last', type: "DateTime('UTC')" }] });

      const error = await client.execute('SELECT * FROM gw_missing');
      expect(error.reply.content).toMatchObject({ status: 'error', ename: 'UNKNOWN_TABLE' });
      expect(error.iopub.find((m) => m.header.msg_type === 'error')!.content.evalue).toMatch(/^Code: 60/);

      const completion = await client.request('shell', 'complete_request', { code: 'SELECT * FROM gw_ord', cursor_pos: 20 });
      expect(completion.reply.content.matches).toContain('gw_orders');

      // Interrupt through jupyter_server's REST API: it reaches the proxy, which stops the query.
      const longRunning = client.execute('SELECT number, sleepEachRow(0.02) FROM numbers(100000) SETTINGS max_block_size = 5');
      await new Promise((r) => setTimeout(r, 700));
      expect((await api('POST', `/api/kernels/${kernelId}/interrupt`)).status).toBe(204);
      expect((await longRunning).reply.content).toMatchObject({ status: 'error', ename: 'Interrupted' });

      // Full results stream over the `chlab.results` comm as binary frames; jupyter_server relays them.
      client.send('shell', 'comm_open', { comm_id: 'gateway-results', target_name: 'chlab.results', data: {} });
      const streamed = await client.execute('SELECT number AS n FROM numbers(5000)');
      expect(streamed.reply.content.status).toBe('ok');
      const batches = streamed.iopub.filter((m) => m.header.msg_type === 'comm_msg' && !m.content.data.done);
      expect(batches.length).toBeGreaterThan(0);
      const streamedRows = batches.reduce((sum, m) => sum + tableFromIPC(m.buffers![0]!).numRows, 0);
      expect(streamedRows).toBe(5000);
      expect(streamed.iopub.find((m) => m.header.msg_type === 'comm_msg' && m.content.data.done)!.content.data).toMatchObject({ rows: 5000, truncated: false });

      const restarted = await api('POST', `/api/kernels/${kernelId}/restart`);
      expect(restarted.status, jupyterLog).toBe(200);
      const after = await client.execute('SELECT 42 AS answer');
      expect(after.reply.content).toMatchObject({ status: 'ok', execution_count: 1 });
    } finally {
      client.close();
    }

    expect((await api('DELETE', `/api/sessions/${created.body.id}`)).status).toBe(204);
    const deadline = Date.now() + 10_000;
    while (app.chlab.kernels.get(kernelId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(app.chlab.kernels.get(kernelId)).toBeUndefined();
  }, 120_000);

  it('starts and stops a bare kernel through /api/kernels', async () => {
    const started = await api<{ id: string; name: string }>('POST', '/api/kernels', { name: 'clickhouse' });
    expect(started.status, jupyterLog).toBe(201);
    expect(started.body.name).toBe('clickhouse');
    expect((await api<{ id: string }[]>('GET', '/api/kernels')).body.map((k) => k.id)).toContain(started.body.id);
    const client = await PlainJupyterClient.connect(base, JUPYTER_TOKEN, started.body.id, 'json');
    try {
      await relayed(client);
      const { reply, iopub } = await client.execute('SELECT version() AS v');
      expect(reply.content.status).toBe('ok');
      expect(iopub.some((m) => m.header.msg_type === 'display_data')).toBe(true);
    } finally {
      client.close();
    }
    expect((await api('DELETE', `/api/kernels/${started.body.id}`)).status).toBe(204);
    expect(app.chlab.kernels.get(started.body.id)).toBeUndefined();
  }, 60_000);

  it('asks for a kernel the gateway does not have and gets an error status', async () => {
    // jupyter_server 1.23 keeps the gateway's status code but replaces its message with a generic
    // "Error attempting to connect to Gateway server"; the proxy's own answer names the kernel.
    const { status } = await api('POST', '/api/kernels', { name: 'python3' });
    expect(status).toBe(501);
    const direct = await app.inject({ method: 'POST', url: '/api/kernels', headers: { authorization: `token ${config.token}` }, payload: { name: 'python3' } });
    expect(direct.statusCode).toBe(501);
    expect(direct.json().message).toContain('python3');
  });
});

if (!version) {
  describe('Python Jupyter Server gateway test', () => {
    it.skip(`skipped: ${skipReason}`, () => undefined);
  });
}
