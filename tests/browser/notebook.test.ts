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

describe.skipIf(!!skipReason)('a ClickHouse notebook in the real JupyterLab (headless Chromium, embedded chDB)', () => {
  let config: Config;
  let notebookDir: string;
  let app: FastifyInstance;
  let base: string;
  let browser: TestBrowser;
  let tab: TestPage;
  let page: Page;

  beforeAll(async () => {
    notebookDir = await mkdtemp(path.join(tmpdir(), 'chlab-notebooks-'));
    await cp(path.join(ROOT, 'notebooks'), notebookDir, { recursive: true });
    config = testConfig({ CHLAB_TOKEN: TOKEN, CHLAB_NOTEBOOK_DIR: notebookDir });
    ({ app } = await buildServer({ config, logger: silentLogger }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server!.address() as { port: number }).port}`;
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
    await page.screenshot({ path: path.join(SCREENSHOTS, 'debug-start.png') });
    console.log(await page.evaluate(() => document.querySelector('.jp-DirListing-item')?.outerHTML));
  });
});
