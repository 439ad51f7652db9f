// A 1,000,000-row × 9-column result in headless Chromium, with the default result caps:
//
//   1. it streams in (binary Arrow over the chlab.results comm, into DuckDB-WASM): the first rows are painted
//      at once, the summary counts rows as they arrive, and the grid ends with all 1,000,000 — not cut by the cap;
//   2. it scrolls: the middle and the last rows come from DuckDB by rowid windows, only a screenful of rows is
//      in the DOM, and the page's JavaScript heap stays bounded (the rows live in DuckDB's worker);
//   3. sorting and filtering a column run in DuckDB over all 1,000,000 rows;
//   4. a chart beside the grid draws from a DuckDB aggregate (a histogram: 40 bins, not a million points);
//   5. a %%duckdb cell groups `_` in the browser.
// Screenshot: docs/screenshots/results-million.png, results-chart.png.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULT_QUERY } from '../../kernel-proxy/src/bench/results.js';
import { browserSkipReason, skipAfterFailedStep } from '../support/browser.js';
import {
  SCREENSHOTS,
  STATIC_DIR,
  bundleBuilt,
  command,
  openNotebook,
  readCells,
  readGrids,
  showCell,
  startResultsLab,
  unexpectedConsole,
  waitForIdle,
  waitForResults,
  type ResultsLab,
} from '../support/results-lab.js';

const skipReason = browserSkipReason(STATIC_DIR, bundleBuilt());
if (skipReason) it.skip(`a million rows in the browser: skipped, ${skipReason}`, () => undefined);

const ROWS = 1_000_000;
const STEP = 240_000;
const GROUP_BY = '%%duckdb\nSELECT quantity % 10 AS bucket, count(*) AS trips, sum(amount) AS amount FROM _ GROUP BY bucket ORDER BY bucket';

/** The grid of the million-row cell. */
const GRID = '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell:nth-child(1) .chlab-Grid';

