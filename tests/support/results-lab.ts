// A real kernel-proxy (embedded chDB, fresh data dir) serving the built JupyterLab bundle, headless Chromium
// on it, and helpers to write a notebook, run it and read its result grids — for tests/browser/results-*.test.ts.
//
//   const lab = await startResultsLab({ token, notebooks: { 'x.ipynb': ['SELECT 1'] } });
//   const page = await lab.open();             // JupyterLab started
//   await openNotebook(page, 'x.ipynb'); await runAll(page);
//   const grids = await readGrids(page, 0);    // the grids of cell 0, as shown
//   await lab.close();
//
// CHLAB_STATIC_DIR serves another build (CHLAB_APP_BUILD_DIR=… npm run build -w extension/app).
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import type { Config } from '../../kernel-proxy/src/config.js';
import { buildServer } from '../../kernel-proxy/src/server.js';
import { silentLogger, testConfig } from '../../kernel-proxy/test/support/engine.js';
import { afterAll, beforeAll } from 'vitest';
import { launchBrowser, skipAfterFailedStep, type LaunchOptions, type TestBrowser, type TestPage } from './browser.js';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const STATIC_DIR = path.resolve(process.env.CHLAB_STATIC_DIR ?? path.join(ROOT, 'extension', 'app', 'build'));
export const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
export const ARROW_MIME = 'application/vnd.apache.arrow.stream';

