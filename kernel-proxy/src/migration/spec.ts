// The %%migrate cell source: a magic line (action) + the migration spec in YAML.
// parseSpec validates with zod and names the field at fault; serializeSpec writes a stable, diff-friendly YAML
// (fixed key order, one line per column override); updateSpecSource edits a cell source in place, keeping comments.
import { Document, isMap, parseDocument, stringify, YAMLMap } from 'yaml';
import { z } from 'zod';
import { checkExpression, checkName, checkPgName, MigrationError, splitQualified } from './sql.js';

export const NULLS = ['nullable', 'default', 'fail'] as const;
export type NullHandling = (typeof NULLS)[number];

const ColumnOverrideSchema = z
  .object({
    rename: z.string().min(1).max(200).optional(),
    type: z.string().min(1).max(1000).optional(),
    transform: z.string().min(1).max(10_000).optional(),
    skip: z.boolean().optional(),
    nulls: z.enum(NULLS).optional(),
  })
  .strict();

const OptionsSchema = z
  .object({
    create_table: z.boolean().optional(),
    batch_size: z.number().int().min(100).max(50_000_000).optional(),
    parallelism: z.number().int().min(1).max(16).optional(),
    order_by: z.array(z.string().min(1).max(200)).max(32).optional(),
    partition_by: z.string().min(1).max(2000).optional(),
    unbounded_numeric: z.string().min(1).max(200).optional(),
    ranges: z.enum(['auto', 'key', 'ctid', 'none']).optional(),
    method: z.enum(['copy', 'pull']).optional(),
    value_check: z.boolean().optional(),
    on_existing_rows: z.enum(['fail', 'truncate', 'append', 'replace']).optional(),
    retries: z.number().int().min(0).max(20).optional(),
  })
  .strict();

export const SpecSchema = z
  .object({
    source: z
      .string({ error: (issue) => (issue.input === undefined ? 'source is required (schema.table in PostgreSQL)' : 'source must be a string (schema.table)') })
      .min(1, 'source is required (schema.table in PostgreSQL)')
      .max(300),
    target: z.string().min(1).max(300).optional(),
    connection: z.string().min(1).max(100).regex(/^[A-Za-z0-9_.-]+$/, 'connection names are letters, digits, _ . -').optional(),
    description: z.string().max(10_000).optional(),
    options: OptionsSchema.optional(),
    columns: z.record(z.string().min(1).max(200), ColumnOverrideSchema.nullable()).optional(),
  })
  .strict();

/** The spec as written in the cell (only what the user wrote; defaults are not filled in). */
export type SpecDoc = z.infer<typeof SpecSchema>;
export type ColumnOverride = z.infer<typeof ColumnOverrideSchema>;

export interface MigrationOptions {
  create_table: boolean;
  batch_size: number;
  parallelism: number;
  order_by?: string[];
  partition_by?: string;
  unbounded_numeric?: string;
  ranges: 'auto' | 'key' | 'ctid' | 'none';
  method: 'copy' | 'pull';
  value_check: boolean;
  on_existing_rows: 'fail' | 'truncate' | 'append' | 'replace';
  retries: number;
}

/** The spec with defaults applied and names split and checked. */
export interface ResolvedSpec {
  source: { schema: string; table: string };
  target: { database?: string; table: string };
  connection: string;
  description: string;
  options: MigrationOptions;
  columns: Record<string, ColumnOverride>;
}

export const DEFAULT_OPTIONS: MigrationOptions = {
  create_table: true,
  batch_size: 100_000,
  parallelism: 2,
  ranges: 'auto',
  method: 'copy',
  value_check: true,
  on_existing_rows: 'fail',
  retries: 3,
};

export type MigrateAction =
  | { action: 'analyze' }
  | { action: 'run'; rerun: boolean }
  | { action: 'resume'; migrationId: string }
  | { action: 'history'; limit: number };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The rest of the `%%migrate` line. */
export function parseMigrateArgs(args: string): MigrateAction {
  const words = args.trim().split(/\s+/).filter(Boolean);
  const [verb, ...rest] = words;
  if (!verb || verb === 'analyze') {
    if (rest.length) throw new MigrationError('%%migrate', `unexpected arguments: ${rest.join(' ')}`);
    return { action: 'analyze' };
  }
  if (verb === 'run') {
    const unknown = rest.filter((w) => w !== '--rerun');
    if (unknown.length) throw new MigrationError('%%migrate run', `unknown flag ${unknown[0]} (only --rerun)`);
    return { action: 'run', rerun: rest.includes('--rerun') };
  }
  if (verb === 'resume') {
    if (rest.length !== 1 || !UUID.test(rest[0]!)) throw new MigrationError('%%migrate resume', 'expected one migration id (a UUID), e.g. %%migrate resume 3f2a…');
    return { action: 'resume', migrationId: rest[0]!.toLowerCase() };
  }
  if (verb === 'history') {
    const limit = rest[0] ? Number(rest[0]) : 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new MigrationError('%%migrate history', 'expected a row limit between 1 and 1000');
    return { action: 'history', limit };
  }
  throw new MigrationError('%%migrate', `unknown action "${verb}": use %%migrate, %%migrate run [--rerun], %%migrate resume <id> or %%migrate history`);
}

