import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server.js';
import { createLogger } from '../../src/logger.js';
import { testConfig } from '../support/engine.js';

describe('secrets stay on the server', () => {
  it('never puts the token or the ClickHouse password in logs or responses', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const password = 'pw-secret-xyz-123';
    const config = testConfig({ CLICKHOUSE_URL: 'http://127.0.0.1:1', CLICKHOUSE_USER: 'analyst', CLICKHOUSE_PASSWORD: password, CHLAB_TOKEN: 'token-secret-abc-456' });
    const { app } = await buildServer({ config, logger: createLogger('debug', sink) });
    const bodies: string[] = [];
    for (const request of [
      { method: 'GET' as const, url: `/lab?token=${config.token}` },
      { method: 'GET' as const, url: `/api/query/health?token=${config.token}` },
      { method: 'POST' as const, url: `/api/query/execute?token=${config.token}`, payload: { query: 'SELECT 1' } },
      { method: 'GET' as const, url: '/api/kernels', headers: { authorization: `token ${config.token}` } },
      { method: 'GET' as const, url: '/api/kernelspecs', headers: { authorization: `token ${config.token}` } },
    ]) {
      const response = await app.inject(request);
      bodies.push(response.body);
    }
    await app.close();
    const logs = lines.join('');
    expect(logs).toContain('incoming request');
    expect(logs).not.toContain(config.token);
    expect(logs).not.toContain(password);
    for (const body of bodies) expect(body).not.toContain(password);
    expect(bodies[1]).toContain('unreachable');
  });
});
