// %%migrate through the real kernel: analyze → plan bundle; run → plan, progress updated in place, summary;
// already-completed detection; the widget round trip (edit → cell source → re-run); interrupt → resume; errors.
import { soleUser } from '../../src/access/users.js';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { silentLogger, testQueryService } from '../support/engine.js';
import { ClickHouseKernelManager } from '../../src/kernel/manager.js';
import { IncomingMessageSchema, type JupyterMessage } from '../../src/kernel/messages.js';
import { MigrateMagic } from '../../src/migration/magic.js';
import { PLAN_MIME, PROGRESS_MIME, SUMMARY_MIME, HISTORY_MIME } from '../../src/migration/render.js';
import { updateSpecSource } from '../../src/migration/spec.js';
import { migrationService, useTestSchema } from './support.js';

const { config, engine, queries } = testQueryService();
const service = migrationService(engine);
const manager = new ClickHouseKernelManager(queries, silentLogger, soleUser(), [new MigrateMagic(service)]);
let admin: pg.Client;
let schema: string;

useTestSchema('mmagic', (client, name) => ((admin = client), (schema = name)));

beforeAll(async () => {
  await admin.query(`
    SET search_path = ${schema};
    CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(10, 2) NOT NULL, placed timestamptz NOT NULL, legacy text);
    INSERT INTO orders SELECT g, 'C' || (g % 97), (g % 1000) / 10.0, timestamptz '2024-01-01 00:00:00+00' + (g || ' minutes')::interval, 'old'
      FROM generate_series(1, 120000) g;
    ANALYZE orders;
  `);
}, 60_000);

afterAll(async () => {
  await service.close();
  await manager.shutdownAll?.();
  await engine.close();
});

async function execute(code: string, options: { interruptWhen?: (m: JupyterMessage) => boolean; timeoutMs?: number } = {}) {
  const model = await manager.start();
  const kernel = manager.kernel(model.id)!;
  const received: JupyterMessage[] = [];
  let interrupted = false;
  const client = {
    id: randomUUID(),
    send: (m: JupyterMessage) => {
      received.push(m);
      if (!interrupted && options.interruptWhen?.(m)) {
        interrupted = true;
        void kernel.interrupt();
      }
    },
  };
  kernel.connect(client);
  kernel.handle(IncomingMessageSchema.parse({ channel: 'shell', header: { msg_id: randomUUID(), msg_type: 'execute_request' }, content: { code } }), client);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!received.some((m) => m.header.msg_type === 'execute_reply')) {
    if (Date.now() > deadline) throw new Error('no execute_reply');
    await new Promise((r) => setTimeout(r, 20));
  }
  const reply = received.find((m) => m.header.msg_type === 'execute_reply')!;
  const data = (type: string, mime: string) => received.filter((m) => m.header.msg_type === type && (m.content.data as Record<string, unknown> | undefined)?.[mime]).map((m) => m);
  return { received, reply: reply.content, data };
}

const specBody = () => `source: ${schema}.orders  # the orders table
target: magic_orders
options:
  batch_size: 5000
columns:
  legacy: { skip: true }
`;