describe.skipIf(!!skipReason)('a 1,000,000-row result in the browser (headless Chromium, real proxy, default caps)', () => {
  let lab: ResultsLab;
  let page: Page;
  let cdp: CDPSession;

  const heapMb = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    const { metrics } = await cdp.send('Performance.getMetrics');
    return metrics.find((m) => m.name === 'JSHeapUsedSize')!.value / 1e6;
  };

  /** Scrolls the big grid to a fraction of its height; resolves once no row is waiting for its page. */
  const scrollTo = async (fraction: number) => {
    await page.locator(GRID).evaluate(async (grid, f) => {
      grid.scrollTop = (grid.scrollHeight - grid.clientHeight) * f;
      // The grid draws on the next animation frame.
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
    }, fraction);
    await page.waitForFunction((selector) => {
      const grid = document.querySelector(selector);
      return !!grid && grid.querySelectorAll('.chlab-Grid-row').length > 0 && !grid.querySelector('.chlab-Grid-row.chlab-mod-loading');
    }, GRID, { timeout: 30_000, polling: 50 });
    return (await readGrids(page, 0))[0]!;
  };

  beforeAll(async () => {
    lab = await startResultsLab({ token: 'results-million-token-0123456789', notebooks: { 'million.ipynb': [RESULT_QUERY, GROUP_BY] } });
    page = (await lab.open()).page;
    cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    await mkdir(SCREENSHOTS, { recursive: true });
    await openNotebook(page, 'million.ipynb');
  }, STEP);

  afterAll(async () => {
    await lab?.close();
  });

  skipAfterFailedStep();

  it('streams 1,000,000 rows into the grid: first rows at once, the count growing, all rows at the end', async () => {
    const heapBefore = await heapMb();
    // Watch the summary while the result streams in.
    await page.evaluate(() => {
      const w = window as unknown as { __summaries: string[]; __observer: MutationObserver };
      w.__summaries = [];
      w.__observer = new MutationObserver(() => {
        const summary = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .chlab-ArrowResult-summary')?.textContent;
        if (summary && w.__summaries.at(-1) !== summary) w.__summaries.push(summary);
      });
      w.__observer.observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await page.evaluate(() => {
      const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
      panel.content.activeCellIndex = 0;
    });
    await command(page, 'notebook:run-cell');
    // The first rows are on screen long before the last arrive.
    await page.locator(`${GRID} .chlab-Grid-row[data-row="0"] .chlab-Grid-cell`).first().waitFor({ timeout: 120_000 });
    await waitForIdle(page, STEP);
    await waitForResults(page, STEP);
    const summaries = await page.evaluate(() => (window as unknown as { __summaries: string[] }).__summaries);
    expect(summaries.some((s) => /^Receiving… [\d,]+ rows/.test(s)), summaries.join(' | ')).toBe(true);
    const [grid] = await readGrids(page, 0);
    expect(grid!.headers.map((h) => `${h.name} ${h.type}`)).toEqual([
      'id UInt64',
      'quantity Int32',
      'customer Nullable(String)',
      'amount Decimal(18, 2)',
      "created_at DateTime('UTC')",
      'tags Array(String)',
      'uuid UUID',
      'flag UInt8',
      'ratio Float64',
    ]);
    expect(grid!.rowCount).toBe(ROWS);
    expect(grid!.summary).toMatch(/^1,000,000 rows · [\d.]+ (ms|s) · [\d.]+ MiB read$/);
    expect(grid!.notes).toEqual([]); // exactly at the default cap of 1,000,000: whole, not cut
    expect(grid!.names).toBe('DuckDB: _1, _');
    expect(grid!.rows[0]!.cells).toEqual(['0', '0', null, '0.00', '2024-01-01 00:00:00', "['0', 'tag']", expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-/), '1', '0']);
    // The rows are in DuckDB's worker, not in the page's heap.
    const heapAfter = await heapMb();
    expect(heapAfter - heapBefore, `heap ${heapBefore.toFixed(0)} → ${heapAfter.toFixed(0)} MB`).toBeLessThan(60);
    // The page asked for ZSTD-compressed batches (ClickHouse compresses them; the page decodes them for DuckDB).
    const compression = await page.evaluate(
      () =>
        (window as unknown as { __chlabResultsCompression: { asked: string; batches: number; compressedBatches: number; receivedBytes: number; uncompressedBytes: number } })
          .__chlabResultsCompression,
    );
    expect(compression.asked).toBe('zstd');
    expect(compression.compressedBatches, JSON.stringify(compression)).toBe(compression.batches);
    expect(compression.receivedBytes, JSON.stringify(compression)).toBeLessThan(compression.uncompressedBytes / 2);
  }, STEP);

  it('scrolls to the middle and to the end: rows come from DuckDB by window, a screenful in the DOM, heap bounded', async () => {
    const heapBefore = await heapMb();
    for (const fraction of [0.5, 0.25, 0.999, 1, 0.1, 0.75]) {
      const grid = await scrollTo(fraction);
      const first = grid.rows[0]!.row;
      expect(grid.rows.length).toBeLessThan(80);
      expect(first).toBeGreaterThanOrEqual(Math.floor((ROWS - 20) * fraction) - 40);
      for (const row of grid.rows) {
        expect(row.cells[0], `row ${row.row}`).toBe(String(row.row)); // id = row number
        expect(row.cells[4]).toBe(new Date(Date.UTC(2024, 0, 1) + row.row * 1000).toISOString().replace('T', ' ').slice(0, 19));
      }
    }
    const last = await scrollTo(1);
    expect(last.rows.at(-1)!.row).toBe(ROWS - 1);
    expect(last.rows.at(-1)!.cells[0]).toBe('999999');
    expect(await heapMb()).toBeLessThan(heapBefore + 40);
    await scrollTo(0.5);
    await showCell(page, 0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'results-million.png') });
    await scrollTo(0);
  }, STEP);

  it('sorts and filters a column in DuckDB over all 1,000,000 rows', async () => {
    // Sort by ratio, descending (header click twice).
    const header = page.locator(`${GRID} .chlab-Grid-headerCell[data-col="8"] .chlab-ResultTable-columnName`);
    await header.click();
    await page.waitForFunction(() => /sorted by ratio ↑/.test(document.querySelector('.chlab-ResultToolbar-status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    await header.click();
    await page.waitForFunction(() => /sorted by ratio ↓/.test(document.querySelector('.chlab-ResultToolbar-status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    let grid = await scrollTo(0);
    expect(grid.rows[0]!.cells[0]).toBe('999999');
    expect(grid.rows[1]!.cells[0]).toBe('999998');
    // Filter customer "customer-4999" (text contains) and quantity > 990.
    await page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell:nth-child(1) .chlab-ResultToolbar-filter').click();
    const filter = (col: number) => page.locator(`${GRID} .chlab-Grid-filter[data-col="${col}"]`);
    await filter(2).fill('customer-4999');
    await filter(2).press('Enter');
    await page.waitForFunction(() => /match/.test(document.querySelector('.chlab-ResultToolbar-status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    await filter(1).fill('> 990');
    await filter(1).press('Enter');
    await page.waitForFunction(() => /^\d+ rows? match, sorted by ratio ↓/.test(document.querySelector('.chlab-ResultToolbar-status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    grid = await scrollTo(0);
    // customer-4999x for x in 0..9 and 49990..49999 (ids ≡ that mod 50000), quantity = id % 1000 > 990, id % 7 ≠ 0.
    const expected: number[] = [];
    for (let id = ROWS - 1; id >= 0; id--) {
      const customer = `customer-${id % 50000}`;
      if (id % 7 !== 0 && customer.includes('customer-4999') && id % 1000 > 990) expected.push(id);
    }
    expect(grid.rowCount).toBe(expected.length);
    expect(grid.rows.map((r) => Number(r.cells[0]))).toEqual(expected.slice(0, grid.rows.length));
    expect(await page.locator('.chlab-ResultToolbar-status').first().textContent()).toMatch(new RegExp(`^${expected.length} rows match, sorted by ratio ↓ · \\d+ ms$`));
    // Clear: back to the whole result in its order.
    const status = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell:nth-child(1) .chlab-ResultToolbar-status');
    await filter(1).fill('');
    await filter(1).press('Enter');
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toMatch(/^[\d,]+ rows match, sorted by ratio ↓ · \d+ ms$/);
    await filter(2).fill('');
    await filter(2).press('Enter');
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toMatch(/^sorted by ratio ↓ · \d+ ms$/);
    await header.click(); // third click: no sort
    await page.waitForFunction(() => (document.querySelector('.chlab-ResultToolbar-status')?.textContent ?? '') === '', undefined, { timeout: 60_000 });
    grid = await scrollTo(0);
    expect(grid.rowCount).toBe(ROWS);
    expect(grid.rows[0]!.cells[0]).toBe('0');
  }, STEP);

  it('draws a chart beside the grid from a DuckDB aggregate (histogram of 1,000,000 values in 40 bins, bars by customer)', async () => {
    await page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell:nth-child(1) .chlab-ResultToolbar-chart').click();
    const chart = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell:nth-child(1) .chlab-Chart');
    await chart.locator('svg').first().waitFor({ timeout: 60_000 });
    // Default: counts per category of the first text column.
    await expect.poll(() => chart.getAttribute('data-rows'), { timeout: 60_000 }).toBe(String(ROWS));
    expect(Number(await chart.getAttribute('data-points'))).toBeLessThanOrEqual(50);
    // Histogram of ratio.
    await chart.locator('.chlab-Chart-kind').selectOption('histogram');
    await chart.locator('.chlab-Chart-x').selectOption('ratio');
    await expect.poll(async () => (await chart.locator('.chlab-Chart-caption').textContent()) ?? '', { timeout: 60_000 }).toMatch(/^40 bins from 1,000,000 rows · DuckDB/);
    expect(await chart.locator('svg [aria-label="rect"] rect, svg g[aria-label="rect"] rect').count()).toBe(40);
    // A line: the average ratio over time, in 400 buckets of the million rows.
    await chart.locator('.chlab-Chart-kind').selectOption('line');
    await expect.poll(async () => (await chart.locator('.chlab-Chart-caption').textContent()) ?? '', { timeout: 60_000 }).toMatch(/^400 points from 1,000,000 rows · DuckDB/);
    expect(await chart.locator('.chlab-Chart-x').inputValue()).toBe('created_at');
    await chart.locator('.chlab-Chart-y').selectOption('amount');
    await expect.poll(() => chart.locator('.chlab-Chart-plot').textContent(), { timeout: 60_000 }).toContain('avg(amount)');
    expect(await page.evaluate(() => {
      const output = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell:nth-child(1) .jp-OutputArea-output')!;
      return output.scrollWidth <= output.clientWidth + 1;
    })).toBe(true); // grid and chart fit beside each other
    await showCell(page, 0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'results-chart.png') });
  }, STEP);

  it('groups `_` with a %%duckdb cell, in the browser', async () => {
    await page.evaluate(() => {
      const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
      panel.content.activeCellIndex = 1;
    });
    const started = Date.now();
    await command(page, 'notebook:run-cell');
    await waitForIdle(page, STEP);
    await waitForResults(page, STEP);
    const cells = await readCells(page);
    expect(cells[1]!.outputs.map((o) => o.type)).toEqual(['display_data']);
    const [grid] = await readGrids(page, 1);
    expect(grid!.headers).toEqual([
      { name: 'bucket', type: 'INTEGER' },
      { name: 'trips', type: 'BIGINT' },
      { name: 'amount', type: 'DECIMAL(38,2)' },
    ]);
    expect(grid!.rows.map((r) => r.cells.slice(0, 2))).toEqual(Array.from({ length: 10 }, (_, i) => [String(i), '100000']));
    // The same sums, computed by ClickHouse.
    const response = await fetch(`${lab.base}/api/query/execute`, {
      method: 'POST',
      headers: { Authorization: `token ${lab.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ query: `SELECT quantity % 10 AS bucket, toDecimalString(sum(amount), 2) AS amount FROM (${RESULT_QUERY}) GROUP BY bucket ORDER BY bucket` }),
    });
    const expected = (await response.json()) as { data: { amount: string }[] };
    expect(grid!.rows.map((r) => r.cells[2])).toEqual(expected.data.map((r) => r.amount));
    expect(grid!.summary).toMatch(/^10 rows · [\d.]+ (ms|s)$/);
    expect(Date.now() - started).toBeLessThan(30_000);
  }, STEP);

  it('logged no unexpected console errors or warnings, and loaded nothing from outside loopback', () => {
    expect(unexpectedConsole(lab.tab!)).toEqual([]);
    expect(lab.tab!.blocked).toEqual([]);
  });
});
