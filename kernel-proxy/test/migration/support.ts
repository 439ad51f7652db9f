import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import type { PostgresConfig } from '../../src/config.js';
import type { ClickHouseEngine } from '../../src/clickhouse/engine.js';
import { PostgresConnections } from '../../src/postgres/connections.js';
import { MigrationService, type MigrationSummary } from '../../src/migration/service.js';
import { sharedPostgres, type PostgresInfo } from '../../../tests/support/services.js';

/** Text that trips up quoting and escaping: unicode, an emoji, tab, newline, backslash and both quotes. */
export const UNICODE = 'Zoë 李雷 🎉 tab\there\nnew line \\ backslash "quotes" \'single\'';

export function pgConfig(info: PostgresInfo = sharedPostgres()): PostgresConfig {
  return { host: info.host, port: info.port, user: info.user, password: info.password, database: info.database };
}

export async function pgClient(config: PostgresConfig = pgConfig()): Promise<pg.Client> {
  const client = new pg.Client({ ...config });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** A schema of its own per test file in the shared PostgreSQL. */
export async function freshSchema(client: pg.Client, prefix: string): Promise<string> {
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`;
  await client.query(`CREATE SCHEMA ${schema}`);
  return schema;
}

/**
 * A PostgreSQL client and a schema of its own for a test file, handed to `ready`: connected and created before the
 * file's own beforeAll (call this first), the schema dropped after the file's afterAll.
 */
export function useTestSchema(prefix: string, ready: (admin: pg.Client, schema: string) => void): void {
  let admin: pg.Client | undefined;
  let schema = '';
  beforeAll(async () => {
    admin = await pgClient();
    schema = await freshSchema(admin, prefix);
    ready(admin, schema);
  });
  afterAll(async () => {
    if (schema) await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await admin?.end();
  });
}

export function migrationService(engine: ClickHouseEngine, config: PostgresConfig = pgConfig()): MigrationService {
  return new MigrationService({ engine, connections: new PostgresConnections({ default: config }), database: 'default' });
}

export async function runToEnd(service: MigrationService, spec: string, options: { rerun?: boolean } = {}): Promise<MigrationSummary> {
  const { run } = await service.start(spec, { rerun: options.rerun ?? true });
  return run.done;
}

export async function chRows<T = Record<string, unknown>>(engine: ClickHouseEngine, sql: string): Promise<T[]> {
  return engine.json<T>(sql);
}
