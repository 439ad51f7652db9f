import type { ClickHouseEngine, ColumnInfo, Settings } from '../clickhouse/engine.js';
import { ClickHouseQueryError, toClickHouseError } from '../clickhouse/errors.js';
import type { QueryService, StatementOutcome } from '../clickhouse/query-service.js';
import { QueryCancelledError } from '../clickhouse/embedded.js';
import type { S3Collections } from './collections.js';
import type { S3Connection } from './connections.js';
import { S3Error } from './errors.js';
import { resolveFormat, type HeaderMode, type ReadFormat } from './formats.js';
import type { S3Listing } from './listing.js';
import { encodeKey, formatS3Url, isGlob, sqlIdentifier, sqlString } from './location.js';

/** A file or glob to read, and how. */
export interface S3Source {
  connection: S3Connection;
  bucket: string;
  /** A key or a glob (`sales/2024/*.parquet`). */
  key: string;
  format?: string;
  compression?: string;
  header?: HeaderMode;
  /** Columns to read the files as (an edited schema) instead of inferring them. */
  columns?: ColumnInfo[];
}

/** `s3(…)` (or `s3Cluster(…)`) for a source: the SQL with bound parameters, and the same with literals for people. */
export interface TableFunction {
  sql: string;
  display: string;
  params: Record<string, string>;
  settings: Settings;
  read: ReadFormat;
  url: string;
}

export interface FileInfo {
  path: string;
  size: number;
}

export interface RunAs {
  user: string;
  /** Where the request came from (the query history's `source`). */
  origin: 'kernel' | 'rest';
  signal?: AbortSignal;
  sessionId?: string;
}

export interface PreviewResult {
  outcome: Extract<StatementOutcome, { kind: 'rows' }>;
  schema: ColumnInfo[];
  tableFunction: TableFunction;
  /** The preview as a SQL statement a user can run in a SQL cell (no keys in it). */
  sql: string;
  /** The same without the LIMIT: the whole file or glob (what "Export" of the result runs). */
  fullSql: string;
  count?: { rows: number; files: number; bytes: number };
}

/** Bound parameter → the s3() named-collection argument it fills. */
const ARGUMENT: Record<string, string> = {
  s3_filename: 'filename',
  s3_format: 'format',
  s3_structure: 'structure',
  s3_compression: 'compression_method',
};

