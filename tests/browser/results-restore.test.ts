// Saved results, Interrupt and Parquet in the browser, in headless Chromium against a real proxy (embedded chDB)
// keeping 100 preview rows in the notebook:
//
//   1. cells run (a 5,000-row `-- name: trips`, a latest `_`, a named %%duckdb result), the notebook is saved and
//      the page reloaded: `_1`, `_`, `trips` and `zones` are DuckDB tables again, loaded from the saved previews;
//      the grid and the %%duckdb outputs say when a table holds only the preview (100 of 5,000 rows);
//   2. a slow %%duckdb query is stopped by the toolbar's Interrupt: the cell shows `Interrupted`, the next cells run;
//   3. Parquet written in the browser (parquet-wasm from DuckDB's Arrow) from a %%duckdb result and from a saved
//      ClickHouse preview, downloaded and read back with DuckDB in Node: rows and types.
import { readFile } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserSkipReason } from '../support/browser.js';
import {
  STATIC_DIR,
  bundleBuilt,
  command,
  openNotebook,
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
if (skipReason) it.skip(`saved results, Interrupt and Parquet in the browser: skipped, ${skipReason}`, () => undefined);

const STEP = 180_000;
const NOTEBOOK = 'saved.ipynb';

const CELLS = [
  `-- name: trips
SELECT number AS id, toString(number % 5) AS zone, toDateTime('2024-01-01 00:00:00', 'UTC') + number AS pickup, toDecimal64(number, 2) / 4 AS fare
FROM numbers(5000)`,
  `SELECT 'second' AS which, 7 AS n`,
  `%%duckdb\n-- name: zones\nSELECT zone, count(*) AS trips FROM trips GROUP BY zone ORDER BY zone`,
];

const cellSelector = (index: number) => `.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell:nth-child(${index + 1})`;

describe.skipIf(!!skipReason)('saved results, Interrupt and Parquet in the browser (headless Chromium, real proxy)', () => {
  let lab: ResultsLab;
  let page: Page;

  /** Appends a code cell to the current notebook and returns its index. */
  const appendCell = (source: string) =>
    page.evaluate((source) => {
      const model = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget.content.model;
      model.sharedModel.insertCell(model.cells.length, { cell_type: 'code', source });
      return model.cells.length - 1;
    }, source);

  const runNew = async (source: string) => {
    const index = await appendCell(source);
    await runCell(page, index);
    await waitForResults(page);
    return index;
  };

  const download = async (index: number, item: string) => {
    await page.locator(`${cellSelector(index)} .chlab-ResultToolbar-export`).click();
    const [file] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }).catch(async (reason) => {
        // Say why: the export's status line under the grid.
        const status = await page.locator(`${cellSelector(index)} .chlab-ResultToolbar-status`).textContent();
        throw new Error(`no download (${status}): ${reason}`);
      }),
      page.locator(`${cellSelector(index)} .chlab-ExportMenu-item${item}`).click(),
    ]);
    expect(await file.failure()).toBeNull();
    const filePath = (await file.path())!;
    return { name: file.suggestedFilename(), path: filePath, bytes: await readFile(filePath) };
  };

  /** Reads a Parquet file with DuckDB in Node: its column types and the rows of `select`. */
  const readParquet = async (file: string, select: string) => {
    const duck = await DuckDBInstance.create(':memory:');
    const connection = await duck.connect();
    try {
      const source = `read_parquet('${file.replace(/'/g, "''")}')`;
      const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
      const types = Object.fromEntries(described.getRowObjectsJson().map((r) => [String(r.column_name), String(r.column_type)]));
      const rows = (await connection.runAndReadAll(select.replace('$file', source))).getRowObjectsJson();
      return { types, rows };
    } finally {
      connection.closeSync();
      duck.closeSync();
    }
  };

  useRunLab({ token: 'results-restore-token-0123456789', env: { CHLAB_PREVIEW_ROWS: '100' }, notebooks: { [NOTEBOOK]: CELLS } }, NOTEBOOK, STEP, {
    ready: (started, opened) => {
      lab = started;
      page = opened;
    },
  });

  it('after save and reload, `_1`, `_` and named results are DuckDB tables again, from the saved previews', async () => {
    expect((await readGrids(page, 0))[0]!.names).toBe('DuckDB: _1, trips');
    await command(page, 'docmanager:save');
    await page.waitForFunction(() => !(window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget.context.model.dirty, undefined, { timeout: 30_000 });
    const saved = JSON.parse(await readFile(`${lab.notebookDir}/${NOTEBOOK}`, 'utf8'));
    expect(saved.cells[0].outputs[0].metadata['application/vnd.apache.arrow.stream']).toMatchObject({ total_rows: 5000, preview_rows: 100 });

    // Reload: no result is in this page's DuckDB any more, only the notebook's outputs.
    const started = page.waitForEvent('console', { predicate: (m) => m.text() === 'chlab: JupyterLab started', timeout: 90_000 });
    await page.reload({ timeout: 90_000 });
    await started;
    await openNotebook(page, NOTEBOOK);
    await page.waitForFunction(
      () => {
        const registry = (window as unknown as { chlabResults?: { registry: any } }).chlabResults?.registry;
        return ['_1', '_2', '_', 'trips', 'zones'].every((name) => registry?.byName(name)?.created);
      },
      undefined,
      { timeout: 60_000, polling: 200 },
    );
    await waitForResults(page);

    // The grids follow (their records are loaded after the outputs rendered).
    await expect.poll(async () => (await readGrids(page, 0))[0]!.names, { timeout: 10_000 }).toBe('DuckDB: _1, trips');
    const [trips] = await readGrids(page, 0);
    expect(trips!.rowCount).toBe(100);
    expect(trips!.notes).toEqual([expect.stringMatching(/^preview: 100 of 5,000 rows — re-run the cell for all/)]);
    await expect.poll(async () => (await readGrids(page, 1))[0]!.names, { timeout: 10_000 }).toBe('DuckDB: _2, _');
    await expect.poll(async () => (await readGrids(page, 2))[0]!.names, { timeout: 10_000 }).toBe('DuckDB: zones');

    const first = await runNew('%%duckdb\nSELECT count(*) AS n, max(id) AS top FROM _1');
    const [counted] = await readGrids(page, first);
    expect(counted!.rows.map((r) => r.cells)).toEqual([['100', '99']]);
    expect(counted!.notes).toEqual(['_1 holds only the saved preview: 100 of 5,000 rows — re-run its cell for all']);
    const latest = await runNew('%%duckdb\nSELECT which, n FROM _');
    expect((await readGrids(page, latest))[0]!.rows.map((r) => r.cells)).toEqual([['second', '7']]);
    const named = await runNew('%%duckdb\nSELECT sum(trips) AS total FROM zones');
    const [total] = await readGrids(page, named);
    expect(total!.rows.map((r) => r.cells)).toEqual([['5000']]);
    expect(total!.notes).toEqual([]);
    const byName = await runNew(`%%duckdb\nSELECT zone, count(*) AS n FROM trips WHERE zone = '3' GROUP BY zone`);
    expect((await readGrids(page, byName))[0]!.rows.map((r) => r.cells)).toEqual([['3', '20']]);
    const cells = await readCells(page);
    expect(cells[byName]!.outputs[0]!.text).toMatch(/\ntrips holds only the saved preview: 100 of 5,000 rows — re-run its cell for all$/);
  }, STEP);

  it('Interrupt stops a slow %%duckdb query: the cell shows Interrupted and the next cells run', async () => {
    const slow = await appendCell('%%duckdb\nSELECT count(*) AS n FROM range(1000000000) a, range(100000) b WHERE (a.range + b.range) % 7 = 3');
    await page.evaluate((index) => {
      const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
      panel.content.activeCellIndex = index;
      panel.content.mode = 'command';
    }, slow);
    void command(page, 'notebook:run-cell').catch(() => undefined);
    await page.waitForFunction((index) => (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget.content.widgets[index].model.executionState === 'running', slow, { timeout: 30_000 });
    await page.waitForTimeout(2000);
    expect((await readCells(page))[slow]!.running).toBe(true);
    const interruptedAt = Date.now();
    await page.locator('.jp-NotebookPanel-toolbar jp-button[data-command="notebook:interrupt-kernel"]').click();
    await waitForIdle(page, 30_000);
    expect(Date.now() - interruptedAt).toBeLessThan(10_000);
    const cells = await readCells(page);
    expect(cells[slow]!.outputs).toEqual([{ type: 'error', text: 'Interrupted: Query interrupted: DuckDB stopped it in the browser' }]);
    const next = await runNew('%%duckdb\nSELECT 42 AS answer');
    expect((await readGrids(page, next))[0]!.rows.map((r) => r.cells)).toEqual([['42']]);
    const sql = await runNew('SELECT 1 AS one');
    expect((await readGrids(page, sql))[0]!.rows.map((r) => r.cells)).toEqual([['1']]);
  }, STEP);

  it('exports Parquet from the browser: a %%duckdb result and a saved preview, read back with their types', async () => {
    const typed = await runNew(`%%duckdb
-- name: typed
SELECT i::INTEGER AS i, (i * 1.25)::DECIMAL(10, 2) AS d, 'x' || i AS s,
       to_timestamp(1704067200 + i) AS t, [i, i + 1] AS l, {'a': i, 'b': 'y'} AS st,
       CASE WHEN i % 2 = 0 THEN NULL ELSE i END AS maybe
FROM range(30000) r(i)`);
    const file = await download(typed, '.chlab-ExportMenu-browser.chlab-mod-parquet');
    expect(file.name).toBe('typed.parquet');
    expect(file.bytes.subarray(0, 4).toString()).toBe('PAR1');
    const read = await readParquet(
      file.path,
      `SELECT count(*)::INTEGER AS n, sum(i)::BIGINT::VARCHAR AS ids, sum(d)::VARCHAR AS ds, count(maybe)::INTEGER AS present,
              max(t)::VARCHAR AS last, max(s) AS s, sum(l[2])::BIGINT::VARCHAR AS l2, max(st.b) AS b FROM $file`,
    );
    expect(read.types).toEqual({
      i: 'INTEGER',
      d: 'DECIMAL(10,2)',
      s: 'VARCHAR',
      t: 'TIMESTAMP WITH TIME ZONE',
      l: 'BIGINT[]',
      st: 'STRUCT(a BIGINT, b VARCHAR)',
      maybe: 'BIGINT',
    });
    expect(read.rows).toEqual([
      {
        n: 30000,
        ids: String((30000 * 29999) / 2),
        ds: (((30000 * 29999) / 2) * 1.25).toFixed(2),
        present: 15000,
        last: expect.stringMatching(/^2024-01-01 08:19:59(\+00)?$/),
        s: 'x9999',
        l2: String((30000 * 29999) / 2 + 30000),
        b: 'y',
      },
    ]);

    // The saved preview of a ClickHouse result: what the browser holds (100 rows), with DuckDB's types for it.
    const preview = await download(0, '.chlab-ExportMenu-browser.chlab-mod-parquet');
    expect(preview.name).toBe('trips.parquet');
    const trips = await readParquet(preview.path, `SELECT count(*)::INTEGER AS n, max(id)::VARCHAR AS top, max(pickup)::VARCHAR AS last, sum(fare)::VARCHAR AS fares FROM $file`);
    expect(trips.types).toMatchObject({ id: 'UBIGINT', zone: 'VARCHAR', pickup: 'TIMESTAMP WITH TIME ZONE', fare: expect.stringMatching(/^DECIMAL\(\d+,2\)$/) });
    expect(trips.rows).toEqual([{ n: 100, top: '99', last: expect.stringMatching(/^2024-01-01 00:01:39(\+00)?$/), fares: '1237.50' }]);
  }, STEP);

  it('logged no unexpected console errors or warnings, and loaded nothing from outside loopback', () => {
    expect(unexpectedConsole(lab.tab!)).toEqual([]);
    expect(lab.tab!.blocked).toEqual([]);
  });
});
