// Interrupt and Kernel › Restart around %%duckdb cells, in headless Chromium against a real proxy (embedded chDB)
// keeping 100 preview rows in the notebook:
//
//   1. Interrupt while a %%duckdb cell runs and others wait behind it (%%duckdb and SQL): the running one shows
//      Interrupted, the queued ones never run (no output, no execution count, nothing sent to the kernel);
//   2. Restart while a %%duckdb cell runs and another waits: the running one is stopped, the queued one never runs;
//   3. after the restart, results stay in the page's DuckDB: earlier grids keep their rows and names, and `_1`, `_`,
//      `-- name:`d results still answer; execution counts start again at 1, so the next SQL result becomes `_1`
//      and `_` (streamed whole over the reopened comm) and the earlier result keeps only its other names.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserSkipReason } from '../support/browser.js';
import {
  STATIC_DIR,
  bundleBuilt,
  command,
  readCells,
  readGrids,
  runCell,
  useRunLab,
  unexpectedConsole,
  waitForIdle,
  waitForResults,
  type ResultsLab,
} from '../support/results-lab.js';

const skipReason = browserSkipReason(STATIC_DIR, bundleBuilt());
if (skipReason) it.skip(`Interrupt and Restart around %%duckdb cells: skipped, ${skipReason}`, () => undefined);

const STEP = 180_000;
const NOTEBOOK = 'lifecycle.ipynb';
const SLOW = '%%duckdb\nSELECT count(*) AS n FROM range(1000000000) a, range(100000) b WHERE (a.range + b.range) % 7 = 3';

const CELLS = [
  `-- name: trips\nSELECT number AS id, toString(number % 5) AS zone FROM numbers(5000)`,
  `SELECT 'before' AS era, 1 AS n`,
  `%%duckdb\n-- name: zones\nSELECT zone, count(*) AS c FROM trips GROUP BY zone ORDER BY zone`,
];

