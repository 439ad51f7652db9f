// The %%migrate cell source round trip (widget edit → cell source → parsed back) and the DDL preview.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { buildDdl, columnType, defaultDestinationName, MigrationEditModel } from '../src/migration/model.js';
import {
  readOverrides,
  readSpec,
  runMagicLine,
  setColumnOverride,
  setOption,
  splitCellSource,
  SpecSyntaxError,
  withRunMagic,
  type OverrideKey,
  type OverrideValue
} from '../src/migration/spec.js';
import { ddlClause, readPlan, readProgress, readSummary, splitTopLevel } from '../src/migration/types.js';

const CELL = `%%migrate
# Nightly copy of the events table
source: public.events          # schema.table in PostgreSQL
target: analytics.events
description: Nightly events copy
options:
  create_table: true
  batch_size: 100000   # rows per batch
columns:
  legacy: { skip: true }   # not needed any more`;

/** A plan bundle as the kernel sends it after analyzing CELL. */
function planBundle(spec: Record<string, unknown> = parse(CELL.split('\n').slice(1).join('\n'))) {
  return {
    spec,
    source: {
      schema: 'public',
      table: 'events',
      columns: [
        { name: 'id', type: 'bigint', nullable: false, primary_key: true },
        { name: 'email', type: 'character varying', nullable: true, primary_key: false },
        { name: 'amount', type: 'numeric', nullable: true, primary_key: false },
        { name: 'created_at', type: 'timestamp with time zone', nullable: false, primary_key: false },
        { name: 'legacy', type: 'text', nullable: true, primary_key: false }
      ],
      row_count: 200000,
      row_count_exact: false,
      estimated_size_mb: 12.5
    },
    mappings: [
      { source_field: 'id', source_type: 'bigint', destination_field: 'id', destination_type: 'Int64', suggested_type: 'Int64', transformation: null, nulls: 'fail', skip: false, warnings: [] },
      { source_field: 'email', source_type: 'character varying', destination_field: 'email', destination_type: 'Nullable(String)', suggested_type: 'String', transformation: null, nulls: 'nullable', skip: false, warnings: [] },
      {
        source_field: 'amount',
        source_type: 'numeric',
        destination_field: 'amount',
        destination_type: 'Nullable(Decimal(38, 10))',
        suggested_type: 'Decimal(38, 10)',
        transformation: null,
        nulls: 'nullable',
        skip: false,
        warnings: ['numeric without precision: Decimal(38, 10) chosen']
      },
      { source_field: 'created_at', source_type: 'timestamp with time zone', destination_field: 'created_at', destination_type: "DateTime64(6, 'UTC')", suggested_type: "DateTime64(6, 'UTC')", transformation: null, nulls: 'fail', skip: false, warnings: [] },
      { source_field: 'legacy', source_type: 'text', destination_field: 'legacy', destination_type: 'Nullable(String)', suggested_type: 'String', transformation: null, nulls: 'nullable', skip: true, warnings: [] }
    ],
    target: { database: 'analytics', table: 'events', qualified: 'analytics.events', exists: false, rows: 0 },
    order_by: ['id'],
    ddl: 'CREATE TABLE IF NOT EXISTS `analytics`.`events`\n(\n    `id` Int64\n)\nENGINE = MergeTree\nORDER BY `id`\nSETTINGS non_replicated_deduplication_window = 10000',
    warnings: ['row count is an estimate'],
    value_check: {
      checked_rows: 10000,
      scanned: true,
      problems: [{ column: 'amount', kind: 'numeric_overflow', description: 'does not fit', count: 2, examples: [{ row: { id: '7' }, value: '1e40' }, { row: { id: '8' }, value: null }] }],
      skipped: []
    }
  };
}

/** What the widget does for one edit: decide the override, write it into the source. */
function edit(model: MigrationEditModel, source: string, field: string, key: OverrideKey, value: OverrideValue): string {
  return setColumnOverride(source, field, key, model.overrideFor(field, key, value));
}

