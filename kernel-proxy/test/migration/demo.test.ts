// The zero-setup demo source: PGlite served on a loopback port, its sample tables analyzed and migrated through
// the same engine (one backend: parallelism 1, no exported snapshot). notebooks/migration-demo.ipynb itself runs
// headless in kernel-proxy/test/runner/cli.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { testConfig } from '../support/engine.js';
import { createEngine } from '../../src/clickhouse/create-engine.js';
import { createMigrationService } from '../../src/migration/setup.js';
import { planBundle } from '../../src/migration/service.js';

const config = testConfig();
const engine = createEngine(config);
const service = createMigrationService(config, engine);

afterAll(async () => {
  await service.close();
  await engine.close();
});

describe('embedded demo PostgreSQL', () => {
  it('serves sample tables that analyze and migrate exactly', async () => {
    const plan = planBundle(await service.plan('source: public.customers\ntarget: demo_customers\noptions:\n  parallelism: 4\n  unbounded_numeric: Decimal(20, 3)\n'));
    expect(plan.source).toMatchObject({ description: 'embedded demo PostgreSQL (PGlite)', row_count: 5000, row_count_exact: true, primary_key: ['id'] });
    const types = Object.fromEntries(plan.mappings.map((m) => [m.source_field, m.destination_type]));
    expect(types).toMatchObject({ tier: "Enum8('free' = 1, 'pro' = 2, 'enterprise' = 3)", balance: 'Decimal(12, 2)', score: 'Nullable(Decimal(20, 3))', country: 'Nullable(String)', tags: 'Array(String)', avatar: 'Nullable(String)' });
    expect(plan.warnings.join(' ')).toMatch(/single backend: copying with parallelism 1/);
    expect(plan.value_check!.problems).toEqual([]);

    const { run } = await service.start('source: public.page_views\ntarget: demo_page_views\noptions:\n  batch_size: 5000\n  order_by: [viewed_at]\n', { rerun: true });
    const summary = await run.done;
    expect(summary.error_message).toBeNull();
    expect(summary.validation).toMatchObject({ ok: true, row_count: { source: 20000, destination: 20000 } });
    const ranges = await service.history.ranges(run.id);
    expect(ranges.plan.kind).toBe('ctid');
    expect(ranges.done.size).toBe(ranges.plan.ranges.length);
  }, 180_000);
});
