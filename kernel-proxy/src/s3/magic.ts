import type { ColumnInfo } from '../clickhouse/engine.js';
import { QueryCancelledError } from '../clickhouse/embedded.js';
import { ClickHouseQueryError } from '../clickhouse/errors.js';
import { CellError, type CellContext, type CellMagic } from '../kernel/cell-magic.js';
import { outputFor, type DisplayBundle } from '../kernel/cell-output.js';
import { ARROW_MIME } from '../kernel/spec.js';
import { formatBytes } from '../results/render.js';
import { arrowOutcome } from './arrow-result.js';
import { S3Error } from './errors.js';
import { parseHeader } from './formats.js';
import type { CreateMode, ImportProgress } from './import.js';
import { formatS3Url, parseS3Url } from './location.js';
import type { S3Source } from './reader.js';
import type { S3Service } from './service.js';
import { requireCapability } from '../access/roles.js';

export const S3_HELP = `%%s3 cells: S3 files through ClickHouse s3() (keys stay on the server)

  %%s3 ls                                   buckets of the connection
  %%s3 ls s3://bucket/prefix/ [limit=200] [after=KEY]
                                            folders and files with size and date, a page at a time
  %%s3 preview s3://bucket/path/*.parquet [format=F] [header=yes|no] [compression=C] [limit=100] [count]
                                            schema and first rows as a result (count: exact rows, files, bytes)
  %%s3 schema s3://bucket/file.csv.gz [format=…]
                                            the inferred columns
  %%s3 import s3://bucket/path/*.parquet into [db.]table [format=…] [create=auto|yes|no] [order_by=col,…]
  name Type                                 optional lines below: the columns (an edited schema)
  %%s3 connections                          the configured connections and their named collections

Formats come from the name (.parquet, .csv, .tsv, .jsonl/.ndjson/.json, .orc, .avro, .arrow; + .gz, .zst, .bz2, .xz, .lz4)
or format=Parquet|CSV|CSVWithNames|TSV|TSVWithNames|JSONEachRow|… ; connection=NAME picks another connection.
In SQL cells: SELECT * FROM s3(s3_default, filename = 'bucket/path/*.parquet')`;

interface ParsedCommand {
  verb: 'ls' | 'preview' | 'schema' | 'import' | 'connections' | 'help';
  url?: string;
  table?: string;
  options: Map<string, string>;
  flags: Set<string>;
  columns?: ColumnInfo[];
}

const VERBS = new Set(['ls', 'list', 'buckets', 'preview', 'head', 'schema', 'describe', 'import', 'connections', 'help']);
const OPTIONS: Record<ParsedCommand['verb'], { options: string[]; flags: string[] }> = {
  ls: { options: ['connection', 'limit', 'after', 'token'], flags: [] },
  preview: { options: ['connection', 'format', 'header', 'compression', 'limit', 'count'], flags: ['count'] },
  schema: { options: ['connection', 'format', 'header', 'compression'], flags: [] },
  import: { options: ['connection', 'format', 'header', 'compression', 'create', 'order_by'], flags: [] },
  connections: { options: [], flags: [] },
  help: { options: [], flags: [] },
};

/** Splits on blanks, keeping '…' and "…" together (quotes removed, \\ escapes inside). */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let quote: string | null = null;
  let has = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === '\\' && i + 1 < text.length) current += text[++i];
      else if (ch === quote) quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || current) tokens.push(current);
      current = '';
      has = false;
    } else {
      current += ch;
    }
  }
  if (quote) throw new CellError('S3SyntaxError', `unclosed ${quote} quote`);
  if (has || current) tokens.push(current);
  return tokens;
}

