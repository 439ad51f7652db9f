import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createEngine } from './clickhouse/create-engine.js';
import type { ClickHouseEngine } from './clickhouse/engine.js';
import { QueryHistory } from './clickhouse/history.js';
import { QueryService } from './clickhouse/query-service.js';
import { ClickHouseKernelManager } from './kernel/manager.js';
import type { CellMagic } from './kernel/cell-magic.js';
import { chooseProtocol, kernelChannelsPlugin } from './kernel/channels.js';
import { authPlugin } from './jupyter/auth.js';
import { contentsPlugin } from './jupyter/contents.js';
import { kernelspecsPlugin } from './jupyter/kernelspecs.js';
import { kernelsPlugin } from './jupyter/kernels.js';
import { sessionsPlugin } from './jupyter/sessions.js';
import { labPlugin } from './jupyter/lab.js';
import { miscPlugin } from './jupyter/misc.js';
import { queryApiPlugin } from './api/query.js';
import { exportApiPlugin } from './api/export.js';
import { s3ApiPlugin } from './api/s3.js';
import { S3Magic } from './s3/magic.js';
import { S3Service } from './s3/service.js';
import { migrationApiPlugin } from './api/migration.js';
import { MigrateMagic } from './migration/magic.js';
import { createMigrationService } from './migration/setup.js';
import type { MigrationService } from './migration/service.js';
import { AuditLog } from './access/audit.js';
import { QueryLimiter } from './access/limiter.js';
import { NotebookOwners } from './access/notebook-owners.js';
import { accessPolicyPlugin } from './access/policy.js';
import { sessionSecret } from './access/session-secret.js';
import { SingleTokenDirectory, soleUser, UsersFileDirectory, type UserDirectory } from './access/users.js';
import { auditApiPlugin } from './api/audit.js';

export interface ChlabServices {
  config: Config;
  engine: ClickHouseEngine;
  queries: QueryService;
  history: QueryHistory;
  kernels: ClickHouseKernelManager;
  s3: S3Service;
  migrations: MigrationService;
  audit: AuditLog;
  directory: UserDirectory;
}

declare module 'fastify' {
  interface FastifyInstance {
    chlab: ChlabServices;
  }
}

export interface BuildOptions {
  config: Config;
  logger: Logger;
  /** Reuse an engine (tests share one chDB per process). */
  engine?: ClickHouseEngine;
}

/** Assembles the proxy from its plugins. */
export async function buildServer({ config, logger, engine: given }: BuildOptions): Promise<{ app: FastifyInstance }> {
  await mkdir(config.notebookDir, { recursive: true });
  await mkdir(config.dataDir, { recursive: true });
  const engine = given ?? createEngine(config);
  const history = new QueryHistory(engine, logger);
  const audit = new AuditLog(engine, logger);
  const limiter = new QueryLimiter();
  const directory: UserDirectory = config.usersFile ? UsersFileDirectory.fromFile(config.usersFile, config.limits) : new SingleTokenDirectory(config.token, config.limits);
  const queries = new QueryService(engine, history, config.limits, { limiter, audit });
  // Cell kinds beyond SQL (`%%migrate`, `%%s3`, …): each feature adds its CellMagic here.
  const s3 = new S3Service({ config, engine, queries, logger });
  const migrations = createMigrationService(config, engine, logger);
  const magics: CellMagic[] = [new S3Magic(s3), new MigrateMagic(migrations)];
  const kernels = new ClickHouseKernelManager(queries, logger, soleUser(config.limits), magics, audit);

  const app: FastifyInstance = Fastify({ loggerInstance: logger as FastifyBaseLogger, bodyLimit: config.limits.maxMessageBytes });
  app.decorate('chlab', { config, engine, queries, history, kernels, s3, migrations, audit, directory });

  await app.register(websocket, {
    options: { maxPayload: config.limits.maxMessageBytes, handleProtocols: (protocols: Set<string>) => chooseProtocol(protocols) },
  });
  await app.register(authPlugin, {
    directory,
    sessionSecret: directory.mode === 'users' ? await sessionSecret(path.join(config.dataDir, 'session_secret')) : undefined,
    token: directory.mode === 'token' ? config.token : undefined,
    audit: (event) => audit.record(event),
  });
  await app.register(accessPolicyPlugin, { audit });
  await app.register(contentsPlugin, {
    root: config.notebookDir,
    owners: directory.mode === 'users' ? await NotebookOwners.open(path.join(config.dataDir, 'notebook-owners.json')) : undefined,
    notary: { secretFile: path.join(config.dataDir, 'notebook_secret'), store: path.join(config.dataDir, 'nbsignatures.json') },
  });
  await app.register(kernelspecsPlugin, {});
  await app.register(kernelsPlugin, { kernelManager: kernels });
  await app.register(sessionsPlugin, { kernelManager: kernels });
  await app.register(kernelChannelsPlugin, { kernels });
  await app.register(miscPlugin, { kernelManager: kernels, configDir: path.join(config.dataDir, 'config') });
  await app.register(labPlugin, {
    staticDir: config.staticDir,
    userSettingsDir: path.join(config.dataDir, 'user-settings'),
    workspacesDir: path.join(config.dataDir, 'workspaces'),
    perUser: directory.mode === 'users',
    // In users mode the browser works on its session cookie; the startup token means nothing there.
    token: directory.mode === 'token' ? config.token : '',
  });
  await app.register(queryApiPlugin, { queries, history, config });
  await app.register(exportApiPlugin, { queries, history, limiter, audit });
  await app.register(s3ApiPlugin, { s3, config, audit });
  await app.register(migrationApiPlugin, { service: migrations, audit });
  await app.register(auditApiPlugin, { audit });
  // The named collections SQL cells use (s3_default, …); S3 cells and REST wait for them themselves.
  void s3.start();

  app.addHook('onClose', async () => {
    await kernels.shutdownAll();
    await s3.close();
    await migrations.close();
    await audit.close();
    if (!given) await engine.close();
  });
  return { app };
}
