import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kernelsPlugin } from '../../src/jupyter/kernels.js';
import { FakeKernelManager } from './fake-kernel-manager.js';

describe('kernelsPlugin', () => {
  let app: FastifyInstance;
  let kernels: FakeKernelManager;
  beforeEach(async () => {
    kernels = new FakeKernelManager();
    app = Fastify();
    await app.register(kernelsPlugin, { kernelManager: kernels });
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
  });

  it('starts a kernel and answers the model object with 201', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/kernels', payload: { name: 'clickhouse' } });
    expect(response.statusCode).toBe(201);
    const model = response.json();
    expect(model).toMatchObject({ name: 'clickhouse', execution_state: 'idle', connections: 0 });
    expect(typeof model.id).toBe('string');
    expect(response.headers.location).toBe(`/api/kernels/${model.id}`);
    expect((await app.inject({ method: 'GET', url: '/api/kernels' })).json()).toEqual([model]);
    expect((await app.inject({ method: 'GET', url: `/api/kernels/${model.id}` })).json()).toEqual(model);
  });

  it('accepts an empty body, a gateway-style body with env, and rejects bad names', async () => {
    expect((await app.inject({ method: 'POST', url: '/api/kernels', headers: { 'content-type': 'application/json' }, payload: '' })).statusCode).toBe(201);
    expect((await app.inject({ method: 'POST', url: '/api/kernels' })).statusCode).toBe(201);
    const gateway = await app.inject({ method: 'POST', url: '/api/kernels', payload: { name: 'clickhouse', env: { KERNEL_USERNAME: 'x' } } });
    expect(gateway.statusCode).toBe(201);
    expect(kernels.calls).toEqual(['start:', 'start:', 'start:clickhouse']);
    const unknown = await app.inject({ method: 'POST', url: '/api/kernels', payload: { name: 'python3' } });
    expect(unknown.statusCode).toBe(501);
    expect(unknown.json().message).toMatch(/'python3' kernel is not available/);
    const bad = await app.inject({ method: 'POST', url: '/api/kernels', payload: { name: 3 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/^body\.name: /);
    const broken = await app.inject({ method: 'POST', url: '/api/kernels', headers: { 'content-type': 'application/json' }, payload: '{' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toHaveProperty('reason');
  });

  it('reports kernel start failures as a Jupyter error', async () => {
    kernels.failNextStart = new Error('ClickHouse is unreachable');
    const response = await app.inject({ method: 'POST', url: '/api/kernels', payload: {} });
    expect(response.statusCode).toBe(500);
    expect(response.json().message).toMatch(/ClickHouse is unreachable/);
  });

  it('interrupts (204), restarts (200 model) and deletes (204) kernels', async () => {
    const { id } = (await app.inject({ method: 'POST', url: '/api/kernels', payload: {} })).json();
    const interrupt = await app.inject({ method: 'POST', url: `/api/kernels/${id}/interrupt` });
    expect(interrupt.statusCode).toBe(204);
    const restart = await app.inject({ method: 'POST', url: `/api/kernels/${id}/restart` });
    expect(restart.statusCode).toBe(200);
    expect(restart.json().id).toBe(id);
    expect((await app.inject({ method: 'DELETE', url: `/api/kernels/${id}` })).statusCode).toBe(204);
    expect(kernels.calls.slice(1)).toEqual([`interrupt:${id}`, `restart:${id}`, `shutdown:${id}`]);
    expect((await app.inject({ method: 'GET', url: '/api/kernels' })).json()).toEqual([]);
  });

  it('answers 404 for unknown kernels and 400 for malformed ids', async () => {
    for (const [method, url] of [
      ['GET', '/api/kernels/nope'],
      ['DELETE', '/api/kernels/nope'],
      ['POST', '/api/kernels/nope/interrupt'],
      ['POST', '/api/kernels/nope/restart'],
    ] as const) {
      const response = await app.inject({ method, url });
      expect(response.statusCode, url).toBe(404);
      expect(response.json(), url).toEqual({ message: 'Kernel does not exist: nope', reason: 'Not Found' });
    }
    const bad = await app.inject({ method: 'GET', url: '/api/kernels/a%20b' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/^params\.kernel_id: /);
  });
});
