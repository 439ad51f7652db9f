// Small process/network helpers shared by the test servers (PostgreSQL, ClickHouse, browser smoke tests).
import { spawn, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * Listening ports for test servers come from below Linux's ephemeral range (32768-60999): a server restarted on
 * its port (a crash test) would otherwise find it taken by some other process's outgoing connection.
 */
const LISTEN_PORTS = { from: 20_000, to: 32_767 };

function tryListen(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : null;
      srv.close(() => resolve(bound));
    });
  });
}

/** A TCP port that is free on 127.0.0.1 right now (tiny race until the caller binds it). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryListen(LISTEN_PORTS.from + Math.floor(Math.random() * (LISTEN_PORTS.to - LISTEN_PORTS.from + 1)));
    if (port) return port;
  }
  const port = await tryListen(0);
  if (!port) throw new Error('could not allocate a free port');
  return port;
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects (with its output) on a non-zero exit unless `allowFail`. */
export function run(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { allowFail?: boolean; timeoutMs?: number } = {},
): Promise<RunResult> {
  const { allowFail, timeoutMs = 120_000, ...spawnOpts } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const res = { code, stdout, stderr };
      if (code !== 0 && !allowFail) {
        reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}\n${stderr || stdout}`.trim()));
      } else resolve(res);
    });
  });
}

/** `runuser -u <user> -- cmd …` when we are root (PostgreSQL refuses root), the command itself otherwise. */
export function asUser(user: string | undefined, cmd: string, args: string[]): [string, string[]] {
  if (user && process.getuid?.() === 0) return ['runuser', ['-u', user, '--', cmd, ...args]];
  return [cmd, args];
}
