// Small process/network helpers shared by the test servers (PostgreSQL, ClickHouse, browser smoke tests).
import { spawn, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';

/** A TCP port that is free on 127.0.0.1 right now (the OS picks it; tiny race until the caller binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not allocate a free port'))));
    });
  });
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