describe('the %%migrate cell source', () => {
  it('splits the magic line from the YAML and switches it to run', () => {
    expect(splitCellSource('SELECT 1')).toBeUndefined();
    const parts = splitCellSource('%%migrate run --rerun\nsource: a\n')!;
    expect(parts.magicLine).toBe('%%migrate run --rerun');
    expect(parts.args).toEqual(['run', '--rerun']);
    expect(parts.body).toBe('source: a\n');
    expect(runMagicLine('%%migrate')).toBe('%%migrate run');
    expect(runMagicLine('%%migrate run --rerun')).toBe('%%migrate run --rerun');
    expect(runMagicLine('%%migrate resume 1234')).toBe('%%migrate run');
    expect(withRunMagic(CELL)).toBe(CELL.replace('%%migrate\n', '%%migrate run\n'));
    expect(withRunMagic('%%migrate')).toBe('%%migrate run\n');
  });

  it('writes a rename as a minimal override and keeps comments, order and formatting', () => {
    const model = new MigrationEditModel(readPlan(planBundle()));
    const renamed = edit(model, CELL, 'email', 'rename', 'user_email');
    expect(renamed).toBe(`${CELL}\n  email: { rename: user_email }`);
    // Parsed back, only what differs from the suggestion is under columns:
    expect(readOverrides(readSpec(renamed))).toEqual({ legacy: { skip: true }, email: { rename: 'user_email' } });
    expect(renamed).toContain('# Nightly copy of the events table');
    expect(renamed).toContain('source: public.events          # schema.table in PostgreSQL');
    expect(renamed).toContain('batch_size: 100000   # rows per batch');
    expect(renamed).toContain('legacy: { skip: true }   # not needed any more');
    // Typing the suggested name again removes the override, and with it the entry.
    expect(edit(model, renamed, 'email', 'rename', 'email')).toBe(CELL);
    expect(edit(model, renamed, 'email', 'rename', '')).toBe(CELL);
  });

  it('adds keys to an existing entry and prunes empty entries and columns:', () => {
    const model = new MigrationEditModel(readPlan(planBundle()));
    let source = edit(model, CELL, 'email', 'rename', 'user_email');
    source = edit(model, source, 'email', 'transform', 'lower(email)');
    source = edit(model, source, 'amount', 'type', 'Decimal(12, 2)');
    source = edit(model, source, 'email', 'nulls', 'fail');
    expect(readOverrides(readSpec(source))).toEqual({
      legacy: { skip: true },
      email: { rename: 'user_email', transform: 'lower(email)', nulls: 'fail' },
      amount: { type: 'Decimal(12, 2)' }
    });
    // The comma in a type inside a flow map must be quoted to parse back.
    expect(source).toContain('amount: { type: "Decimal(12, 2)" }');
    // Keys are kept in the kernel's order: rename, type, transform, nulls, skip.
    source = edit(model, source, 'email', 'type', 'LowCardinality(String)');
    expect(source).toContain('email: { rename: user_email, type: LowCardinality(String), transform: lower(email), nulls: fail }');
    source = setColumnOverride(source, 'email', 'type', undefined);
    // Un-skipping legacy: not skipped is the suggestion, so the entry goes.
    source = edit(model, source, 'legacy', 'skip', false);
    expect(readOverrides(readSpec(source)).legacy).toBeUndefined();
    source = edit(model, source, 'legacy', 'skip', true);
    // Back to the suggestion everywhere: the override entries disappear.
    for (const key of ['rename', 'transform', 'nulls'] as const) {
      source = setColumnOverride(source, 'email', key, undefined);
    }
    source = edit(model, source, 'amount', 'type', 'Decimal(38,10)');
    source = setColumnOverride(source, 'legacy', 'skip', undefined);
    expect(source).not.toContain('columns:');
    expect(source.startsWith('%%migrate\n# Nightly copy of the events table\nsource: public.events')).toBe(true);
  });

  it('creates columns: in a spec that has none, and options for ORDER BY / PARTITION BY', () => {
    const cell = '%%migrate\nsource: public.events\ntarget: analytics.events\n';
    const bundle = planBundle(parse('source: public.events\ntarget: analytics.events'));
    bundle.mappings[4]!.skip = false;
    const model = new MigrationEditModel(readPlan(bundle));
    let source = edit(model, cell, 'legacy', 'skip', true);
    expect(source).toBe('%%migrate\nsource: public.events\ntarget: analytics.events\ncolumns:\n  legacy: { skip: true }\n');
    source = setOption(source, 'order_by', ['id', 'toDate(created_at)']);
    source = setOption(source, 'partition_by', 'toYYYYMM(created_at)');
    expect(readSpec(source).options).toEqual({ order_by: ['id', 'toDate(created_at)'], partition_by: 'toYYYYMM(created_at)' });
    expect(source).toContain('order_by: [ id, toDate(created_at) ]');
    source = setOption(setOption(source, 'order_by', undefined), 'partition_by', undefined);
    expect(source).not.toContain('options:');
    // Skipping the suggested way again (not skipped) removes the override.
    expect(edit(model, source, 'legacy', 'skip', false)).toBe('%%migrate\nsource: public.events\ntarget: analytics.events\n');
  });

  it('handles an empty spec, quoted field names and an empty columns: key', () => {
    expect(setColumnOverride('%%migrate', 'a b', 'rename', 'a_b')).toBe('%%migrate\ncolumns:\n  a b: { rename: a_b }');
    expect(setColumnOverride('%%migrate\ncolumns:\n', 'x: y', 'skip', true)).toBe('%%migrate\ncolumns:\n  "x: y": { skip: true }\n');
    expect(readOverrides(readSpec('%%migrate\ncolumns:\n  "x: y": { skip: true }\n'))).toEqual({ 'x: y': { skip: true } });
  });

  it('refuses to edit YAML that does not parse, saying why', () => {
    expect(() => setColumnOverride('%%migrate\nsource: [unclosed\n', 'a', 'skip', true)).toThrow(SpecSyntaxError);
    expect(() => readSpec('%%migrate\n- a list\n')).toThrow(/mapping/);
  });
});

