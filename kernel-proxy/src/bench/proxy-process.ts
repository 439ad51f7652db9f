import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli.js');

export interface ProxyProcess {
  child: ChildProcess;
  baseUrl: string;
  token: string;
  dataDir: string;
}

/**
 * `chlab start` in a process of its own on a fresh data directory and a free port, on embedded chDB (the
 * caller's ClickHouse, PostgreSQL and S3 variables are dropped; `env` adds what the bench needs).
 */
export async function startProxyProcess(name: string, env: Record<string, string> = {}): Promise<ProxyProcess> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `chlab-bench-${name}-`));
  const token = `bench-${name}-token-0123456789`;
  const child = spawn(process.execPath, [CLI, 'start'], {
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CLICKHOUSE_|POSTGRES_|S3_|AWS_)/.test(k))),
      PORT: '0',
      CHLAB_TOKEN: token,
      CHLAB_DATA_DIR: dataDir,
      CHLAB_NOTEBOOK_DIR: path.join(dataDir, 'notebooks'),
      CHLAB_LOG_LEVEL: 'warn',
      CHLAB_S3_DEMO: '0',
      CHLAB_DEMO_POSTGRES: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const match = /(http:\/\/[\d.]+:\d+)\/lab\?token=/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`proxy exited with ${code}`)));
  });
  return { child, baseUrl, token, dataDir };
}
