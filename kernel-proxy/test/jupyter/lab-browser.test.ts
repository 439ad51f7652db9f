import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authPlugin } from '../../src/jupyter/auth.js';
import { contentsPlugin } from '../../src/jupyter/contents.js';
import { kernelsPlugin } from '../../src/jupyter/kernels.js';
import { kernelspecsPlugin } from '../../src/jupyter/kernelspecs.js';
import { labPlugin } from '../../src/jupyter/lab.js';
import { miscPlugin } from '../../src/jupyter/misc.js';
import { sessionsPlugin } from '../../src/jupyter/sessions.js';
import { FakeKernelManager } from './fake-kernel-manager.js';

const BUILD = path.resolve(import.meta.dirname, '..', '..', '..', 'extension', 'app', 'build');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const READY = existsSync(path.join(BUILD, 'bundle.js')) && existsSync(CHROMIUM);
const TOKEN = 'browser-token-0123456789';

describe.skipIf(!READY)('the real JupyterLab bundle against the Jupyter plugins', () => {
  let base: string;
  let app: FastifyInstance;
  let browser: Browser;
  let url: string;
  const kernels = new FakeKernelManager();

  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'chlab-browser-'));
    await mkdir(path.join(base, 'notebooks'));
    await writeFile(
      path.join(base, 'notebooks', 'a.ipynb'),
      JSON.stringify({
        cells: [{ cell_type: 'code', source: 'SELECT 1', metadata: {}, outputs: [], execution_count: null }],
        metadata: { kernelspec: { name: 'clickhouse', display_name: 'ClickHouse SQL', language: 'sql' } },
        nbformat: 4,
        nbformat_minor: 5,
      }),
    );
    app = Fastify();
    await app.register(websocket);
    await app.register(authPlugin, { token: TOKEN });
    await app.register(contentsPlugin, { root: path.join(base, 'notebooks') });
    await app.register(kernelspecsPlugin, {});
    await app.register(kernelsPlugin, { kernelManager: kernels });
    await app.register(sessionsPlugin, { kernelManager: kernels });
    await app.register(miscPlugin, { configDir: path.join(base, 'config') });
    await app.register(labPlugin, {
      staticDir: BUILD,
      userSettingsDir: path.join(base, 'settings'),
      workspacesDir: path.join(base, 'workspaces'),
      token: TOKEN,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await rm(base, { recursive: true, force: true });
  });

  it('starts, opens a notebook with a session, saves it, changes the theme and creates a file', async () => {
    const page = await browser.newPage();
    const failures: string[] = [];
    const calls = new Set<string>();
    page.on('response', (response) => {
      const { pathname } = new URL(response.url());
      calls.add(`${response.request().method()} ${pathname.replace(/[0-9a-f-]{36}/g, ':id')} ${response.status()}`);
      if (response.status() >= 400) failures.push(`${response.status()} ${response.request().method()} ${pathname}`);
    });
    const started = page.waitForEvent('console', { predicate: (m) => m.text().includes('JupyterLab started'), timeout: 60_000 });
    await page.goto(`${url}/lab/tree/a.ipynb?token=${TOKEN}`);
    await started;
    expect(new URL(page.url()).searchParams.has('token')).toBe(false);

    await expect.poll(() => kernels.calls.includes('start:clickhouse'), { timeout: 15_000 }).toBe(true);
    await page.click('.jp-Notebook');
    await page.keyboard.press('Control+s');
    await expect.poll(() => calls.has('PUT /api/contents/a.ipynb 200'), { timeout: 15_000 }).toBe(true);

    await page.click('text=Settings');
    await page.click('text=Theme');
    await page.click('text=JupyterLab Dark');
    await expect.poll(() => calls.has('PUT /lab/api/settings/@jupyterlab/apputils-extension:themes 204'), { timeout: 15_000 }).toBe(true);
    const themes = await readFile(path.join(base, 'settings', '@jupyterlab', 'apputils-extension', 'themes.jupyterlab-settings'), 'utf8');
    expect(themes).toContain('JupyterLab Dark');

    await page.click('text=File');
    await page.click('.lm-Menu-item:has-text("New")');
    await page.click('.lm-Menu-item:has-text("Text File")');
    await expect.poll(() => existsSync(path.join(base, 'notebooks', 'untitled.txt')), { timeout: 15_000 }).toBe(true);
    await expect.poll(() => calls.has('PUT /lab/api/workspaces/default 204'), { timeout: 15_000 }).toBe(true);

    for (const call of ['GET /api/me 200', 'GET /lab/api/translations/default 200', 'POST /api/sessions 201', 'GET /lab/api/settings 200']) {
      expect(calls, call).toContain(call);
    }
    expect(failures).toEqual([]);
    await page.close();
  }, 120_000);
});