describe('the mapping model', () => {
  it('resolves the columns from the analysis and the overrides now in the cell', () => {
    const model = new MigrationEditModel(readPlan(planBundle()));
    const columns = model.columns(readOverrides(readSpec(`${CELL}\n  email: { rename: user_email, nulls: default }\n  amount: { type: "Decimal(12, 2)" }`)));
    const byField = Object.fromEntries(columns.map(column => [column.sourceField, column]));
    expect(byField.email).toMatchObject({ destinationField: 'user_email', destinationType: 'String', nulls: 'default', columnType: 'String' });
    expect(byField.amount).toMatchObject({ destinationType: 'Decimal(12, 2)', nulls: 'nullable', columnType: 'Nullable(Decimal(12, 2))' });
    expect(byField.legacy.skip).toBe(true);
    expect(byField.id).toMatchObject({ primaryKey: true, columnType: 'Int64', nulls: 'fail' });
    expect(byField.amount.warnings).toEqual(['numeric without precision: Decimal(38, 10) chosen']);
  });

  it('derives the suggestion as the kernel does: names, suggested_type, NULLs kept where the type allows', () => {
    const model = new MigrationEditModel(readPlan(planBundle()));
    expect(model.overrideFor('legacy', 'skip', false)).toBeUndefined();
    expect(model.overrideFor('legacy', 'skip', true)).toBe(true);
    expect(model.overrideFor('amount', 'type', 'Decimal(38,10)')).toBeUndefined();
    expect(model.overrideFor('amount', 'type', 'Float64')).toBe('Float64');
    expect(model.overrideFor('email', 'transform', '')).toBeUndefined();
    expect(model.overrideFor('email', 'nulls', 'nullable')).toBeUndefined();
    expect(model.overrideFor('id', 'nulls', 'fail')).toBeUndefined();
    expect(model.overrideFor('id', 'nulls', 'default')).toBe('default');
    // An Array cannot be Nullable: with that type, fail is the default for a nullable column.
    const arrayType = { email: { type: 'Array(String)' } };
    expect(model.overrideFor('email', 'nulls', 'fail', arrayType)).toBeUndefined();
    expect(model.columns(arrayType).find(c => c.sourceField === 'email')).toMatchObject({ nulls: 'fail', columnType: 'Array(String)' });
    // Explicit suggestions from the kernel win.
    const bundle = planBundle();
    (bundle.mappings[1] as Record<string, unknown>).suggested = { destination_field: 'e_mail' };
    expect(new MigrationEditModel(readPlan(bundle)).overrideFor('email', 'rename', 'e_mail')).toBeUndefined();
  });

  it('names a column as the kernel does when the source name is not an identifier', () => {
    expect(defaultDestinationName('Order Date')).toBe('Order_Date');
    expect(defaultDestinationName('1st')).toBe('_1st');
    expect(defaultDestinationName('größe')).toBe('größe');
  });

  it('wraps Nullable only where ClickHouse allows it', () => {
    expect(columnType('String', 'nullable')).toBe('Nullable(String)');
    expect(columnType('String', 'default')).toBe('String');
    expect(columnType('Array(String)', 'nullable')).toBe('Array(String)');
    expect(columnType('LowCardinality(String)', 'nullable')).toBe('LowCardinality(Nullable(String))');
  });
});

