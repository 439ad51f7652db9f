// The browser's DDL preview and column resolution must match what the kernel builds from the same cell:
// the plan of an unedited spec (what the widget receives) + the overrides the user adds in the widget
// → the widget's DDL and columns == the kernel's plan of the edited spec.
import { describe, expect, it } from 'vitest';

import { buildDdl as kernelDdl, planColumns, resolveOrderBy } from '../../kernel-proxy/src/migration/plan.js';
import { resolveSpec, type SpecDoc } from '../../kernel-proxy/src/migration/spec.js';
import type { SourceColumn, SourceTable } from '../../kernel-proxy/src/postgres/analyze.js';
import { MigrationEditModel } from '../src/migration/model.js';
import { readPlan } from '../src/migration/types.js';

function column(name: string, type: string, base: string, extra: Partial<SourceColumn> = {}, typmod = -1, dims = 0): SourceColumn {
  return {
    name,
    position: 0,
    type,
    udt_name: dims ? `_${base}` : base,
    nullable: true,
    primary_key: false,
    default: null,
    generated: false,
    comment: null,
    array_dims: dims,
    resolved: { base, baseSchema: 'pg_catalog', kind: 'base', typmod, dims, domains: [] },
    ...extra,
  };
}

const SOURCE: SourceTable = {
  schema: 'public',
  table: 'orders',
  relkind: 'r',
  columns: [
    column('tenant', 'integer', 'int4', { nullable: false, primary_key: true }),
    column('id', 'bigint', 'int8', { nullable: false, primary_key: true }),
    column('email', 'character varying(200)', 'varchar'),
    column('amount', 'numeric(12,2)', 'numeric', {}, ((12 << 16) | 2) + 4),
    column('created_at', 'timestamp with time zone', 'timestamptz', { nullable: false }),
    column('tags', 'text[]', 'text', {}, -1, 1),
    column('Order Note', 'text', 'text'),
  ],
  primary_key: ['tenant', 'id'],
  row_count: 1000,
  row_count_exact: true,
  estimated_size_mb: 1,
  relpages: 10,
  block_size: 8192,
  server_version: '15',
};

/** What the kernel does for a spec: its plan as the bundle carries it (JSON), and its DDL. */
function kernelPlan(doc: SpecDoc) {
  const resolved = resolveSpec(doc);
  const mappings = planColumns(SOURCE, resolved, {});
  const { orderBy } = resolveOrderBy(mappings, resolved, SOURCE);
  const target = { database: resolved.target.database ?? 'default', table: resolved.target.table };
  const ddl = kernelDdl(target, mappings, orderBy, resolved.options.partition_by);
  return JSON.parse(
    JSON.stringify({
      spec: doc,
      source: { ...SOURCE, columns: SOURCE.columns.map(({ resolved: _, ...rest }) => rest) },
      target: { ...target, qualified: `${target.database}.${target.table}`, exists: false, rows: 0 },
      mappings,
      order_by: orderBy,
      ddl,
      warnings: [],
    }),
  );
}

const BASE: SpecDoc = { source: 'public.orders', target: 'analytics.orders' };

const EDITS: { name: string; columns?: SpecDoc['columns']; options?: SpecDoc['options']; target?: string }[] = [
  { name: 'nothing' },
  { name: 'a rename', columns: { email: { rename: 'user_email' } } },
  { name: 'a renamed key column', columns: { id: { rename: 'order_id' } } },
  { name: 'a skipped column and a skipped key column', columns: { tags: { skip: true }, tenant: { skip: true } } },
  { name: 'a retype', columns: { amount: { type: 'Decimal(18, 4)' } } },
  { name: 'a retype to Nullable', columns: { created_at: { type: 'Nullable(DateTime64(3))' } } },
  { name: 'NULL handling', columns: { email: { nulls: 'default' }, amount: { nulls: 'fail' } } },
  { name: 'a retype to LowCardinality', columns: { email: { type: 'LowCardinality(String)' } } },
  { name: 'a transform', columns: { email: { transform: 'lower(email)' } } },
  { name: 'ORDER BY and PARTITION BY', options: { order_by: ['created_at', 'id'], partition_by: 'toYYYYMM(created_at)' } },
  { name: 'one ORDER BY column', options: { order_by: ['id'] } },
  { name: 'another target', target: 'other.events_copy' },
];

describe('the DDL preview matches the kernel', () => {
  const model = new MigrationEditModel(readPlan(kernelPlan(BASE)));

  it.each(EDITS)('$name', ({ columns, options, target }) => {
    const edited: SpecDoc = { ...BASE, ...(target ? { target } : {}), ...(columns ? { columns } : {}), ...(options ? { options } : {}) };
    const kernel = kernelPlan(edited);
    const spec = edited as unknown as Record<string, unknown>;
    const overrides = (columns ?? {}) as Record<string, Record<string, unknown>>;
    expect(model.ddl(spec, overrides)).toBe(kernel.ddl);
    const widget = model.columns(overrides);
    expect(widget.map((c) => ({ field: c.destinationField, type: c.columnType, nulls: c.nulls, skip: c.skip }))).toEqual(
      kernel.mappings.map((m: Record<string, unknown>) => ({ field: m.destination_field, type: m.destination_type, nulls: m.nulls, skip: m.skip })),
    );
  });

  it('puts an unqualified target in the session database', () => {
    const unqualified: SpecDoc = { source: 'public.orders', target: 'orders' };
    const fromUnqualified = new MigrationEditModel(readPlan(kernelPlan(unqualified)));
    const moved = { ...unqualified, target: 'events_copy' };
    expect(fromUnqualified.ddl(moved as unknown as Record<string, unknown>, {})).toBe(kernelPlan(moved).ddl);
    // From a qualified target the session database is not known: the name stays unqualified (same table).
    expect(model.ddl(moved as unknown as Record<string, unknown>, {})).toMatch(/^CREATE TABLE IF NOT EXISTS `events_copy`\n/);
  });

  it('writes no override for what the kernel suggests anyway', () => {
    const analyzed = kernelPlan(BASE);
    for (const mapping of analyzed.mappings as Record<string, unknown>[]) {
      const field = mapping.source_field as string;
      expect(model.overrideFor(field, 'rename', mapping.destination_field as string), field).toBeUndefined();
      expect(model.overrideFor(field, 'type', mapping.base_type as string), field).toBeUndefined();
      expect(model.overrideFor(field, 'nulls', mapping.nulls as string), field).toBeUndefined();
      expect(model.overrideFor(field, 'skip', false), field).toBeUndefined();
      expect(model.overrideFor(field, 'transform', ''), field).toBeUndefined();
    }
  });
});