export function settingsClause(settings: Settings): string {
  const entries = Object.entries(settings);
  if (entries.length === 0) return '';
  return ` SETTINGS ${entries
    .map(([name, value]) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid setting name ${name}`);
      return `${name} = ${typeof value === 'string' ? sqlString(value) : Number(value)}`;
    })
    .join(', ')}`;
}

/** `name Type, …` (names quoted) for s3()'s structure argument and CREATE TABLE. */
export function structureOf(columns: readonly ColumnInfo[]): string {
  return columns.map((c) => `${sqlIdentifier(c.name)} ${c.type}`).join(', ');
}

/** Previews, schemas, counts and file lists of S3 objects through ClickHouse's s3() / s3Cluster(). */
export class S3Reader {
  constructor(
    readonly engine: ClickHouseEngine,
    private readonly queries: QueryService,
    private readonly collections: S3Collections,
    private readonly listing: S3Listing,
    private readonly cluster?: string,
  ) {}

  /** The result caps every cell and REST answer obeys. */
  get limits() {
    return this.queries.limits;
  }

  async tableFunction(source: S3Source, overrides: { format?: string } = {}): Promise<TableFunction> {
    const read = resolveFormat(source.key, { format: source.format, compression: source.compression, header: source.header });
    const { collection, filenamePrefix } = await this.collections.forBucket(source.connection, source.bucket);
    const params: Record<string, string> = { s3_filename: `${filenamePrefix}${encodeKey(source.key)}` };
    const format = overrides.format ?? read.format;
    if (format) params.s3_format = format;
    if (source.columns?.length && !overrides.format) params.s3_structure = structureOf(source.columns);
    if (read.compression && !overrides.format) params.s3_compression = read.compression;
    const args = Object.keys(params).map((name) => `${ARGUMENT[name]} = {${name}:String}`);
    const shown = Object.entries(params).map(([name, value]) => `${ARGUMENT[name]} = ${sqlString(value)}`);
    const fn = this.cluster ? `s3Cluster(${sqlString(this.cluster)}, ${collection}` : `s3(${collection}`;
    return {
      sql: `${fn}, ${args.join(', ')})`,
      display: `${fn}, ${shown.join(', ')})`,
      params,
      settings: overrides.format ? {} : read.settings,
      read,
      url: formatS3Url(source),
    };
  }

  /** Checks the options, and that a single key (or a glob's bucket) exists, with the keys accepted. */
  async check(source: S3Source, signal?: AbortSignal): Promise<void> {
    // Bad options first: they are the user's to fix, whatever S3 holds.
    resolveFormat(source.key, { format: source.format, compression: source.compression, header: source.header });
    if (isGlob(source.key)) await this.listing.checkBucket(source.connection, source.bucket, signal);
    else await this.listing.checkObject(source.connection, source.bucket, source.key, signal);
  }

  /** The inferred (or given) columns of a file or glob. */
  async schema(source: S3Source, signal?: AbortSignal): Promise<ColumnInfo[]> {
    const tf = await this.tableFunction(source);
    try {
      const rows = await this.engine.json<{ name: string; type: string }>(
        `DESCRIBE TABLE ${tf.sql}${settingsClause({ ...tf.settings, describe_compact_output: 1 })}`,
        { params: tf.params, signal },
      );
      return rows.map(({ name, type }) => ({ name, type }));
    } catch (error) {
      throw await this.explain(error, source, tf);
    }
  }

  /** The objects a glob matches, with their sizes (ClickHouse's own glob matching). */
  async files(source: S3Source, signal?: AbortSignal): Promise<FileInfo[]> {
    const tf = await this.tableFunction(source, { format: 'One' });
    try {
      const rows = await this.engine.json<{ path: string; size: string | number | null }>(
        `SELECT _path AS path, _size AS size FROM ${tf.sql} ORDER BY path`,
        { params: tf.params, signal },
      );
      return rows.map((r) => ({ path: r.path, size: Number(r.size ?? 0) }));
    } catch (error) {
      throw await this.explain(error, source, tf);
    }
  }

  async count(source: S3Source, signal?: AbortSignal): Promise<number> {
    const tf = await this.tableFunction(source);
    try {
      const [row] = await this.engine.json<{ rows: string | number }>(`SELECT count() AS rows FROM ${tf.sql}${settingsClause(tf.settings)}`, { params: tf.params, signal });
      return Number(row?.rows ?? 0);
    } catch (error) {
      throw await this.explain(error, source, tf);
    }
  }

  /** The first `limit` rows as a result like any SQL cell's (recorded in the query history as equivalent SQL). */
  async preview(source: S3Source, options: RunAs & { limit: number; count?: boolean; keepRows?: number }): Promise<PreviewResult> {
    await this.check(source, options.signal);
    const schema = await this.schema(source, options.signal);
    const tf = await this.tableFunction(source);
    const limit = Math.max(0, Math.floor(options.limit));
    const tail = ` LIMIT ${limit}${settingsClause(tf.settings)}`;
    const sql = `SELECT * FROM ${tf.display}${tail}`;
    let outcome: StatementOutcome;
    try {
      outcome = await this.queries.run(`SELECT * FROM ${tf.sql}${tail}`, {
        user: options.user,
        source: options.origin,
        signal: options.signal,
        sessionId: options.sessionId,
        params: tf.params,
        historyQuery: sql,
        // A cell keeps at most CHLAB_PREVIEW_ROWS rows (the notebook stays small), as SQL cells do.
        keepRows: options.keepRows ?? Math.min(limit, this.queries.limits.previewRows),
      });
    } catch (error) {
      throw await this.explain(error, source, tf);
    }
    if (outcome.kind !== 'rows') throw new S3Error(500, 'the preview returned no rows');
    let count: PreviewResult['count'];
    if (options.count) {
      const [rows, files] = await Promise.all([this.count(source, options.signal), this.files(source, options.signal)]);
      count = { rows, files: files.length, bytes: files.reduce((sum, f) => sum + f.size, 0) };
    }
    return { outcome, schema, tableFunction: tf, sql, fullSql: `SELECT * FROM ${tf.display}${settingsClause(tf.settings)}`, count };
  }

  /** A ClickHouse error about S3 as an S3Error a user can act on: which bucket/key, and what to change. */
  async explain(error: unknown, source: S3Source, tf: TableFunction): Promise<Error> {
    if (error instanceof S3Error || error instanceof QueryCancelledError) return error;
    const failure = error instanceof ClickHouseQueryError ? error : toClickHouseError(error);
    const message = failure.message;
    const url = tf.url;
    if (failure.type === 'CONNECTION_ERROR') return failure;
    if (/NoSuchBucket|bucket does not exist/i.test(message)) {
      return new S3Error(404, `No such bucket: "${source.bucket}" does not exist on ${source.connection.endpoint} (connection ${source.connection.name})`);
    }
    if (/HTTP response code: 40[13]\b|AccessDenied|SignatureDoesNotMatch|InvalidAccessKeyId|check your AWS credentials/i.test(message)) {
      return new S3Error(403, `Access denied to ${url}: check the access key and secret of S3 connection "${source.connection.name}" (ClickHouse: ${firstLine(message)})`);
    }
    if (/HTTP response code: 404|NoSuchKey|key does not exist/i.test(message)) {
      // Which one is missing: the bucket or the key?
      try {
        await this.check(source);
      } catch (checked) {
        if (checked instanceof S3Error) return checked;
      }
      return new S3Error(404, `No such key: ${url} does not exist`);
    }
    if (/no files with provided path|all files are empty|Cannot list objects|no files found|There are no files/i.test(message)) {
      return new S3Error(404, `No object matches ${url}${isGlob(source.key) ? '' : ' (or it is empty)'}`);
    }
    if (failure.type === 'CANNOT_EXTRACT_TABLE_STRUCTURE' || failure.type === 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' || failure.type === 'INCORRECT_DATA' || failure.type === 'UNKNOWN_FORMAT') {
      const as = tf.read.format ? `as ${tf.read.format}${tf.read.inferred ? ' (from its name)' : ''}` : 'in any format ClickHouse detects';
      return new S3Error(400, `Could not read ${url} ${as}: ${firstLine(message)}. Give the format (format=Parquet, CSV, TSV, JSONEachRow, …)${tf.read.format === 'CSV' || tf.read.format === 'TSV' ? ', header=yes|no' : ''} or the compression.`);
    }
    return failure;
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/\s*You can specify the structure manually:?\s*$/, '').trim();
}