describe('%%migrate', () => {
  it('analyzes: shows the plan bundle with analysis, mapping, DDL and value check; moves no data', async () => {
    const { reply, data } = await execute(`%%migrate\n${specBody()}`);
    expect(reply.status).toBe('ok');
    const [plan] = data('display_data', PLAN_MIME);
    const bundle = plan!.content.data as Record<string, any>;
    expect(bundle['text/plain']).toContain('magic_orders');
    expect(bundle['text/html']).toContain('<table>');
    const json = bundle[PLAN_MIME];
    expect(json.source).toMatchObject({ schema, table: 'orders', row_count: 120000, row_count_exact: true, primary_key: ['id'] });
    expect(json.mappings.find((m: { source_field: string }) => m.source_field === 'legacy')).toMatchObject({ skip: true });
    expect(json.ddl).toContain('ORDER BY `id`');
    expect(json.value_check).toMatchObject({ checked_rows: 120000, problems: [] });
    expect(json.spec).toMatchObject({ source: `${schema}.orders`, target: 'magic_orders' });
    expect(await engine.json("SELECT name FROM system.tables WHERE name = 'magic_orders'")).toEqual([]);
  });

  it('runs: plan, a progress bar updated in place, then the summary with validation', async () => {
    const { reply, received, data } = await execute(`%%migrate run\n${specBody()}`);
    expect(reply.status, JSON.stringify(reply)).toBe('ok');
    // A run does not count before copying (the copy counts): the estimate is shown as one, without a warning.
    const runPlan = (data('display_data', PLAN_MIME)[0]!.content.data as Record<string, any>)[PLAN_MIME];
    expect(runPlan.source.row_count_exact).toBe(false);
    expect(runPlan.warnings.filter((w: string) => /estimate/.test(w))).toEqual([]);
    const [progress] = data('display_data', PROGRESS_MIME);
    const displayId = (progress!.content.transient as { display_id: string }).display_id;
    expect(displayId).toMatch(/^chlab-migration-/);
    const updates = data('update_display_data', PROGRESS_MIME);
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.every((u) => (u.content.transient as { display_id: string }).display_id === displayId)).toBe(true);
    const last = (updates[updates.length - 1]!.content.data as Record<string, any>)[PROGRESS_MIME];
    expect(last).toMatchObject({ status: 'completed', processed_records: 120000, total_records: 120000, percentage: 100 });
    expect(last).toHaveProperty('rows_per_second');
    expect(last).toHaveProperty('eta_seconds');
    expect(last).toHaveProperty('started_at');
    const [summary] = data('display_data', SUMMARY_MIME);
    const s = (summary!.content.data as Record<string, any>)[SUMMARY_MIME];
    expect(s).toMatchObject({ status: 'completed', records_migrated: 120000, destination: 'default.magic_orders', error_message: null, validation: { ok: true, row_count: { source: 120000, destination: 120000 } } });
    expect(s.elapsed_ms).toBeGreaterThan(0);
    expect(s.duration_seconds).toBe(Math.round(s.elapsed_ms / 1000));
    const plain = (summary!.content.data as Record<string, string>)['text/plain']!;
    expect(plain).toContain(`120,000 rows → default.magic_orders in ${(s.elapsed_ms / 1000).toFixed(1)} s`);
    expect(s.validation.columns.find((c: { column: string }) => c.column === 'amount').checks.map((k: { name: string }) => k.name)).toEqual(['non_null', 'sum', 'min', 'max']);
    const order = received.map((m) => m.header.msg_type).filter((t) => t === 'display_data' || t === 'update_display_data');
    expect(order[0]).toBe('display_data');
  });

  it('does not run a completed migration twice unless --rerun', async () => {
    const { reply, received } = await execute(`%%migrate run\n${specBody()}`);
    expect(reply.status).toBe('ok');
    const text = received.filter((m) => m.header.msg_type === 'stream').map((m) => m.content.text).join('');
    expect(text).toMatch(/already completed .*--rerun/);
  });

  it('round-trips widget edits: edit → cell source → re-run', async () => {
    const cell = `%%migrate run --rerun\n${specBody()}`;
    const edited = updateSpecSource(cell, [
      { column: 'customer', set: { rename: 'customer_code', type: 'LowCardinality(String)' } },
      { column: 'amount', set: { transform: 'amount * 100', type: 'Decimal(12, 2)' } },
      { option: 'on_existing_rows', value: 'replace' },
    ]);
    expect(edited).toContain('# the orders table');
    const { reply, data } = await execute(edited);
    expect(reply.status, JSON.stringify(reply)).toBe('ok');
    const plan = (data('display_data', PLAN_MIME)[0]!.content.data as Record<string, any>)[PLAN_MIME];
    expect(plan.mappings.find((m: { source_field: string }) => m.source_field === 'customer')).toMatchObject({ destination_field: 'customer_code', destination_type: 'LowCardinality(String)' });
    const s = (data('display_data', SUMMARY_MIME)[0]!.content.data as Record<string, any>)[SUMMARY_MIME];
    expect(s).toMatchObject({ status: 'completed', records_migrated: 120000 });
    const [row] = await engine.json<{ c: string; a: string; t: string }>("SELECT customer_code AS c, toString(amount) AS a, toTypeName(customer_code) AS t FROM magic_orders WHERE id = 5");
    expect(row).toEqual({ c: 'C5', a: '50', t: 'LowCardinality(String)' });
  });

  it('is interrupted through the kernel and resumed by %%migrate resume', async () => {
    const spec = `source: ${schema}.orders\ntarget: magic_interrupted\noptions:\n  batch_size: 1000\n  parallelism: 1\n`;
    // Interrupt at the first in-place update (value check or copy): deterministic whatever the machine's speed.
    const { reply, data } = await execute(`%%migrate run\n${spec}`, { interruptWhen: (m) => m.header.msg_type === 'update_display_data' });
    expect(reply, JSON.stringify(reply)).toMatchObject({ status: 'error', ename: 'Interrupted' });
    const s = (data('display_data', SUMMARY_MIME)[0]!.content.data as Record<string, any>)[SUMMARY_MIME];
    expect((reply as { evalue?: string }).evalue).toBe(`migration stopped; resume with %%migrate resume ${s.migration_id}`);
    expect(s.status).toBe('failed');
    expect(s.error_message).toMatch(/interrupted: resume with %%migrate resume/);
    const resumed = await execute(`%%migrate resume ${s.migration_id}`);
    expect(resumed.reply.status, JSON.stringify(resumed.reply)).toBe('ok');
    const final = (resumed.data('display_data', SUMMARY_MIME)[0]!.content.data as Record<string, any>)[SUMMARY_MIME];
    expect(final).toMatchObject({ status: 'completed', records_migrated: 120000, validation: { ok: true } });
    const [count] = await engine.json<{ n: string; d: string }>('SELECT toString(count()) AS n, toString(uniqExact(id)) AS d FROM magic_interrupted');
    expect(count).toEqual({ n: '120000', d: '120000' });
  });

  it('lists history and reports errors without a stack', async () => {
    const history = await execute('%%migrate history 5');
    const h = (history.data('display_data', HISTORY_MIME)[0]!.content.data as Record<string, any>)[HISTORY_MIME];
    expect(h.total).toBeGreaterThanOrEqual(3);
    const unknown = await execute(`%%migrate\nsource: ${schema}.nope`);
    expect(unknown.reply).toMatchObject({ status: 'error', ename: 'MigrationSpecError' });
    expect(unknown.reply.evalue).toMatch(/source: table "mmagic_\w+"\."nope" does not exist/);
    const bad = await execute('%%migrate\nsource: t\noptions: { parallelism: 99 }');
    expect(bad.reply).toMatchObject({ status: 'error', ename: 'MigrationSpecError' });
    expect(bad.reply.evalue).toMatch(/options\.parallelism/);
    const action = await execute('%%migrate launch\nsource: t');
    expect(action.reply.evalue).toMatch(/unknown action "launch"/);
    expect(JSON.stringify(action.reply.traceback ?? [])).not.toMatch(/at .*\.ts:\d+/);
  });
});
