import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KERNEL_SPEC } from '../../src/kernel/spec.js';
import { kernelspecsPlugin } from '../../src/jupyter/kernelspecs.js';

describe('kernelspecsPlugin', () => {
  let app: FastifyInstance;
  beforeEach(async () => {
    app = Fastify();
    await app.register(kernelspecsPlugin, {});
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
  });

  it('lists the clickhouse kernelspec as the default', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/kernelspecs' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.default).toBe('clickhouse');
    expect(Object.keys(body.kernelspecs)).toEqual(['clickhouse']);
    expect(body.kernelspecs.clickhouse).toEqual({
      name: 'clickhouse',
      spec: KERNEL_SPEC.spec,
      resources: { 'logo-svg': '/kernelspecs/clickhouse/logo-svg.svg' },
    });
  });

  it('answers one kernelspec by name and 404 for others', async () => {
    const one = await app.inject({ method: 'GET', url: '/api/kernelspecs/clickhouse' });
    expect(one.json().spec.display_name).toBe('ClickHouse SQL');
    const missing = await app.inject({ method: 'GET', url: '/api/kernelspecs/python3' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ message: 'Kernel spec python3 not found', reason: 'Not Found' });
  });

  it('serves the logo resource', async () => {
    const logo = await app.inject({ method: 'GET', url: '/kernelspecs/clickhouse/logo-svg.svg' });
    expect(logo.statusCode).toBe(200);
    expect(logo.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect(logo.body).toContain('<svg');
    expect((await app.inject({ method: 'GET', url: '/kernelspecs/clickhouse/logo-64x64.png' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/kernelspecs/clickhouse/..%2f..%2fetc' })).statusCode).toBe(400);
  });
});
