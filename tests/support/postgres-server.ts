// A throwaway PostgreSQL cluster for tests: initdb in a fresh temp dir, listen on 127.0.0.1:<free port>,
// unix socket in the temp dir, password (scram) auth over TCP, trust on the socket.
// Used once per `npm test` by tests/setup/global.ts; a test file may start its own with startPostgres().
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync, chownSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { asUser, freePort, run } from './ports.js';

/** What tests receive (serializable: passed through vitest's provide/inject). */
export interface PostgresInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Directory of the unix socket (trust auth). */
  socketDir: string;
  /** postgres://user:password@host:port/database */
  url: string;
  /** e.g. "15.18" */
  version: string;
}

export interface PostgresServer extends PostgresInfo {
  /** The temp dir holding data/, the socket and postgres.log. */
  dir: string;
  startupMs: number;
  info(): PostgresInfo;
  /** pg_ctl stop -m immediate and remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  database?: string;
  user?: string;
  password?: string;
  port?: number;
  /** Directory with initdb/pg_ctl/postgres; default: $PG_BIN, /usr/lib/postgresql/15/bin, newest other, pg_config. */
  binDir?: string;
}

const OS_USER = 'postgres'; // initdb/postgres refuse to run as root: use this account when we are root

/** Finds the PostgreSQL server binaries, or null. Prefers 15 (what the project targets). */
export function findPostgresBinDir(): string | null {
  const candidates: string[] = [];
  if (process.env.PG_BIN) candidates.push(process.env.PG_BIN);
  candidates.push('/usr/lib/postgresql/15/bin');
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    /* no Debian layout */
  }
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    /* no pg_config on PATH */
  }
  return candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl'))) ?? null;
}

function osUserIds(name: string): { uid: number; gid: number } | null {
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(name + ':'));
    if (!line) return null;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return null;
  }
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  const t0 = Date.now();
  const binDir = opts.binDir ?? findPostgresBinDir();
  if (!binDir) {
    throw new Error(
      'PostgreSQL server binaries not found (looked for initdb in $PG_BIN, /usr/lib/postgresql/*/bin and pg_config --bindir). ' +
        'Install them: apt-get install postgresql-15',
    );
  }
  const isRoot = process.getuid?.() === 0;
  const osUser = isRoot ? OS_USER : undefined;
  const ids = isRoot ? osUserIds(OS_USER) : null;
  if (isRoot && !ids) {
    throw new Error(`running as root, but there is no '${OS_USER}' OS user to run initdb/postgres as (apt-get install postgresql-15 creates it)`);
  }

  const user = opts.user ?? 'chlab';
  const password = opts.password ?? 'chlab-test-pw';
  const database = opts.database ?? 'chlab_test';
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'chlab-pg-'));
  const dataDir = join(dir, 'data');
  const pwFile = join(dir, 'pwfile');
  const logFile = join(dir, 'postgres.log');
  writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  if (ids) {
    chownSync(dir, ids.uid, ids.gid);
    chownSync(pwFile, ids.uid, ids.gid);
  }
  chmodSync(dir, 0o700);

  const pg = (tool: string, args: string[], allowFail = false) => {
    const [cmd, a] = asUser(osUser, join(binDir, tool), args);
    return run(cmd, a, { cwd: dir, allowFail, env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' } });
  };

  let started = false;
  const stop = async () => {
    if (started) {
      started = false;
      await pg('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], true);
    }
    process.off('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
  };
  // Safety net if the process exits without teardown (a crashed test run): stop synchronously.
  const onExit = () => {
    if (!started) return;
    try {
      const [cmd, a] = asUser(osUser, join(binDir, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', 'stop']);
      execFileSync(cmd, a, { stdio: 'ignore', cwd: '/' });
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  };

  try {
    await pg('initdb', [
      '-D', dataDir,
      '-U', user,
      `--pwfile=${pwFile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '-E', 'UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
    appendFileSync(
      join(dataDir, 'postgresql.conf'),
      [
        '',
        '# chlab test cluster',
        "listen_addresses = '127.0.0.1'",
        `port = ${port}`,
        `unix_socket_directories = '${dir}'`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'max_connections = 100',
        "timezone = 'UTC'",
        'logging_collector = off',
        '',
      ].join('\n'),
    );
    process.on('exit', onExit);
    started = true;
    await pg('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']).catch((err: Error) => {
      let log = '';
      try {
        log = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      } catch {
        /* no log */
      }
      throw new Error(`${err.message}\n--- postgres.log ---\n${log}`);
    });
    // Over TCP with the password: checks the auth path tests will use.
    const env = { ...process.env, PGPASSWORD: password };
    await run(join(binDir, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', user, database], { env });
    const ver = await run(join(binDir, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', database, '-Atc', 'SHOW server_version'], { env });
    const info: PostgresInfo = {
      host: '127.0.0.1',
      port,
      user,
      password,
      database,
      socketDir: dir,
      url: `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
      version: ver.stdout.trim().split(' ')[0] ?? '',
    };
    return { ...info, dir, startupMs: Date.now() - t0, info: () => ({ ...info }), stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw new Error(
      `could not start a throwaway PostgreSQL (bin ${binDir}, as ${osUser ?? userInfo().username}): ${(err as Error).message}`,
    );
  }
}
