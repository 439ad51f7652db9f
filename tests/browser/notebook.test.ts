// End-to-end, in real headless Chromium: the built JupyterLab bundle against a real kernel-proxy started in
// this process (embedded chDB on a fresh CHLAB_DATA_DIR, CHLAB_NOTEBOOK_DIR = a temporary copy of notebooks/).
//
//   1. /lab?token=… starts JupyterLab: the file browser lists quickstart.ipynb, the launcher offers
//      "New ClickHouse notebook";
//   2. quickstart.ipynb opens from the file browser and runs (Run › Run All Cells): every result is an Arrow
//      table with ClickHouse types, exact values and a row-count/timing footer; DDL and INSERT print what they did;
//   3. a slow query is interrupted from the toolbar: the cell shows `Interrupted`, the kernel is idle again, the
//      next cell runs at once, the query is gone from system.processes and is recorded as cancelled;
//   4. Ctrl+S writes the outputs (Arrow bundles) to disk, and after a reload they are shown again without a run;
//   5. the dark theme applies to the result tables; no unexpected console errors or warnings, nothing loaded
//      from outside loopback.
// Screenshots for the README go to docs/screenshots/ (notebook-results.png, interrupted.png, dark-theme.png).
//
// The steps share one page and run in order; once one fails, the rest are skipped.
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createChdbConnection, type ChdbConnection } from 'chdb/connection';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../kernel-proxy/src/config.js';
import { buildServer } from '../../kernel-proxy/src/server.js';
import { silentLogger, testConfig } from '../../kernel-proxy/test/support/engine.js';
import { launchBrowser, type TestBrowser, type TestPage, browserSkipReason, skipAfterFailedStep } from '../support/browser.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
// CHLAB_STATIC_DIR: test another build (CHLAB_APP_BUILD_DIR=… npm run build -w extension/app).
const BUILD = path.resolve(process.env.CHLAB_STATIC_DIR ?? path.join(ROOT, 'extension', 'app', 'build'));
const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const TOKEN = 'notebook-e2e-token-0123456789';
const ARROW_MIME = 'application/vnd.apache.arrow.stream';
/** One row per block, 50 ms each: about 83 minutes if nothing stopped it (max_execution_time does, at 300 s). */
const SLOW_QUERY = 'SELECT number, sleepEachRow(0.05) FROM numbers(100000) SETTINGS max_block_size = 1';
const RUNNING_SLOW_QUERIES = "SELECT count() AS running FROM system.processes WHERE query LIKE '%sleepEachRow%' AND query NOT LIKE '%system.processes%'";
const WAIT = { timeout: 60_000, interval: 100 };
/** Per step: above WAIT, so a condition that never comes fails with its own message. */
const STEP = 120_000;
const BOROUGH = "Enum8('Manhattan' = 1, 'Brooklyn' = 2, 'Queens' = 3, 'Bronx' = 4)";

/**
 * Console warnings that are known noise from JupyterLab itself, not from chlab. Anything else that JupyterLab,
 * the extension or the page logs as a warning or an error fails the test.
 */
