import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sessionsPlugin } from '../../src/jupyter/sessions.js';
import { FakeKernelManager } from './fake-kernel-manager.js';

describe('sessionsPlugin', () => {
  let app: FastifyInstance;
  let kernels: FakeKernelManager;
  beforeEach(async () => {
    kernels = new FakeKernelManager();
    app = Fastify();
    await app.register(sessionsPlugin, { kernelManager: kernels });
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
  });

  const create = (payload: object) => app.inject({ method: 'POST', url: '/api/sessions', payload });

  it('creates a session with a new kernel and lists it', async () => {
    const response = await create({ path: 'a.ipynb', type: 'notebook', name: 'a.ipynb', kernel: { name: 'clickhouse' } });
    expect(response.statusCode).toBe(201);
    const session = response.json();
    expect(session).toMatchObject({
      path: 'a.ipynb',
      name: 'a.ipynb',
      type: 'notebook',
      kernel: { name: 'clickhouse', execution_state: 'idle' },
      notebook: { path: 'a.ipynb', name: 'a.ipynb' },
    });
    expect(response.headers.location).toBe(`/api/sessions/${session.id}`);
    expect(kernels.list()).toHaveLength(1);
    expect((await app.inject({ method: 'GET', url: '/api/sessions' })).json()).toEqual([session]);
    expect((await app.inject({ method: 'GET', url: `/api/sessions/${session.id}` })).json()).toEqual(session);
  });

  it('returns the existing session for a path, also when requests race', async () => {
    const [a, b] = await Promise.all([
      create({ path: 'x.ipynb', type: 'notebook', kernel: { name: 'clickhouse' } }),
      create({ path: 'x.ipynb', type: 'notebook', kernel: { name: 'clickhouse' } }),
    ]);
    expect(a.json().id).toBe(b.json().id);
    const again = await create({ path: 'x.ipynb', type: 'notebook' });
    expect(again.json().id).toBe(a.json().id);
    expect(kernels.list()).toHaveLength(1);
  });

  it('reuses a running kernel by id and starts the default kernel when none is named', async () => {
    const kernel = await kernels.start('clickhouse');
    const reused = (await create({ path: 'c1', type: 'console', kernel: { id: kernel.id } })).json();
    expect(reused.kernel.id).toBe(kernel.id);
    expect(reused.notebook).toBeUndefined();
    const fresh = (await create({ path: 'c2', type: 'console' })).json();
    expect(fresh.kernel.id).not.toBe(kernel.id);
    expect(kernels.calls).toContain('start:');
  });

  it('parses JSON bodies sent as text/plain or without a content type, as JupyterLab and Jupyter do', async () => {
    const payload = JSON.stringify({ path: 'plain.ipynb', type: 'notebook', kernel: { name: 'clickhouse' } });
    const plain = await app.inject({ method: 'POST', url: '/api/sessions', headers: { 'content-type': 'text/plain;charset=UTF-8' }, payload });
    expect(plain.statusCode).toBe(201);
    expect(plain.json().path).toBe('plain.ipynb');
    const bare = await app.inject({ method: 'POST', url: '/api/sessions', headers: { 'content-type': 'application/octet-stream' }, payload: payload.replace('plain', 'bare') });
    expect(bare.statusCode).toBe(201);
    const broken = await app.inject({ method: 'POST', url: '/api/sessions', headers: { 'content-type': 'text/plain' }, payload: '{oops' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toHaveProperty('message');
    expect(broken.json()).toHaveProperty('reason');
  });

  it('accepts the legacy notebook field', async () => {
    const response = await create({ notebook: { path: 'legacy.ipynb' }, kernel: { name: 'clickhouse' } });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ path: 'legacy.ipynb', type: 'notebook' });
  });

  it('validates the body, naming the field, and answers 501 for unknown kernels', async () => {
    const noPath = await create({ type: 'notebook' });
    expect(noPath.statusCode).toBe(400);
    expect(noPath.json().message).toBe('body.path: Missing field in JSON data: path');
    const noType = await create({ path: 'a.ipynb' });
    expect(noType.json().message).toBe('body.type: Missing field in JSON data: type');
    const badKernel = await create({ path: 'a.ipynb', type: 'notebook', kernel: { id: '../x' } });
    expect(badKernel.statusCode).toBe(400);
    expect(badKernel.json().message).toMatch(/^body\.kernel\.id: /);
    const noBody = await app.inject({ method: 'POST', url: '/api/sessions' });
    expect(noBody.statusCode).toBe(400);
    const unknown = await create({ path: 'a.ipynb', type: 'notebook', kernel: { name: 'python3' } });
    expect(unknown.statusCode).toBe(501);
    expect(unknown.json()).toMatchObject({ short_message: 'python3 not found', reason: 'Not Implemented' });
  });

  it('renames a session with PATCH and swaps kernels, shutting the old one down', async () => {
    const session = (await create({ path: 'a.ipynb', type: 'notebook', kernel: { name: 'clickhouse' } })).json();
    const renamed = await app.inject({ method: 'PATCH', url: `/api/sessions/${session.id}`, payload: { path: 'b.ipynb', name: 'b.ipynb' } });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({ id: session.id, path: 'b.ipynb', name: 'b.ipynb', kernel: { id: session.kernel.id } });

    const swapped = (await app.inject({ method: 'PATCH', url: `/api/sessions/${session.id}`, payload: { kernel: { name: 'clickhouse' } } })).json();
    expect(swapped.kernel.id).not.toBe(session.kernel.id);
    expect(kernels.calls).toContain(`shutdown:${session.kernel.id}`);

    const other = await kernels.start();
    const byId = (await app.inject({ method: 'PATCH', url: `/api/sessions/${session.id}`, payload: { kernel: { id: other.id } } })).json();
    expect(byId.kernel.id).toBe(other.id);
    expect(kernels.get(swapped.kernel.id)).toBeUndefined();

    const missing = await app.inject({ method: 'PATCH', url: `/api/sessions/${session.id}`, payload: { kernel: { id: 'nope' } } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().message).toBe('No such kernel: nope');
    const unknownSession = await app.inject({ method: 'PATCH', url: '/api/sessions/nope', payload: { path: 'x' } });
    expect(unknownSession.statusCode).toBe(404);
    const badBody = await app.inject({ method: 'PATCH', url: `/api/sessions/${session.id}`, payload: { path: 5 } });
    expect(badBody.json().message).toMatch(/^body\.path: /);
  });

  it('keeps a kernel shared by another session when one session goes', async () => {
    const a = (await create({ path: 'a.ipynb', type: 'notebook', kernel: { name: 'clickhouse' } })).json();
    const b = (await create({ path: 'console-a', type: 'console', kernel: { id: a.kernel.id } })).json();
    expect((await app.inject({ method: 'DELETE', url: `/api/sessions/${b.id}` })).statusCode).toBe(204);
    expect(kernels.get(a.kernel.id)).toBeDefined();
    expect((await app.inject({ method: 'DELETE', url: `/api/sessions/${a.id}` })).statusCode).toBe(204);
    expect(kernels.get(a.kernel.id)).toBeUndefined();
    expect((await app.inject({ method: 'DELETE', url: `/api/sessions/${a.id}` })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/api/sessions' })).json()).toEqual([]);
  });

  it('drops sessions whose kernel is gone', async () => {
    const session = (await create({ path: 'a.ipynb', type: 'notebook', kernel: { name: 'clickhouse' } })).json();
    await kernels.shutdown(session.kernel.id);
    expect((await app.inject({ method: 'GET', url: '/api/sessions' })).json()).toEqual([]);
    expect((await app.inject({ method: 'GET', url: `/api/sessions/${session.id}` })).statusCode).toBe(404);
    const recreated = (await create({ path: 'a.ipynb', type: 'notebook', kernel: { name: 'clickhouse' } })).json();
    expect(recreated.id).not.toBe(session.id);
  });
});
