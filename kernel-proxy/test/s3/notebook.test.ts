// notebooks/s3-preview.ipynb runs headless on the embedded defaults: embedded chDB and, with no S3
// configured, the local demo S3 server that `chlab start` / `chlab run` start (its own process, random keys).
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/config.js';
import type { Notebook } from '../../src/jupyter/nbformat.js';
import { runNotebook } from '../../src/runner/runner.js';
import { startDemoS3IfUnconfigured, type LocalS3 } from '../../src/s3/local-server.js';
import { silentLogger, testConfig } from '../support/engine.js';

const config = testConfig();
let local: LocalS3 | undefined;

afterAll(async () => {
  await local?.stop();
  await rm(config.dataDir, { recursive: true, force: true });
});

describe('notebooks/s3-preview.ipynb', () => {
  it('runs every cell against the embedded defaults (demo S3 bucket)', async () => {
    local = await startDemoS3IfUnconfigured(config);
    expect(local).toBeDefined();
    expect(config.s3).toMatchObject({ endpoint: local!.endpoint, demoServer: true });
    const notebook = JSON.parse(await readFile(path.join(REPO_ROOT, 'notebooks', 's3-preview.ipynb'), 'utf8')) as Notebook;
    const result = await runNotebook({ notebook, name: 's3-preview.ipynb', config, logger: silentLogger });
    expect(result.failure).toBeUndefined();
    expect(result.ok).toBe(true);
    const cells = result.notebook.cells.filter((c) => c.cell_type === 'code');
    const text = (i: number) => JSON.stringify((cells[i] as { outputs?: unknown[] }).outputs ?? []);
    expect(text(0)).toContain('s3://demo/');
    expect(text(3)).toContain('2,100 rows · 3 files');
    expect(text(9)).toContain('Imported 2,100 rows from 3 files');
    expect(text(10)).toContain('Imported 120 rows from 1 file');
    expect(text(12)).toContain('completed');
    // The saved notebook holds no key of the demo server.
    const saved = JSON.stringify(result.notebook);
    expect(saved).not.toContain(local!.secretAccessKey);
    expect(saved).not.toContain(local!.accessKeyId);
  }, 180_000);
});
