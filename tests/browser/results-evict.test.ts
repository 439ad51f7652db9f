// The memory budget for results held in the browser, in headless Chromium against a real proxy (embedded chDB),
// with the user's setting "Memory for results in the browser" at 1 MiB and 100 preview rows kept in the notebook:
//
//   1. a third result pushes the page past the budget: the oldest unnamed result (`_1`) is dropped from DuckDB-WASM;
//      its grid shows the notebook's preview and says why and how to get it back; `_` and the named result stay;
//   2. `%%duckdb` on the dropped `_1` fails with an error that says it was evicted and which cell to run again,
//      while newer results (`_3`, `_`, a `-- name:`) still answer;
//   3. running the dropped result's cell again loads it back (as `_4`, `_`), and the budget drops the next oldest.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserSkipReason } from '../support/browser.js';
import {
  STATIC_DIR,
  bundleBuilt,
  readCells,
  readGrids,
  runCell,
  useRunLab,
  unexpectedConsole,
  waitForResults,
  type ResultsLab,
} from '../support/results-lab.js';

const skipReason = browserSkipReason(STATIC_DIR, bundleBuilt());
if (skipReason) it.skip(`results memory budget in the browser: skipped, ${skipReason}`, () => undefined);

const STEP = 180_000;
const NOTEBOOK = 'budget.ipynb';

// Two UInt64 columns: 16 bytes a row, so 50,000 rows are ~0.76 MiB of Arrow and 40,000 rows ~0.61 MiB.
const CELLS = [
  `SELECT number AS id, number * 2 AS twice FROM numbers(50000)`,
  `-- name: small\nSELECT number AS n FROM numbers(10)`,
  `SELECT number AS id, number * 3 AS thrice FROM numbers(40000)`,
  `%%duckdb\nSELECT count(*) AS n FROM _1`,
  `%%duckdb\nSELECT count(*) AS n, max(thrice) AS top FROM _3`,
  `%%duckdb\nSELECT sum(n) AS total FROM small`,
  `%%duckdb\nSELECT count(*) AS n FROM _`,
];

describe.skipIf(!!skipReason)('results memory budget in the browser (headless Chromium, real proxy)', () => {
  let lab: ResultsLab;
  let page: Page;

  const names = () =>
    page.evaluate(() => {
      const registry = (window as unknown as { chlabResults: { registry: any } }).chlabResults.registry;
      return ['_1', '_2', '_3', '_4', '_', 'small'].filter((name) => registry.byName(name)?.created);
    });

  useRunLab({ token: 'results-evict-token-0123456789', env: { CHLAB_PREVIEW_ROWS: '100' }, notebooks: { [NOTEBOOK]: CELLS } }, NOTEBOOK, STEP, {
    prepare: async (started) => {
      // The user's setting, as the Settings editor saves it.
      const saved = await fetch(`${started.base}/lab/api/settings/chlab-extension:results`, {
        method: 'PUT',
        headers: { Authorization: `token ${started.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ raw: '{ "resultsMemoryBudget": 1 }' }),
      });
      expect(saved.status).toBe(204);
    },
    ready: (started, opened) => {
      lab = started;
      page = opened;
    },
  });

  it('drops the oldest unnamed result past the budget; its grid says so and shows the saved preview', async () => {
    expect(await page.evaluate(() => (window as unknown as { chlabResults: { registry: any } }).chlabResults.registry.memoryBudget)).toBe(1024 * 1024);
    expect(await names()).toEqual(['_2', '_3', '_', 'small']);
    const [evicted] = await readGrids(page, 0);
    expect(evicted!.names).toBe('');
    expect(evicted!.state).toBe('preview');
    expect(evicted!.rowCount).toBe(100);
    expect(evicted!.summary).toMatch(/^100 of 50,000 rows · /);
    expect(evicted!.notes).toEqual([
      'Dropped from the browser to keep results within their memory budget (1.00 MiB; older results go first) (_1 no longer in DuckDB). ' +
        'The grid shows the 100 rows the notebook keeps: run the cell again to browse and re-query all of it.',
    ]);
    expect(evicted!.rows[0]!.cells).toEqual(['0', '0']);
    // The newer results are whole, in DuckDB, under their names.
    const [small] = await readGrids(page, 1);
    expect(small!.names).toBe('DuckDB: _2, small');
    const [latest] = await readGrids(page, 2);
    expect(latest!.names).toBe('DuckDB: _3, _');
    expect(latest!.state).toBe('complete');
    expect(latest!.rowCount).toBe(40000);
  }, STEP);

  it('%%duckdb on the dropped `_1` says it was evicted and which cell to run again; newer results answer', async () => {
    const cells = await readCells(page);
    expect(cells.map((c) => c.executionCount)).toEqual([1, 2, 3, null, null, null, null]);
    expect(cells[3]!.outputs).toEqual([
      {
        type: 'error',
        text: expect.stringMatching(
          /^DuckDBError: Catalog Error: Table with name _1 does not exist[\s\S]*\n\n_1 was dropped from this browser tab to keep results within their memory budget \(1\.00 MiB, setting "Memory for results in the browser"\): older results go first, _ and results named with -- name: are kept\. Run its SQL cell again \(the cell that ran as \[1\]\) to load it back\.$/,
        ),
      },
    ]);
    // The cells after the failed one did not run (as after any error in a run of cells)…
    expect(cells.slice(4).map((c) => c.outputs)).toEqual([[], [], []]);
    // …and run on their own.
    for (const index of [4, 5, 6]) await runCell(page, index);
    expect((await readGrids(page, 4))[0]!.rows.map((r) => r.cells)).toEqual([['40000', '119997']]);
    expect((await readGrids(page, 5))[0]!.rows.map((r) => r.cells)).toEqual([['45']]);
    expect((await readGrids(page, 6))[0]!.rows.map((r) => r.cells)).toEqual([['40000']]);
  }, STEP);

  it('running the dropped result’s cell again loads it back, and the budget drops the next oldest', async () => {
    await runCell(page, 0);
    await waitForResults(page);
    // The names show once DuckDB holds the result, which can be a moment after the last batch arrived.
    await expect.poll(async () => (await readGrids(page, 0))[0]!.names, { timeout: 30_000 }).toBe('DuckDB: _4, _');
    const [back] = await readGrids(page, 0);
    expect(back!.state).toBe('complete');
    expect(back!.rowCount).toBe(50000);
    expect(back!.notes).toEqual([]);
    // _3 (0.61 MiB) is now the oldest unnamed result: with _4 (0.76 MiB) the page is past 1 MiB.
    await expect.poll(names, { timeout: 30_000 }).toEqual(['_2', '_4', '_', 'small']);
    const [dropped] = await readGrids(page, 2);
    expect(dropped!.notes).toEqual([expect.stringMatching(/^Dropped from the browser .*\(_3 no longer in DuckDB\)\. The grid shows the 100 rows the notebook keeps/)]);
    await runCell(page, 6);
    expect((await readGrids(page, 6))[0]!.rows.map((r) => r.cells)).toEqual([['50000']]);
  }, STEP);

  it('logged no unexpected console errors or warnings, and loaded nothing from outside loopback', () => {
    expect(unexpectedConsole(lab.tab!)).toEqual([]);
    expect(lab.tab!.blocked).toEqual([]);
  });
});
