// The %%migrate outputs in real headless Chromium, against a real kernel-proxy started in this process.
//
//   A. Saved outputs (no PostgreSQL needed): a notebook whose cell holds plan, progress and summary bundles
//      renders the mapping widget, the progress bar and the validation table; editing the widget rewrites the
//      cell's YAML (minimal overrides, comments kept) and the DDL preview follows at once; light and dark themes.
//   B. End to end (the shared test PostgreSQL + embedded chDB): a 200k-row source table; a `%%migrate` cell is
//      analyzed, a column renamed and one skipped in the widget, the cell source checked, Run pressed; the
//      progress bar moves (updated in place) and the summary shows the validation ✓; the history panel lists it;
//      a second run is stopped from its Stop button and finished by %%migrate resume; a third, started over REST, is
//      stopped from the history panel and resumed from there.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../kernel-proxy/src/config.js';
import { MigrationHistory } from '../../kernel-proxy/src/migration/history.js';
import { buildServer } from '../../kernel-proxy/src/server.js';
import { silentLogger, testConfig } from '../../kernel-proxy/test/support/engine.js';
import { launchBrowser, type TestBrowser, type TestPage, browserSkipReason, skipAfterFailedStep } from '../support/browser.js';
import { hasSharedPostgres, sharedPostgres } from '../support/services.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BUILD = path.join(ROOT, 'extension', 'app', 'build');
const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const TOKEN = 'migration-widget-token-0123456789';
const WAIT = { timeout: 60_000, interval: 100 };
const PLAN_MIME = 'application/vnd.chlab.migration-plan+json';
const PROGRESS_MIME = 'application/vnd.chlab.migration-progress+json';
const SUMMARY_MIME = 'application/vnd.chlab.migration-summary+json';

