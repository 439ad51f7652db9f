// A shared workspace in a real browser (headless Chromium): a password user logs in on /login, JupyterLab opens
// on the session cookie (no token in the page), a new ClickHouse notebook runs a SELECT, and a CREATE TABLE is
// refused by ClickHouse because the user is an analyst (allow_ddl = 0). The audit log then holds the login and both
// statements, and is refused to the analyst.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MigrationHistory } from '../../kernel-proxy/src/migration/history.js';
import { buildServer } from '../../kernel-proxy/src/server.js';
import { hashPassword, newToken, tokenHash } from '../../kernel-proxy/src/access/password.js';
import { silentLogger, testConfig } from '../../kernel-proxy/test/support/engine.js';
import { launchBrowser, type TestBrowser, browserSkipReason } from '../support/browser.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BUILD = path.join(ROOT, 'extension', 'app', 'build');
const WAIT = { timeout: 90_000, interval: 200 };
const PASSWORD = 'viewer password 123';
const ADMIN_TOKEN = newToken();
const ADMIN_PASSWORD = 'admin password 456';
/** A failed migration in the shared history: Resume is offered to admins only. */
const FAILED_RUN = '0f0f0f0f-1111-4222-8333-444444444444';

const skipReason = browserSkipReason(BUILD);

let app: FastifyInstance;
let browser: TestBrowser;
let base = '';

