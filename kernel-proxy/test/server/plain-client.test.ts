import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tableFromIPC } from 'apache-arrow';
import WebSocket from 'ws';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/server.js';
import { ARROW_MIME } from '../../src/kernel/spec.js';
import { PlainJupyterClient } from '../support/jupyter-client.js';
import { silentLogger, testConfig, listenOnLoopback } from '../support/engine.js';

const config = testConfig();
let app: FastifyInstance;
let baseUrl: string;
const auth = { Authorization: `token ${config.token}` };

beforeAll(async () => {
  ({ app } = await buildServer({ config, logger: silentLogger }));
  baseUrl = await listenOnLoopback(app);
});
afterAll(() => app.close());

async function startSession(): Promise<string> {
  const response = await fetch(`${baseUrl}/api/sessions`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ path: 'plain.ipynb', name: 'plain.ipynb', type: 'notebook', kernel: { name: 'clickhouse' } }),
  });
  expect(response.status).toBe(201);
  const session = (await response.json()) as { kernel: { id: string; name: string } };
  expect(session.kernel.name).toBe('clickhouse');
  return session.kernel.id;
}

describe('a plain Jupyter client (REST + WebSocket, no JupyterLab)', () => {
  it('starts a session on kernel clickhouse and decodes 10 Arrow rows (JSON frames)', async () => {
    const kernelId = await startSession();
    const client = await PlainJupyterClient.connect(baseUrl, config.token, kernelId, 'json');
    expect(client.negotiatedProtocol).toBe('');
    const { reply, iopub } = await client.execute('SELECT number AS n, toString(number) AS s FROM numbers(10)');
    expect(reply.content.status).toBe('ok');
    const display = iopub.find((m) => m.header.msg_type === 'display_data')!;
    const table = tableFromIPC(Buffer.from(display.content.data[ARROW_MIME], 'base64'));
    expect(table.numRows).toBe(10);
    expect(table.getChild('s')!.toArray()).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(table.getChild('n')!.get(9)).toBe(9n);
    client.close();
  });

  it('gets an error reply for SELEC 1', async () => {
    const client = await PlainJupyterClient.connect(baseUrl, config.token, await startSession(), 'json');
    const { reply, iopub } = await client.execute('SELEC 1');
    expect(reply.content).toMatchObject({ status: 'error', ename: 'SYNTAX_ERROR' });
    expect(iopub.some((m) => m.header.msg_type === 'error')).toBe(true);
    client.close();
  });

  it('speaks v1.kernel.websocket.jupyter.org when offered', async () => {
    const client = await PlainJupyterClient.connect(baseUrl, config.token, await startSession(), 'v1');
    expect(client.negotiatedProtocol).toBe('v1.kernel.websocket.jupyter.org');
    const { reply } = await client.request('shell', 'kernel_info_request', {});
    expect(reply.content.language_info.name).toBe('sql');
    const { iopub } = await client.execute('SELECT 1 AS one');
    expect(iopub.some((m) => m.header.msg_type === 'display_data')).toBe(true);
    client.close();
  });

  it('answers malformed frames with a clear error and keeps the connection', async () => {
    const client = await PlainJupyterClient.connect(baseUrl, config.token, await startSession(), 'json');
    client.sendRaw('not json at all');
    const notJson = await client.waitFor((m) => m.header.msg_type === 'error' && m.content.ename === 'InvalidMessage');
    expect(notJson.content.evalue).toContain('JSON');
    client.sendRaw(JSON.stringify({ channel: 'shell', header: { msg_type: 'execute_request' }, content: {} }));
    await client.waitFor((m) => m.content.ename === 'InvalidMessage' && String(m.content.evalue).includes('msg_id'));
    client.sendRaw(Buffer.from([0, 0, 0, 9, 1, 2]));
    await client.waitFor((m) => m.content.ename === 'InvalidMessage' && String(m.content.evalue).includes('offset'));
    const { reply } = await client.execute('SELECT 1');
    expect(reply.content.status).toBe('ok');
    client.close();
  });

  it('refuses requests and WebSockets without the token', async () => {
    expect((await fetch(`${baseUrl}/api/kernels`)).status).toBe(401);
    expect((await fetch(`${baseUrl}/api/sessions`, { headers: { Authorization: 'token wrong-token-value' } })).status).toBe(401);
    expect((await fetch(`${baseUrl}/api/query/execute`, { method: 'POST', body: '{"query":"SELECT 1"}', headers: { 'Content-Type': 'application/json' } })).status).toBe(401);
    const kernelId = await startSession();
    const refused = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/api/kernels/${kernelId}/channels`);
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('open', () => resolve(101));
      socket.on('error', () => undefined);
    });
    expect([401, 403]).toContain(refused);
  });

  it('lists the clickhouse kernelspec and the running kernels', async () => {
    const specs = await (await fetch(`${baseUrl}/api/kernelspecs`, { headers: auth })).json();
    expect(specs.default).toBe('clickhouse');
    expect(specs.kernelspecs.clickhouse.spec.language).toBe('sql');
    const kernels = (await (await fetch(`${baseUrl}/api/kernels`, { headers: auth })).json()) as { name: string }[];
    expect(kernels.length).toBeGreaterThan(0);
    expect(kernels.every((k) => k.name === 'clickhouse')).toBe(true);
  });
});

describe('REST over a real socket', () => {
  it('answers /api/query/execute (curl-style body) without cancelling the query', async () => {
    const response = await fetch(`${baseUrl}/api/query/execute`, { method: 'POST', headers: auth, body: '{"query":"SELECT 1+1 AS two"}' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ success: true, data: [{ two: 2 }] });
  });

  it('stops the query when the client disconnects', async () => {
    const controller = new AbortController();
    const pending = fetch(`${baseUrl}/api/query/execute`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ query: 'SELECT number, sleepEachRow(0.02) FROM numbers(100000) SETTINGS max_block_size = 5 -- disconnect-marker' }),
      signal: controller.signal,
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    controller.abort();
    await pending;
    let cancelled: { queries: { status: string }[] } = { queries: [] };
    for (let i = 0; i < 50 && cancelled.queries.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      cancelled = await (await fetch(`${baseUrl}/api/query/history?status=cancelled&search=disconnect-marker`, { headers: auth })).json();
    }
    expect(cancelled.queries).toHaveLength(1);
  });
});

describe('streaming results over the chlab.results comm', () => {
  it('sends every batch as binary Arrow to a client that opened the comm, and keeps a bounded preview in the output', async () => {
    const kernelId = await startSession();
    for (const protocol of ['v1', 'json'] as const) {
      const client = await PlainJupyterClient.connect(baseUrl, config.token, kernelId, protocol);
      client.send('shell', 'comm_open', { comm_id: `results-${protocol}`, target_name: 'chlab.results', data: {} });
      const info = await client.request('shell', 'comm_info_request', { target_name: 'chlab.results' });
      expect(Object.keys(info.reply.content.comms)).toContain(`results-${protocol}`);
      const { reply, iopub } = await client.execute('SELECT number AS n, toString(number) AS s FROM numbers(300000)');
      expect(reply.content.status).toBe('ok');
      const batches = iopub.filter((m) => m.header.msg_type === 'comm_msg' && !m.content.data.done);
      expect(batches.length).toBeGreaterThan(1);
      let rows = 0;
      let last = -1n;
      for (const m of batches) {
        expect(m.buffers).toHaveLength(1);
        const table = tableFromIPC(m.buffers![0]!);
        rows += table.numRows;
        expect(table.getChild('n')!.get(0)).toBe(last + 1n);
        last = table.getChild('n')!.get(table.numRows - 1) as bigint;
      }
      expect(rows).toBe(300000);
      const done = iopub.find((m) => m.header.msg_type === 'comm_msg' && m.content.data.done)!;
      expect(done.content.data).toMatchObject({ rows: 300000, truncated: false });
      const first = iopub.find((m) => m.header.msg_type === 'display_data')!;
      const final = iopub.find((m) => m.header.msg_type === 'update_display_data')!;
      expect(first.content.transient.display_id).toBe(final.content.transient.display_id);
      expect(final.content.metadata[ARROW_MIME]).toMatchObject({ rows: 300000, preview_rows: 1000, streamed: true });
      expect(tableFromIPC(Buffer.from(final.content.data[ARROW_MIME], 'base64')).numRows).toBe(1000);
      client.close();
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  it('closes a comm opened for an unknown target', async () => {
    const client = await PlainJupyterClient.connect(baseUrl, config.token, await startSession(), 'json');
    client.send('shell', 'comm_open', { comm_id: 'x1', target_name: 'nobody.listens', data: {} });
    const closed = await client.waitFor((m) => m.header.msg_type === 'comm_close');
    expect(closed.content.comm_id).toBe('x1');
    client.close();
  });
});