function zodMessage(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.') || 'spec';
      if (issue.code === 'unrecognized_keys') return `${path === 'spec' ? '' : `${path}.`}${issue.keys.join(', ')}: unknown field${issue.keys.length > 1 ? 's' : ''}`;
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

/** Parses and validates the YAML body of a %%migrate cell (or a REST spec). */
export function parseSpec(text: string): { doc: SpecDoc; resolved: ResolvedSpec } {
  if (!text.trim()) throw new MigrationError('spec', 'the cell has no migration spec: write at least "source: schema.table"');
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (document.errors.length) {
    const e = document.errors[0]!;
    const line = e.linePos?.[0]?.line;
    throw new MigrationError('spec', `YAML ${line ? `line ${line}` : ''}: ${e.message.split('\n')[0]}`.replace('YAML : ', 'YAML: '));
  }
  const value: unknown = document.toJS();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new MigrationError('spec', 'expected a YAML mapping such as "source: public.events"');
  const parsed = SpecSchema.safeParse(value);
  if (!parsed.success) throw new MigrationError('', zodMessage(parsed.error));
  return { doc: parsed.data, resolved: resolveSpec(parsed.data) };
}

/** Validates a spec given as an object (REST, stored plans) like parseSpec does for YAML. */
export function parseSpecDoc(value: unknown): { doc: SpecDoc; resolved: ResolvedSpec } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new MigrationError('spec', 'expected an object such as {"source": "public.events"}');
  const parsed = SpecSchema.safeParse(value);
  if (!parsed.success) throw new MigrationError('', zodMessage(parsed.error));
  return { doc: parsed.data, resolved: resolveSpec(parsed.data) };
}

export function resolveSpec(doc: SpecDoc): ResolvedSpec {
  const sourceParts = splitQualified('source', doc.source);
  if (sourceParts.length > 2) throw new MigrationError('source', `expected schema.table, got "${doc.source}"`);
  const [schema, table] = sourceParts.length === 2 ? [sourceParts[0]!, sourceParts[1]!] : ['public', sourceParts[0]!];
  checkPgName('source', schema);
  checkPgName('source', table);

  let target: ResolvedSpec['target'];
  if (doc.target) {
    const parts = splitQualified('target', doc.target, '`');
    if (parts.length > 2) throw new MigrationError('target', `expected [database.]table, got "${doc.target}"`);
    target = parts.length === 2 ? { database: checkName('target', parts[0]!), table: checkName('target', parts[1]!) } : { table: checkName('target', parts[0]!) };
  } else {
    target = { table: checkName('target', table.replace(/[^\p{L}\p{N}_]/gu, '_').replace(/^(\p{N})/u, '_$1')) };
  }

  const options: MigrationOptions = { ...DEFAULT_OPTIONS, ...stripUndefined(doc.options ?? {}) };
  if (options.partition_by) checkExpression('options.partition_by', options.partition_by);
  options.order_by?.forEach((name, i) => checkName(`options.order_by.${i}`, name));
  if (options.unbounded_numeric) checkType('options.unbounded_numeric', options.unbounded_numeric);

  const columns: Record<string, ColumnOverride> = {};
  for (const [name, override] of Object.entries(doc.columns ?? {})) {
    const o = override ?? {};
    if (o.rename) checkName(`columns.${name}.rename`, o.rename);
    if (o.type) checkType(`columns.${name}.type`, o.type);
    if (o.transform) checkExpression(`columns.${name}.transform`, o.transform);
    columns[name] = stripUndefined(o);
  }
  return { source: { schema, table }, target, connection: doc.connection ?? 'default', description: doc.description ?? '', options, columns };
}