/** `name Type` lines (an edited schema) below an import line. */
function parseColumns(body: string): ColumnInfo[] {
  const columns: ColumnInfo[] = [];
  for (const raw of body.split('\n')) {
    const line = raw.replace(/,\s*$/, '').trim();
    if (!line || line.startsWith('#') || line.startsWith('--')) continue;
    const match = /^(?:`((?:[^`\\]|\\.)+)`|"((?:[^"\\]|\\.)+)"|([A-Za-z_][A-Za-z0-9_]*))\s+(.+)$/.exec(line);
    if (!match) throw new CellError('S3SyntaxError', `a column line is "name Type" (got "${line.slice(0, 80)}")`);
    columns.push({ name: (match[1] ?? match[2] ?? match[3])!.replace(/\\(.)/g, '$1'), type: match[4]!.trim() });
  }
  return columns;
}

export function parseCommand(args: string, body: string): ParsedCommand {
  const commentFree = (text: string) =>
    text
      .split('\n')
      .filter((l) => !/^\s*(#|--)/.test(l))
      .join('\n');
  if (!args.trim() && body.trim()) {
    // The command may also start on the line below `%%s3`.
    const lines = body.split('\n');
    const first = lines.findIndex((l) => l.trim() && !/^\s*(#|--)/.test(l));
    if (first >= 0) {
      args = lines[first]!;
      body = lines.slice(first + 1).join('\n');
    }
  }
  let tokens = tokenize(args);
  let verbWord = tokens[0]?.toLowerCase();
  if (verbWord && !VERBS.has(verbWord) && tokens[0]!.startsWith('s3://')) verbWord = 'preview';
  else tokens = tokens.slice(1);
  if (verbWord === undefined) verbWord = 'help';
  if (!VERBS.has(verbWord)) throw new CellError('S3SyntaxError', `unknown %%s3 command "${verbWord}"\n\n${S3_HELP}`);
  const verb = ({ list: 'ls', buckets: 'ls', head: 'preview', describe: 'schema' } as Record<string, ParsedCommand['verb']>)[verbWord] ?? (verbWord as ParsedCommand['verb']);
  let columns: ColumnInfo[] | undefined;
  if (verb === 'import') columns = parseColumns(body);
  else tokens = [...tokens, ...tokenize(commentFree(body))];

  const parsed: ParsedCommand = { verb, options: new Map(), flags: new Set(), columns };
  const allowed = OPTIONS[verb];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.startsWith('s3://')) {
      if (parsed.url) throw new CellError('S3SyntaxError', 'one s3:// URL per cell');
      parsed.url = token;
    } else if (verb === 'import' && token.toLowerCase() === 'into') {
      parsed.table = tokens[++i];
      if (!parsed.table) throw new CellError('S3SyntaxError', 'import … into TABLE: the table is missing');
    } else if (token.includes('=')) {
      const eq = token.indexOf('=');
      const name = token.slice(0, eq).toLowerCase();
      if (!allowed.options.includes(name)) throw new CellError('S3SyntaxError', `%%s3 ${verb}: unknown option "${name}" (options: ${allowed.options.join(', ') || 'none'})`);
      parsed.options.set(name, token.slice(eq + 1));
    } else if (allowed.flags.includes(token.toLowerCase())) {
      parsed.flags.add(token.toLowerCase());
    } else {
      throw new CellError('S3SyntaxError', `%%s3 ${verb}: did not understand "${token.slice(0, 80)}"\n\n${S3_HELP}`);
    }
  }
  if ((verb === 'preview' || verb === 'schema' || verb === 'import') && !parsed.url) {
    throw new CellError('S3SyntaxError', `%%s3 ${verb} needs an s3://bucket/path URL`);
  }
  if (verb === 'import' && !parsed.table) throw new CellError('S3SyntaxError', '%%s3 import s3://… into TABLE: the table is missing');
  return parsed;
}