/** Console noise from JupyterLab itself (see tests/browser/notebook.test.ts for why each is benign). */
export const BENIGN_WARNINGS = [
  /^Invalid access: Add Yjs type to a document before reading data\.$/,
  /^\[yjs#509\] Not same Y\.Doc$/,
  /^The kernel manager does not support the kernelInfoTimeout property\.$/,
];

export function bundleBuilt(): boolean {
  return existsSync(path.join(STATIC_DIR, 'bundle.js')) && existsSync(path.join(STATIC_DIR, 'duckdb', 'duckdb-eh.wasm'));
}

export type CellSpec = string | { markdown: string };

export function notebookJson(cells: CellSpec[]): string {
  return JSON.stringify(
    {
      cells: cells.map((cell) =>
        typeof cell === 'string'
          ? { cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: cell }
          : { cell_type: 'markdown', metadata: {}, source: cell.markdown },
      ),
      metadata: { kernelspec: { name: 'clickhouse', display_name: 'ClickHouse SQL', language: 'sql' } },
      nbformat: 4,
      nbformat_minor: 5,
    },
    null,
    1,
  );
}

export interface ResultsLab {
  app: FastifyInstance;
  config: Config;
  base: string;
  token: string;
  notebookDir: string;
  browser: TestBrowser;
  tab: TestPage | undefined;
  /** A new page on /lab, resolved once JupyterLab started. */
  open(viewport?: { width: number; height: number }): Promise<TestPage>;
  close(): Promise<void>;
}

export async function startResultsLab(options: {
  token: string;
  notebooks?: Record<string, CellSpec[]>;
  env?: Record<string, string>;
  browser?: LaunchOptions;
}): Promise<ResultsLab> {
  const notebookDir = await mkdtemp(path.join(tmpdir(), 'chlab-results-nb-'));
  for (const [name, cells] of Object.entries(options.notebooks ?? {})) {
    await writeFile(path.join(notebookDir, name), notebookJson(cells));
  }
  const config = testConfig({ CHLAB_TOKEN: options.token, CHLAB_NOTEBOOK_DIR: notebookDir, CHLAB_STATIC_DIR: STATIC_DIR, ...options.env });
  const { app } = await buildServer({ config, logger: silentLogger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const browser = await launchBrowser(options.browser ?? { viewport: { width: 1400, height: 900 } });
  const lab: ResultsLab = {
    app,
    config,
    base,
    token: options.token,
    notebookDir,
    browser,
    tab: undefined,
    async open() {
      const tab = await browser.newPage();
      lab.tab = tab;
      const started = tab.page.waitForEvent('console', { predicate: (m) => m.text() === 'chlab: JupyterLab started', timeout: 90_000 });
      await tab.page.goto(`${base}/lab?token=${options.token}`, { timeout: 90_000 });
      await started;
      // No launcher or file browser in the way of screenshots.
      await tab.page.evaluate(() => {
        const { shell } = (window as unknown as { jupyterapp: any }).jupyterapp;
        for (const widget of [...shell.widgets('main')]) if (widget.node.querySelector('.jp-Launcher') || widget.node.matches('.jp-Launcher')) widget.close();
        shell.collapseLeft();
      });
      return tab;
    },
    async close() {
      await browser.close();
      await app.close();
      await rm(config.dataDir, { recursive: true, force: true });
      await rm(notebookDir, { recursive: true, force: true });
    },
  };
  return lab;
}

export const command = (page: Page, id: string, args: Record<string, unknown> = {}) =>
  page.evaluate(([id, args]) => (window as unknown as { jupyterapp: any }).jupyterapp.commands.execute(id, args).then(() => undefined), [id, args] as const);

/** Opens a notebook and waits for its kernel to be idle. */
export async function openNotebook(page: Page, notebookPath: string, timeout = 90_000): Promise<void> {
  await command(page, 'docmanager:open', { path: notebookPath });
  await page.waitForFunction(
    (p) => {
      const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
      return panel?.context?.path === p && panel.sessionContext?.session?.kernel?.status === 'idle';
    },
    notebookPath,
    { timeout, polling: 100 },
  );
}

export interface GridView {
  headers: { name: string; type: string }[];
  /** Rows in the DOM (the visible window), in row order: [row number, cells…]; null for NULL. */
  rows: { row: number; cells: (string | null)[] }[];
  summary: string;
  notes: string[];
  names: string;
  state: string;
  rowCount: number;
}

/** The result grids of cell `index` of the current notebook, as shown. */
export function readGrids(page: Page, index: number): Promise<GridView[]> {
  return page.evaluate((index) => {
    const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
    const cell = panel.content.widgets[index];
    return [...(cell.node as HTMLElement).querySelectorAll('.chlab-ArrowResult')].map((root) => ({
      headers: [...root.querySelectorAll('.chlab-Grid-headerCell')].map((th) => ({
        name: th.querySelector('.chlab-ResultTable-columnName')?.textContent ?? '',
        type: th.querySelector('.chlab-ResultTable-columnType')?.textContent ?? '',
      })),
      rows: [...root.querySelectorAll('.chlab-Grid-row')]
        .map((tr) => ({
          row: Number((tr as HTMLElement).dataset.row),
          cells: [...tr.querySelectorAll('.chlab-Grid-cell')].map((td) => (td.classList.contains('chlab-ResultTable-null') ? null : (td.textContent ?? ''))),
        }))
        .sort((a, b) => a.row - b.row),
      summary: root.querySelector('.chlab-ArrowResult-summary')?.textContent ?? '',
      notes: [...root.querySelectorAll('.chlab-ArrowResult-note')].map((n) => n.textContent ?? ''),
      names: root.querySelector('.chlab-ResultToolbar-names')?.textContent ?? '',
      state: (root as HTMLElement).dataset.state ?? '',
      rowCount: Number((root as HTMLElement).dataset.rows ?? 0),
    }));
  }, index);
}

export interface CellState {
  source: string;
  executionCount: number | null;
  running: boolean;
  outputs: { type: string; text: string }[];
}

export function readCells(page: Page): Promise<CellState[]> {
  return page.evaluate(() => {
    const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
    return (panel.content.widgets as any[]).map((cell) => ({
      source: cell.model.sharedModel.getSource(),
      executionCount: cell.model.type === 'code' ? (cell.model.executionCount ?? null) : null,
      running: cell.model.type === 'code' && cell.model.executionState === 'running',
      outputs:
        cell.model.type === 'code'
          ? (cell.model.outputs.toJSON() as any[]).map((o) => ({
              type: o.output_type,
              text: o.output_type === 'error' ? `${o.ename}: ${o.evalue}` : String(o.data?.['text/plain'] ?? ''),
            }))
          : [],
    }));
  });
}

/** Runs every cell and waits until none is running and the kernel is idle. */
/**
 * The lab of one browser test file: started before the first step with `notebookPath` open and run through
 * (after `prepare`, e.g. a settings change), closed after the last; steps after a failed one are skipped.
 */
export function useRunLab(
  options: Parameters<typeof startResultsLab>[0],
  notebookPath: string,
  step: number,
  hooks: { prepare?: (lab: ResultsLab) => Promise<void>; ready: (lab: ResultsLab, page: Page) => void },
): void {
  let lab: ResultsLab | undefined;
  beforeAll(async () => {
    lab = await startResultsLab(options);
    await hooks.prepare?.(lab);
    hooks.ready(lab, await openAndRunAll(lab, notebookPath));
  }, step);
  afterAll(async () => {
    await lab?.close();
  });
  skipAfterFailedStep(step);
}

/** A new page of the lab with `notebookPath` open, every cell run and every result in. */
export async function openAndRunAll(lab: ResultsLab, notebookPath: string): Promise<Page> {
  const { page } = await lab.open();
  await openNotebook(page, notebookPath);
  await runAll(page);
  await waitForResults(page);
  return page;
}

export async function runAll(page: Page, timeout = 180_000): Promise<void> {
  await command(page, 'notebook:run-all-cells');
  await waitForIdle(page, timeout);
}

export async function runCell(page: Page, index: number, timeout = 180_000): Promise<void> {
  await page.evaluate((index) => {
    const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
    panel.content.activeCellIndex = index;
    panel.content.mode = 'command';
  }, index);
  await command(page, 'notebook:run-cell');
  await waitForIdle(page, timeout);
}

export async function waitForIdle(page: Page, timeout = 180_000): Promise<void> {
  await page.waitForTimeout(200);
  await page.waitForFunction(
    () => {
      const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
      const cells = panel.content.widgets as any[];
      return (
        panel.sessionContext.session?.kernel?.status === 'idle' &&
        cells.every((c) => c.model.type !== 'code' || c.model.executionState !== 'running')
      );
    },
    undefined,
    { timeout, polling: 100 },
  );
}

/** Waits until every result grid of the notebook is done streaming and loading into DuckDB. */
export async function waitForResults(page: Page, timeout = 180_000): Promise<void> {
  await page.waitForFunction(
    () => {
      const states = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .chlab-ArrowResult')].map((n) => (n as HTMLElement).dataset.state);
      return states.every((s) => s === 'complete' || s === 'preview' || s === 'stopped');
    },
    undefined,
    { timeout, polling: 100 },
  );
}

/** Makes cell `index` the top of the notebook's view (for screenshots). */
export async function showCell(page: Page, index: number): Promise<void> {
  await page.evaluate(async (index) => {
    const notebook = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget.content;
    notebook.activeCellIndex = index;
    notebook.mode = 'command';
    await notebook.scrollToItem(index, 'start');
    const cell = notebook.widgets[index].node as HTMLElement;
    let scroller = cell.parentElement!;
    while (scroller.scrollHeight <= scroller.clientHeight && scroller.parentElement) scroller = scroller.parentElement;
    scroller.scrollTop += cell.getBoundingClientRect().top - scroller.getBoundingClientRect().top - 4;
    // Focusing a filter input may have scrolled containers sideways.
    for (let node: HTMLElement | null = cell; node; node = node.parentElement) node.scrollLeft = 0;
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  }, index);
  await page.mouse.move(1399, 890);
}

/** Unexpected console warnings and errors of a page (JupyterLab's own known noise left out). */
export function unexpectedConsole(tab: TestPage): string[] {
  const warnings = tab.console
    .filter((line) => line.startsWith('warning: '))
    .map((line) => line.slice('warning: '.length))
    .filter((text) => !BENIGN_WARNINGS.some((b) => b.test(text)));
  return [...warnings, ...tab.errors];
}