const TYPE_TEXT = /^[A-Za-z][A-Za-z0-9_]*(\s*\(.*\))?$/s;
/** A ClickHouse type name as written by a user; ClickHouse checks it fully when the plan is validated. */
export function checkType(field: string, type: string): string {
  const t = type.trim();
  if (!TYPE_TEXT.test(t)) throw new MigrationError(field, `"${t}" is not a ClickHouse type (e.g. Decimal(12, 2), String, Nullable(Int64))`);
  checkExpression(field, t);
  return t;
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const KEY_ORDER = ['source', 'target', 'connection', 'description', 'options', 'columns'];
const OPTION_ORDER = ['create_table', 'batch_size', 'parallelism', 'order_by', 'partition_by', 'unbounded_numeric', 'ranges', 'method', 'value_check', 'on_existing_rows', 'retries'];
const COLUMN_ORDER = ['rename', 'type', 'transform', 'nulls', 'skip'];

function ordered<T extends Record<string, unknown>>(value: T, order: string[]): T {
  const keys = Object.keys(value).sort((a, b) => rank(order, a) - rank(order, b));
  return Object.fromEntries(keys.filter((k) => value[k] !== undefined).map((k) => [k, value[k]])) as T;
}
const rank = (order: string[], key: string) => (order.includes(key) ? order.indexOf(key) : order.length);

/** Canonical YAML for a spec: stable key order, one flow-style line per column override. */
export function serializeSpec(doc: SpecDoc): string {
  const top = ordered({ ...doc } as Record<string, unknown>, KEY_ORDER);
  const document = new Document(top);
  const options = document.get('options', true);
  if (isMap(options)) {
    const sorted = ordered(doc.options as Record<string, unknown>, OPTION_ORDER);
    document.set('options', document.createNode(sorted));
    const orderBy = (document.get('options') as YAMLMap).get('order_by', true);
    if (orderBy && typeof orderBy === 'object') (orderBy as { flow?: boolean }).flow = true;
  }
  if (doc.columns) {
    const columns = new YAMLMap();
    for (const [name, override] of Object.entries(doc.columns)) {
      const node = document.createNode(ordered((override ?? {}) as Record<string, unknown>, COLUMN_ORDER)) as YAMLMap;
      node.flow = true;
      columns.set(document.createNode(name), node);
    }
    document.set('columns', columns);
  }
  return document.toString({ lineWidth: 0 });
}

/** The whole cell: magic line + spec. */
export function cellSource(doc: SpecDoc, magicLine = '%%migrate'): string {
  return `${magicLine}\n${serializeSpec(doc)}`;
}

export type SpecEdit =
  | { column: string; set: ColumnOverride | null }
  | { option: keyof MigrationOptions; value: unknown }
  | { field: 'target' | 'description' | 'connection'; value: string | undefined };

/**
 * Applies edits (what the mapping widget changes) to a cell source, keeping the magic line, comments and the
 * order of everything else. A column override of `{}`/null removes the column's entry.
 */
export function updateSpecSource(source: string, edits: readonly SpecEdit[]): string {
  const newline = source.indexOf('\n');
  const first = newline === -1 ? source : source.slice(0, newline);
  const hasMagic = /^\s*%%migrate\b/.test(first);
  const magic = hasMagic ? first : '%%migrate';
  const body = hasMagic ? (newline === -1 ? '' : source.slice(newline + 1)) : source;
  const document = parseDocument(body);
  if (document.errors.length) throw new MigrationError('spec', `YAML: ${document.errors[0]!.message.split('\n')[0]}`);
  for (const edit of edits) {
    if ('column' in edit) {
      const cleaned = edit.set ? ordered(stripUndefined(edit.set) as Record<string, unknown>, COLUMN_ORDER) : {};
      if (Object.keys(cleaned).length === 0) {
        if (document.hasIn(['columns', edit.column])) document.deleteIn(['columns', edit.column]);
        const columns = document.get('columns');
        if (isMap(columns) && columns.items.length === 0) document.delete('columns');
      } else {
        if (!document.has('columns')) document.set('columns', new YAMLMap());
        const node = document.createNode(cleaned) as YAMLMap;
        node.flow = true;
        document.setIn(['columns', edit.column], node);
      }
    } else if ('option' in edit) {
      if (edit.value === undefined) {
        if (document.hasIn(['options', edit.option])) document.deleteIn(['options', edit.option]);
      } else {
        if (!document.has('options')) document.set('options', new YAMLMap());
        document.setIn(['options', edit.option], edit.value);
      }
    } else if (edit.value === undefined) {
      document.delete(edit.field);
    } else {
      document.set(edit.field, edit.value);
    }
  }
  const text = document.toString({ lineWidth: 0 });
  parseSpec(text);
  return `${magic}\n${text}`;
}

/** A stable fingerprint of a spec (for "already completed" detection). */
export function specKey(doc: SpecDoc): string {
  return stringify(ordered({ ...doc } as Record<string, unknown>, KEY_ORDER), { sortMapEntries: true });
}
