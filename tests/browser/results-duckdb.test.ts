// Re-query, cap, export, in headless Chromium against a real proxy (embedded chDB) with a 50,000-row result cap:
//
//   1. a 60,000-row result is cut at the cap and says so; `-- name: trips` names it;
//   2. %%duckdb cells run in the browser (no kernel round trip) against `_` (the latest result) and the name
//      `trips`, name their own result (`-- name: by_zone`) for the next cell, and show a clear error for a result
//      that is not in the browser;
//   3. a filter (NULL, contains) and a sort on the cut result run in DuckDB;
//   4. exports, each downloaded and checked: the whole result streamed by ClickHouse as CSV, TSV, JSON Lines and
//      Parquet (60,000 rows: more than the browser holds), and CSV, TSV, JSON Lines written by DuckDB-WASM from
//      a %%duckdb result and from a filtered view.
// Screenshots: docs/screenshots/results-duckdb.png, results-export.png.
import { readFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason, skipAfterFailedStep } from '../support/browser.js';
import {
  SCREENSHOTS,
  STATIC_DIR,
  bundleBuilt,
  openNotebook,
  readCells,
  readGrids,
  runAll,
  showCell,
  startResultsLab,
  unexpectedConsole,
  waitForResults,
  type ResultsLab,
} from '../support/results-lab.js';

const skipReason = browserSkipReason(STATIC_DIR, bundleBuilt());
if (skipReason) it.skip(`%%duckdb and exports in the browser: skipped, ${skipReason}`, () => undefined);

const CAP = 50_000;
const TOTAL = 60_000;
const STEP = 180_000;

const CELLS = [
  `-- name: trips
SELECT number AS id, toString(number % 5) AS zone, toDecimal64(number, 2) / 4 AS fare,
       toDateTime('2024-01-01 00:00:00', 'UTC') + number * 60 AS pickup, if(number % 3 = 0, NULL, number) AS maybe
FROM numbers(${TOTAL})`,
  `SELECT 'latest' AS which, 42 AS answer`,
  `%%duckdb\nSELECT which, answer * 2 AS doubled FROM _`,
  `%%duckdb\n-- name: by_zone\nSELECT zone, count(*) AS trips, sum(fare) AS fare FROM trips GROUP BY zone ORDER BY zone`,
  `%%duckdb\nSELECT trips FROM by_zone WHERE zone = '3'`,
  `%%duckdb\nSELECT * FROM _99`,
];

/** sum(fare) of a zone over the rows held in the browser (fare = id / 4, zone = id % 5). */
const fareOf = (zone: number) => {
  let quarters = 0n;
  for (let id = zone; id < CAP; id += 5) quarters += BigInt(id);
  return `${quarters / 4n}.${String((quarters % 4n) * 25n).padStart(2, '0')}`;
};

const cellGrid = (index: number) => `.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell:nth-child(${index + 1})`;