describe('the DDL preview', () => {
  it('follows renames, skips, types, NULL handling, ORDER BY and PARTITION BY', () => {
    const model = new MigrationEditModel(readPlan(planBundle()));
    let source = edit(model, CELL, 'id', 'rename', 'event_id');
    source = edit(model, source, 'email', 'rename', 'user_email');
    source = edit(model, source, 'amount', 'type', 'Decimal(12, 2)');
    source = edit(model, source, 'created_at', 'skip', true);
    const spec = readSpec(source);
    expect(model.ddl(spec, readOverrides(spec))).toBe(
      [
        'CREATE TABLE IF NOT EXISTS `analytics`.`events`',
        '(',
        '    `event_id` Int64,',
        '    `user_email` Nullable(String),',
        '    `amount` Nullable(Decimal(12, 2))',
        ')',
        'ENGINE = MergeTree',
        'ORDER BY `event_id`',
        'SETTINGS non_replicated_deduplication_window = 10000'
      ].join('\n')
    );
    source = setOption(source, 'partition_by', 'toYYYYMM(created_at)');
    source = setOption(source, 'order_by', ['event_id', 'user_email']);
    source = edit(model, source, 'email', 'nulls', 'default');
    const spec2 = readSpec(source);
    const ddl = model.ddl(spec2, readOverrides(spec2));
    expect(ddl).toContain('    `user_email` String,');
    expect(ddl).toContain('PARTITION BY toYYYYMM(created_at)\nORDER BY (`event_id`, `user_email`)\nSETTINGS');
    // A changed target: in the database it names, else (the analyzed one named a database) unqualified.
    const moved = readSpec(source.replace('target: analytics.events', 'target: events_copy'));
    expect(model.ddl(moved, readOverrides(moved))).toMatch(/^CREATE TABLE IF NOT EXISTS `events_copy`\n/);
    const elsewhere = readSpec(source.replace('target: analytics.events', 'target: other.t'));
    expect(model.ddl(elsewhere, readOverrides(elsewhere))).toMatch(/^CREATE TABLE IF NOT EXISTS `other`.`t`/);
  });

  it('quotes identifiers and falls back to tuple() without a key', () => {
    expect(buildDdl({ target: { table: 't' }, columns: [{ name: 'we`ird', type: 'String' }], orderBy: [] })).toBe(
      'CREATE TABLE IF NOT EXISTS `t`\n(\n    `we\\`ird` String\n)\nENGINE = MergeTree\nORDER BY tuple()'
    );
  });
});

describe('reading the bundles', () => {
  it('degrades gracefully when fields are missing or odd', () => {
    const plan = readPlan({ mappings: [{ source_field: 'a' }, { nonsense: true }], warnings: 'one warning' });
    expect(plan.mappings).toHaveLength(1);
    expect(plan.mappings[0]).toMatchObject({ sourceField: 'a', destinationField: 'a', destinationType: '', skip: false });
    expect(plan.warnings).toEqual(['one warning']);
    expect(readPlan(null).mappings).toEqual([]);
    expect(readProgress({ processed_records: 50, total_records: 200 }).percentage).toBe(25);
    expect(readProgress({ percentage: 140 }).percentage).toBe(100);
    expect(readPlan(planBundle()).valueCheck!.problems[0]!.examples).toEqual([
      { text: '1e40', detail: 'id: 7' },
      { text: 'NULL', detail: 'id: 8' }
    ]);
    expect(readSummary({ status: 'completed', validation: { ok: true, columns: [{ column: 'id', checks: [{ name: 'sum', source: 1, destination: 1, ok: true }] }] } }))
      .toMatchObject({ status: 'completed', validation: { ok: true, columns: [{ column: 'id', checks: [{ name: 'sum', source: '1', destination: '1', ok: true }] }] } });
  });

  it('reads ORDER BY and PARTITION BY from the kernel DDL', () => {
    const ddl = 'CREATE TABLE t\n(\n  `a` Int32\n)\nENGINE = MergeTree\nPARTITION BY toYYYYMM(ts)\nORDER BY (a, toDate(ts));';
    expect(ddlClause(ddl, 'ORDER BY')).toBe('(a, toDate(ts))');
    expect(ddlClause(ddl, 'PARTITION BY')).toBe('toYYYYMM(ts)');
    expect(readPlan({ ddl }).orderBy).toEqual(['a', 'toDate(ts)']);
    expect(splitTopLevel("a, f(b, c), 'x,y'")).toEqual(['a', 'f(b, c)', "'x,y'"]);
    // (only parentheses that enclose the whole clause are a tuple; a ')' inside quotes is text)
    expect(readPlan({ ddl: ddl.replace('(a, toDate(ts))', '(a) + (b)') }).orderBy).toEqual(['(a) + (b)']);
    expect(readPlan({ ddl: ddl.replace('(a, toDate(ts))', "(a, concat(b, ')'))") }).orderBy).toEqual(['a', "concat(b, ')')"]);
  });
});
