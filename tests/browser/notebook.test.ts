// End-to-end: the real JupyterLab bundle in headless Chromium against a real kernel-proxy (embedded chDB)
// started in this process. Opens the quickstart notebook, runs it, checks the Arrow result tables,
// interrupts a slow query, saves, reloads, switches to the dark theme and takes the README screenshots.
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../kernel-proxy/src/server.js';
import { silentLogger, testConfig } from '../../kernel-proxy/test/support/engine.js';
import type { Config } from '../../kernel-proxy/src/config.js';
import { CHROMIUM_MISSING, findChromium, launchBrowser, type TestBrowser, type TestPage } from '../support/browser.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BUILD = path.join(ROOT, 'extension', 'app', 'build');
const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const TOKEN = 'notebook-e2e-token-0123456789';
const ARROW_MIME = 'application/vnd.apache.arrow.stream';
const SLOW_QUERY = 'SELECT number, sleepEachRow(0.05) FROM numbers(100000) SETTINGS max_block_size = 1';

const inCI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
const chromium = findChromium();
const bundle = existsSync(path.join(BUILD, 'bundle.js'));
if (inCI && !chromium) throw new Error(`CI: ${CHROMIUM_MISSING}`);
if (inCI && !bundle) throw new Error(`CI: no JupyterLab bundle in ${BUILD} (run node scripts/ensure-build.mjs)`);
const skipReason = !chromium ? CHROMIUM_MISSING : !bundle ? `no JupyterLab bundle in ${BUILD}: run node scripts/ensure-build.mjs` : '';
if (skipReason) it.skip(`notebook browser test: skipped, ${skipReason}`, () => undefined);

/** What the page shows of one output. */
type Output =
  | { kind: 'table'; headers: { name: string; type: string }[]; rows: (string | null)[][]; summary: string }
  | { kind: 'text' | 'error' | 'other'; text: string };

interface NotebookState {
  path: string;
  kernel: string | undefined;
  status: string | undefined;
  dirty: boolean;
  cells: { type: string; source: string; executionCount: number | null; prompt: string; outputs: Output[] }[];
}

/** The current notebook as the user sees it: kernel status, prompts and rendered outputs. */
function notebookState(page: Page): Promise<NotebookState> {
  return page.evaluate(() => {
    const app = (window as unknown as { jupyterapp: any }).jupyterapp;
    const panel = app.shell.currentWidget;
    if (!panel?.content?.widgets) throw new Error(`the current widget is not a notebook: ${panel?.title?.label}`);
    const cells = (panel.content.widgets as any[]).map((cell) => {
      const node = cell.node as HTMLElement;
      const outputs: Output[] = [...node.querySelectorAll('.jp-OutputArea-output')].map((out) => {
        const arrow = out.querySelector('.chlab-ArrowResultRenderer');
        if (arrow) {
          const headers = [...arrow.querySelectorAll('thead th')].map((th) => ({
            name: th.querySelector('.chlab-ResultTable-columnName')?.textContent ?? '',
            type: th.querySelector('.chlab-ResultTable-columnType')?.textContent ?? '',
          }));
          const rows = [...arrow.querySelectorAll('tbody tr')].map((tr) =>
            [...tr.querySelectorAll('td')].map((td) => (td.classList.contains('chlab-ResultTable-null') ? null : td.textContent ?? '')),
          );
          return { kind: 'table', headers, rows, summary: arrow.querySelector('.chlab-ArrowResult-summary')?.textContent ?? '' };
        }
        const mime = out.getAttribute('data-mime-type') ?? '';
        const text = (out as HTMLElement).innerText ?? '';
        if (mime === 'application/vnd.jupyter.stderr' || out.closest('.jp-OutputArea-child')?.querySelector('[data-mime-type="application/vnd.jupyter.stderr"]')) {
          return { kind: 'error', text };
        }
        return { kind: mime === 'text/plain' ? 'text' : 'other', text: `${mime}: ${text}` };
      });
      return {
        type: cell.model.type,
        source: cell.model.sharedModel.getSource(),
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
      cells,
    };
  });
}

describe.skipIf(!!skipReason)('a ClickHouse notebook in the real JupyterLab (headless Chromium, embedded chDB)', () => {
  let config: Config;
  let notebookDir: string;
  let app: FastifyInstance;
  let base: string;
  let browser: TestBrowser;
  let tab: TestPage;
  let page: Page;

  const command = (id: string, args: Record<string, unknown> = {}) =>
    page.evaluate(([id, args]) => (window as unknown as { jupyterapp: any }).jupyterapp.commands.execute(id, args).then(() => undefined), [id, args] as const);

  beforeAll(async () => {
    notebookDir = await mkdtemp(path.join(tmpdir(), 'chlab-notebooks-'));
    await cp(path.join(ROOT, 'notebooks'), notebookDir, { recursive: true });
    config = testConfig({ CHLAB_TOKEN: TOKEN, CHLAB_NOTEBOOK_DIR: notebookDir });
    ({ app } = await buildServer({ config, logger: silentLogger }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await launchBrowser({ viewport: { width: 1400, height: 900 } });
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    if (config) await rm(config.dataDir, { recursive: true, force: true });
    if (notebookDir) await rm(notebookDir, { recursive: true, force: true });
  });

  it('starts JupyterLab: file browser and launcher', async () => {
    tab = await browser.newPage();
    page = tab.page;
    const started = page.waitForEvent('console', { predicate: (m) => m.text().includes('JupyterLab started'), timeout: 60_000 });
    await page.goto(`${base}/lab?token=${TOKEN}`);
    await started;
    await page.locator('.jp-DirListing-item[title^="Name: quickstart.ipynb"]').waitFor({ timeout: 60_000 });
    await page.locator('.jp-LauncherCard', { hasText: 'New ClickHouse notebook' }).waitFor({ timeout: 60_000 });
  });

  it('opens and runs the quickstart notebook', async () => {
    await page.locator('.jp-DirListing-item[title^="Name: quickstart.ipynb"]').dblclick();
    await expect.poll(async () => (await notebookState(page).catch(() => undefined))?.status, { timeout: 60_000 }).toBe('idle');
    await page.click('.lm-MenuBar-itemLabel:text-is("Run")');
    await page.click('.lm-Menu-itemLabel:text-is("Run All Cells")');
    await expect
      .poll(
        async () => {
          const s = await notebookState(page);
          return s.status === 'idle' && s.cells.every((c) => c.type !== 'code' || c.executionCount !== null);
        },
        { timeout: 60_000 },
      )
      .toBe(true);
    const state = await notebookState(page);
    console.log(JSON.stringify(state, null, 1).slice(0, 8000));
    await page.screenshot({ path: path.join(SCREENSHOTS, 'debug-run.png') });
    console.log(await page.evaluate(() => document.querySelector('.jp-NotebookPanel-toolbar')?.outerHTML));
    console.log(tab.errors, tab.console.filter((c) => !c.startsWith('log')));
  });
});
