// A throwaway PostgreSQL cluster for the benchmark (the same recipe as tests/support/postgres-server.ts):
// initdb in a temp dir (as the postgres OS user when run as root), loopback TCP, fsync off; removed on stop.
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface BenchPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  version: string;
  /** CPU time of the whole cluster so far (postmaster, its live processes and the ones it has reaped), in ms; undefined without /proc. */
  cpuMs(): number | undefined;
  stop(): void;
}

const TICK_MS = 10; // Linux USER_HZ

/** utime + stime (+ cutime + cstime) of a process, in ms. */
function processCpuMs(pid: number, withReaped: boolean): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]) + (withReaped ? Number(fields[13]) + Number(fields[14]) : 0);
  return ticks * TICK_MS;
}

function clusterCpuMs(data: string): number | undefined {
  try {
    const postmaster = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    let total = processCpuMs(postmaster, true);
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) total += processCpuMs(Number(entry), false);
      } catch {
        /* gone meanwhile */
      }
    }
    return total;
  } catch {
    return undefined;
  }
}

function binDir(): string {
  const candidates = [process.env.PG_BIN, '/usr/lib/postgresql/15/bin'];
  try {
    for (const v of readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    /* not Debian */
  }
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    /* no pg_config */
  }
  const found = candidates.find((d) => d && existsSync(path.join(d, 'initdb')));
  if (!found) throw new Error('PostgreSQL server binaries not found: apt-get install postgresql-15');
  return found;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const bin = binDir();
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(tmpdir(), 'chlab-bench-pg-'));
  const data = path.join(dir, 'data');
  const port = await freePort();
  let ids: { uid: number; gid: number } | undefined;
  if (root) {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
    if (!line) throw new Error('running as root without a postgres OS user (apt-get install postgresql-15 creates it)');
    const [, , uid, gid] = line.split(':');
    ids = { uid: Number(uid), gid: Number(gid) };
    chownSync(dir, ids.uid, ids.gid);
  }
  chmodSync(dir, 0o700);
  const run = (tool: string, args: string[]) => {
    const [cmd, a] = root ? ['runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args]] : [path.join(bin, tool), args];
    const r = spawnSync(cmd, a as string[], { cwd: dir, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' } });
    if (r.status !== 0) throw new Error(`${tool} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  run('initdb', ['-D', data, '-U', 'chlab', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  appendFileSync(
    path.join(data, 'postgresql.conf'),
    `\nlisten_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${dir}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\ntimezone = 'UTC'\nshared_buffers = 512MB\nmax_wal_size = 4GB\n`,
  );
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      /* already gone */
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop();
      process.exit(130);
    });
  }
  run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', 'start']);
  run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'chlab', 'bench']);
  const version = run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'chlab', '-d', 'bench', '-Atc', 'SHOW server_version']).trim();
  return { host: '127.0.0.1', port, user: 'chlab', password: '', database: 'bench', version, cpuMs: () => clusterCpuMs(data), stop };
}
