// The S3 browser panel and %%s3 cells in the real JupyterLab (headless Chromium), against a kernel-proxy on
// embedded chDB in this process and an S3 server (npm s3rver + SigV4 check) in its own process. Fixtures are
// written through ClickHouse. Browses bucket → folder → files (sizes, dates), pages a 105-file folder, inserts
// a preview cell from the panel and runs it, runs typed %%s3 cells, and checks no key reaches the page.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../kernel-proxy/src/config.js';
import { buildServer } from '../../kernel-proxy/src/server.js';
import { silentLogger, testConfig } from '../../kernel-proxy/test/support/engine.js';
import { launchBrowser, type TestBrowser, type TestPage, browserSkipReason } from '../support/browser.js';
import { startTestS3, type TestS3 } from '../support/s3-server.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BUILD = path.join(ROOT, 'extension', 'app', 'build');
const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const TOKEN = 's3-browser-token-0123456789';
const WAIT = { timeout: 60_000, interval: 100 };
const LOG_FILES = 105;

/** Console noise from JupyterLab itself (see tests/browser/notebook.test.ts for why each is benign). */
const BENIGN = [
  /^Invalid access: Add Yjs type to a document before reading data\.$/,
  /^\[yjs#509\] Not same Y\.Doc$/,
  /^The kernel manager does not support the kernelInfoTimeout property\.$/,
];

const skipReason = browserSkipReason(BUILD);
if (skipReason) it.skip(`S3 browser test: skipped, ${skipReason}`, () => undefined);

interface PanelItem {
  kind: string;
  name: string;
  size: string;
  date: string;
  url: string;
}

/** What the S3 panel shows. */
function panelState(page: Page) {
  return page.evaluate(() => {
    const root = document.querySelector('.chlab-S3Browser')!;
    return {
      crumbs: [...root.querySelectorAll('.chlab-S3Browser-crumb')].map((c) => c.textContent ?? ''),
      items: [...root.querySelectorAll('.chlab-S3Browser-item')].map((row) => ({
        kind: row.getAttribute('data-kind') ?? '',
        name: row.querySelector('.chlab-S3Browser-name')?.textContent ?? '',
        size: row.querySelector('.chlab-S3Browser-size')?.textContent ?? '',
        date: row.querySelector('.chlab-S3Browser-date')?.textContent ?? '',
        url: row.getAttribute('data-url') ?? '',
      })) as PanelItem[],
      status: root.querySelector('.chlab-S3Browser-status')?.textContent ?? '',
      error: root.querySelector('.chlab-S3Browser-error')?.textContent ?? '',
      more: !!root.querySelector('.chlab-S3Browser-more'),
    };
  });
}

/**
 * The current notebook's cells: source, Arrow results (from the output model: columns and row counts, so the
 * checks do not depend on how the result grid lays out its DOM) with the rendered text, other text and errors.
 */
function cells(page: Page) {
  return page.evaluate(() => {
    const ARROW = 'application/vnd.apache.arrow.stream';
    const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
    if (!panel?.content?.widgets) return [];
    return (panel.content.widgets as any[]).map((cell) => {
      const node = cell.node as HTMLElement;
      const outputs: any[] = [];
      const model = cell.model.outputs;
      for (let i = 0; i < (model?.length ?? 0); i++) outputs.push(model.get(i));
      const rendered = [...node.querySelectorAll('.chlab-ArrowResultRenderer')].map((r) => (r as HTMLElement).innerText);
      const tables = outputs
        .filter((o) => o.data?.[ARROW] !== undefined)
        .map((o, i) => {
          const meta = (o.metadata?.[ARROW] ?? {}) as { rows?: number; preview_rows?: number; columns?: { name: string; type: string }[] };
          return { headers: (meta.columns ?? []).map((c) => c.name), rows: meta.preview_rows ?? meta.rows ?? -1, total: meta.rows ?? -1, rendered: rendered[i] ?? '' };
        });
      return {
        source: cell.model.sharedModel.getSource() as string,
        executionCount: (cell.model.executionCount ?? null) as number | null,
        tables,
        text: [...node.querySelectorAll('.jp-OutputArea-output')].map((o) => (o as HTMLElement).innerText).join('\n'),
        errors: [...node.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')].map((e) => (e as HTMLElement).innerText),
      };
    });
  });
}

describe.skipIf(!!skipReason)('S3 browser and %%s3 cells in JupyterLab (headless Chromium)', () => {
  let s3: TestS3;
  let config: Config;
  let notebookDir: string;
  let app: FastifyInstance;
  let base: string;
  let browser: TestBrowser;
  let tab: TestPage;
  let page: Page;
  const apiBodies: string[] = [];

  const command = (id: string, args: Record<string, unknown> = {}) =>
    page.evaluate(([id, args]) => (window as unknown as { jupyterapp: any }).jupyterapp.commands.execute(id, args).then(() => undefined), [id, args] as const);
  const kernelStatus = () => page.evaluate(() => (window as any).jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status as string | undefined);
  const item = (name: string) => page.locator('.chlab-S3Browser-item', { has: page.locator('.chlab-S3Browser-name', { hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) });

  beforeAll(async () => {
    s3 = await startTestS3(['lake', 'archive']);
    notebookDir = await mkdtemp(path.join(tmpdir(), 'chlab-s3-notebooks-'));
    config = testConfig({ ...s3.env, CHLAB_TOKEN: TOKEN, CHLAB_NOTEBOOK_DIR: notebookDir });
    ({ app } = await buildServer({ config, logger: silentLogger }));
    await app.chlab.s3.start();
    // Fixtures through ClickHouse s3().
    const engine = app.chlab.engine;
    const write = (key: string, format: string, select: string) =>
      engine.command(`INSERT INTO FUNCTION s3(s3_default, filename = {f:String}, format = {fmt:String}) ${select} SETTINGS s3_truncate_on_insert = 1`, { params: { f: `lake/${key}`, fmt: format } });
    for (const m of [1, 2, 3]) {
      await write(`sales/2024/0${m}.parquet`, 'Parquet', `SELECT toUInt32(${m} * 1000 + number) AS id, ['north', 'south'][1 + number % 2] AS region, round(number * 1.25, 2) AS amount FROM numbers(${m * 100})`);
    }
    await write('sales/readme.csv', 'CSVWithNames', "SELECT 'see 2024/' AS note");
    for (let i = 0; i < LOG_FILES; i++) await write(`logs/part-${String(i).padStart(3, '0')}.csv`, 'CSVWithNames', `SELECT ${i} AS part, number AS n FROM numbers(2)`);
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await launchBrowser({ viewport: { width: 1400, height: 900 } });
    await mkdir(SCREENSHOTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await s3?.stop();
    if (config) await rm(config.dataDir, { recursive: true, force: true });
    if (notebookDir) await rm(notebookDir, { recursive: true, force: true });
  });

  it('starts JupyterLab with the S3 panel in the left area', async () => {
    tab = await browser.newPage();
    page = tab.page;
    page.on('response', async (response) => {
      if (!response.url().includes('/api/')) return;
      const body = await response.text().catch(() => '');
      apiBodies.push(body);
    });
    const started = page.waitForEvent('console', { predicate: (m) => m.text().includes('JupyterLab started'), timeout: 60_000 });
    await page.goto(`${base}/lab?token=${TOKEN}`);
    await started;
    await page.locator('.lm-TabBar-tab[data-id="chlab-s3-browser"]').waitFor(WAIT);
    await command('chlab:new-notebook');
    await expect.poll(kernelStatus, WAIT).toBe('idle');
  });

  it('browses buckets, folders and files with sizes and dates', async () => {
    await page.locator('.lm-TabBar-tab[data-id="chlab-s3-browser"]').click();
    await expect.poll(async () => (await panelState(page)).items.map((i) => `${i.kind}:${i.name}`), WAIT).toEqual(['bucket:archive', 'bucket:lake']);
    await item('lake').click();
    await expect.poll(async () => (await panelState(page)).items.map((i) => `${i.kind}:${i.name}`), WAIT).toEqual(['folder:logs/', 'folder:sales/']);
    await item('sales/').click();
    await expect.poll(async () => (await panelState(page)).items.map((i) => `${i.kind}:${i.name}`), WAIT).toEqual(['folder:2024/', 'file:readme.csv']);
    await item('2024/').click();
    await expect.poll(async () => (await panelState(page)).items.length, WAIT).toBe(3);
    const state = await panelState(page);
    expect(state.crumbs).toEqual(['s3://', 'lake/', 'sales/', '2024/']);
    expect(state.items.map((i) => i.name)).toEqual(['01.parquet', '02.parquet', '03.parquet']);
    for (const file of state.items) {
      expect(file.kind).toBe('file');
      expect(file.size).toMatch(/^\d+(\.\d)? (B|KiB)$/);
      expect(file.date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
      expect(file.url).toBe(`s3://lake/sales/2024/${file.name}`);
    }
    expect(state.status).toBe('3 items');
  });

  it('inserts a %%s3 preview cell from the panel and runs it: an Arrow result', async () => {
    const row = item('02.parquet');
    await row.hover();
    await row.locator('.chlab-S3Browser-preview').click();
    await expect.poll(async () => (await cells(page)).find((c) => c.source.startsWith('%%s3'))?.tables[0]?.rendered ?? '', WAIT).toContain('2000');
    const cell = (await cells(page)).find((c) => c.source.startsWith('%%s3'))!;
    expect(cell.source).toBe('%%s3 preview s3://lake/sales/2024/02.parquet');
    expect(cell.errors).toEqual([]);
    const [table] = cell.tables;
    expect(table!.headers).toEqual(['id', 'region', 'amount']);
    expect(table!.rows).toBe(100);
    expect(table!.rendered).toMatch(/id[\s\S]*region[\s\S]*amount/);
    expect(cell.text).toContain("s3(s3_default, filename = 'lake/sales/2024/02.parquet', format = 'Parquet')");
    await page.screenshot({ path: path.join(SCREENSHOTS, 's3-browser.png') });
  });

  it('pages through a large folder with "Load more"', async () => {
    await page.locator('.chlab-S3Browser-crumb', { hasText: 'lake/' }).click();
    await item('logs/').click();
    await expect.poll(async () => (await panelState(page)).items.length, WAIT).toBe(100);
    expect((await panelState(page)).more).toBe(true);
    await page.locator('.chlab-S3Browser-more').click();
    await expect.poll(async () => (await panelState(page)).items.length, WAIT).toBe(LOG_FILES);
    const state = await panelState(page);
    expect(state.more).toBe(false);
    expect(state.items.at(-1)!.name).toBe(`part-${String(LOG_FILES - 1).padStart(3, '0')}.csv`);
    expect(new Set(state.items.map((i) => i.name)).size).toBe(LOG_FILES);
  });

  it('runs %%s3 cells typed in the notebook: preview of a glob with count, ls, and a clear error', async () => {
    const type = async (code: string) => {
      await command('notebook:insert-cell-below');
      await page.locator('.jp-Notebook .jp-Cell.jp-mod-active .cm-content').click();
      await page.keyboard.insertText(code);
      await page.keyboard.press('Shift+Enter');
    };
    await page.locator('.jp-NotebookPanel').first().click({ position: { x: 5, y: 5 } }).catch(() => undefined);
    await command('notebook:enter-command-mode');
    await type('%%s3 preview s3://lake/sales/2024/*.parquet limit=1000 count');
    await expect.poll(async () => (await cells(page)).find((c) => c.source.includes('*.parquet'))?.tables[0]?.rows ?? 0, WAIT).toBe(600);
    expect((await cells(page)).find((c) => c.source.includes('*.parquet'))!.text).toContain('600 rows · 3 files');

    await type('%%s3 ls s3://lake/sales/2024/');
    await expect.poll(async () => (await cells(page)).find((c) => c.source.startsWith('%%s3 ls'))?.tables[0]?.rows ?? 0, WAIT).toBe(3);
    const ls = (await cells(page)).find((c) => c.source.startsWith('%%s3 ls'))!.tables[0]!;
    expect(ls.headers).toEqual(['name', 'type', 'size', 'last_modified', 'path']);
    await expect.poll(async () => (await cells(page)).find((c) => c.source.startsWith('%%s3 ls'))?.tables[0]?.rendered ?? '', WAIT).toContain('01.parquet');

    await type('%%s3 preview s3://lake/sales/2024/missing.parquet');
    await expect.poll(async () => (await cells(page)).find((c) => c.source.includes('missing.parquet'))?.errors.join('') ?? '', WAIT).toContain(
      'No such key: s3://lake/sales/2024/missing.parquet does not exist',
    );
    await expect.poll(kernelStatus, WAIT).toBe('idle');
  });

  it('never shows a key: not in the page, not in any API answer', async () => {
    const html = await page.evaluate(() => document.documentElement.outerHTML);
    for (const secret of [s3.secretAccessKey, s3.accessKeyId]) {
      expect(html).not.toContain(secret);
      for (const body of apiBodies) expect(body).not.toContain(secret);
    }
    expect(apiBodies.some((b) => b.includes('"prefixes"'))).toBe(true);
  });

  it('logs no errors', () => {
    expect(tab.pageErrors).toEqual([]);
    const unexpected = tab.console.filter((line) => /^(error|warning): /.test(line)).filter((line) => !BENIGN.some((re) => re.test(line.replace(/^(error|warning): /, ''))));
    expect(unexpected).toEqual([]);
    expect(tab.blocked).toEqual([]);
  });
});
