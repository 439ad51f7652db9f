#!/usr/bin/env node
// Builds what is missing or older than its sources, so `npm start` and `npm test` never run stale code.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newestMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'build' || entry.name === 'lib' || entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

function outputMtime(file) {
  return existsSync(file) ? statSync(file).mtimeMs : -1;
}

const steps = [
  { name: 'kernel-proxy', sources: ['kernel-proxy/src'], output: 'kernel-proxy/dist/cli.js', command: 'npm run build -w kernel-proxy' },
  { name: 'extension', sources: ['extension/src', 'extension/schema', 'extension/style', 'extension/package.json', 'extension/tsconfig.json', 'style'], output: 'extension/lib/index.js', command: 'npm run build -w extension' },
  {
    name: 'JupyterLab app',
    sources: ['extension/src', 'extension/schema', 'extension/style', 'extension/package.json', 'style', 'extension/app/index.js', 'extension/app/rspack.config.cjs', 'extension/app/package.json'],
    output: 'extension/app/build/bundle.js',
    command: 'npm run build -w extension/app',
  },
];

for (const step of steps) {
  const sourceTime = Math.max(...step.sources.map((s) => {
    const full = path.join(root, s);
    return existsSync(full) && statSync(full).isFile() ? statSync(full).mtimeMs : newestMtime(full);
  }));
  if (outputMtime(path.join(root, step.output)) >= sourceTime) continue;
  process.stdout.write(`[chlab] building ${step.name}…\n`);
  execSync(step.command, { cwd: root, stdio: 'inherit' });
}

// npm links a workspace's bin only if its file exists at install time; on a fresh clone dist/ is built
// after linking, so make sure `npx chlab` finds the CLI.
import { symlinkSync, lstatSync, mkdirSync } from 'node:fs';
const binDir = path.join(root, 'node_modules', '.bin');
const link = path.join(binDir, 'chlab');
let linked = false;
try {
  lstatSync(link);
  linked = true;
} catch {}
if (!linked && existsSync(path.join(root, 'node_modules'))) {
  mkdirSync(binDir, { recursive: true });
  symlinkSync(path.join('..', '..', 'kernel-proxy', 'dist', 'cli.js'), link);
}
