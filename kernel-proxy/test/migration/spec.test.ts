// The %%migrate cell source: parsing with errors that name the field, canonical serialization, the widget's
// round trip (edit → cell source → parse again) keeping comments and the magic line.
import { describe, expect, it } from 'vitest';
import { cellSource, parseMigrateArgs, parseSpec, serializeSpec, specKey, updateSpecSource } from '../../src/migration/spec.js';
import { checkExpression, redact, splitQualified } from '../../src/migration/sql.js';

const SOURCE = `source: public.events          # the PostgreSQL table
target: analytics.events
description: Nightly events copy
options:
  create_table: true
  batch_size: 100000
  parallelism: 2
  order_by: [id]
  partition_by: toYYYYMM(created_at)
  unbounded_numeric: Decimal(38, 10)
columns:
  email:    { rename: user_email, transform: "lower(email)" }
  amount:   { type: "Decimal(12, 2)" }
  legacy:   { skip: true }
  note:     { nulls: default }
`;

describe('migration spec', () => {
  it('parses the contract example with defaults filled in', () => {
    const { doc, resolved } = parseSpec(SOURCE);
    expect(resolved).toMatchObject({
      source: { schema: 'public', table: 'events' },
      target: { database: 'analytics', table: 'events' },
      connection: 'default',
      description: 'Nightly events copy',
      options: { create_table: true, batch_size: 100000, parallelism: 2, order_by: ['id'], partition_by: 'toYYYYMM(created_at)', ranges: 'auto', method: 'copy', value_check: true, on_existing_rows: 'fail', retries: 3 },
      columns: { email: { rename: 'user_email', transform: 'lower(email)' }, amount: { type: 'Decimal(12, 2)' }, legacy: { skip: true }, note: { nulls: 'default' } },
    });
    expect(doc.options?.retries).toBeUndefined();
  });

  it('defaults the schema to public and the target to the table name; quoted names keep their case', () => {
    expect(parseSpec('source: events').resolved).toMatchObject({ source: { schema: 'public', table: 'events' }, target: { table: 'events' } });
    expect(parseSpec('source: \'"My Schema"."Big Table"\'').resolved).toMatchObject({ source: { schema: 'My Schema', table: 'Big Table' }, target: { table: 'Big_Table' } });
    expect(splitQualified('source', '"a.b"."c""d"')).toEqual(['a.b', 'c"d']);
  });

  it('names the field at fault', () => {
    const cases: [string, RegExp][] = [
      ['', /spec: the cell has no migration spec/],
      ['target: x', /source: .*required/i],
      ['source: [a, b]', /source: .*string/i],
      ['source: t\noptions:\n  batch_size: 10', /options\.batch_size: .*100/],
      ['source: t\noptions:\n  parallelism: two', /options\.parallelism/],
      ['source: t\noptions:\n  batchsize: 1000', /options\.batchsize: unknown field/],
      ['source: t\ncolumns:\n  a: { nulls: sometimes }', /columns\.a\.nulls/],
      ['source: t\ncolumns:\n  a: { rename: "drop table x; --" }', /columns\.a\.rename: .*not a valid name/],
      ['source: t\ncolumns:\n  a: { transform: "1); DROP TABLE x; --" }', /columns\.a\.transform: .*(;|unbalanced)/],
      ['source: t\ncolumns:\n  a: { transform: "lower(a) -- hi" }', /columns\.a\.transform: .*comments/],
      ['source: t\ncolumns:\n  a: { type: "String; DROP" }', /columns\.a\.type/],
      ['source: t\ntarget: "a.b.c"', /target: expected \[database\.\]table/],
      ['source: a.b.c', /source: expected schema\.table/],
      ['source: t\ntarget: "bad-name"', /target: .*not a valid name/],
      ['source: t\nconnection: "a b"', /connection/],
      ['source: t\n  bad: indent', /YAML/],
      ['source: t\nsource: u', /YAML.*(unique|duplicate)/i],
      ['source: t\nunknown_key: 1', /unknown_key: unknown field/],
      [`source: ${'x'.repeat(64)}`, /source: .*63-byte/],
    ];
    for (const [text, pattern] of cases) expect(() => parseSpec(text), text).toThrow(pattern);
  });

  it('parses the magic line', () => {
    expect(parseMigrateArgs('')).toEqual({ action: 'analyze' });
    expect(parseMigrateArgs('run')).toEqual({ action: 'run', rerun: false });
    expect(parseMigrateArgs('run --rerun')).toEqual({ action: 'run', rerun: true });
    expect(parseMigrateArgs('resume 3F2A0000-0000-4000-8000-000000000001')).toEqual({ action: 'resume', migrationId: '3f2a0000-0000-4000-8000-000000000001' });
    expect(parseMigrateArgs('history 10')).toEqual({ action: 'history', limit: 10 });
    expect(() => parseMigrateArgs('run --force')).toThrow(/--force/);
    expect(() => parseMigrateArgs('resume nope')).toThrow(/UUID/);
    expect(() => parseMigrateArgs('explode')).toThrow(/unknown action "explode"/);
  });

  it('serializes canonically: parse(serialize(doc)) is doc, serialize is stable, one line per column', () => {
    const { doc } = parseSpec(SOURCE);
    const text = serializeSpec(doc);
    expect(parseSpec(text).doc).toEqual(doc);
    expect(serializeSpec(parseSpec(text).doc)).toBe(text);
    expect(text.split('\n').filter((l) => l.startsWith('  email:'))).toEqual(['  email: { rename: user_email, transform: lower(email) }']);
    expect(text).toContain('order_by: [ id ]');
    expect(text.indexOf('source:')).toBeLessThan(text.indexOf('target:'));
    expect(cellSource(doc, '%%migrate run')).toMatch(/^%%migrate run\nsource: public\.events\n/);
    expect(specKey(doc)).toBe(specKey(parseSpec(text).doc));
  });

  it('round-trips widget edits into the cell source, keeping the magic line and comments', () => {
    const cell = `%%migrate run\n${SOURCE}`;
    const edited = updateSpecSource(cell, [
      { column: 'amount', set: { type: 'Float64' } },
      { column: 'created_at', set: { rename: 'ts', nulls: 'fail' } },
      { column: 'legacy', set: null },
      { option: 'batch_size', value: 50000 },
      { option: 'partition_by', value: undefined },
      { field: 'description', value: 'edited in the widget' },
    ]);
    expect(edited.split('\n')[0]).toBe('%%migrate run');
    expect(edited).toContain('# the PostgreSQL table');
    const { resolved } = parseSpec(edited.slice(edited.indexOf('\n') + 1));
    expect(resolved.columns).toEqual({
      email: { rename: 'user_email', transform: 'lower(email)' },
      amount: { type: 'Float64' },
      note: { nulls: 'default' },
      created_at: { rename: 'ts', nulls: 'fail' },
    });
    expect(resolved.options.batch_size).toBe(50000);
    expect(resolved.options.partition_by).toBeUndefined();
    expect(resolved.description).toBe('edited in the widget');
    expect(edited).toContain('  created_at: { rename: ts, nulls: fail }');
    // Untouched entries stay as they were (only whitespace is normalized), so a diff shows the edits.
    expect(edited).toContain('  note: { nulls: default }');
    expect(edited).toContain('  email: { rename: user_email, transform: "lower(email)" }');
    // An invalid edit is refused with the field named.
    expect(() => updateSpecSource(cell, [{ column: 'amount', set: { rename: 'bad name' } }])).toThrow(/columns\.amount\.rename/);
  });

  it('checks expressions and scrubs secrets', () => {
    expect(checkExpression('f', "concat(a, ';')")).toBe("concat(a, ';')");
    expect(() => checkExpression('f', "a) FROM system.users FORMAT JSON SETTINGS x=1 --")).toThrow();
    expect(() => checkExpression('f', 'a FORMAT JSON')).toThrow(/FORMAT/);
    expect(redact('failed: password=hunter2 host=x', ['hunter2'])).not.toContain('hunter2');
    expect(redact('postgresql://u:secret@h:5432/db', [])).toBe('postgresql://u:***@h:5432/db');
  });
});
