import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { authPlugin } from '../../src/jupyter/auth.js';
import { miscPlugin } from '../../src/jupyter/misc.js';
import { FakeKernelManager } from './fake-kernel-manager.js';

const TOKEN = 'misc-token-0123456789';

describe('miscPlugin', () => {
  let app: FastifyInstance;
  let kernels: FakeKernelManager;
  beforeEach(async () => {
    kernels = new FakeKernelManager();
    app = Fastify();
    await app.register(websocket);
    await app.register(authPlugin, { token: TOKEN, username: 'ada.lovelace' });
    await app.register(miscPlugin, { kernelManager: kernels });
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
  });

  const get = (url: string) => app.inject({ method: 'GET', url, headers: { authorization: `token ${TOKEN}` } });

  it('answers the server version and status', async () => {
    expect((await get('/api')).json()).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
    await kernels.start();
    const status = (await get('/api/status')).json();
    expect(status).toMatchObject({ kernels: 1, connections: 0 });
    expect(Date.parse(status.started)).not.toBeNaN();
    expect(Date.parse(status.last_activity)).not.toBeNaN();
  });

  it('describes the authenticated user and grants the permissions asked for', async () => {
    const me = (await get(`/api/me?permissions=${encodeURIComponent(JSON.stringify({ contents: ['read', 'write'] }))}`)).json();
    expect(me).toEqual({
      identity: {
        username: 'ada.lovelace',
        name: 'ada.lovelace',
        display_name: 'ada.lovelace',
        initials: 'AL',
        color: null,
        avatar_url: null,
      },
      permissions: { contents: ['read', 'write'] },
    });
    expect((await get('/api/me')).json().permissions).toEqual({});
    const bad = await get('/api/me?permissions=%7Bnope');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/^query\.permissions: /);
    const wrongShape = await get(`/api/me?permissions=${encodeURIComponent('{"contents":"read"}')}`);
    expect(wrongShape.json().message).toMatch(/^query\.permissions\.contents: /);
  });

  it('stubs nbconvert, terminals and events', async () => {
    expect((await get('/api/nbconvert')).json()).toEqual({});
    const post = await app.inject({ method: 'POST', url: '/api/nbconvert', headers: { authorization: `token ${TOKEN}` } });
    expect(post.json()).toEqual({});
    expect((await get('/api/terminals')).json()).toEqual([]);
    const event = await app.inject({
      method: 'POST',
      url: '/api/events',
      headers: { authorization: `token ${TOKEN}` },
      payload: { schema_id: 'https://example.org/e', version: 1, data: {} },
    });
    expect(event.statusCode).toBe(204);
    const badEvent = await app.inject({ method: 'POST', url: '/api/events', headers: { authorization: `token ${TOKEN}` }, payload: { version: 1 } });
    expect(badEvent.statusCode).toBe(400);
    expect(badEvent.json().message).toMatch(/body\.schema_id/);
  });

  it('keeps the events WebSocket open and silent, for authenticated clients only', async () => {
    await expect(app.injectWS('/api/events/subscribe')).rejects.toThrow(/401/);
    const socket = await app.injectWS(`/api/events/subscribe?token=${TOKEN}`);
    const received: unknown[] = [];
    socket.on('message', (data) => received.push(data));
    socket.send(JSON.stringify({ hello: 'world' }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(socket.readyState).toBe(socket.OPEN);
    expect(received).toEqual([]);
    socket.terminate();
  });

  it('keeps config sections, merging PATCHes like Jupyter (null deletes)', async () => {
    const auth = { authorization: `token ${TOKEN}` };
    expect((await get('/api/config/announcements')).json()).toEqual({});
    const patched = await app.inject({ method: 'PATCH', url: '/api/config/announcements', headers: auth, payload: { a: { seen: true }, b: 1 } });
    expect(patched.json()).toEqual({ a: { seen: true }, b: 1 });
    const merged = await app.inject({ method: 'PATCH', url: '/api/config/announcements', headers: auth, payload: { a: { dismissed: true }, b: null } });
    expect(merged.json()).toEqual({ a: { seen: true, dismissed: true } });
    expect((await get('/api/config/announcements')).json()).toEqual({ a: { seen: true, dismissed: true } });
    const put = await app.inject({ method: 'PUT', url: '/api/config/announcements', headers: auth, payload: { c: 2 } });
    expect(put.statusCode).toBe(204);
    expect((await get('/api/config/announcements')).json()).toEqual({ c: 2 });
    const bad = await app.inject({ method: 'PATCH', url: '/api/config/announcements', headers: auth, payload: [1] });
    expect(bad.statusCode).toBe(400);
    expect((await get('/api/config/a%2Fb')).statusCode).toBe(400);
  });

  it('persists config sections to configDir when given', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chlab-config-'));
    try {
      const persistent = Fastify();
      await persistent.register(websocket);
      await persistent.register(miscPlugin, { configDir: dir });
      await persistent.inject({ method: 'PATCH', url: '/api/config/notebook', payload: { x: 1 } });
      await persistent.close();
      expect(JSON.parse(await readFile(path.join(dir, 'notebook.json'), 'utf8'))).toEqual({ x: 1 });
      const again = Fastify();
      await again.register(websocket);
      await again.register(miscPlugin, { configDir: dir });
      expect((await again.inject({ method: 'GET', url: '/api/config/notebook' })).json()).toEqual({ x: 1 });
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to register without @fastify/websocket', async () => {
    const bare = Fastify();
    await expect(bare.register(miscPlugin, {}).ready()).rejects.toThrow(/@fastify\/websocket/);
    await bare.close();
  });
});
