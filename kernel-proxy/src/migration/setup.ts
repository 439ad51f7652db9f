import path from 'node:path';
import type { Logger } from 'pino';
import type { Config, PostgresConfig } from '../config.js';
import type { ClickHouseEngine } from '../clickhouse/engine.js';
import { PostgresConnections } from '../postgres/connections.js';
import { loadPostgresConnections } from '../postgres/connections-file.js';
import { DemoPostgres } from './demo-postgres.js';
import { MigrationService } from './service.js';

/** The migration service of a server: POSTGRES_* as `default`, the embedded demo PostgreSQL unless disabled. */
export function createMigrationService(config: Config, engine: ClickHouseEngine, logger?: Logger, extra: Record<string, PostgresConfig> = {}): MigrationService {
  const fromFile = config.postgresConnectionsFile ? loadPostgresConnections(config.postgresConnectionsFile) : {};
  const named: Record<string, PostgresConfig> = { ...fromFile, ...extra };
  if (config.postgres) named.default = config.postgres;
  const demo = config.demoPostgres === false ? undefined : new DemoPostgres(path.join(config.dataDir, 'demo-postgres'), logger);
  const service = new MigrationService({
    engine,
    connections: new PostgresConnections(named, demo),
    database: config.clickhouse.database,
    http: config.clickhouse.kind === 'http' ? config.clickhouse : undefined,
    log: logger,
  });
  const close = service.close.bind(service);
  service.close = async () => {
    await close();
    await demo?.stop();
  };
  return service;
}