function integerOption(options: Map<string, string>, name: string, fallback: number, max: number): number {
  const raw = options.get(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new CellError('S3SyntaxError', `${name}: expected an integer from 0 to ${max}, got "${raw.slice(0, 20)}"`);
  return n;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function textBundle(text: string, html?: string): DisplayBundle {
  return { data: html ? { 'text/plain': text, 'text/html': html } : { 'text/plain': text }, metadata: {} };
}

function describeSchema(columns: ColumnInfo[]): { text: string; html: string } {
  const text = columns.map((c) => `  ${c.name} ${c.type}`).join('\n');
  const html = `<table class="chlab-s3-schema"><thead><tr><th>column</th><th>type</th></tr></thead><tbody>${columns
    .map((c) => `<tr><td>${escapeHtml(c.name)}</td><td><code>${escapeHtml(c.type)}</code></td></tr>`)
    .join('')}</tbody></table>`;
  return { text, html };
}

function progressBundle(url: string, table: string, p: ImportProgress): DisplayBundle {
  const fraction = p.phase === 'done' ? 1 : p.bytes_total > 0 ? p.bytes_done / p.bytes_total : 0;
  const percent = Math.round(fraction * 100);
  const eta = p.eta_seconds === null ? '' : ` · ETA ${Math.ceil(p.eta_seconds)} s`;
  const phase = { listing: 'listing files', creating: 'creating the table', copying: 'copying', done: 'done' }[p.phase];
  const line = `${phase}: ${p.files_done}/${p.files_total} files · ${formatBytes(p.bytes_done)} of ${formatBytes(p.bytes_total)} · ${p.rows.toLocaleString('en-US')} rows · ${p.rows_per_second.toLocaleString('en-US')} rows/s${eta}`;
  const html =
    `<div class="chlab-s3-progress"><div><b>Import</b> ${escapeHtml(url)} → <code>${escapeHtml(table)}</code></div>` +
    `<progress max="100" value="${percent}"></progress> <span>${percent}%</span><div>${escapeHtml(line)}</div></div>`;
  return { data: { 'text/plain': `Import ${url} → ${table}: ${percent}% · ${line}`, 'text/html': html }, metadata: { 'chlab.s3': { progress: p } } };
}

/** `%%s3` cells: list, preview, schema and import through the S3 service. */
export class S3Magic implements CellMagic {
  readonly name = 's3';

  constructor(private readonly s3: S3Service) {}

  async run(context: CellContext): Promise<void> {
    const command = parseCommand(context.args, context.body);
    if (command.verb !== 'help') {
      const [capability, what] = command.verb === 'import' ? (['s3.import', '%%s3 import'] as const) : (['s3.read', `%%s3 ${command.verb}`] as const);
      try {
        requireCapability(context.principal, capability, what);
      } catch (error) {
        context.audit('denied', what, 'denied', (error as Error).message);
        throw new CellError('PermissionDenied', (error as Error).message);
      }
    }
    await this.s3.start();
    try {
      switch (command.verb) {
        case 'help':
          return context.stream('stdout', `${S3_HELP}\n`);
        case 'connections':
          return this.connections(context);
        case 'ls':
          return await this.ls(command, context);
        case 'preview':
          return await this.preview(command, context);
        case 'schema':
          return await this.schema(command, context);
        case 'import':
          return await this.import(command, context);
      }
    } catch (error) {
      if (error instanceof QueryCancelledError || context.signal.aborted) throw new QueryCancelledError();
      if (error instanceof S3Error) throw new CellError('S3Error', error.message);
      if (error instanceof ClickHouseQueryError) throw error;
      throw error;
    }
  }

  private source(command: ParsedCommand): S3Source {
    const { bucket, key } = parseS3Url(command.url!);
    return {
      connection: this.s3.connection(command.options.get('connection')),
      bucket,
      key,
      format: command.options.get('format'),
      compression: command.options.get('compression'),
      header: parseHeader(command.options.get('header')),
      columns: command.columns?.length ? command.columns : undefined,
    };
  }

  private connections(context: CellContext): void {
    const infos = this.s3.infos();
    if (infos.length === 0) return context.stream('stdout', 'No S3 connection is configured (S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).\n');
    const outcome = arrowOutcome(
      [
        { name: 'name', kind: 'string', values: infos.map((i) => i.name) },
        { name: 'endpoint', kind: 'string', values: infos.map((i) => i.endpoint) },
        { name: 'region', kind: 'string', values: infos.map((i) => i.region) },
        { name: 'url_style', kind: 'string', values: infos.map((i) => i.url_style) },
        { name: 'collection', kind: 'string', values: infos.map((i) => i.collection) },
      ],
      0,
    );
    context.display(outputFor(outcome, outcome.result.rows));
  }

  private async ls(command: ParsedCommand, context: CellContext): Promise<void> {
    const started = performance.now();
    const connection = this.s3.connection(command.options.get('connection'));
    if (!command.url) {
      const buckets = await this.s3.listing.buckets(connection, context.signal);
      const outcome = arrowOutcome(
        [
          { name: 'bucket', kind: 'string', values: buckets.map((b) => `s3://${b.name}/`) },
          { name: 'created', kind: 'time', values: buckets.map((b) => b.created) },
        ],
        performance.now() - started,
      );
      context.display(outputFor(outcome, outcome.result.rows));
      return;
    }
    const { bucket, key: prefix } = parseS3Url(command.url, { allowEmptyKey: true });
    const limit = integerOption(command.options, 'limit', 200, 1000) || 200;
    const page = await this.s3.listing.list(connection, bucket, prefix, { limit, after: command.options.get('after'), token: command.options.get('token') }, context.signal);
    const entries = [
      ...page.prefixes.map((p) => ({ path: `s3://${bucket}/${p}`, name: p.slice(prefix.length), type: 'folder', size: null, modified: null })),
      ...page.objects.map((o) => ({ path: `s3://${bucket}/${o.key}`, name: o.key.slice(prefix.length), type: 'file', size: o.size, modified: o.last_modified })),
    ];
    const outcome = arrowOutcome(
      [
        { name: 'name', kind: 'string', values: entries.map((e) => e.name) },
        { name: 'type', kind: 'string', values: entries.map((e) => e.type) },
        { name: 'size', kind: 'uint64', values: entries.map((e) => e.size) },
        { name: 'last_modified', kind: 'time', values: entries.map((e) => e.modified) },
        { name: 'path', kind: 'string', values: entries.map((e) => e.path) },
      ],
      performance.now() - started,
    );
    context.display(outputFor(outcome, outcome.result.rows));
    if (page.truncated) {
      const last = [...page.prefixes, ...page.objects.map((o) => o.key)].sort().at(-1);
      const next = `%%s3 ls s3://${bucket}/${prefix}${limit !== 200 ? ` limit=${limit}` : ''} after=${JSON.stringify(last ?? '')}`;
      context.display(textBundle(`More entries after this page. Next page:\n${next}`, `<p>More entries after this page. Next page: <code>${escapeHtml(next)}</code></p>`));
    }
  }

  private async preview(command: ParsedCommand, context: CellContext): Promise<void> {
    const source = this.source(command);
    const limit = integerOption(command.options, 'limit', 100, 1_000_000);
    const count = command.flags.has('count') || ['yes', 'true', '1'].includes(command.options.get('count') ?? '');
    const result = await this.s3.reader.preview(source, { user: context.user, origin: 'kernel', signal: context.signal, limit, count });
    const url = formatS3Url(source);
    const read = result.tableFunction.read;
    const what = [read.format ? `${read.format}${read.inferred ? '' : ' (given)'}` : 'format detected by ClickHouse', read.compression && read.compression !== 'none' ? read.compression : null, `connection ${source.connection.name}`]
      .filter(Boolean)
      .join(' · ');
    const counted = result.count
      ? `${result.count.rows.toLocaleString('en-US')} rows · ${result.count.files.toLocaleString('en-US')} file${result.count.files === 1 ? '' : 's'} · ${formatBytes(result.count.bytes)} read`
      : '';
    const schema = describeSchema(result.schema);
    const text = `${url} · ${what}${counted ? `\n${counted}` : ''}\nSchema:\n${schema.text}\nSQL: ${result.sql}`;
    const html =
      `<div class="chlab-s3-preview"><div><b>${escapeHtml(url)}</b> · ${escapeHtml(what)}</div>` +
      (counted ? `<div class="chlab-s3-count">${escapeHtml(counted)}</div>` : '') +
      `<details open><summary>Schema (${result.schema.length} columns)</summary>${schema.html}</details>` +
      `<div>SQL: <code>${escapeHtml(result.sql)}</code></div></div>`;
    const info = { url, format: read.format ?? null, compression: read.compression ?? null, connection: source.connection.name, schema: result.schema, sql: result.sql, count: result.count ?? null };
    context.display({ data: { 'text/plain': text, 'text/html': html }, metadata: { 'chlab.s3': info } });
    const bundle = outputFor(result.outcome, this.s3.reader.limits.maxResultRows);
    // `query` is what the result's Export runs on ClickHouse: the whole file or glob, as SQL without keys.
    const arrow = { ...(bundle.metadata[ARROW_MIME] as object), query: result.fullSql };
    context.display({ ...bundle, metadata: { ...bundle.metadata, [ARROW_MIME]: arrow, 'chlab.s3': info } });
  }

  private async schema(command: ParsedCommand, context: CellContext): Promise<void> {
    const started = performance.now();
    const source = this.source(command);
    await this.s3.reader.check(source, context.signal);
    const columns = await this.s3.reader.schema(source, context.signal);
    const outcome = arrowOutcome(
      [
        { name: 'name', kind: 'string', values: columns.map((c) => c.name) },
        { name: 'type', kind: 'string', values: columns.map((c) => c.type) },
      ],
      performance.now() - started,
    );
    context.display(outputFor(outcome, outcome.result.rows));
  }

  private async import(command: ParsedCommand, context: CellContext): Promise<void> {
    const source = this.source(command);
    const create = (command.options.get('create') ?? 'auto').toLowerCase();
    if (!['auto', 'yes', 'no'].includes(create)) throw new CellError('S3SyntaxError', `create: expected auto, yes or no, got "${create.slice(0, 20)}"`);
    const orderBy = command.options.get('order_by')?.split(',').map((c) => c.trim()).filter(Boolean);
    const url = formatS3Url(source);
    const displayId = `s3-import-${context.executionCount}-${Date.now()}`;
    let shown = false;
    const target = `${url} → ${command.table!}`;
    const result = await this.s3.importer
      .run({
      source,
      table: command.table!,
      create: create as CreateMode,
      orderBy,
      user: context.user,
      origin: 'kernel',
      signal: context.signal,
      onProgress: (p) => {
        const bundle = progressBundle(url, command.table!, p);
        if (!shown) context.display(bundle, displayId);
        else context.update(displayId, bundle);
        shown = true;
      },
    })
      .catch((error: unknown) => {
        context.audit('import', target, context.signal.aborted ? 'cancelled' : 'error', error instanceof Error ? error.message : String(error));
        throw error;
      });
    context.audit('import', target, 'ok', `${result.rows} rows`);
    const schema = describeSchema(result.columns);
    const line = `Imported ${result.rows.toLocaleString('en-US')} rows from ${result.files} file${result.files === 1 ? '' : 's'} (${formatBytes(result.bytes)}) into ${result.destination_table}${result.created ? ' (new table)' : ''} in ${(result.elapsed_ms / 1000).toFixed(1)} s · migration_history id ${result.history_id}`;
    context.display(
      { data: { 'text/plain': `${line}\nColumns:\n${schema.text}`, 'text/html': `<div class="chlab-s3-import"><p>${escapeHtml(line)}</p>${schema.html}</div>` }, metadata: { 'chlab.s3': { import: { ...result, statements: undefined } } } },
    );
  }
}
