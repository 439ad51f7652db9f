// `npx chlab run` / `npx chlab clear` as a user (or CI) runs them, from the repository root, each run in its
// own process on a fresh CHLAB_DATA_DIR. Every notebook in notebooks/ is executed here, outputs checked.
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/config.js';
import type { Notebook } from '../../src/jupyter/nbformat.js';
import { ARROW_MIME } from '../../src/kernel/spec.js';
import { cellSource, parseNotebookText } from '../../src/runner/notebook-io.js';
import { MIGRATION_SUMMARY_MIME } from '../../src/runner/reporter.js';
import { testConfig, testQueryService } from '../support/engine.js';
import { arrowOf, chlab, codeCells, ensureCliBuilt, notebookOf, outputsOf, rowsOf, textOf, type Cell } from './support.js';

const NOTEBOOKS = path.join(REPO_ROOT, 'notebooks');
let work: string;

beforeAll(async () => {
  ensureCliBuilt();
  work = await mkdtemp(path.join(tmpdir(), 'chlab-cli-'));
}, 180_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function freshDataDir(): Promise<string> {
  return mkdtemp(path.join(work, 'data-'));
}

async function readExecuted(file: string): Promise<Notebook> {
  return parseNotebookText(await readFile(file, 'utf8'), file);
}

const isDuckDb = (cell: Cell) => /^\s*%%duckdb/.test(cellSource(cell));
const rows = (cell: Cell, i = 0) => rowsOf(arrowOf(cell)[i]!);

/** What each example notebook must show, beyond "every cell ran without an error". */
const EXPECTATIONS: Record<string, (nb: Notebook, stdout: string) => void> = {
  'quickstart.ipynb': (nb, stdout) => {
    const cells = codeCells(nb);
    expect(rows(cells[0]!)[0]).toMatchObject({ database: 'default' });
    expect(textOf(cells[1]!)).toMatch(/CREATE: OK[\s\S]*INSERT: OK/);
    const boroughs = rows(cells[2]!);
    expect(boroughs.map((r) => r.borough).sort()).toEqual(['Bronx', 'Brooklyn', 'Manhattan', 'Queens']);
    expect(boroughs.every((r) => Number(r.trips) === 25_000 && Number(r.trips_without_tip) === 5_000)).toBe(true);
    const first = textOf(cells[3]!).split('\n')[2]!;
    expect(first).toMatch(/^0 +\| 2024-01-01 00:00:00 \| Manhattan \| 3\.00 +\| NULL/);
    expect(rows(cells[4]!).map((r) => r.name)).toEqual(['trip_id', 'pickup', 'borough', 'distance_km', 'fare', 'tip']);
    expect(stdout).toContain('[3/5] cell 5 SQL In [3]: ok');
  },
  'duckdb-requery.ipynb': (nb) => {
    const cells = codeCells(nb);
    expect(cells[0]!.metadata).toEqual({ tags: ['parameters'] });
    const orders = arrowOf(cells[1]!)[0]!;
    expect(outputsOf(cells[1]!)[0]!.metadata[ARROW_MIME]).toMatchObject({ rows: 700 });
    expect(orders.schema.fields.map((f) => f.name)).toEqual(['order_id', 'day', 'category', 'amount', 'placed_at']);
    const byCategory = rows(cells[2]!);
    expect(byCategory.map((r) => r.category)).toEqual(['books', 'games', 'music']);
    expect(byCategory.reduce((sum, r) => sum + Number(r.orders), 0)).toBe(700);
    expect(textOf(cells[3]!)).toMatch(/^day +\| orders \| revenue/);
    expect(rows(cells[4]!)).toEqual([expect.objectContaining({ days: 14n, orders: expect.anything() })]);
    expect(textOf(cells[4]!)).toMatch(/2024-03-01 \| 2024-03-14 \| 14 +\| 700/);
    expect(rows(cells[5]!)[0]).toMatchObject({ placed_at_type: 'TIMESTAMP WITH TIME ZONE', amount_type: 'DECIMAL(18,2)' });
    expect(textOf(cells[5]!)).toContain('2024-03-01 00:00:00');
  },
  'migration-demo.ipynb': (nb) => {
    const cells = codeCells(nb);
    const bundles = (mime: string) => cells.flatMap((c) => outputsOf(c).map((o) => o.data?.[mime]).filter(Boolean));
    const plans = bundles('application/vnd.chlab.migration-plan+json') as { source: { table: string; row_count: number } }[];
    const summaries = bundles(MIGRATION_SUMMARY_MIME) as { status: string; records_migrated: number; validation: { ok: boolean; row_count: { source: unknown; destination: unknown } } }[];
    expect(plans.length).toBeGreaterThan(summaries.length); // the analyze cell, then a plan per run
    expect(summaries.length).toBeGreaterThan(0);
    for (const summary of summaries) {
      expect(summary).toMatchObject({ status: 'completed', validation: { ok: true } });
      expect(Number(summary.validation.row_count.source)).toBe(summary.records_migrated);
      expect(Number(summary.validation.row_count.destination)).toBe(summary.records_migrated);
    }
    // ClickHouse holds what was copied: the query over migration_history lists every run as completed.
    const history = cells.find((c) => /FROM\s+migration_history/i.test(cellSource(c)) && !/^\s*%%/.test(cellSource(c)));
    if (history) {
      const rows = rowsOf(arrowOf(history)[0]!);
      expect(rows.length).toBeGreaterThanOrEqual(summaries.length);
      expect(rows.every((r) => r.status === 'completed')).toBe(true);
    }
  },
  's3-preview.ipynb': (nb) => {
    const text = codeCells(nb).map(textOf).join('\n');
    expect(text).toContain('s3://demo/');
    expect(text).toMatch(/Imported [\d,]+ rows/);
  },
};

const notebooks = (await readdir(NOTEBOOKS)).filter((f) => f.endsWith('.ipynb')).sort();

describe('every notebook in notebooks/ runs headless through `npx chlab run`', () => {
  it('finds the example notebooks', () => {
    expect(notebooks).toEqual(expect.arrayContaining(['quickstart.ipynb', 'duckdb-requery.ipynb']));
  });

  for (const name of notebooks) {
    it(name, async () => {
      const dataDir = await freshDataDir();
      const out = path.join(work, `executed-${name}`);
      const env = { CHLAB_DATA_DIR: dataDir };
      const { code, stdout, stderr } = await chlab(['run', `notebooks/${name}`, '--out', out], { env });
      expect(code, `${stdout}\n${stderr}`).toBe(0);
      expect(stdout).toContain(`chlab run notebooks/${name}`);
      expect(stdout).toContain('done in');
      const nb = await readExecuted(out);
      const cells = codeCells(nb).filter((c) => cellSource(c).trim());
      for (const [i, cell] of cells.entries()) {
        expect(outputsOf(cell).filter((o) => o.output_type === 'error'), `cell ${i}`).toEqual([]);
        if (!isDuckDb(cell)) expect(cell.execution_count, `cell ${i}: ${cellSource(cell).slice(0, 60)}`).toEqual(expect.any(Number));
      }
      // The source notebook is left as it was (checked in without outputs).
      const source = await readExecuted(path.join(NOTEBOOKS, name));
      expect(codeCells(source).every((c) => outputsOf(c).length === 0)).toBe(true);
      EXPECTATIONS[name]?.(nb, stdout);

      // A migration notebook run again reports the completed run and copies nothing, unless asked to.
      if (cells.some((c) => /^\s*%%migrate[ \t]+run\b/.test(cellSource(c)))) {
        const summaries = (nb: Notebook) =>
          codeCells(nb).flatMap((c) => outputsOf(c).map((o) => o.data?.[MIGRATION_SUMMARY_MIME]).filter(Boolean)) as { status: string; validation?: { ok: boolean } }[];
        expect(summaries(nb).length).toBeGreaterThan(0);
        expect(summaries(nb).every((s) => s.status === 'completed' && s.validation?.ok !== false)).toBe(true);
        const again = await chlab(['run', `notebooks/${name}`, '--out', out], { env });
        expect(again.code, again.stderr).toBe(0);
        expect(again.stdout).toMatch(/already completed/);
        expect(summaries(await readExecuted(out))).toEqual([]);
        const rerun = await chlab(['run', `notebooks/${name}`, '--out', out, '--rerun'], { env });
        expect(rerun.code, rerun.stderr).toBe(0);
        expect(summaries(await readExecuted(out)).every((s) => s.status === 'completed')).toBe(true);
      }
    }, 300_000);
  }
});

describe('chlab run', () => {
  it('fails on the first failing cell: exit 1, the cell named, the executed notebook written', async () => {
    const file = path.join(work, 'failing.ipynb');
    await writeFile(file, JSON.stringify(notebookOf([{ md: '# fails' }, 'SELECT 1 AS fine', 'SELECT * FROM no_such_table_here', 'SELECT 3'])));
    const out = path.join(work, 'failing-out.ipynb');
    const { code, stdout, stderr } = await chlab(['run', file, '-o', out], { env: { CHLAB_DATA_DIR: await freshDataDir() } });
    expect(code).toBe(1);
    expect(stderr).toMatch(/failing\.ipynb: cell 3 \(In \[2\]\) failed: UNKNOWN_TABLE: Code: 60/);
    expect(stdout).toMatch(/\[2\/3\] cell 3 SQL In \[2\]: FAILED/);
    expect(stdout).not.toContain('[3/3]');
    const nb = await readExecuted(out);
    expect(outputsOf(nb.cells[2]!)[0]).toMatchObject({ output_type: 'error', ename: 'UNKNOWN_TABLE' });
    expect(nb.cells[3]).toMatchObject({ execution_count: null, outputs: [] });
  }, 120_000);

  it('overrides the parameters cell with -p', async () => {
    const out = path.join(work, 'params-out.ipynb');
    const { code, stdout, stderr } = await chlab(['run', 'notebooks/duckdb-requery.ipynb', '--out', out, '-p', 'days=2', '-p', 'start_date=2025-12-31'], {
      env: { CHLAB_DATA_DIR: await freshDataDir() },
    });
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('parameters: days=2, start_date=2025-12-31');
    const nb = await readExecuted(out);
    const cells = codeCells(nb);
    expect(cells[1]).toMatchObject({ metadata: { tags: ['injected-parameters'] }, execution_count: null });
    expect(cellSource(cells[1]!)).toContain("SET param_days = '2';");
    expect(outputsOf(cells[2]!)[0]!.metadata[ARROW_MIME]).toMatchObject({ rows: 100 });
    expect(textOf(cells[5]!)).toMatch(/2025-12-31 \| 2026-01-01 \| 2 +\| 100/);
  }, 120_000);

  it('rejects bad usage with exit 2', async () => {
    const none = await chlab(['run']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: chlab run');
    const bad = await chlab(['run', 'notebooks/quickstart.ipynb', '-p', 'oops']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('-p expects name=value');
    const missing = await chlab(['run', 'notebooks/no-such.ipynb']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
  }, 60_000);
});

describe('chlab run beside another chlab on the same data directory', () => {
  it('says the directory is in use and how to get past it', async () => {
    const { config, engine } = testQueryService(testConfig());
    try {
      await engine.json('SELECT 1');
      const run = await chlab(['run', 'notebooks/quickstart.ipynb'], { env: { CHLAB_DATA_DIR: config.dataDir } });
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(`is in use by another process`);
      expect(run.stderr).toContain('CHLAB_DATA_DIR');
    } finally {
      await engine.close();
    }
  }, 60_000);
});

describe('chlab clear', () => {
  it('clears outputs in place, and --check tells whether a notebook is clean', async () => {
    const file = path.join(work, 'to-clear.ipynb');
    await copyFile(path.join(NOTEBOOKS, 'quickstart.ipynb'), file);
    const ran = await chlab(['run', file, '-q', '-p', 'unused=1'], { env: { CHLAB_DATA_DIR: await freshDataDir() } });
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toBe('');
    const executed = await readExecuted(file);
    expect(codeCells(executed).some((c) => outputsOf(c).length > 0)).toBe(true);

    const dirty = await chlab(['clear', '--check', file]);
    expect(dirty.code).toBe(1);
    expect(dirty.stdout).toMatch(/6 cells with outputs/);
    const cleared = await chlab(['clear', file]);
    expect(cleared.code).toBe(0);
    const clean = await readExecuted(file);
    expect(clean.cells.length).toBe(executed.cells.length - 1);
    expect(codeCells(clean).every((c) => outputsOf(c).length === 0 && c.execution_count === null)).toBe(true);
    expect((await chlab(['clear', '--check', file])).code).toBe(0);
  }, 120_000);

  it('keeps the checked-in notebooks clean', async () => {
    const { code, stdout } = await chlab(['clear', '--check', ...notebooks.map((n) => `notebooks/${n}`)]);
    expect(code, stdout).toBe(0);
  });
});