describe.skipIf(!!skipReason)('%%duckdb re-query, result cap and exports (headless Chromium, real proxy)', () => {
  let lab: ResultsLab;
  let page: Page;
  let proxyQueriesBefore = 0;

  const historyTotal = async () => {
    const response = await fetch(`${lab.base}/api/query/history?limit=1`, { headers: { Authorization: `token ${lab.token}` } });
    return ((await response.json()) as { total: number }).total;
  };

  /** Clicks an export menu item of cell `index` and returns the downloaded file's name and text (or bytes). */
  const download = async (index: number, item: string) => {
    await page.locator(`${cellGrid(index)} .chlab-ResultToolbar-export`).click();
    const [file] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.locator(`${cellGrid(index)} .chlab-ExportMenu-item${item}`).click()]);
    const failure = await file.failure();
    expect(failure).toBeNull();
    const filePath = (await file.path())!;
    return { name: file.suggestedFilename(), path: filePath, bytes: await readFile(filePath) };
  };

  beforeAll(async () => {
    lab = await startResultsLab({
      token: 'results-duckdb-token-0123456789',
      env: { CHLAB_MAX_RESULT_ROWS: String(CAP) },
      notebooks: { 'requery.ipynb': CELLS },
    });
    page = (await lab.open()).page;
    await mkdir(SCREENSHOTS, { recursive: true });
    await openNotebook(page, 'requery.ipynb');
    proxyQueriesBefore = await historyTotal();
    await runAll(page);
    await waitForResults(page);
  }, STEP);

  afterAll(async () => {
    await lab?.close();
  });

  skipAfterFailedStep(STEP);

  it('cuts a result at the cap and says so; the name and _N address it in DuckDB', async () => {
    const [trips] = await readGrids(page, 0);
    expect(trips!.rowCount).toBe(CAP);
    expect(trips!.summary).toMatch(/^50,000 rows · [\d.]+ (ms|s) · [\d.]+ \w+ read$/);
    expect(trips!.notes).toEqual([expect.stringMatching(/^Cut at the result cap: only the first 50,000 rows were read .*Export › Whole result/)]);
    expect(trips!.names).toBe('DuckDB: _1, trips');
    expect((await readGrids(page, 1))[0]!.names).toBe('DuckDB: _2, _');
  }, STEP);

  it('runs %%duckdb cells in the browser against `_` and a named result, without asking the proxy', async () => {
    // Only the two SQL cells reached the proxy.
    expect((await historyTotal()) - proxyQueriesBefore).toBe(2);
    const cells = await readCells(page);
    expect(cells.map((c) => c.executionCount)).toEqual([1, 2, null, null, null, null]);
    const [latest] = await readGrids(page, 2);
    expect(latest!.headers).toEqual([
      { name: 'which', type: 'VARCHAR' },
      { name: 'doubled', type: 'UTINYINT' },
    ]);
    expect(latest!.rows.map((r) => r.cells)).toEqual([['latest', '84']]);
    const [byZone] = await readGrids(page, 3);
    expect(byZone!.names).toBe('DuckDB: by_zone');
    expect(byZone!.headers.map((h) => h.name)).toEqual(['zone', 'trips', 'fare']);
    // The 50,000 rows held in the browser: 10,000 a zone.
    expect(byZone!.rows.map((r) => r.cells)).toEqual([0, 1, 2, 3, 4].map((z) => [String(z), '10000', fareOf(z)]));
    const [reused] = await readGrids(page, 4);
    expect(reused!.rows.map((r) => r.cells)).toEqual([['10000']]);
    expect(cells[5]!.outputs).toEqual([{ type: 'error', text: expect.stringMatching(/^DuckDBError: Catalog Error: Table with name _99 does not exist[\s\S]*Run the SQL cell again/) }]);
    expect(cells[2]!.outputs[0]!.text).toMatch(/^which\tdoubled\nlatest\t84\n1 row · [\d.]+ (ms|s) · DuckDB$/);
    await showCell(page, 2);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'results-duckdb.png') });
  }, STEP);

  it('filters (NULL, contains) and sorts the cut result in DuckDB', async () => {
    await page.locator(`${cellGrid(0)} .chlab-ResultToolbar-filter`).click();
    const filter = (col: number) => page.locator(`${cellGrid(0)} .chlab-Grid-filter[data-col="${col}"]`);
    const status = page.locator(`${cellGrid(0)} .chlab-ResultToolbar-status`);
    await filter(4).fill('NULL');
    await filter(4).press('Enter');
    await expect.poll(() => status.textContent(), { timeout: 30_000 }).toMatch(/^16,667 rows match · \d+ ms$/);
    await filter(1).fill('3');
    await filter(1).press('Enter');
    await expect.poll(() => status.textContent(), { timeout: 30_000 }).toMatch(/^3,334 rows match · \d+ ms$/);
    const fareHeader = page.locator(`${cellGrid(0)} .chlab-Grid-headerCell[data-col="2"] .chlab-ResultTable-columnName`);
    await fareHeader.click();
    await expect.poll(() => status.textContent(), { timeout: 30_000 }).toMatch(/sorted by fare ↑/);
    await fareHeader.click();
    await expect.poll(() => status.textContent(), { timeout: 30_000 }).toMatch(/^3,334 rows match, sorted by fare ↓ · \d+ ms$/);
    const [grid] = await readGrids(page, 0);
    expect(grid!.rowCount).toBe(3334);
    // id ≡ 3 (mod 5) and ≡ 0 (mod 3), below 50,000, largest first: 49998, 49983, …
    expect(grid!.rows.slice(0, 3).map((r) => [r.cells[0], r.cells[1], r.cells[4]])).toEqual([
      ['49998', '3', null],
      ['49983', '3', null],
      ['49968', '3', null],
    ]);
    expect(grid!.rows[0]!.cells[2]).toBe('12499.50');
  }, STEP);

  it('copies a cell and a row (keyboard and context menu), and resizes a column', async () => {
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: lab.base });
    const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
    // The filtered, sorted view of the previous step: row 1 is id 49998.
    const cell = page.locator(`${cellGrid(0)} .chlab-Grid-row[data-row="0"] .chlab-Grid-cell[data-col="2"]`);
    await cell.click();
    await page.keyboard.press('Control+c');
    await expect.poll(clipboard, { timeout: 10_000 }).toBe('12499.50');
    await page.keyboard.press('Control+Shift+c');
    await expect.poll(clipboard, { timeout: 10_000 }).toBe('49998\t3\t12499.50\t2024-02-04 17:18:00\t');
    await page.locator(`${cellGrid(0)} .chlab-Grid-row[data-row="1"] .chlab-Grid-cell[data-col="0"]`).click({ button: 'right' });
    await page.locator(`${cellGrid(0)} .chlab-Grid-menuItem`, { hasText: 'Copy row as JSON' }).click();
    await expect.poll(clipboard, { timeout: 10_000 }).toBe('{"id":"49983","zone":"3","fare":"12495.75","pickup":"2024-02-04 17:03:00","maybe":null}');
    // Arrow keys move the selection: down from row 2's id, then copy.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Control+c');
    await expect.poll(clipboard, { timeout: 10_000 }).toBe('49968');
    // Drag the zone column's right edge 80 px.
    const zone = page.locator(`${cellGrid(0)} .chlab-Grid-headerCell[data-col="1"]`);
    const before = (await zone.boundingBox())!;
    const handle = (await zone.locator('.chlab-Grid-resize').boundingBox())!;
    await page.mouse.move(handle.x + handle.width / 2, handle.y + 10);
    await page.mouse.down();
    await page.mouse.move(handle.x + handle.width / 2 + 80, handle.y + 10, { steps: 5 });
    await page.mouse.up();
    const after = (await page.locator(`${cellGrid(0)} .chlab-Grid-headerCell[data-col="1"]`).boundingBox())!;
    expect(Math.round(after.width - before.width)).toBe(80);
    const zoneCell = (await page.locator(`${cellGrid(0)} .chlab-Grid-row[data-row="0"] .chlab-Grid-cell[data-col="1"]`).boundingBox())!;
    expect(Math.round(zoneCell.width)).toBe(Math.round(after.width));
  }, STEP);

  it('exports the whole result from ClickHouse as CSV, TSV, JSON Lines and Parquet (more rows than the browser holds)', async () => {
    const csv = await download(0, '.chlab-ExportMenu-clickhouse.chlab-mod-csv');
    expect(csv.name).toBe('trips.csv');
    const csvLines = csv.bytes.toString('utf8').trimEnd().split('\n');
    expect(csvLines[0]).toBe('"id","zone","fare","pickup","maybe"');
    expect(csvLines).toHaveLength(TOTAL + 1);
    expect(csvLines[1]).toBe('0,"0",0,"2024-01-01 00:00:00",\\N');
    expect(csvLines[TOTAL]).toBe('59999,"4",14999.75,"2024-02-11 15:59:00",59999');

    const tsv = await download(0, '.chlab-ExportMenu-clickhouse.chlab-mod-tsv');
    const tsvLines = tsv.bytes.toString('utf8').trimEnd().split('\n');
    expect(tsv.name).toBe('trips.tsv');
    expect(tsvLines[0]).toBe('id\tzone\tfare\tpickup\tmaybe');
    expect(tsvLines).toHaveLength(TOTAL + 1);
    expect(tsvLines[2]).toBe('1\t1\t0.25\t2024-01-01 00:01:00\t1');

    const jsonl = await download(0, '.chlab-ExportMenu-clickhouse.chlab-mod-jsonl');
    const rows = jsonl.bytes.toString('utf8').trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(jsonl.name).toBe('trips.jsonl');
    expect(rows).toHaveLength(TOTAL);
    expect(rows[59999]).toEqual({ id: expect.anything(), zone: '4', fare: expect.anything(), pickup: '2024-02-11 15:59:00', maybe: expect.anything() });
    expect(String(rows[59999].id)).toBe('59999');

    const parquet = await download(0, '.chlab-ExportMenu-clickhouse.chlab-mod-parquet');
    expect(parquet.name).toBe('trips.parquet');
    expect(parquet.bytes.subarray(0, 4).toString()).toBe('PAR1');
    const duck = await DuckDBInstance.create(':memory:');
    const connection = await duck.connect();
    const read = await connection.runAndReadAll(
      `SELECT count(*)::INTEGER AS n, sum(id)::VARCHAR AS ids, count(maybe)::INTEGER AS present, max(zone) AS zone FROM read_parquet('${parquet.path.replace(/'/g, "''")}')`,
    );
    expect(read.getRowObjectsJson()).toEqual([{ n: TOTAL, ids: String((TOTAL * (TOTAL - 1)) / 2), present: 40000, zone: '4' }]);
    connection.closeSync();
    duck.closeSync();
    await page.locator(`${cellGrid(0)} .chlab-ResultToolbar-export`).click();
    await showCell(page, 0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'results-export.png') });
    await page.keyboard.press('Escape');
    await page.mouse.click(1390, 880);
  }, STEP);

  it('exports from the browser with DuckDB-WASM: a %%duckdb result and a filtered view, as CSV, TSV and JSON Lines', async () => {
    const csv = await download(3, '.chlab-ExportMenu-browser.chlab-mod-csv');
    expect(csv.name).toBe('by_zone.csv');
    const lines = csv.bytes.toString('utf8').trimEnd().split('\n');
    expect(lines).toEqual(['zone,trips,fare', ...[0, 1, 2, 3, 4].map((z) => `${z},10000,${fareOf(z)}`)]);
    const tsv = await download(3, '.chlab-ExportMenu-browser.chlab-mod-tsv');
    expect(tsv.bytes.toString('utf8').trimEnd().split('\n')[1]).toBe(`0\t10000\t${fareOf(0)}`);
    const jsonl = await download(3, '.chlab-ExportMenu-browser.chlab-mod-jsonl');
    expect(jsonl.bytes.toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l))[4]).toEqual({ zone: '4', trips: 10000, fare: fareOf(4) });
    // The filtered, sorted view of the cut result (3,334 rows), as shown.
    const view = await download(0, '.chlab-ExportMenu-browser.chlab-mod-jsonl');
    const viewRows = view.bytes.toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(viewRows).toHaveLength(3334);
    expect(viewRows[0]).toEqual({ id: 49998, zone: '3', fare: '12499.50', pickup: '2024-02-04 17:18:00', maybe: null });
  }, STEP);

  it('logged no unexpected console errors or warnings, and loaded nothing from outside loopback', () => {
    expect(unexpectedConsole(lab.tab!)).toEqual([]);
    expect(lab.tab!.blocked).toEqual([]);
  });
});
