import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config.js';
import { createEngine } from '../../src/clickhouse/create-engine.js';
import { QueryHistory } from '../../src/clickhouse/history.js';
import { QueryService } from '../../src/clickhouse/query-service.js';

export const silentLogger = pino({ level: 'silent' });

/** A config on a fresh data directory (embedded chDB unless env overrides are given). */
export function testConfig(env: Record<string, string> = {}): Config {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'chlab-test-'));
  return loadConfig({ CHLAB_DATA_DIR: dataDir, CHLAB_TOKEN: 'test-token-123456', CHLAB_NOTEBOOK_DIR: path.join(dataDir, 'notebooks'), ...env });
}

export function testQueryService(config: Config = testConfig()) {
  const engine = createEngine(config);
  const history = new QueryHistory(engine, silentLogger);
  const queries = new QueryService(engine, history, config.limits);
  return { config, engine, history, queries };
}

/** Starts `app` on a free loopback port; resolves with its base URL. */
export async function listenOnLoopback(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address !== 'object') throw new Error('the server has no TCP address');
  return `http://127.0.0.1:${address.port}`;
}
