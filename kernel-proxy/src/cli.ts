#!/usr/bin/env node
import { ConfigError, loadConfig, loadDotEnv } from './config.js';
import { createLogger } from './logger.js';

const USAGE = `Usage: chlab <command>

Commands:
  start     Serve JupyterLab with the clickhouse kernel (default)
  run       Run a notebook headless: chlab run <notebook.ipynb> [--out <file>] [-p name=value …]
  clear     Clear a notebook's outputs: chlab clear <notebook.ipynb> … [--check]
  hash-password  Read a password on stdin, print its password_hash for the users file (CHLAB_USERS_FILE)
  new-token      Print a new random token and the token_sha256 to put in the users file
  help      Show this help

Configuration comes from the environment and a .env file: see README.md.`;

async function start(): Promise<void> {
  // Imported here, not at the top: `chlab help` and `chlab clear` need none of it and start at once.
  const [{ buildServer }, { DEMO_BUCKET, startDemoS3IfUnconfigured }] = await Promise.all([import('./server.js'), import('./s3/local-server.js')]);
  loadDotEnv();
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // No S3 configured: a local demo S3 server (own process, loopback, random keys) with sample files.
  const localS3 = await startDemoS3IfUnconfigured(config);
  const { app } = await buildServer({ config, logger });
  await app.chlab.s3.start();
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = app.chlab.directory.mode === 'users' ? `http://${host}:${port}/lab` : `http://${host}:${port}/lab?token=${config.token}`;
  const users = app.chlab.directory.mode === 'users' ? `Users: from ${config.usersFile} (log in with your user name and password, or send your token).\n` : '';
  const s3 = localS3
    ? `S3: demo bucket s3://${DEMO_BUCKET}/ on a local server at ${localS3.endpoint} (set S3_ENDPOINT for yours, CHLAB_S3_DEMO=0 for none).\n`
    : app.chlab.s3.connections.length
      ? `S3: ${app.chlab.s3.connections.map((c) => `${c.name} (${c.endpoint})`).join(', ')}.\n`
      : '';
  const postgres = config.postgres
    ? `PostgreSQL (migrations): ${config.postgres.host}:${config.postgres.port}/${config.postgres.database}.\n`
    : config.demoPostgres !== false
      ? 'PostgreSQL (migrations): an embedded demo with sample tables, starting in the background (set POSTGRES_HOST for yours, CHLAB_DEMO_POSTGRES=0 for none).\n'
      : '';
  process.stdout.write(`\nchlab is running (ClickHouse: ${app.chlab.engine.description}).\n${users}${s3}${postgres}Open this URL in a browser:\n\n    ${url}\n\n`);
  app.chlab.migrations.warmUp();

  let closing = false;
  const stop = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    await app.close();
    await localS3?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? 'start';
  switch (command) {
    case 'start':
      return start();
    case 'run':
      process.exitCode = await (await import('./runner/commands.js')).runCommand(argv.slice(1));
      return;
    case 'clear':
      process.exitCode = await (await import('./runner/commands.js')).clearCommand(argv.slice(1));
      return;
    case 'hash-password': {
      const { hashPassword } = await import('./access/password.js');
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
      if (password.length < 8) {
        process.stderr.write('A password needs at least 8 characters.\n');
        process.exitCode = 2;
        return;
      }
      process.stdout.write(`${await hashPassword(password)}\n`);
      return;
    }
    case 'new-token': {
      const { newToken, tokenHash } = await import('./access/password.js');
      const token = newToken();
      process.stdout.write(`token:        ${token}\ntoken_sha256: ${tokenHash(token)}\n`);
      return;
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`Unknown command: ${command}\n\n${USAGE}\n`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
  else process.stderr.write(`chlab failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