describe.skipIf(!!skipReason)('Interrupt and Restart around %%duckdb cells (headless Chromium, real proxy)', () => {
  let lab: ResultsLab;
  let page: Page;

  const historyTotal = async () => {
    const response = await fetch(`${lab.base}/api/query/history?limit=1`, { headers: { Authorization: `token ${lab.token}` } });
    return ((await response.json()) as { total: number }).total;
  };

  /** Appends code cells to the current notebook and returns the index of the first. */
  const appendCells = (sources: string[]) =>
    page.evaluate((sources) => {
      const model = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget.content.model;
      const first = model.cells.length;
      for (const source of sources) model.sharedModel.insertCell(model.cells.length, { cell_type: 'code', source });
      return first;
    }, sources);

  const runNew = async (source: string) => {
    const index = await appendCells([source]);
    await runCell(page, index);
    await waitForResults(page);
    return index;
  };

  /** Runs the cells from `first` to the end, and waits until the first of them is running its DuckDB query. */
  const runFrom = async (first: number) => {
    await page.evaluate((index) => {
      const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
      panel.content.activeCellIndex = index;
      panel.content.mode = 'command';
    }, first);
    void command(page, 'notebook:run-all-below').catch(() => undefined);
    await page.waitForFunction(
      (index) => (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget.content.widgets[index].model.executionState === 'running',
      first,
      { timeout: 30_000 },
    );
    // Let DuckDB-WASM start on it (the Interrupt must stop a query, not a cell still waiting its turn).
    await page.waitForTimeout(2000);
    expect((await readCells(page))[first]!.running).toBe(true);
  };

  /** Kernel › Restart, as a user does it: the command, then Restart in its dialog. */
  const restart = async () => {
    void command(page, 'notebook:restart-kernel').catch(() => undefined);
    await page.locator('.jp-Dialog .jp-mod-accept').click({ timeout: 30_000 });
    await page.waitForFunction(
      () => (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle',
      undefined,
      { timeout: 60_000 },
    );
  };

  useRunLab({ token: 'results-lifecycle-token-0123456789', env: { CHLAB_PREVIEW_ROWS: '100' }, notebooks: { [NOTEBOOK]: CELLS } }, NOTEBOOK, STEP, {
    ready: (started, opened) => {
      lab = started;
      page = opened;
    },
  });

  it('Interrupt stops the running %%duckdb cell and drops the cells queued behind it (%%duckdb and SQL)', async () => {
    expect((await readGrids(page, 2))[0]!.names).toBe('DuckDB: zones');
    const queriesBefore = await historyTotal();
    const first = await appendCells([SLOW, `%%duckdb\nSELECT 'queued' AS b`, `SELECT 'queued' AS c`, `%%duckdb\nSELECT 'queued' AS d`]);
    await runFrom(first);
    await page.locator('.jp-NotebookPanel-toolbar jp-button[data-command="notebook:interrupt-kernel"]').click();
    await waitForIdle(page, 60_000);
    const cells = await readCells(page);
    expect(cells[first]!.outputs).toEqual([{ type: 'error', text: 'Interrupted: Query interrupted: DuckDB stopped it in the browser' }]);
    expect(cells.slice(first + 1).map((c) => [c.executionCount, c.outputs, c.running])).toEqual([
      [null, [], false],
      [null, [], false],
      [null, [], false],
    ]);
    // The queued SQL cell was never sent to the kernel.
    expect(await historyTotal()).toBe(queriesBefore);
    // They run when asked again.
    await runCell(page, first + 1);
    await runCell(page, first + 2);
    await waitForResults(page);
    expect((await readGrids(page, first + 1))[0]!.rows.map((r) => r.cells)).toEqual([['queued']]);
    expect((await readGrids(page, first + 2))[0]!.rows.map((r) => r.cells)).toEqual([['queued']]);
    expect((await readCells(page))[first + 2]!.executionCount).toBe(3);
  }, STEP);

  it('Kernel › Restart stops the running %%duckdb cell and drops the one queued behind it', async () => {
    const first = await appendCells([SLOW, `%%duckdb\nSELECT 'queued' AS e`]);
    await runFrom(first);
    await restart();
    await waitForIdle(page, 60_000);
    const cells = await readCells(page);
    expect(cells[first]!.outputs).toEqual([{ type: 'error', text: 'Interrupted: Query interrupted: DuckDB stopped it in the browser' }]);
    expect([cells[first + 1]!.outputs, cells[first + 1]!.running]).toEqual([[], false]);
  }, STEP);

  it('after a restart, earlier results stay in the browser; counts start again and the next SQL result is `_1` and `_`', async () => {
    // Earlier grids keep their rows and names.
    const [trips] = await readGrids(page, 0);
    expect([trips!.names, trips!.state, trips!.rowCount]).toEqual(['DuckDB: _1, trips', 'complete', 5000]);
    expect((await readGrids(page, 1))[0]!.names).toBe('DuckDB: _2');
    expect((await readGrids(page, 2))[0]!.names).toBe('DuckDB: zones');
    // The SQL cell run last before the restart (in the Interrupt step) is `_3` and `_`.
    const latest = (await readCells(page)).findIndex((c) => c.source === `SELECT 'queued' AS c`);
    expect((await readGrids(page, latest))[0]!.names).toBe('DuckDB: _3, _');
    const before = await runNew(
      `%%duckdb\nSELECT (SELECT count(*) FROM _1) AS ones, (SELECT c FROM _) AS latest, (SELECT count(*) FROM trips) AS trips, (SELECT sum(c) FROM zones) AS zones`,
    );
    expect((await readGrids(page, before))[0]!.rows.map((r) => r.cells)).toEqual([['5000', 'queued', '5000', '5000']]);

    // The kernel counts from 1 again: the new result takes `_1` and `_` (all 3,000 rows: streamed, not the preview).
    const after = await runNew(`SELECT 'after' AS era, number AS n FROM numbers(3000)`);
    expect((await readCells(page))[after]!.executionCount).toBe(1);
    const fresh = async () => {
      const [grid] = await readGrids(page, after);
      return [grid!.names, grid!.state, grid!.rowCount];
    };
    await expect.poll(fresh, { timeout: 10_000 }).toEqual(['DuckDB: _1, _', 'complete', 3000]);
    await expect.poll(async () => (await readGrids(page, 0))[0]!.names, { timeout: 10_000 }).toBe('DuckDB: trips');
    await expect.poll(async () => (await readGrids(page, latest))[0]!.names, { timeout: 10_000 }).toBe('DuckDB: _3');
    expect((await readGrids(page, 0))[0]!.rowCount).toBe(5000);
    const requery = await runNew(
      `%%duckdb\nSELECT (SELECT count(*) FROM _1) AS ones, (SELECT min(era) FROM _) AS latest, (SELECT era FROM _2) AS second, (SELECT count(*) FROM trips) AS trips`,
    );
    expect((await readGrids(page, requery))[0]!.rows.map((r) => r.cells)).toEqual([['3000', 'after', 'before', '5000']]);
  }, STEP);

  it('a result still streaming when the kernel restarts ends as stopped, and the cell can run again', async () => {
    // 20 rows a second, in blocks of 10: streaming for as long as the test needs.
    const index = await appendCells([`-- name: big\nSELECT number AS n, sleepEachRow(0.05) AS z FROM numbers(100000) SETTINGS max_block_size = 10`]);
    await page.evaluate((index) => {
      const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
      panel.content.activeCellIndex = index;
      panel.content.mode = 'command';
    }, index);
    void command(page, 'notebook:run-cell').catch(() => undefined);
    await expect.poll(async () => (await readGrids(page, index))[0]?.state, { timeout: 60_000, interval: 50 }).toBe('streaming');
    await restart();
    await waitForIdle(page, 60_000);
    await waitForResults(page, 60_000);
    const [stopped] = await readGrids(page, index);
    expect(stopped!.state).toBe('stopped');
    expect(stopped!.summary).toMatch(/^[\d,]+ rows · the query stopped before the result ended$/);
    expect(stopped!.notes).toEqual([expect.stringMatching(/^Only the first rows arrived: /)]);
    expect(await page.evaluate(() => (window as unknown as { chlabResults: { registry: any } }).chlabResults.registry.byName('big'))).toBeUndefined();
    // The first result after this restart is `_1` again, whole.
    const again = await runNew(`SELECT number AS n FROM numbers(2000)`);
    expect((await readCells(page))[again]!.executionCount).toBe(1);
    const fresh = async () => {
      const [grid] = await readGrids(page, again);
      return [grid!.names, grid!.state, grid!.rowCount];
    };
    await expect.poll(fresh, { timeout: 10_000 }).toEqual(['DuckDB: _1, _', 'complete', 2000]);
  }, STEP);

  it('logged no unexpected console errors or warnings, and loaded nothing from outside loopback', () => {
    // JupyterLab's KernelConnection.restart() reconnects its WebSocket and says so: once for each of the two
    // restarts (more would mean the kernel's status looked like an automatic restart).
    expect(unexpectedConsole(lab.tab!)).toEqual(['Connection lost, reconnecting in 0 seconds.', 'Connection lost, reconnecting in 0 seconds.']);
    expect(lab.tab!.blocked).toEqual([]);
  });
});
