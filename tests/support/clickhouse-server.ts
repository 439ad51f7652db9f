// A real ClickHouse server for transport/fault tests: Debian's clickhouse-server (18.16) with a generated
// minimal config in a temp dir, HTTP and native ports on 127.0.0.1 (free ports picked at start).
//
// Usable from the vitest globalSetup (one shared instance per `npm test`, see tests/setup/global.ts) and
// directly from a test file. A test that stops/kills/restarts a server must start its OWN instance here,
// never touch the shared one.
//
// 18.16 runs as root without complaint, so it runs as whoever runs the tests (no runuser needed); every file
// it writes (data, tmp, preprocessed configs, logs) stays inside the temp dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, sleep } from './ports.js';

/** What tests receive (serializable: passed through vitest's provide/inject). */
export interface ClickHouseInfo {
  /** http://127.0.0.1:<httpPort> */
  url: string;
  host: string;
  httpPort: number;
  tcpPort: number;
  /** A user with a password (`chlab` unless changed). */
  user: string;
  password: string;
  /** `default` has no password and is restricted to localhost. */
  defaultUser: string;
  /** SELECT version(), e.g. "18.16.1". */
  version: string;
}

export interface ClickHouseServer extends ClickHouseInfo {
  /** Temp dir: config.xml, users.xml, data/, tmp/, user_files/, log/. Kept across stop()/restart(). */
  dir: string;
  /** Current server process id (undefined while stopped). */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Milliseconds from spawn to the first `GET /ping` = `Ok.` of the last (re)start. */
  readonly startupMs: number;
  info(): ClickHouseInfo;
  /**
   * Graceful stop: SIGTERM, SIGKILL after `timeoutMs`. 18.16 takes a fixed ~8 s from SIGTERM to exit (even idle);
   * use kill() when the test only needs the server gone. Keeps the dir so restart() can bring it back.
   */
  stop(timeoutMs?: number): Promise<void>;
  /** Crash: SIGKILL, no shutdown. Keeps the dir. */
  kill(): Promise<void>;
  /**
   * Start again on the same ports, dir and data. If it is still running it is first stopped: killed
   * (SIGKILL, default) or, with `{ graceful: true }`, stop()ped.
   */
  restart(opts?: { graceful?: boolean }): Promise<void>;
  /** Kill (SIGKILL: its data is thrown away anyway) and delete the temp dir. Idempotent. */
  destroy(): Promise<void>;
  /** Last lines of the server's error log (for assertion messages). */
  errorLog(lines?: number): string;
}

export interface StartClickHouseOptions {
  /** Reuse this dir (its config is rewritten); default: a fresh temp dir, removed by destroy(). */
  dir?: string;
  user?: string;
  password?: string;
  httpPort?: number;
  tcpPort?: number;
  /** Server command; default: see findClickHouseServerCommand(). */
  command?: { cmd: string; args: string[] };
  startTimeoutMs?: number;
}

/**
 * How to run a ClickHouse server here, or null: $CLICKHOUSE_SERVER_BIN, Debian's /usr/sbin/clickhouse-server
 * (package clickhouse-server), /usr/bin/clickhouse-server, or the single `clickhouse` binary (`clickhouse server`).
 */
export function findClickHouseServerCommand(): { cmd: string; args: string[] } | null {
  const env = process.env.CLICKHOUSE_SERVER_BIN;
  if (env) return existsSync(env) ? { cmd: env, args: [] } : null;
  for (const p of ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server']) {
    if (existsSync(p)) return { cmd: p, args: [] };
  }
  for (const p of ['/usr/bin/clickhouse', '/usr/local/bin/clickhouse']) {
    if (existsSync(p)) return { cmd: p, args: ['server'] };
  }
  return null;
}

export const CLICKHOUSE_MISSING =
  'no clickhouse-server binary (looked at $CLICKHOUSE_SERVER_BIN, /usr/sbin/clickhouse-server, /usr/bin/clickhouse-server, ' +
  '/usr/bin/clickhouse); install it with: apt-get install clickhouse-server clickhouse-client';

const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function writeConfig(dir: string, o: { httpPort: number; tcpPort: number; user: string; password: string }) {
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) mkdirSync(join(dir, sub), { recursive: true });
  const d = xmlEscape(dir);
  // <yandex> is the root tag 18.16 knows (newer servers still accept it).
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>${d}/log/clickhouse-server.log</log>
    <errorlog>${d}/log/clickhouse-server.err.log</errorlog>
    <size>20M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${o.httpPort}</http_port>
  <tcp_port>${o.tcpPort}</tcp_port>
  <path>${d}/data/</path>
  <tmp_path>${d}/tmp/</tmp_path>
  <user_files_path>${d}/user_files/</user_files_path>
  <format_schema_path>${d}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <max_connections>256</max_connections>
  <keep_alive_timeout>10</keep_alive_timeout>
  <max_concurrent_queries>32</max_concurrent_queries>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
  <!-- newer servers only (ignored by 18.16): cap the whole server -->
  <max_server_memory_usage>2147483648</max_server_memory_usage>
