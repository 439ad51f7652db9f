import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { tableFromIPC, type Table } from 'apache-arrow';
import { REPO_ROOT } from '../../src/config.js';
import type { Notebook } from '../../src/jupyter/nbformat.js';
import { ARROW_MIME } from '../../src/kernel/spec.js';

export type Cell = Notebook['cells'][number];
export type Output = Record<string, any>;

/** A notebook from cell sources: strings are code cells, `{md}` markdown, `{code, tags}` tagged code. */
export function notebookOf(cells: (string | { md: string } | { code: string; tags?: string[] })[]): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'clickhouse', display_name: 'ClickHouse SQL', language: 'sql' } },
    cells: cells.map((c, i): Cell => {
      if (typeof c === 'object' && 'md' in c) return { cell_type: 'markdown', id: `c${i}`, metadata: {}, source: c.md };
      const code = typeof c === 'string' ? c : c.code;
      const tags = typeof c === 'string' ? undefined : c.tags;
      return { cell_type: 'code', id: `c${i}`, metadata: tags ? { tags } : {}, execution_count: null, outputs: [], source: code };
    }),
  };
}

export function codeCells(nb: Notebook): Cell[] {
  return nb.cells.filter((c) => c.cell_type === 'code');
}

export function outputsOf(cell: Cell): Output[] {
  return (cell.outputs as Output[] | undefined) ?? [];
}

const joined = (value: unknown) => (Array.isArray(value) ? value.join('') : String(value ?? ''));

export function textOf(cell: Cell): string {
  return outputsOf(cell)
    .map((o) => (o.output_type === 'stream' ? joined(o.text) : o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : joined(o.data?.['text/plain'])))
    .join('\n');
}

/** The Arrow tables a cell shows, in order. */
export function arrowOf(cell: Cell): Table[] {
  return outputsOf(cell)
    .filter((o) => o.data?.[ARROW_MIME] !== undefined)
    .map((o) => tableFromIPC(Buffer.from(joined(o.data[ARROW_MIME]), 'base64')));
}

export function rowsOf(table: Table): Record<string, unknown>[] {
  return table.toArray().map((row) => ({ ...(row as { toJSON(): Record<string, unknown> }).toJSON() }));
}

// --- the real command line -----------------------------------------------------------------------------

const CLI = path.join(REPO_ROOT, 'kernel-proxy', 'dist', 'cli.js');

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

/** `npm test` builds first (scripts/ensure-build.mjs); a direct vitest run may find the build stale. */
export function ensureCliBuilt(): void {
  const src = path.join(REPO_ROOT, 'kernel-proxy', 'src');
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newest(src)) return;
  execFileSync('npm', ['run', 'build', '-w', 'kernel-proxy'], { cwd: REPO_ROOT, stdio: 'pipe' });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npx chlab …` from the repository root (the workspace's bin, as a user would). */
export function chlab(args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['--no-install', 'chlab', ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`chlab ${args.join(' ')} did not finish: ${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 150_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
