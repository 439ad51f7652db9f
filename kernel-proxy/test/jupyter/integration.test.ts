import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authPlugin, parseCookies } from '../../src/jupyter/auth.js';
import { contentsPlugin } from '../../src/jupyter/contents.js';
import { kernelsPlugin } from '../../src/jupyter/kernels.js';
import { kernelspecsPlugin } from '../../src/jupyter/kernelspecs.js';
import { labPlugin } from '../../src/jupyter/lab.js';
import { miscPlugin } from '../../src/jupyter/misc.js';
import { sessionsPlugin } from '../../src/jupyter/sessions.js';
import { FakeKernelManager } from './fake-kernel-manager.js';

const TOKEN = 'integration-token-0123456789';
const HOST = 'localhost:8888';

describe('the Jupyter plugins assembled like server.ts', () => {
  let base: string;
  let app: FastifyInstance;

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'chlab-jupyter-'));
    const staticDir = path.join(base, 'build');
    await mkdir(path.join(base, 'notebooks'));
    await mkdir(path.join(staticDir, 'schemas'), { recursive: true });
    await writeFile(path.join(staticDir, 'bundle.js'), '//');
    const kernels = new FakeKernelManager();
    app = Fastify();
    await app.register(websocket);
    await app.register(authPlugin, { token: TOKEN });
    await app.register(contentsPlugin, { root: path.join(base, 'notebooks') });
    await app.register(kernelspecsPlugin, {});
    await app.register(kernelsPlugin, { kernelManager: kernels });
    await app.register(sessionsPlugin, { kernelManager: kernels });
    await app.register(miscPlugin, {});
    await app.register(labPlugin, {
      staticDir,
      userSettingsDir: path.join(base, 'settings'),
      workspacesDir: path.join(base, 'workspaces'),
      token: TOKEN,
    });
    await app.ready();
  });

  afterAll(async () => {
    await app.close();
    await rm(base, { recursive: true, force: true });
  });

  it('protects every route, pages included', async () => {
    for (const url of ['/api/contents', '/api/kernels', '/api/sessions', '/api/kernelspecs', '/api/me', '/lab/api/settings', '/static/lab/bundle.js', '/files/x', '/kernelspecs/clickhouse/logo-svg.svg', '/api/nowhere']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(401);
      expect(response.json(), url).toMatchObject({ reason: 'Unauthorized' });
    }
    const page = await app.inject({ method: 'GET', url: '/lab/tree/a.ipynb', headers: { accept: 'text/html' } });
    expect(page.statusCode).toBe(302);
    expect(page.headers.location).toBe('/login?next=%2Flab%2Ftree%2Fa.ipynb');
  });

  it('runs a browser-like flow: token login, cookie + XSRF for writes, session start', async () => {
    const root = await app.inject({ method: 'GET', url: `/?token=${TOKEN}`, headers: { accept: 'text/html', host: HOST } });
    expect(root.statusCode).toBe(302);
    expect(root.headers.location).toBe(`/lab?token=${TOKEN}`);

    const page = await app.inject({ method: 'GET', url: root.headers.location!, headers: { accept: 'text/html', host: HOST } });
    expect(page.statusCode).toBe(200);
    const setCookie = ([] as string[]).concat(page.headers['set-cookie'] ?? []);
    const cookie = setCookie.map((c) => c.split(';')[0]).join('; ');
    const xsrf = parseCookies(cookie).get('_xsrf')!;
    expect(xsrf).toBeTruthy();
    const headers = { cookie, host: HOST };

    const me = await app.inject({ method: 'GET', url: '/api/me', headers });
    expect(me.json().identity.username).toBe('analyst');

    const noXsrf = await app.inject({ method: 'POST', url: '/api/contents', headers, payload: { type: 'notebook' } });
    expect(noXsrf.statusCode).toBe(403);
    const created = await app.inject({ method: 'POST', url: '/api/contents', headers: { ...headers, 'x-xsrftoken': xsrf }, payload: { type: 'notebook' } });
    expect(created.statusCode).toBe(201);
    const session = await app.inject({
      method: 'POST',
      url: '/api/sessions',
      headers: { ...headers, 'x-xsrftoken': xsrf },
      payload: { path: created.json().path, type: 'notebook', name: '', kernel: { name: 'clickhouse' } },
    });
    expect(session.statusCode).toBe(201);
    expect(session.json().kernel.name).toBe('clickhouse');

    const ws = await app.injectWS('/api/events/subscribe', { headers: { ...headers, origin: `http://${HOST}` } });
    ws.terminate();
  });

  it('lets scripts use the token header without cookies or XSRF', async () => {
    const response = await app.inject({
      method: 'PUT',
      url: '/api/contents/script.sql',
      headers: { authorization: `token ${TOKEN}` },
      payload: { type: 'file', format: 'text', content: 'SELECT 1' },
    });
    expect(response.statusCode).toBe(201);
    expect(response.headers['set-cookie']).toBeUndefined();
  });
});