/** Console noise from JupyterLab itself (see tests/browser/notebook.test.ts for why each is benign). */
const BENIGN = [
  /^Invalid access: Add Yjs type to a document before reading data\.$/,
  /^\[yjs#509\] Not same Y\.Doc$/,
  /^The kernel manager does not support the kernelInfoTimeout property\.$/,
];

const skipReason = browserSkipReason(BUILD);
if (skipReason) it.skip(`migration widget in the browser: skipped, ${skipReason}`, () => undefined);

/**
 * For the runs the tests stop: 100 ranges, one at a time, each sleeping 50 ms in ClickHouse (sleep() runs once per
 * block, a range is one block), so a run lasts at least 5 s however fast the machine and Stop finds it running.
 */
const SLOW_RUN = `columns:\n  email: { transform: "if(sleep(0.05) = 0, email, email)" }\noptions:\n  batch_size: 2000\n  parallelism: 1\n`;

/** The source table of the end-to-end run: enough rows that the progress bar visibly moves. */
const SOURCE_ROWS = 200_000;
const PG_SCHEMA = `chlab_widget_${process.pid}_${Date.now()}`;
const TARGET = 'widget_events';
const LIVE_SOURCE = `%%migrate
# The end-to-end test's migration: edited in the widget, then run.
source: ${PG_SCHEMA}.events
target: ${TARGET}
description: migration widget browser test
options:
  batch_size: 20000   # 10 ranges, so progress arrives in steps`;

const SAVED_SOURCE = `%%migrate
# events, nightly
source: public.events      # in PostgreSQL
target: analytics.events
columns:
  legacy: { skip: true }   # unused since 2021`;

const SAVED_PLAN = {
  spec: { source: 'public.events', target: 'analytics.events', columns: { legacy: { skip: true } } },
  source: {
    schema: 'public',
    table: 'events',
    columns: [
      { name: 'id', type: 'bigint', nullable: false, primary_key: true },
      { name: 'email', type: 'character varying', nullable: true, primary_key: false },
      { name: 'amount', type: 'numeric', nullable: true, primary_key: false },
      { name: 'legacy', type: 'text', nullable: true, primary_key: false },
    ],
    primary_key: ['id'],
    row_count: 200000,
    row_count_exact: true,
    estimated_size_mb: 14.2,
  },
  mappings: [
    { source_field: 'id', source_type: 'bigint', source_nullable: false, primary_key: true, destination_field: 'id', destination_type: 'Int64', suggested_type: 'Int64', transformation: null, nulls: 'fail', skip: false, warnings: [], notes: [] },
    { source_field: 'email', source_type: 'character varying', source_nullable: true, primary_key: false, destination_field: 'email', destination_type: 'Nullable(String)', suggested_type: 'String', transformation: null, nulls: 'nullable', skip: false, warnings: [], notes: [] },
    {
      source_field: 'amount',
      source_type: 'numeric',
      destination_field: 'amount',
      destination_type: 'Nullable(Decimal(38, 10))',
      suggested_type: 'Decimal(38, 10)',
      source_nullable: true,
      primary_key: false,
      transformation: null,
      nulls: 'nullable',
      skip: false,
      warnings: ['numeric without precision: Decimal(38, 10) (options.unbounded_numeric)'],
      notes: [],
    },
    { source_field: 'legacy', source_type: 'text', source_nullable: true, primary_key: false, destination_field: 'legacy', destination_type: 'Nullable(String)', suggested_type: 'String', transformation: null, nulls: 'nullable', skip: true, warnings: [], notes: ['text kept as String'] },
  ],
  target: { database: 'analytics', table: 'events', qualified: 'analytics.events', exists: false, rows: 0 },
  order_by: ['id'],
  ddl: 'CREATE TABLE IF NOT EXISTS `analytics`.`events`\n(\n    `id` Int64,\n    `email` Nullable(String),\n    `amount` Nullable(Decimal(38, 10))\n)\nENGINE = MergeTree\nORDER BY `id`\nSETTINGS non_replicated_deduplication_window = 10000',
  warnings: ['<b>not bold</b>: server text is shown as text', 'amount: numeric without precision: Decimal(38, 10) (options.unbounded_numeric)'],
  value_check: {
    checked_rows: 10000,
    scanned: true,
    problems: [{ column: 'amount', kind: 'numeric_overflow', description: 'does not fit Decimal(38, 10)', count: 2, examples: [{ row: { id: '1' }, value: '1e40' }, { row: { id: '2' }, value: '-1e39' }] }],
    skipped: [],
  },
};

const SAVED_NOTEBOOK = {
  cells: [
    {
      cell_type: 'code',
      source: SAVED_SOURCE,
      metadata: {},
      execution_count: 1,
      outputs: [
        { output_type: 'display_data', data: { [PLAN_MIME]: SAVED_PLAN, 'text/plain': 'migration plan' }, metadata: {} },
        {
          output_type: 'display_data',
          data: {
            [PROGRESS_MIME]: { migration_id: 'm-1', status: 'running', processed_records: 50000, total_records: 200000, percentage: 25, rows_per_second: 100000, eta_seconds: 1.5 },
            'text/plain': '25%',
          },
          metadata: {},
        },
        {
          output_type: 'display_data',
          data: {
            [SUMMARY_MIME]: {
              migration_id: 'm-1',
              status: 'completed',
              records_migrated: 200000,
              duration_seconds: 2.5,
              destination: 'analytics.events',
              validation: {
                ok: false,
                row_count: { source: 200000, destination: 200000 },
                columns: [{ column: 'amount', checks: [{ name: 'sum', source: '10.5', destination: '10.4', ok: false }] }],
              },
              error_message: null,
            },
            'text/plain': 'completed',
          },
          metadata: {},
        },
      ],
    },
  ],
  metadata: { kernelspec: { name: 'clickhouse', display_name: 'ClickHouse SQL', language: 'sql' } },
  nbformat: 4,
  nbformat_minor: 5,
};

/** The migration outputs of cell `index` of the current notebook, as shown. */
function migrationView(page: Page, index = 0) {
  return page.evaluate((index) => {
    const panel = (window as unknown as { jupyterapp: any }).jupyterapp.shell.currentWidget;
    const cell = panel.content.widgets[index];
    const node = cell.node as HTMLElement;
    const plan = node.querySelector('.chlab-MigrationPlan');
    const progress = node.querySelector<HTMLElement>('.chlab-MigrationProgress');
    const summary = node.querySelector<HTMLElement>('.chlab-MigrationSummary');
    return {
      source: cell.model.sharedModel.getSource() as string,
      status: panel.sessionContext.session?.kernel?.status as string | undefined,
      executionCount: cell.model.executionCount as number | null,
      errors: [...node.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')].map((e) => (e as HTMLElement).innerText),
      texts: [...node.querySelectorAll('.jp-OutputArea-output[data-mime-type="text/plain"]')].map((e) => (e as HTMLElement).innerText),
      plan: plan && {
        rows: [...plan.querySelectorAll<HTMLTableRowElement>('.chlab-MigrationMapping tbody tr[data-field]')].map((tr) => ({
          field: tr.dataset.field,
          rename: tr.querySelector<HTMLInputElement>('[data-key="rename"]')!.value,
          type: tr.querySelector<HTMLInputElement>('[data-key="type"]')!.value,
          nulls: tr.querySelector<HTMLSelectElement>('[data-key="nulls"]')!.value,
          skip: tr.querySelector<HTMLInputElement>('[data-key="skip"]')!.checked,
          warnings: [...plan.querySelectorAll(`tr[data-warnings-for="${CSS.escape(tr.dataset.field!)}"] .chlab-MigrationMapping-warnings li`)].map((li) => li.textContent),
          badges: [...tr.querySelectorAll('.chlab-MigrationBadge')].map((b) => b.textContent),
        })),
        ddl: plan.querySelector('.chlab-MigrationPlan-ddlCode')?.textContent ?? '',
        warnings: [...plan.querySelectorAll('.chlab-MigrationPlan-warnings li')].map((li) => li.textContent),
        problems: [...plan.querySelectorAll('.chlab-MigrationValueCheck tbody tr')].map((tr) => (tr as HTMLElement).innerText),
        message: plan.querySelector('.chlab-MigrationPlan-message')?.textContent ?? '',
        runEnabled: !plan.querySelector<HTMLButtonElement>('.chlab-MigrationPlan-run')!.disabled,
      },
      progress: progress && {
        percentage: progress.dataset.percentage,
        processed: progress.dataset.processed,
        status: progress.dataset.status,
        text: progress.innerText,
        width: (progress.querySelector('.chlab-MigrationProgress-fill') as HTMLElement).style.width,
      },
      summary: summary && {
        status: summary.dataset.status,
        text: summary.innerText,
        checks: [...summary.querySelectorAll<HTMLTableRowElement>('.chlab-MigrationValidation tbody tr')].map((tr) => ({
          ok: tr.dataset.ok,
          cells: [...tr.cells].map((td) => td.textContent),
        })),
      },
    };
  }, index);
}

describe.skipIf(!!skipReason)('%%migrate outputs in JupyterLab (headless Chromium, real proxy)', () => {
  let config: Config;
  let notebookDir: string;
  let app: FastifyInstance;
  let base: string;
  let browser: TestBrowser;
  let tab: TestPage;
  let page: Page;

  const waitForLab = async (load: () => Promise<unknown>) => {
    const started = page.waitForEvent('console', { predicate: (m) => m.text() === 'chlab: JupyterLab started', timeout: 60_000 });
    await load();
    await started;
  };
  const row = (field: string) => page.locator(`.chlab-MigrationMapping tbody tr[data-field="${field}"]`).first();
  const screenshot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, name), animations: 'disabled', caret: 'hide' });
  /** Runs a JupyterLab command (its result, often a widget, stays in the page: it cannot be serialized). */
  const command = (id: string, args: Record<string, unknown> = {}) =>
    page.evaluate(
      async ({ id, args }) => {
        await (window as any).jupyterapp.commands.execute(id, args);
      },
      { id, args },
    );
  /** Inserts a code cell at `index` of the current notebook and runs it; `wait`: until the kernel answered. */
  const runNewCell = (index: number, source: string, wait = true) =>
    page.evaluate(
      async ({ index, source, wait }) => {
        const { jupyterapp } = window as any;
        const notebook = jupyterapp.shell.currentWidget.content;
        notebook.model.sharedModel.insertCell(index, { cell_type: 'code', source });
        notebook.activeCellIndex = index;
        const run = jupyterapp.commands.execute('notebook:run-cell');
        if (wait) await run;
      },
      { index, source, wait },
    );

  beforeAll(async () => {
    notebookDir = await mkdtemp(path.join(tmpdir(), 'chlab-migration-notebooks-'));
    await writeFile(path.join(notebookDir, 'saved-migration.ipynb'), JSON.stringify(SAVED_NOTEBOOK, null, 1));
    const live = { ...SAVED_NOTEBOOK, cells: [{ cell_type: 'code', source: LIVE_SOURCE, metadata: {}, execution_count: null, outputs: [] }] };
    await writeFile(path.join(notebookDir, 'live-migration.ipynb'), JSON.stringify(live, null, 1));
    const env: Record<string, string> = { CHLAB_TOKEN: TOKEN, CHLAB_NOTEBOOK_DIR: notebookDir, CHLAB_DEMO_POSTGRES: '0' };
    if (hasSharedPostgres()) {
      const info = sharedPostgres();
      Object.assign(env, { POSTGRES_HOST: info.host, POSTGRES_PORT: String(info.port), POSTGRES_USER: info.user, POSTGRES_PASSWORD: info.password, POSTGRES_DB: info.database });
      const client = new pg.Client({ host: info.host, port: info.port, user: info.user, password: info.password, database: info.database });
      await client.connect();
      try {
        await client.query(`CREATE SCHEMA ${PG_SCHEMA}`);
        await client.query(`CREATE TABLE ${PG_SCHEMA}.events (
          id bigint PRIMARY KEY,
          email text,
          amount numeric(12, 2),
          created_at timestamptz NOT NULL,
          legacy text
        )`);
        await client.query(
          `INSERT INTO ${PG_SCHEMA}.events
           SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'User' || g || '@Example.com' END, (g % 100000) / 100.0,
                  timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute', 'old ' || g
           FROM generate_series(1, $1::int) AS g`,
          [SOURCE_ROWS],
        );
        await client.query(`ANALYZE ${PG_SCHEMA}.events`);
      } finally {
        await client.end();
      }
    }
    config = testConfig(env);
    ({ app } = await buildServer({ config, logger: silentLogger }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await launchBrowser({ viewport: { width: 1400, height: 1000 } });
    await mkdir(SCREENSHOTS, { recursive: true });
    tab = await browser.newPage();
    page = tab.page;
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    if (hasSharedPostgres()) {
      const info = sharedPostgres();
      const client = new pg.Client({ host: info.host, port: info.port, user: info.user, password: info.password, database: info.database });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`).finally(() => client.end());
    }
    if (config) await rm(config.dataDir, { recursive: true, force: true });
    if (notebookDir) await rm(notebookDir, { recursive: true, force: true });
  });

  skipAfterFailedStep();

  it('renders saved plan, progress and summary outputs', async () => {
    await waitForLab(() => page.goto(`${base}/lab/tree/saved-migration.ipynb?token=${TOKEN}`));
    await page.locator('.chlab-MigrationPlan').waitFor(WAIT);
    await expect.poll(async () => (await migrationView(page)).plan?.runEnabled, WAIT).toBe(true);
    const view = await migrationView(page);
    expect(view.plan!.rows).toEqual([
      { field: 'id', rename: '', type: 'Int64', nulls: 'fail', skip: false, warnings: [], badges: ['PK'] },
      { field: 'email', rename: '', type: 'String', nulls: 'nullable', skip: false, warnings: [], badges: ['NULL'] },
      { field: 'amount', rename: '', type: 'Decimal(38, 10)', nulls: 'nullable', skip: false, warnings: ['numeric without precision: Decimal(38, 10) (options.unbounded_numeric)'], badges: ['NULL', '⚠'] },
      { field: 'legacy', rename: '', type: 'String', nulls: 'nullable', skip: true, warnings: [], badges: ['NULL'] },
    ]);
    // Unedited, the DDL is the kernel's own.
    expect(view.plan!.ddl).toBe(SAVED_PLAN.ddl);
    expect(view.plan!.warnings).toEqual(['<b>not bold</b>: server text is shown as text']);
    expect(view.plan!.problems).toEqual([expect.stringMatching(/^amount\s+does not fit Decimal\(38, 10\)\s+2\s+1e40\s*-1e39$/)]);
    expect(view.progress).toMatchObject({ percentage: '25.0', processed: '50000', status: 'running', width: '25%' });
    expect(view.progress!.text).toMatch(/50,000 \/ 200,000 rows/);
    expect(view.progress!.text).toMatch(/100,000 rows\/s/);
    expect(view.progress!.text).toMatch(/ETA 1\.5 s/);
    // A saved "running" bar is not a live run: no Stop button.
    expect(await page.locator('.chlab-MigrationProgress-stop').first().isVisible()).toBe(false);
    expect(view.summary!.status).toBe('completed');
    expect(view.summary!.checks).toEqual([
      { ok: 'true', cells: ['✓', 'row count', '', '200,000', '200,000'] },
      { ok: 'false', cells: ['✗', 'sum', 'amount', '10.5', '10.4'] },
    ]);
    expect(view.summary!.text).toMatch(/Validation failed/);
  });

  it('writes widget edits back into the cell YAML and updates the DDL at once', async () => {
    // Typed key by key: the notebook's command-mode shortcuts (a, b, m, d d, …) must not fire in the widget.
    await row('email').locator('[data-key="rename"]').click();
    await page.keyboard.type('user_email');
    await row('amount').locator('[data-key="type"]').fill('Decimal(12, 2)');
    await row('id').locator('[data-key="skip"]').check();
    await row('id').locator('[data-key="skip"]').uncheck();
    await row('legacy').locator('[data-key="skip"]').uncheck();
    await row('email').locator('[data-key="nulls"]').selectOption('fail');
    await page.locator('.chlab-MigrationPlan [data-option="partition_by"]').fill('intDiv(id, 100000)');
    let view = await migrationView(page);
    expect(view.source).toBe(
      [
        '%%migrate',
        '# events, nightly',
        'source: public.events      # in PostgreSQL',
        'target: analytics.events',
        'columns:',
        '  email: { rename: user_email, nulls: fail }',
        '  amount: { type: "Decimal(12, 2)" }',
        'options:',
        '  partition_by: intDiv(id, 100000)',
      ].join('\n'),
    );
    expect(view.plan!.ddl).toBe(
      [
        'CREATE TABLE IF NOT EXISTS `analytics`.`events`',
        '(',
        '    `id` Int64,',
        '    `user_email` String,',
        '    `amount` Nullable(Decimal(12, 2)),',
        '    `legacy` Nullable(String)',
        ')',
        'ENGINE = MergeTree',
        'PARTITION BY intDiv(id, 100000)',
        'ORDER BY `id`',
        'SETTINGS non_replicated_deduplication_window = 10000',
      ].join('\n'),
    );
    expect(view.plan!.message).toBe('Your edits are saved in the cell source.');
    expect(await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.widgets.length)).toBe(1);

    // Typed into the cell, the YAML shows up in the widget.
    await page.evaluate(() => {
      const cell = (window as any).jupyterapp.shell.currentWidget.content.widgets[0];
      const source: string = cell.model.sharedModel.getSource();
      cell.model.sharedModel.setSource(source.replace('email: { rename: user_email, nulls: fail }', 'email: { rename: mail, nulls: fail }'));
    });
    await expect.poll(async () => (await migrationView(page)).plan!.rows[1]!.rename, WAIT).toBe('mail');
    view = await migrationView(page);
    expect(view.plan!.ddl).toContain('`mail` String,');
    await page.locator('.chlab-MigrationPlan').first().screenshot({ path: path.join(SCREENSHOTS, 'migration-widget.png'), animations: 'disabled', caret: 'hide' });
  });

  it('applies the dark theme', async () => {
    await command('apputils:change-theme', { theme: 'JupyterLab Dark' });
    await expect.poll(() => page.evaluate(() => document.body.dataset.jpThemeLight), WAIT).toBe('false');
    const colors = await page.evaluate(() => {
      const style = (selector: string) => getComputedStyle(document.querySelector(selector)!);
      return {
        input: style('.chlab-MigrationMapping [data-key="type"]').backgroundColor,
        text: style('.chlab-MigrationMapping-field').color,
        ddl: style('.chlab-MigrationPlan-ddl').backgroundColor,
      };
    });
    // Dark backgrounds, light text.
    const luminance = (rgb: string) => {
      const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number);
      return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
    };
    expect(luminance(colors.input)).toBeLessThan(0.3);
    expect(luminance(colors.ddl)).toBeLessThan(0.3);
    expect(luminance(colors.text)).toBeGreaterThan(0.6);
    await page.locator('.jp-NotebookPanel').first().screenshot({ path: path.join(SCREENSHOTS, 'migration-dark.png'), animations: 'disabled', caret: 'hide' });
    await command('apputils:change-theme', { theme: 'JupyterLab Light' });
    await expect.poll(() => page.evaluate(() => document.body.dataset.jpThemeLight), WAIT).toBe('true');
  });

  it('lists past migrations in the history panel: filters, sorting, details, re-run into the notebook', async () => {
    const requests: URLSearchParams[] = [];
    const record = (id: string, status: string, extra: Record<string, unknown> = {}) => ({
      id,
      source: 'default',
      destination: 'analytics.events',
      source_table: 'public.events',
      migration_time: '2026-03-01T10:00:00.000Z',
      started_at: '2026-03-01T10:00:00.000Z',
      deskripsi: `run ${id}`,
      tabel_fields: ['id', 'email'],
      field_mappings: JSON.stringify([
        { source_field: 'id', source_type: 'bigint', destination_field: 'id', destination_type: 'Int64', transformation: null, nulls: 'fail', skip: false },
        { source_field: 'email', source_type: 'text', destination_field: 'user_email', destination_type: 'Nullable(String)', transformation: 'lower(email)', nulls: 'nullable', skip: false },
      ]),
      status,
      records_migrated: 1234,
      error_message: null,
      duration_seconds: 3,
      created_by: 'analyst',
      metadata: JSON.stringify({ version: 1, spec_yaml: 'source: public.events\ntarget: analytics.events\ncolumns:\n  email: { rename: user_email, transform: lower(email) }\n' }),
      ...extra,
    });
    const FAILED = { error_message: 'Code: 53. <b>TYPE_MISMATCH</b>', records_migrated: 0 };
    await page.route('**/api/migration/history?**', async (route) => {
      const params = new URL(route.request().url()).searchParams;
      requests.push(params);
      const all = [record('11111111-1111-1111-1111-111111111111', 'completed'), record('22222222-2222-2222-2222-222222222222', 'failed', FAILED)];
      const migrations = all.filter((m) => !params.get('status') || m.status === params.get('status'));
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ migrations, total: migrations.length }) });
    });
    await page.route('**/api/migration/history/*', async (route) => {
      const id = new URL(route.request().url()).pathname.split('/').pop()!;
      const { metadata, ...rest } = id.startsWith('1') ? record(id, 'completed') : record(id, 'failed', FAILED);
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ ...rest, ...JSON.parse(metadata as string) }) });
    });
    expect(await page.evaluate(() => (window as any).jupyterapp.commands.hasCommand('chlab:migration-history'))).toBe(true);
    await command('chlab:migration-history');
    const panel = page.locator('.chlab-MigrationHistory');
    await expect.poll(() => panel.locator('tbody tr').count(), WAIT).toBe(2);
    // (ServerConnection adds a numeric cache-busting parameter to GET requests.)
    expect(Object.fromEntries([...requests[0]!].filter(([key]) => !/^\d+$/.test(key)))).toEqual({ limit: '50', offset: '0', sort: 'migration_time', order: 'desc' });

    await panel.locator('select[aria-label="Status"]').selectOption('failed');
    await expect.poll(() => panel.locator('tbody tr').count(), WAIT).toBe(1);
    expect(requests.at(-1)!.get('status')).toBe('failed');
    await panel.locator('th[data-sort="records_migrated"]').click();
    await expect.poll(() => requests.at(-1)!.get('sort'), WAIT).toBe('records_migrated');
    expect(requests.at(-1)!.get('order')).toBe('desc');
    await panel.locator('input[aria-label="Search"]').fill('events');
    await expect.poll(() => requests.at(-1)!.get('search'), WAIT).toBe('events');
    await panel.locator('input[aria-label="From date"]').fill('2026-03-01');
    await expect.poll(() => requests.at(-1)!.get('from'), WAIT).toBe('2026-03-01T00:00:00Z');

    await panel.locator('tbody tr').first().click();
    const details = panel.locator('.chlab-MigrationHistory-details');
    await expect.poll(() => details.innerText(), WAIT).toContain('Code: 53. <b>TYPE_MISMATCH</b>');
    expect(await details.locator('table tbody tr').count()).toBe(2);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'migration-history.png'), animations: 'disabled', caret: 'hide' });

    await details.locator('button', { hasText: 'Re-run in current notebook' }).click();
    await expect
      .poll(() => page.evaluate(() => (window as any).jupyterapp.shell.currentWidget?.content?.widgets?.map((c: any) => c.model.sharedModel.getSource())), WAIT)
      .toEqual([expect.stringMatching(/^%%migrate\n/), '%%migrate run --rerun\nsource: public.events\ntarget: analytics.events\ncolumns:\n  email: { rename: user_email, transform: lower(email) }']);
    await page.unroute('**/api/migration/history?**');
    await page.unroute('**/api/migration/history/*');
    await page.locator('.jp-MainAreaWidget', { has: panel }).evaluate(() => undefined);
    await page.evaluate(() => {
      const { shell } = (window as any).jupyterapp;
      for (const widget of [...shell.widgets('main')]) if (widget.id === 'chlab-migration-history-panel') widget.close();
    });
    // Undo the inserted cell: the notebook stays as the earlier steps left it.
    await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.model.sharedModel.deleteCell(1));
  });

  it('offers the history panel in the launcher', async () => {
    await command('launcher:create');
    await page.locator('.jp-LauncherCard', { hasText: 'Migration history' }).waitFor(WAIT);
  });

  describe.skipIf(!hasSharedPostgres())('end to end: PostgreSQL → ClickHouse from the widget', () => {
    it('analyzes the %%migrate cell: the mapping widget shows the source columns', async () => {
      await command('docmanager:open', { path: 'live-migration.ipynb' });
      await expect
        .poll(() => page.evaluate(() => {
          const panel = (window as any).jupyterapp.shell.currentWidget;
          return panel?.context?.path === 'live-migration.ipynb' ? panel.sessionContext.session?.kernel?.status : undefined;
        }), WAIT)
        .toBe('idle');
      await page.evaluate(async () => {
        const { jupyterapp } = window as any;
        jupyterapp.shell.currentWidget.content.activeCellIndex = 0;
        await jupyterapp.commands.execute('notebook:run-cell');
      });
      await expect.poll(async () => (await migrationView(page)).plan?.rows.length ?? (await migrationView(page)).errors.join('\n'), WAIT).toBe(5);
      const view = await migrationView(page);
      expect(view.errors).toEqual([]);
      expect(view.plan!.rows.map((r) => [r.field, r.type, r.nulls, r.skip, r.badges])).toEqual([
        ['id', 'Int64', 'fail', false, ['PK']],
        ['email', 'String', 'nullable', false, ['NULL']],
        ['amount', 'Decimal(12, 2)', 'nullable', false, ['NULL']],
        ['created_at', "DateTime64(6, 'UTC')", 'fail', false, []],
        ['legacy', 'String', 'nullable', false, ['NULL']],
      ]);
      expect(view.plan!.ddl).toContain('`legacy` Nullable(String)');
      expect(view.plan!.runEnabled).toBe(true);
    });

    it('writes a rename and a skip from the widget into the cell source', async () => {
      const plan = page.locator('.jp-NotebookPanel:visible .chlab-MigrationPlan').first();
      await plan.locator('tr[data-field="email"] [data-key="rename"]').fill('user_email');
      await plan.locator('tr[data-field="legacy"] [data-key="skip"]').check();
      const view = await migrationView(page);
      expect(view.source).toBe(`${LIVE_SOURCE}\ncolumns:\n  email: { rename: user_email }\n  legacy: { skip: true }`);
      expect(view.plan!.ddl).toContain('`user_email` Nullable(String)');
      expect(view.plan!.ddl).not.toContain('legacy');
    });

    it('runs from the Run button: the progress bar moves, the summary shows the validation ✓', async () => {
      // Every progress value the page shows, however briefly (the kernel updates the output in place).
      await page.evaluate(() => {
        const seen: string[] = ((window as any).__progressSeen = []);
        const notebook = (window as any).jupyterapp.shell.currentWidget.node as HTMLElement;
        const record = () => {
          for (const node of notebook.querySelectorAll<HTMLElement>('.chlab-MigrationProgress')) {
            const value = node.dataset.percentage ?? '';
            if (value && seen[seen.length - 1] !== value) seen.push(value);
          }
        };
        new MutationObserver(record).observe(notebook, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-percentage'] });
      });
      await page.locator('.jp-NotebookPanel:visible .chlab-MigrationPlan-run').first().click();
      await expect.poll(async () => (await migrationView(page)).source.split('\n')[0], WAIT).toBe('%%migrate run');
      await expect.poll(async () => (await migrationView(page)).summary?.status ?? (await migrationView(page)).errors.join('\n'), { timeout: 120_000, interval: 200 }).toBe('completed');
      const view = await migrationView(page);
      expect(view.errors).toEqual([]);
      const seen: string[] = await page.evaluate(() => (window as any).__progressSeen);
      console.log(`progress values shown: ${seen.join(', ')}`);
      expect(new Set(seen).size >= 2 || seen.includes('100.0')).toBe(true);
      expect(view.progress).toMatchObject({ percentage: '100.0', status: 'completed', processed: String(SOURCE_ROWS) });
      expect(view.progress!.text).toMatch(/200,000 \/ (≈ )?200,000 rows/);
      // The duration and rate come from the run's unrounded elapsed time, not from whole seconds.
      const elapsedMs: number = await page.evaluate((mime) => {
        for (const cell of (window as any).jupyterapp.shell.currentWidget.content.widgets) {
          for (const output of cell.model.outputs?.toJSON() ?? []) if (output.data?.[mime]) return output.data[mime].elapsed_ms;
        }
      }, SUMMARY_MIME);
      expect(elapsedMs).toBeGreaterThan(0);
      const seconds = elapsedMs / 1000;
      const shownSeconds = seconds < 10 ? String(Math.round(seconds * 10) / 10) : String(Math.round(seconds));
      expect(view.summary!.text).toContain(`200,000 rows migrated in ${shownSeconds} s · ${Math.round(200_000 / seconds).toLocaleString('en-US')} rows/s`);
      expect(view.summary!.text).toMatch(/Validation passed/);
      expect(view.summary!.checks.length).toBeGreaterThan(1);
      expect(view.summary!.checks.every((c) => c.ok === 'true' && c.cells[0] === '✓')).toBe(true);
      expect(view.summary!.checks[0]!.cells.slice(1)).toEqual(['row count', '', '200,000', '200,000']);
      // Checks are labelled in words; the contract's name is in the tooltip.
      const labels = view.summary!.checks.map((c) => c.cells[1]);
      expect(labels).toEqual(expect.arrayContaining(['non-NULL values', 'sum', 'minimum', 'maximum', 'total bytes', 'sum of µs since 1970']));
      expect(labels.filter((label) => /_/.test(label ?? ''))).toEqual([]);
      expect(await page.locator('.chlab-MigrationValidation td[title^="sum_epoch_us: "]').count()).toBeGreaterThan(0);
      // Numbers are grouped by thousands (the sum of id: 1 + … + 200,000).
      expect(view.summary!.checks.find((c) => c.cells[1] === 'sum' && c.cells[2] === 'id')!.cells.slice(3)).toEqual(['20,000,100,000', '20,000,100,000']);
      // The table has the edited shape.
      const columns = await app.chlab.engine.json<{ name: string; type: string }>(`SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = '${TARGET}' ORDER BY position`);
      expect(columns).toEqual([
        { name: 'id', type: 'Int64' },
        { name: 'user_email', type: 'Nullable(String)' },
        { name: 'amount', type: 'Nullable(Decimal(12, 2))' },
        { name: 'created_at', type: "DateTime64(6, 'UTC')" },
      ]);
      const [count] = await app.chlab.engine.json<{ n: string }>(`SELECT count() AS n FROM ${TARGET}`);
      expect(Number(count!.n)).toBe(SOURCE_ROWS);
      await page.locator('.jp-NotebookPanel:visible .chlab-MigrationSummary').first().screenshot({ path: path.join(SCREENSHOTS, 'migration-summary.png'), animations: 'disabled' });
      await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.scrollToItem(0, 'start'));
      await screenshot('migration-run.png');
    });

    it('saves the notebook with the edited spec, and lists the run in the history panel', async () => {
      await command('docmanager:save');
      await expect
        .poll(async () => JSON.parse(await readFile(path.join(notebookDir, 'live-migration.ipynb'), 'utf8')).cells[0].source, WAIT)
        .toEqual(expect.arrayContaining(['%%migrate run\n', '  email: { rename: user_email }\n', '  legacy: { skip: true }']));
      await command('chlab:migration-history');
      const panel = page.locator('.chlab-MigrationHistory');
      const row = panel.locator('tbody tr', { hasText: TARGET });
      await row.first().waitFor(WAIT);
      await row.first().click();
      await expect.poll(() => panel.locator('.chlab-MigrationHistory-details').innerText(), WAIT).toMatch(/completed[\s\S]*200,000/);
      await expect.poll(() => panel.locator('.chlab-MigrationHistory-details pre').first().innerText(), WAIT).toContain('email: { rename: user_email }');

      // Re-run in a new notebook: a ClickHouse notebook whose cell holds the recorded spec, ready to run.
      await panel.locator('button', { hasText: 'Re-run in new notebook' }).click();
      await expect
        .poll(() => page.evaluate(() => {
          const current = (window as any).jupyterapp.shell.currentWidget;
          return current?.context?.path?.endsWith('.ipynb') && current.context.path !== 'live-migration.ipynb'
            ? { kernel: current.sessionContext.kernelPreference?.name ?? current.sessionContext.session?.kernel?.name, source: current.content.widgets[0]?.model.sharedModel.getSource() }
            : undefined;
        }), WAIT)
        .toEqual({ kernel: 'clickhouse', source: expect.stringMatching(/^%%migrate run --rerun\n/) });
      const rerun: string = await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.widgets[0].model.sharedModel.getSource());
      expect(rerun).toContain(`source: ${PG_SCHEMA}.events`);
      expect(rerun).toContain('email: { rename: user_email }');
      expect(rerun).toContain('legacy: { skip: true }');
      expect(rerun).toContain('batch_size: 20000');

      // `%%migrate history` in that notebook lists the run too.
      await expect.poll(() => page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status), WAIT).toBe('idle');
      await runNewCell(1, '%%migrate history 5');
      const history = page.locator('.jp-NotebookPanel:visible .chlab-MigrationHistoryRenderer');
      await expect.poll(() => history.locator('tbody tr').first().innerText().catch(() => ''), WAIT).toMatch(new RegExp(`${PG_SCHEMA}\\.events\\s+default\\.${TARGET}\\s+completed\\s+200,000`));
    });

    it('stops a running migration from its Stop button; a resume then loads every row exactly once', async () => {
      const stoppedTarget = `${TARGET}_stopped`;
      await runNewCell(
        2,
        `%%migrate run\nsource: ${PG_SCHEMA}.events\ntarget: ${stoppedTarget}\n${SLOW_RUN}`,
        false,
      );
      const stop = page.locator('.jp-NotebookPanel:visible .jp-Cell').nth(2).locator('.chlab-MigrationProgress-stop');
      await expect.poll(async () => Number((await migrationView(page, 2)).progress?.processed || 0), WAIT).toBeGreaterThan(0);
      expect(await stop.isVisible()).toBe(true);
      expect(await stop.getAttribute('title')).toMatch(/^Interrupt the kernel: .* Resume later with %%migrate resume [0-9a-f-]{36}$/);
      await stop.click();
      await expect.poll(async () => (await migrationView(page, 2)).errors.join('\n'), WAIT).toMatch(/^Interrupted: migration stopped; resume with %%migrate resume [0-9a-f-]{36}$/);
      const stopped = await migrationView(page, 2);
      expect(stopped.summary?.status).toBe('failed');
      expect(stopped.progress?.status).toBe('failed');
      expect(await stop.isVisible()).toBe(false);
      const id = /%%migrate resume ([0-9a-f-]{36})/.exec(stopped.errors.join('\n'))![1]!;
      const loaded = async () => Number((await app.chlab.engine.json<{ n: string }>(`SELECT count() AS n FROM ${stoppedTarget}`))[0]!.n);
      expect(await loaded()).toBeLessThan(SOURCE_ROWS);

      await expect.poll(() => page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status), WAIT).toBe('idle');
      await runNewCell(3, `%%migrate resume ${id}`);
      await expect.poll(async () => (await migrationView(page, 3)).summary?.status ?? (await migrationView(page, 3)).errors.join('\n'), { timeout: 120_000, interval: 200 }).toBe('completed');
      const resumed = await migrationView(page, 3);
      expect(resumed.summary!.text).toMatch(/Validation passed/);
      expect(await loaded()).toBe(SOURCE_ROWS);
      const [distinct] = await app.chlab.engine.json<{ n: string }>(`SELECT uniqExact(id) AS n FROM ${stoppedTarget}`);
      expect(Number(distinct!.n)).toBe(SOURCE_ROWS);
    }, 180_000);

    it('stops a run started over REST from the history panel, then resumes it from there into the notebook', async () => {
      const target = `${TARGET}_panel`;
      const response = await fetch(`${base}/api/migration/execute`, {
        method: 'POST',
        headers: { Authorization: `token ${TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ spec: `source: ${PG_SCHEMA}.events\ntarget: ${target}\n${SLOW_RUN}` }),
      });
      expect(response.status).toBe(202);
      const { migration_id: id } = (await response.json()) as { migration_id: string };
      await command('chlab:migration-history');
      const panel = page.locator('.chlab-MigrationHistory');
      await panel.locator('button', { hasText: 'Refresh' }).click();
      const row = panel.locator(`tbody tr[data-id="${id}"]`);
      await row.waitFor(WAIT);
      // (a record selected before shows long details: the list keeps its height)
      expect((await panel.locator('.chlab-MigrationHistory-scroller').boundingBox())!.height).toBeGreaterThan(80);
      await row.click();
      const details = panel.locator('.chlab-MigrationHistory-details');
      await panel.locator('.chlab-MigrationHistory-stop').click();
      await expect.poll(() => details.innerText(), { timeout: 60_000, interval: 200 }).toContain(`interrupted: resume with %%migrate resume ${id}`);
      expect(await panel.locator('.chlab-MigrationHistory-stop').count()).toBe(0);
      const loaded = async () => Number((await app.chlab.engine.json<{ n: string }>(`SELECT count() AS n FROM ${target}`))[0]!.n);
      expect(await loaded()).toBeLessThan(SOURCE_ROWS);

      await panel.locator('.chlab-MigrationHistory-resume').click();
      const resumeCell = () =>
        page.evaluate((source) => {
          const current = (window as any).jupyterapp.shell.currentWidget;
          return current?.content?.widgets?.findIndex((c: any) => c.model.sharedModel.getSource() === source) ?? -1;
        }, `%%migrate resume ${id}`);
      await expect.poll(resumeCell, WAIT).toBeGreaterThanOrEqual(0);
      const index = await resumeCell();
      await page.evaluate(async (index) => {
        const { jupyterapp } = window as any;
        jupyterapp.shell.currentWidget.content.activeCellIndex = index;
        await jupyterapp.commands.execute('notebook:run-cell');
      }, index);
      await expect.poll(async () => (await migrationView(page, index)).summary?.status ?? (await migrationView(page, index)).errors.join('\n'), { timeout: 120_000, interval: 200 }).toBe('completed');
      expect(await loaded()).toBe(SOURCE_ROWS);
      const [distinct] = await app.chlab.engine.json<{ n: string }>(`SELECT uniqExact(id) AS n FROM ${target}`);
      expect(Number(distinct!.n)).toBe(SOURCE_ROWS);

      await command('chlab:migration-history');
      await panel.locator('button', { hasText: 'Refresh' }).click();
      await expect.poll(() => panel.locator(`tbody tr[data-id="${id}"]`).innerText(), WAIT).toMatch(/completed\s+200,000/);

      // A record left running by a server that was killed mid-run: Stop says it is not in progress here, and offers Resume.
      const orphan = randomUUID();
      await new MigrationHistory(app.chlab.engine).insert({
        id: orphan, source: 'default', destination: `default.${target}_orphan`, source_table: `${PG_SCHEMA}.events`, deskripsi: 'left running by a stopped server',
        tabel_fields: ['id'], field_mappings: '[]', status: 'running', created_by: 'analyst', metadata: '{}', total_records: SOURCE_ROWS, spec_key: orphan, started_at: new Date(),
      });
      await panel.locator('button', { hasText: 'Refresh' }).click();
      await panel.locator(`tbody tr[data-id="${orphan}"]`).click();
      await panel.locator('.chlab-MigrationHistory-stop').click();
      await expect.poll(() => details.innerText(), WAIT).toContain('This run is not in progress on this server');
      expect(await panel.locator('.chlab-MigrationHistory-resume').count()).toBe(1);
      await page.evaluate(() => {
        const { shell } = (window as any).jupyterapp;
        for (const widget of [...shell.widgets('main')]) if (widget.id === 'chlab-migration-history-panel') widget.close();
      });
    }, 180_000);
  });

  it('logs no errors', () => {
    const unexpected = tab.console.filter((line) => /^(error|warning): /.test(line)).filter((line) => !BENIGN.some((re) => re.test(line.replace(/^(error|warning): /, ''))));
    expect(unexpected).toEqual([]);
    expect(tab.blocked).toEqual([]);
  });
});