</yandex>
`,
  );
  const localhost = '<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>';
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
      <use_uncompressed_cache>0</use_uncompressed_cache>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      ${localhost}
      <profile>default</profile>
      <quota>default</quota>
    </default>
    <${o.user}>
      <password>${xmlEscape(o.password)}</password>
      ${localhost}
      <profile>default</profile>
      <quota>default</quota>
    </${o.user}>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`,
  );
}

async function httpGet(url: string, auth?: { user: string; password: string }, body?: string): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (auth) headers.Authorization = 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`).toString('base64');
  const res = await fetch(url, { method: body === undefined ? 'GET' : 'POST', headers, body, signal: AbortSignal.timeout(5000) });
  return { status: res.status, text: await res.text() };
}

export async function startClickHouseServer(opts: StartClickHouseOptions = {}): Promise<ClickHouseServer> {
  const command = opts.command ?? findClickHouseServerCommand();
  if (!command) throw new Error(CLICKHOUSE_MISSING);
  const ownDir = !opts.dir;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'chlab-ch-'));
  mkdirSync(dir, { recursive: true });
  const [httpPort, tcpPort] =
    opts.httpPort && opts.tcpPort ? [opts.httpPort, opts.tcpPort] : await freePorts(2);
  const user = opts.user ?? 'chlab';
  const password = opts.password ?? 'chlab-test-pw';
  const url = `http://127.0.0.1:${httpPort}`;
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  writeConfig(dir, { httpPort: httpPort!, tcpPort: tcpPort!, user, password });

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let startupMs = 0;
  let version = '';
  const errLogPath = join(dir, 'log', 'clickhouse-server.err.log');
  const stdoutPath = join(dir, 'log', 'stdout.log');
  const tail = (p: string, n: number) => {
    try {
      return readFileSync(p, 'utf8').split('\n').slice(-n).join('\n');
    } catch {
      return '';
    }
  };
  const errorLog = (n = 30) => tail(errLogPath, n);

  // Safety net: never leave a server behind if the process exits without teardown.
  const onExit = () => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (ownDir) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  };
  process.on('exit', onExit);

  const spawnServer = async () => {
    const t0 = Date.now();
    const out = openSync(stdoutPath, 'a');
    const c = spawn(command.cmd, [...command.args, `--config-file=${join(dir, 'config.xml')}`], {
      cwd: dir,
      stdio: ['ignore', out, out],
      env: { ...process.env, TZ: 'UTC' },
    });
    closeSync(out);
    child = c;
    let spawnError: Error | undefined;
    c.on('error', (e) => (spawnError = e));
    exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    const deadline = t0 + startTimeoutMs;
    for (;;) {
      if (spawnError) throw spawnError;
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(
          `clickhouse-server exited during startup (code ${c.exitCode}, signal ${c.signalCode}).\n` +
            `--- stdout ---\n${tail(stdoutPath, 20)}\n--- err.log ---\n${errorLog(20)}`,
        );
      }
      try {
        const r = await httpGet(`${url}/ping`);
        if (r.status === 200 && r.text.trim() === 'Ok.') break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`clickhouse-server did not answer ${url}/ping within ${startTimeoutMs} ms\n${errorLog(20)}`);
      }
      await sleep(50);
    }
    startupMs = Date.now() - t0;
    const v = await httpGet(`${url}/`, { user, password }, 'SELECT version()');
    if (v.status !== 200) throw new Error(`clickhouse-server up but SELECT version() as ${user} failed: ${v.text}`);
    version = v.text.trim();
  };

  const isRunning = () => !!child && child.exitCode === null && child.signalCode === null;

  const stop = async (timeoutMs = 15_000) => {
    if (!isRunning()) return;
    const c = child!;
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  };
  const kill = async () => {
    if (!isRunning()) return;
    child!.kill('SIGKILL');
    await exited;
  };

  let destroyed = false;
  const server: ClickHouseServer = {
    url,
    host: '127.0.0.1',
    httpPort: httpPort!,
    tcpPort: tcpPort!,
    user,
    password,
    defaultUser: 'default',
    get version() {
      return version;
    },
    dir,
    get pid() {
      return isRunning() ? child!.pid : undefined;
    },
    get running() {
      return isRunning();
    },
    get startupMs() {
      return startupMs;
    },
    info: () => ({ url, host: '127.0.0.1', httpPort: httpPort!, tcpPort: tcpPort!, user, password, defaultUser: 'default', version }),
    stop,
    kill,
    restart: async (o = {}) => {
      if (o.graceful) await stop();
      else await kill();
      await spawnServer();
    },
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      await kill();
      process.off('exit', onExit);
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    errorLog,
  };

  try {
    await spawnServer();
  } catch (err) {
    await server.destroy().catch(() => undefined);
    throw err;
  }
  return server;
}