beforeAll(async () => {
  if (skipReason) return;
  const config = testConfig({ CHLAB_S3_DEMO: '0', CHLAB_DEMO_POSTGRES: '0', CHLAB_STATIC_DIR: BUILD });
  const usersFile = path.join(config.dataDir, 'users.json');
  writeFileSync(
    usersFile,
    JSON.stringify({
      users: [
        { name: 'vera', role: 'analyst', password_hash: await hashPassword(PASSWORD) },
        { name: 'dora', role: 'admin', token_sha256: tokenHash(ADMIN_TOKEN), password_hash: await hashPassword(ADMIN_PASSWORD) },
      ],
    }),
  );
  ({ app } = await buildServer({ config: { ...config, usersFile }, logger: silentLogger }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  browser = await launchBrowser({ viewport: { width: 1280, height: 800 } });
  await new MigrationHistory(app.chlab.engine).insert({
    id: FAILED_RUN, source: 'default', destination: 'default.orders', source_table: 'public.orders', deskripsi: 'nightly orders', tabel_fields: ['id'],
    field_mappings: '[]', status: 'failed', created_by: 'dora', metadata: '{}', total_records: 10, spec_key: FAILED_RUN, started_at: new Date(),
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

it.skipIf(!!skipReason)('an analyst logs in with a password, runs a SELECT, and ClickHouse refuses their DDL', async () => {
  const { page } = await browser.newPage(`${base}/lab`);
  await page.waitForURL(/\/login\?next=/, { timeout: 30_000 });
  await page.fill('input[name="username"]', 'vera');
  await page.fill('input[name="password"]', 'not it');
  await page.click('button[type="submit"]');
  await expect.poll(() => page.locator('.error').textContent(), WAIT).toBe('Wrong user name or password.');
  await page.fill('input[name="username"]', 'vera');
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('button[type="submit"]');
  await page.waitForURL(/\/lab/, { timeout: 30_000 });
  const card = page.locator('.jp-LauncherCard', { hasText: 'New ClickHouse notebook' });
  await card.waitFor({ timeout: 90_000 });
  expect(await page.content()).not.toContain(ADMIN_TOKEN);
  await card.click();
  // The notebook is ready when its kernel is idle; cells are then filled and run through JupyterLab's commands.
  await expect
    .poll(() => page.evaluate(() => (window as any).jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel?.status ?? ''), WAIT)
    .toBe('idle');
  const runCell = async (code: string) => {
    await page.evaluate(async (source) => {
      const app = (window as any).jupyterapp;
      const notebook = app.shell.currentWidget.content;
      notebook.activeCellIndex = notebook.widgets.length - 1;
      notebook.activeCell.model.sharedModel.setSource(source);
      await app.commands.execute('notebook:run-cell-and-insert-below');
    }, code);
  };
  await runCell('SELECT 40 + 2 AS answer');
  await expect.poll(() => page.locator('.chlab-ArrowResultRenderer .chlab-Grid-cell').first().textContent().catch(() => ''), WAIT).toBe('42');
  await runCell('CREATE TABLE vera_t (x UInt8) ENGINE = Memory');
  const error = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').first();
  await expect.poll(() => error.textContent().catch(() => ''), WAIT).toMatch(/Code: 392.*DDL queries are prohibited/);

  const audit = await fetch(`${base}/api/audit?user=vera&limit=50`, { headers: { authorization: `token ${ADMIN_TOKEN}` } });
  const events = ((await audit.json()) as { events: { action: string; target: string; outcome: string }[] }).events;
  expect(events).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ action: 'login', outcome: 'ok' }),
      expect.objectContaining({ action: 'query', target: 'SELECT 40 + 2 AS answer', outcome: 'ok' }),
      expect.objectContaining({ action: 'ddl', target: 'CREATE TABLE vera_t (x UInt8) ENGINE = Memory', outcome: 'denied' }),
    ]),
  );
  const failed = await fetch(`${base}/api/audit?action=login_failed`, { headers: { authorization: `token ${ADMIN_TOKEN}` } });
  expect(((await failed.json()) as { events: { user: string }[] }).events.map((e) => e.user)).toContain('vera');
  // An analyst is not an admin: the audit log is refused to their session.
  const viewerAudit = await page.evaluate(async () => (await fetch('/api/audit')).status);
  expect(viewerAudit).toBe(403);
  // Stopping and resuming migrations is an admin's: the analyst's history panel offers Re-run, not Resume.
  await page.evaluate(async () => {
    await (window as any).jupyterapp.commands.execute('chlab:migration-history');
  });
  const history = page.locator('.chlab-MigrationHistory[data-may-run="false"]');
  await history.locator(`tbody tr[data-id="${FAILED_RUN}"]`).click({ timeout: 30_000 });
  await history.locator('.chlab-MigrationHistory-rerunNew').waitFor({ timeout: 30_000 });
  expect(await history.locator('.chlab-MigrationHistory-resume').count()).toBe(0);
}, 240_000);

it.skipIf(!!skipReason)('an admin opens the audit log from the launcher and filters it', async () => {
  const tab = await browser.newPage(`${base}/login`);
  const { page } = tab;
  await page.fill('input[name="username"]', 'dora');
  await page.fill('input[name="password"]', ADMIN_PASSWORD);
  await page.click('button[type="submit"]');
  await page.waitForURL(/\/lab/, { timeout: 30_000 });
  const card = page.locator('.jp-LauncherCard', { hasText: 'Audit log' });
  await card.waitFor({ timeout: 90_000 });
  await card.click();
  const panel = page.locator('.chlab-AuditLog');
  await expect.poll(() => panel.locator('.chlab-AuditLog-status').textContent(), WAIT).toMatch(/^[\d,]+ of [\d,]+ events$/);
  await panel.locator('.chlab-AuditLog-user').fill('vera');
  await panel.locator('.chlab-AuditLog-action').selectOption('ddl');
  await expect
    .poll(() => panel.locator('.chlab-AuditLog-row').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent))), WAIT)
    .toEqual([[expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/), 'vera', 'analyst', '127.0.0.1', 'ddl', 'CREATE TABLE vera_t (x UInt8) ENGINE = Memory', 'denied', expect.stringContaining('Code: 392')]]);
  await page.screenshot({ path: path.join(ROOT, 'docs', 'screenshots', 'audit-log.png') });
  // An admin may resume a failed migration from the history panel.
  await page.evaluate(async () => {
    await (window as any).jupyterapp.commands.execute('chlab:migration-history');
  });
  const history = page.locator('.chlab-MigrationHistory[data-may-run="true"]');
  await history.locator(`tbody tr[data-id="${FAILED_RUN}"]`).click({ timeout: 30_000 });
  await history.locator('.chlab-MigrationHistory-resume').waitFor({ timeout: 30_000 });
  expect(tab.errors).toEqual([]);
}, 240_000);