const BENIGN_WARNINGS: { pattern: RegExp; why: string }[] = [
  {
    pattern: /^Invalid access: Add Yjs type to a document before reading data\.$/,
    why: 'yjs warns when @jupyter/ydoc reads a cell model before the cell is inserted into the notebook Y.Doc; JupyterLab creates every cell that way',
  },
  {
    pattern: /^\[yjs#509\] Not same Y\.Doc$/,
    why: "yjs's UndoManager, when JupyterLab's per-cell undo manager meets a cell that moved into the notebook's Y.Doc",
  },
  {
    pattern: /^The kernel manager does not support the kernelInfoTimeout property\.$/,
    why: '@jupyterlab/apputils-extension:kernels-settings gets no IKernelManager because the chlab bundle has no @jupyterlab/services-extension; the kernel-info timeout keeps its default',
  },
];

const skipReason = browserSkipReason(BUILD);
if (skipReason) it.skip(`notebook in the browser: skipped, ${skipReason}`, () => undefined);

/** One output as the page shows it. */
type Output =
  | { kind: 'table'; headers: { name: string; type: string }[]; rows: (string | null)[][]; summary: string }
  | { kind: 'text' | 'error' | 'other'; mime: string; text: string };

interface CellView {
  type: string;
  source: string;
  executionCount: number | null;
  prompt: string;
  outputs: Output[];
}

interface NotebookView {
  path: string;
  kernel: string | undefined;
  status: string | undefined;
  dirty: boolean;
  activeCellIndex: number;
  cells: CellView[];
}

/** The current notebook as the user sees it: kernel, prompts and rendered outputs (read from the DOM). */
function notebookView(page: Page): Promise<NotebookView> {
  return page.evaluate(() => {
    const app = (window as unknown as { jupyterapp: any }).jupyterapp;
    const panel = app.shell.currentWidget;
    if (!panel?.content?.widgets) throw new Error(`the current tab is not a notebook: ${panel?.title?.label}`);
    const cells = (panel.content.widgets as any[]).map((cell) => {
      const node = cell.node as HTMLElement;
      const outputs = [...node.querySelectorAll('.jp-OutputArea-output')].map((out): Output => {
        // The renderer widget is the output node itself.
        if (out.classList.contains('chlab-ArrowResultRenderer')) {
          return {
            kind: 'table',
            // The virtual grid: header cells and the rows in view (all of them for these small results), in row order.
            headers: [...out.querySelectorAll('.chlab-Grid-headerCell')].map((th) => ({
              name: th.querySelector('.chlab-ResultTable-columnName')?.textContent ?? '',
              type: th.querySelector('.chlab-ResultTable-columnType')?.textContent ?? '',
            })),
            rows: [...out.querySelectorAll('.chlab-Grid-row')]
              .sort((a, b) => Number((a as HTMLElement).dataset.row) - Number((b as HTMLElement).dataset.row))
              .map((tr) =>
                [...tr.querySelectorAll('.chlab-Grid-cell')].map((td) => (td.classList.contains('chlab-ResultTable-null') ? null : (td.textContent ?? ''))),
              ),
            summary: out.querySelector('.chlab-ArrowResult-summary')?.textContent ?? '',
          };
        }
        const mime = out.getAttribute('data-mime-type') ?? '';
        const text = (out.textContent ?? '').trim();
        const kind = mime === 'application/vnd.jupyter.stderr' ? 'error' : mime === 'text/plain' ? 'text' : 'other';
        return { kind, mime, text };
      });
      return {
        type: cell.model.type as string,
        source: cell.model.sharedModel.getSource() as string,
        executionCount: cell.model.type === 'code' ? (cell.model.executionCount ?? null) : null,
        prompt: node.querySelector('.jp-InputPrompt')?.textContent ?? '',
        outputs,
      };
    });
    return {
      path: panel.context.path,
      kernel: panel.sessionContext.session?.kernel?.name,
      status: panel.sessionContext.session?.kernel?.status,
      dirty: panel.context.model.dirty,
      activeCellIndex: panel.content.activeCellIndex,
      cells,
    };
  });
}

const tables = (cell: CellView) => cell.outputs.filter((o): o is Extract<Output, { kind: 'table' }> => o.kind === 'table');
const cellIndex = (view: NotebookView, start: string) => {
  const index = view.cells.findIndex((c) => c.type === 'code' && c.source.trimStart().startsWith(start));
  if (index < 0) throw new Error(`no code cell starting with ${JSON.stringify(start)}`);
  return index;
};
/** "10 rows · 34 ms" (and maybe "· 1.20 KiB read"). */
const footer = (rows: string) => new RegExp(`^${rows} · [\\d.]+ (ms|s)( · [\\d.]+ \\w+ read)?$`);
const luminance = (rgb: string) => {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((c) => {
    const v = Number(c) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
};
const contrast = (a: string, b: string) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
};

describe.skipIf(!!skipReason)('a ClickHouse notebook in JupyterLab (headless Chromium, real proxy, embedded chDB)', () => {
  let config: Config;
  let notebookDir: string;
  let app: FastifyInstance;
  let base: string;
  let browser: TestBrowser;
  let tab: TestPage;
  let page: Page;
  /**
   * A second chDB session on the proxy's data directory, to watch system.processes while a cell streams (the
   * proxy's own session runs one statement at a time, so a REST query would wait for the cell to finish).
   */
  let observer: ChdbConnection | undefined;
  /** The quickstart's outputs as shown before saving, to compare after the reload. */
  let shownBeforeSave: { prompt: string; outputs: Output[] }[] = [];

  const command = (id: string, args: Record<string, unknown> = {}) =>
    page.evaluate(([id, args]) => (window as unknown as { jupyterapp: any }).jupyterapp.commands.execute(id, args).then(() => undefined), [id, args] as const);

  const api = async (route: string, init: RequestInit = {}) => {
    const response = await fetch(`${base}${route}`, {
      ...init,
      headers: { Authorization: `token ${TOKEN}`, 'Content-Type': 'application/json', ...init.headers },
    });
    const body = await response.json();
    expect(response.status, `${route}: ${JSON.stringify(body)}`).toBe(200);
    return body;
  };

  const slowQueriesOnServer = async () => {
    const result = await observer!.chdb.queryAsync(RUNNING_SLOW_QUERIES, { format: 'JSONEachRow' });
    return Number(JSON.parse(result.text()).running);
  };

  /**
   * For a screenshot: makes cell `active` the active cell (command mode), scrolls the notebook so that cell `index`
   * is at the top (or its bottom at the bottom), and parks the mouse where hovering shows nothing.
   */
  const showCell = async (index: number, edge: 'top' | 'bottom' = 'top', active = index) => {
    await page.evaluate(
      async ([index, edge, active]) => {
        const notebook = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget.content;
        notebook.activeCellIndex = active;
        notebook.mode = 'command';
        await notebook.scrollToItem(index, 'center'); // renders it, should the notebook window its cells
        const cell = notebook.widgets[index].node as HTMLElement;
        let scroller = cell.parentElement!;
        while (scroller.scrollHeight <= scroller.clientHeight && scroller.parentElement) scroller = scroller.parentElement;
        const outer = scroller.getBoundingClientRect();
        const box = cell.getBoundingClientRect();
        scroller.scrollTop += edge === 'top' ? box.top - outer.top - 4 : box.bottom - outer.bottom + 16;
        await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      },
      [index, edge, active] as const,
    );
    await page.mouse.move(1399, 450); // the empty right sidebar
  };

  /** HTTP requests of the page still in flight, and when the last one started. */
  const inFlight = new Set<unknown>();
  let lastRequestAt = 0;
  /** Waits until the page has had no HTTP request in flight for half a second (e.g. the workspace being saved). */
  const settle = async () => {
    await expect.poll(() => inFlight.size === 0 && Date.now() - lastRequestAt > 500, WAIT).toBe(true);
  };

  const screenshot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, name), animations: 'disabled', caret: 'hide' });

  const waitForLab = async (load: () => Promise<unknown>) => {
    const started = page.waitForEvent('console', { predicate: (m) => m.text() === 'chlab: JupyterLab started', timeout: 60_000 });
    await load();
    await started;
  };

  beforeAll(async () => {
    notebookDir = await mkdtemp(path.join(tmpdir(), 'chlab-notebooks-'));
    await cp(path.join(ROOT, 'notebooks'), notebookDir, { recursive: true });
    config = testConfig({ CHLAB_TOKEN: TOKEN, CHLAB_NOTEBOOK_DIR: notebookDir, CHLAB_STATIC_DIR: BUILD });
    ({ app } = await buildServer({ config, logger: silentLogger }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    if (config.clickhouse.kind !== 'embedded') throw new Error('expected embedded chDB');
    observer = createChdbConnection({ path: config.clickhouse.dataDir });
    browser = await launchBrowser({ viewport: { width: 1400, height: 900 } });
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await observer?.close();
    await app?.close();
    if (config) await rm(config.dataDir, { recursive: true, force: true });
    if (notebookDir) await rm(notebookDir, { recursive: true, force: true });
  });

  skipAfterFailedStep();

  it('starts JupyterLab: the file browser lists quickstart.ipynb, the launcher offers a ClickHouse notebook', async () => {
    tab = await browser.newPage();
    page = tab.page;
    page.on('request', (request) => {
      inFlight.add(request);
      lastRequestAt = Date.now();
    });
    page.on('requestfinished', (request) => inFlight.delete(request));
    page.on('requestfailed', (request) => inFlight.delete(request));
    await waitForLab(() => page.goto(`${base}/lab?token=${TOKEN}`));
    expect(new URL(page.url()).searchParams.has('token')).toBe(false);
    await page.locator('.jp-DirListing-item[data-file-type="notebook"]', { hasText: 'quickstart.ipynb' }).waitFor(WAIT);
    const card = page.locator('.jp-LauncherCard', { hasText: 'New ClickHouse notebook' });
    await card.waitFor(WAIT);
    expect(await card.isVisible()).toBe(true);
  }, STEP);

  it('opens quickstart.ipynb from the file browser and runs it: Arrow tables with types, values and footers', async () => {
    await page.locator('.jp-DirListing-item', { hasText: 'quickstart.ipynb' }).dblclick();
    await expect.poll(async () => (await notebookView(page).catch(() => undefined))?.status, WAIT).toBe('idle');
    let view = await notebookView(page);
    expect(view).toMatchObject({ path: 'quickstart.ipynb', kernel: 'clickhouse' });
    const codeCells = view.cells.filter((c) => c.type === 'code').length;
    expect(codeCells).toBe(5);

    await page.locator('.lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
    await page.locator('.lm-Menu-itemLabel', { hasText: /^Run All Cells$/ }).click();
    await expect
      .poll(async () => {
        const v = await notebookView(page);
        return v.status === 'idle' && v.cells.every((c) => c.type !== 'code' || c.executionCount !== null);
      }, WAIT)
      .toBe(true);
    view = await notebookView(page);
    const code = view.cells.filter((c) => c.type === 'code');
    expect(code.map((c) => c.executionCount)).toEqual([1, 2, 3, 4, 5]);
    expect(code.map((c) => c.prompt)).toEqual(['[1]:', '[2]:', '[3]:', '[4]:', '[5]:']);
    expect(code.flatMap((c) => c.outputs).filter((o) => o.kind === 'error' || o.kind === 'other')).toEqual([]);

    // SELECT version(), currentDatabase(), now()
    const [about] = tables(view.cells[cellIndex(view, 'SELECT version()')]!);
    expect(about!.headers).toEqual([
      { name: 'clickhouse_version', type: 'String' },
      { name: 'database', type: 'String' },
      { name: 'server_time', type: 'DateTime' },
    ]);
    expect(about!.rows).toHaveLength(1);
    expect(about!.rows[0]).toEqual([expect.stringMatching(/^\d+\.\d+\.\d+/), 'default', expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/)]);
    expect(about!.summary).toMatch(footer('1 row'));

    // CREATE; TRUNCATE; INSERT: one line each (chDB reports no written-row count, a server does)
    const ddl = view.cells[cellIndex(view, 'CREATE TABLE IF NOT EXISTS quickstart_trips')]!;
    expect(ddl.outputs.map((o) => [o.kind, 'text' in o ? o.text : ''])).toEqual([
      ['text', expect.stringMatching(/^CREATE: OK · \d+ ms$/)],
      ['text', expect.stringMatching(/^TRUNCATE: OK · \d+ ms$/)],
      ['text', expect.stringMatching(/^INSERT: (OK|100,000 rows written) · \d+ ms$/)],
    ]);

    // GROUP BY borough: 4 boroughs × 25,000 trips (ties, so compared in name order)
    const [byBorough] = tables(view.cells[cellIndex(view, 'SELECT\n    borough,')]!);
    expect(byBorough!.headers).toEqual([
      { name: 'borough', type: BOROUGH },
      { name: 'trips', type: 'UInt64' },
      { name: 'avg_km', type: 'Float64' },
      { name: 'revenue', type: 'Decimal(38, 2)' },
      { name: 'trips_without_tip', type: 'UInt64' },
    ]);
    expect([...byBorough!.rows].sort((a, b) => a[0]!.localeCompare(b[0]!))).toEqual([
      ['Bronx', '25000', '9.5', '1986921.06', '5000'],
      ['Brooklyn', '25000', '9.5', '1986903.06', '5000'],
      ['Manhattan', '25000', '9.4', '1964400.10', '5000'],
      ['Queens', '25000', '9.4', '1964418.12', '5000'],
    ]);
    expect(byBorough!.summary).toMatch(footer('4 rows'));

    // LIMIT 10: NULL, DateTime('UTC'), Enum labels and Decimal scale come through as what they mean
    const [firstTrips] = tables(view.cells[cellIndex(view, '-- NULLs, time zones and enums')]!);
    expect(firstTrips!.headers).toEqual([
      { name: 'trip_id', type: 'UInt32' },
      { name: 'pickup', type: "DateTime('UTC')" },
      { name: 'borough', type: BOROUGH },
      { name: 'fare', type: 'Decimal(10, 2)' },
      { name: 'tip', type: 'Nullable(Decimal(10, 2))' },
    ]);
    expect(firstTrips!.rows).toHaveLength(10);
    expect(firstTrips!.rows.slice(0, 2)).toEqual([
      ['0', '2024-01-01 00:00:00', 'Manhattan', '3.00', null],
      ['1', '2024-01-01 00:00:37', 'Brooklyn', '3.90', '0.50'],
    ]);
    expect(firstTrips!.rows.map((r) => r[0])).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(firstTrips!.rows.map((r) => r[4] === null)).toEqual([true, false, false, false, false, true, false, false, false, false]);
    expect(firstTrips!.summary).toMatch(footer('10 rows'));
    const nullCell = page.locator('.chlab-ArrowResultRenderer .chlab-ResultTable-null').first();
    expect(await nullCell.textContent()).toBe('NULL');

    // system.columns
    const [columns] = tables(view.cells[cellIndex(view, 'SELECT name, type FROM system.columns')]!);
    expect(columns!.headers).toEqual([
      { name: 'name', type: 'String' },
      { name: 'type', type: 'String' },
    ]);
    expect(columns!.rows).toEqual([
      ['trip_id', 'UInt32'],
      ['pickup', "DateTime('UTC')"],
      ['borough', BOROUGH],
      ['distance_km', 'Float32'],
      ['fare', 'Decimal(10, 2)'],
      ['tip', 'Nullable(Decimal(10, 2))'],
    ]);
    expect(columns!.summary).toMatch(footer('6 rows'));

    // README screenshot: no launcher tab, the sidebar folded away, the GROUP BY cell at the top, LIMIT 10 under it.
    await page.evaluate(() => {
      const { shell } = (window as unknown as { jupyterapp: any }).jupyterapp;
      const launchers = [...shell.widgets('main')].filter((w: any) => w.node.matches('.jp-Launcher') || w.node.querySelector('.jp-Launcher'));
      for (const launcher of launchers) launcher.close();
      shell.collapseLeft();
    });
    await page.locator('.jp-Launcher').waitFor({ state: 'detached', timeout: 10_000 });
    await page.locator('#jp-left-stack').waitFor({ state: 'hidden', timeout: 10_000 });
    await showCell(cellIndex(view, 'SELECT\n    borough,'));
    await expect(page.locator('.chlab-ArrowResultRenderer', { hasText: 'Manhattan' }).first().isVisible()).resolves.toBe(true);
    await screenshot('notebook-results.png');
  }, STEP);

  it('interrupts a slow query from the toolbar: Interrupted, idle again, the next cell runs, the server stopped it', async () => {
    // Two new cells at the end: the slow query, run with Shift+Enter (which opens the next cell), then SELECT 1.
    await showCell((await notebookView(page)).cells.length - 1);
    await command('notebook:insert-cell-below');
    await page.locator('.jp-NotebookPanel .jp-Cell.jp-mod-active .cm-content').click();
    await page.keyboard.type(SLOW_QUERY);
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('SELECT 1');

    let view = await notebookView(page);
    const slow = view.cells.length - 2;
    const next = view.cells.length - 1;
    expect(view.cells[slow]!.source).toBe(SLOW_QUERY);
    expect(view.cells[next]!.source).toBe('SELECT 1');
    await expect
      .poll(async () => {
        const v = await notebookView(page);
        return `${v.cells[slow]!.prompt} ${v.status}`;
      }, WAIT)
      .toBe('[*]: busy');
    await expect.poll(slowQueriesOnServer, WAIT).toBe(1); // it really runs on the server

    const interruptedAt = Date.now();
    await page.locator('.jp-NotebookPanel-toolbar jp-button[data-command="notebook:interrupt-kernel"]').click();
    await expect
      .poll(async () => {
        const v = await notebookView(page);
        const [rows] = tables(v.cells[slow]!);
        return v.status === 'idle' && v.cells[slow]!.outputs.length > 1 && !!rows && !rows.summary.startsWith('Receiving');
      }, WAIT)
      .toBe(true);
    const stoppedMs = Date.now() - interruptedAt;
    view = await notebookView(page);
    // The rows that streamed in before the interrupt stay, marked as stopped; then the error.
    expect(view.cells[slow]!.outputs).toEqual([
      expect.objectContaining({ kind: 'table', summary: expect.stringMatching(/^[\d,]+ rows? · the query stopped before the result ended$/) }),
      { kind: 'error', mime: 'application/vnd.jupyter.stderr', text: expect.stringMatching(/^Interrupted: /) },
    ]);
    expect(view.cells[slow]!.prompt).toBe('[6]:');
    expect(stoppedMs).toBeLessThan(10_000);
    expect(await slowQueriesOnServer()).toBe(0);

    // The next cell runs at once.
    const ranAt = Date.now();
    await page.locator('.jp-NotebookPanel .jp-Cell').nth(next).locator('.cm-content').click();
    await page.keyboard.press('Control+Enter');
    await expect.poll(async () => (await notebookView(page)).cells[next]!.executionCount, WAIT).toBe(7);
    expect(Date.now() - ranAt).toBeLessThan(10_000);
    view = await notebookView(page);
    expect(view.status).toBe('idle');
    expect(view.cells[next]!.outputs).toEqual([{ kind: 'table', headers: [{ name: '1', type: 'UInt8' }], rows: [['1']], summary: expect.stringMatching(footer('1 row')) }]);

    // The proxy recorded the query as cancelled, and ClickHouse no longer runs it.
    const history = await api('/api/query/history?status=cancelled');
    expect(history.queries).toEqual([expect.objectContaining({ query: SLOW_QUERY, status: 'cancelled', source: 'kernel' })]);
    const processes = await api('/api/query/execute', { method: 'POST', body: JSON.stringify({ query: RUNNING_SLOW_QUERIES }) });
    expect(processes).toMatchObject({ success: true, rows: 1 });
    expect(Number(processes.data[0].running)).toBe(0);

    await showCell(next, 'bottom', slow);
    await screenshot('interrupted.png');
  }, STEP);

  it('saves with Ctrl+S (outputs on disk as Arrow) and shows the outputs again after a reload, without running', async () => {
    shownBeforeSave = (await notebookView(page)).cells.map(({ prompt, outputs }) => ({ prompt, outputs }));
    expect((await notebookView(page)).dirty).toBe(true);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+s');
    await expect.poll(async () => (await notebookView(page)).dirty, WAIT).toBe(false);

    const saved = JSON.parse(await readFile(path.join(notebookDir, 'quickstart.ipynb'), 'utf8'));
    expect(saved.metadata.kernelspec.name).toBe('clickhouse');
    const code = (saved.cells as any[]).filter((c) => c.cell_type === 'code');
    expect(code.map((c) => c.execution_count)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const byBorough = code.find((c) => [c.source].flat().join('').includes('GROUP BY borough'));
    expect(byBorough.outputs).toHaveLength(1);
    expect(byBorough.outputs[0]).toMatchObject({
      output_type: 'display_data',
      metadata: { [ARROW_MIME]: { rows: 4, truncated: false, columns: expect.arrayContaining([{ name: 'borough', type: BOROUGH }]) } },
    });
    // nbformat may store a string as a list of lines
    const bundle = Object.fromEntries(Object.entries(byBorough.outputs[0].data as Record<string, string | string[]>).map(([k, v]) => [k, [v].flat().join('')]));
    expect(Object.keys(bundle).sort()).toEqual([ARROW_MIME, 'text/html', 'text/plain']);
    expect(Buffer.from(bundle[ARROW_MIME]!, 'base64').subarray(0, 4).readInt32LE()).toBe(-1); // an Arrow IPC stream starts with a continuation marker
    expect(bundle['text/plain']).toContain('Manhattan');
    const arrowOutputs = code.flatMap((c) => c.outputs).filter((o: any) => o.data?.[ARROW_MIME]);
    expect(arrowOutputs).toHaveLength(6); // version, GROUP BY, LIMIT 10, system.columns, the interrupted query's first rows, SELECT 1
    expect(code[5].outputs).toEqual([
      expect.objectContaining({ output_type: 'display_data', metadata: { [ARROW_MIME]: expect.objectContaining({ streaming: true }) } }),
      expect.objectContaining({ output_type: 'error', ename: 'Interrupted' }),
    ]);

    // Reload: the workspace reopens the notebook and its saved outputs render; nothing runs again.
    const { total: queriesBefore } = await api('/api/query/history?limit=1');
    await settle(); // a reload in the middle of the workspace save would abort that request
    await waitForLab(() => page.reload());
    await expect
      .poll(async () => {
        const v = await notebookView(page).catch(() => undefined);
        return v?.path === 'quickstart.ipynb' && v.status === 'idle' ? v.cells.flatMap(tables).length : -1;
      }, WAIT)
      .toBe(6);
    const shownAfterReload = (await notebookView(page)).cells.map(({ prompt, outputs }) => ({ prompt, outputs }));
    expect(shownAfterReload).toEqual(shownBeforeSave);
    const { total: queriesAfter } = await api('/api/query/history?limit=1');
    expect(queriesAfter).toBe(queriesBefore);
    expect(await page.locator('.chlab-ArrowResultRenderer').first().isVisible()).toBe(true);
  }, STEP);

  it('switches to the dark theme, and the result tables follow it', async () => {
    await command('apputils:change-theme', { theme: 'JupyterLab Dark' });
    await page.waitForFunction(() => document.body.dataset.jpThemeName === 'JupyterLab Dark' && document.body.dataset.jpThemeLight === 'false', undefined, WAIT);
    const view = await notebookView(page);
    await showCell(cellIndex(view, 'SELECT\n    borough,'));
    // The theme's CSS is loaded once the notebook background is dark; then the table text must be readable on it.
    await expect.poll(() => page.evaluate(() => getComputedStyle(document.querySelector('.jp-Notebook')!).backgroundColor).then(luminance), WAIT).toBeLessThan(0.1);
    const colors = await page.evaluate(() => {
      const background = (node: Element | null): string => {
        for (let n = node; n; n = n.parentElement) {
          const color = getComputedStyle(n).backgroundColor;
          if (color !== 'rgba(0, 0, 0, 0)' && color !== 'transparent') return color;
        }
        return 'rgb(255, 255, 255)';
      };
      const cell = document.querySelector('.chlab-ArrowResultRenderer .chlab-Grid-cell')!;
      const header = document.querySelector('.chlab-ArrowResultRenderer .chlab-ResultTable-columnName')!;
      return { cell: [getComputedStyle(cell).color, background(cell)], header: [getComputedStyle(header).color, background(header)] };
    });
    expect(contrast(colors.cell[0]!, colors.cell[1]!), `table cell ${colors.cell}`).toBeGreaterThan(4.5);
    expect(contrast(colors.header[0]!, colors.header[1]!), `column name ${colors.header}`).toBeGreaterThan(4.5);
    expect(luminance(colors.cell[1]!)).toBeLessThan(0.1);
    await screenshot('dark-theme.png');
  }, STEP);

  it('logged no unexpected console errors or warnings, and loaded nothing from outside loopback', () => {
    const warnings = tab.console.filter((line) => line.startsWith('warning: ')).map((line) => line.slice('warning: '.length));
    const unexpected = warnings.filter((text) => !BENIGN_WARNINGS.some((b) => b.pattern.test(text)));
    expect(unexpected).toEqual([]);
    expect(tab.errors).toEqual([]);
    expect(tab.blocked).toEqual([]);
  }, STEP);
});
