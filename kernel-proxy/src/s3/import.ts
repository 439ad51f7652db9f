import type { ClickHouseEngine, ColumnInfo } from '../clickhouse/engine.js';
import { toClickHouseError } from '../clickhouse/errors.js';
import type { QueryService } from '../clickhouse/query-service.js';
import { QueryCancelledError } from '../clickhouse/embedded.js';
import { S3Error } from './errors.js';
import { formatS3Url, parseTableName, sqlIdentifier, sqlString } from './location.js';
import type { MigrationHistoryWriter } from './migration-history.js';
import { settingsClause, structureOf, type FileInfo, type RunAs, type S3Reader, type S3Source } from './reader.js';

export type CreateMode = 'auto' | 'yes' | 'no';

export interface ImportRequest extends RunAs {
  source: S3Source;
  /** `table` or `database.table`. */
  table: string;
  /** auto: create the table when it is missing; yes: it must not exist; no: it must exist. */
  create?: CreateMode;
  /** ORDER BY of a new table (default: none, `tuple()`). */
  orderBy?: string[];
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportProgress {
  phase: 'listing' | 'creating' | 'copying' | 'done';
  files_total: number;
  files_done: number;
  bytes_total: number;
  bytes_done: number;
  rows: number;
  elapsed_ms: number;
  rows_per_second: number;
  /** Seconds left, estimated from the bytes still to read; null while unknown. */
  eta_seconds: number | null;
}

export interface ImportResult {
  rows: number;
  destination_table: string;
  created: boolean;
  files: number;
  bytes: number;
  elapsed_ms: number;
  columns: ColumnInfo[];
  /** The migration_history id of this run. */
  history_id: string;
  /** The statements run, as SQL a user could run (no keys). */
  statements: string[];
}

/** Files per INSERT: at most this many INSERTs per import, so progress moves and big globs stay parallel. */
const MAX_BATCHES = 16;

function batchesOf(files: FileInfo[]): FileInfo[][] {
  if (files.length <= 1) return [files];
  const count = Math.min(MAX_BATCHES, files.length);
  const total = files.reduce((s, f) => s + f.size, 0);
  const target = total / count;
  const batches: FileInfo[][] = [];
  let current: FileInfo[] = [];
  let size = 0;
  for (const [i, file] of files.entries()) {
    current.push(file);
    size += file.size;
    const left = files.length - i - 1;
    const slotsLeft = count - batches.length - 1;
    if ((size >= target && slotsLeft > 0) || left < slotsLeft || left === 0) {
      batches.push(current);
      current = [];
      size = 0;
    }
  }
  if (current.length) batches.push(current);
  return batches;
}

/** A ClickHouse array literal of strings, the text form of an Array(String) query parameter. */
function arrayParam(values: string[]): string {
  return `[${values.map(sqlString).join(',')}]`;
}

/**
 * Imports an S3 file or glob into a ClickHouse table: a new one (from the inferred or the given columns) or an
 * existing one. Copies with `INSERT … SELECT … FROM s3()` (s3Cluster on a cluster) in up to 16 batches of files,
 * reporting progress after each, counts the rows exactly and records the run in migration_history.
 */
export class S3Importer {
  constructor(
    private readonly engine: ClickHouseEngine,
    private readonly queries: QueryService,
    private readonly reader: S3Reader,
    private readonly history: MigrationHistoryWriter,
    private readonly cluster?: string,
  ) {}

  async run(request: ImportRequest): Promise<ImportResult> {
    const started = new Date();
    const t0 = performance.now();
    const target = parseTableName(request.table);
    const url = formatS3Url(request.source);
    const create = request.create ?? 'auto';
    const statements: string[] = [];
    let files: FileInfo[] = [];
    let columns: ColumnInfo[] = [];
    let created = false;
    let rows = 0;
    let historyId: string | undefined;
    let format: string | undefined;
    let compression: string | undefined;
    const progress = (phase: ImportProgress['phase'], filesDone: number, bytesDone: number) => {
      const elapsed = performance.now() - t0;
      const bytesTotal = files.reduce((s, f) => s + f.size, 0);
      const rate = elapsed > 0 ? rows / (elapsed / 1000) : 0;
      const byteRate = elapsed > 0 ? bytesDone / (elapsed / 1000) : 0;
      request.onProgress?.({
        phase,
        files_total: files.length,
        files_done: filesDone,
        bytes_total: bytesTotal,
        bytes_done: bytesDone,
        rows,
        elapsed_ms: Math.round(elapsed),
        rows_per_second: Math.round(rate),
        eta_seconds: phase === 'done' ? 0 : byteRate > 0 ? Math.max(0, (bytesTotal - bytesDone) / byteRate) : null,
      });
    };
    const run = async (sql: string, display: string, params?: Record<string, string>) => {
      statements.push(display);
      return this.queries.run(sql, { user: request.user, source: request.origin, signal: request.signal, sessionId: request.sessionId, params, historyQuery: display });
    };

    try {
      progress('listing', 0, 0);
      await this.reader.check(request.source, request.signal);
      files = await this.reader.files(request.source, request.signal);
      if (files.length === 0) throw new S3Error(404, `No object matches ${url}`);

      const exists = await this.tableExists(target.database, target.table);
      if (exists && create === 'yes') throw new S3Error(409, `Table ${target.display} already exists (create=yes asks for a new table)`);
      if (!exists && create === 'no') throw new S3Error(404, `Table ${target.display} does not exist (create=no imports into an existing table)`);

      if (request.source.columns?.length) columns = await this.normalizeColumns(request.source.columns);
      else columns = await this.reader.schema(request.source, request.signal);
      const source: S3Source = { ...request.source, columns: request.source.columns?.length ? columns : undefined };
      const tf = await this.reader.tableFunction(source);
      format = tf.read.format;
      compression = tf.read.compression;
      historyId = await this.history.start(this.recordStart(request, target.display, url, columns, started));

      if (!exists) {
        progress('creating', 0, 0);
        const orderBy = request.orderBy?.length ? `(${request.orderBy.map(sqlIdentifier).join(', ')})` : 'tuple()';
        const onCluster = this.cluster ? ` ON CLUSTER ${sqlString(this.cluster)}` : '';
        const ddl = `CREATE TABLE ${target.sql}${onCluster} (${structureOf(columns)}) ENGINE = MergeTree ORDER BY ${orderBy}`;
        await run(ddl, ddl);
        created = true;
      }

      const before = exists ? await this.countRows(target.sql) : 0;
      const columnList = source.columns ? ` (${columns.map((c) => sqlIdentifier(c.name)).join(', ')})` : '';
      const batches = batchesOf(files);
      let filesDone = 0;
      let bytesDone = 0;
      let written: number | undefined = 0;
      progress('copying', 0, 0);
      for (const batch of batches) {
        if (request.signal?.aborted) throw new QueryCancelledError();
        const params: Record<string, string> = { ...tf.params };
        let where = '';
        let whereShown = '';
        if (batches.length > 1) {
          params.s3_paths = arrayParam(batch.map((f) => f.path));
          where = ' WHERE _path IN {s3_paths:Array(String)}';
          whereShown = ` WHERE _path IN ${params.s3_paths}`;
        }
        const tail = settingsClause(tf.settings);
        const sql = `INSERT INTO ${target.sql}${columnList} SELECT * FROM ${tf.sql}${where}${tail}`;
        const shown = `INSERT INTO ${target.sql}${columnList} SELECT * FROM ${tf.display}${whereShown}${tail}`;
        let outcome;
        try {
          outcome = await run(sql, shown, params);
        } catch (error) {
          throw await this.reader.explain(error, source, tf);
        }
        const batchRows = outcome.kind === 'command' ? outcome.summary.writtenRows : undefined;
        written = written !== undefined && batchRows !== undefined ? written + batchRows : undefined;
        filesDone += batch.length;
        bytesDone += batch.reduce((s, f) => s + f.size, 0);
        // A server reports rows written; embedded chDB does not, so count the table.
        rows = written ?? (await this.countRows(target.sql)) - before;
        progress('copying', filesDone, bytesDone);
      }
      if (written === undefined) rows = (await this.countRows(target.sql)) - before;
      progress('done', filesDone, bytesDone);

      const elapsed = performance.now() - t0;
      await this.history.finish(historyId, { status: 'completed', records_migrated: rows, error_message: null, duration_seconds: elapsed / 1000, metadata: this.metadata(request, url, files, created, format, compression) });
      return {
        rows,
        destination_table: target.display,
        created,
        files: files.length,
        bytes: files.reduce((s, f) => s + f.size, 0),
        elapsed_ms: Math.round(elapsed),
        columns,
        history_id: historyId,
        statements,
      };
    } catch (error) {
      const failure = error instanceof S3Error || error instanceof QueryCancelledError ? error : toClickHouseError(error);
      const message = failure instanceof QueryCancelledError ? 'cancelled' : failure.message;
      historyId ??= await this.history.start(this.recordStart(request, target.display, url, columns, started));
      await this.history.finish(historyId, {
        status: 'failed',
        records_migrated: rows,
        error_message: message,
        duration_seconds: (performance.now() - t0) / 1000,
        metadata: this.metadata(request, url, files, created, format, compression),
      });
      throw failure;
    }
  }

  private async tableExists(database: string | undefined, table: string): Promise<boolean> {
    const [row] = await this.engine.json<{ n: string | number }>(
      `SELECT count() AS n FROM system.tables WHERE database = ${database ? '{db:String}' : 'currentDatabase()'} AND name = {table:String}`,
      { params: database ? { db: database, table } : { table } },
    );
    return Number(row?.n ?? 0) > 0;
  }

  private async countRows(tableSql: string): Promise<number> {
    const [row] = await this.engine.json<{ n: string | number }>(`SELECT count() AS n FROM ${tableSql}`);
    return Number(row?.n ?? 0);
  }

  /** Checks each given type with ClickHouse's own type parser and takes its canonical spelling. */
  private async normalizeColumns(columns: ColumnInfo[]): Promise<ColumnInfo[]> {
    const seen = new Set<string>();
    const out: ColumnInfo[] = [];
    for (const column of columns) {
      if (!column.name) throw new S3Error(400, 'columns: a column has no name');
      if (seen.has(column.name)) throw new S3Error(400, `columns: "${column.name}" is given twice`);
      seen.add(column.name);
      try {
        const [row] = await this.engine.json<{ type: string }>('SELECT toTypeName(defaultValueOfTypeName({type:String})) AS type', { params: { type: column.type } });
        out.push({ name: column.name, type: row!.type.replace(/\s*\n\s*/g, ' ') });
      } catch (error) {
        throw new S3Error(400, `columns: "${column.name}" has no valid ClickHouse type "${column.type.slice(0, 80)}": ${toClickHouseError(error).message.split('\n')[0]}`);
      }
    }
    return out;
  }

  private recordStart(request: ImportRequest, destination: string, url: string, columns: ColumnInfo[], started: Date) {
    return {
      source: `s3:${request.source.connection.name}`,
      destination,
      source_table: url,
      deskripsi: `Import ${url} into ${destination}`,
      tabel_fields: columns.map((c) => c.name),
      field_mappings: columns.map((c) => ({ source_field: c.name, destination_field: c.name, destination_type: c.type, transformation: null })),
      created_by: request.user,
      started,
      metadata: this.metadata(request, url, [], false, undefined, undefined),
    };
  }

  /** migration_history.metadata of an import; `cell` re-runs it in a notebook. */
  private metadata(request: ImportRequest, url: string, files: FileInfo[], created: boolean, format: string | undefined, compression: string | undefined): Record<string, unknown> {
    const options = [request.source.format ? `format=${request.source.format}` : '', request.source.connection.name !== 'default' ? `connection=${request.source.connection.name}` : ''].filter(Boolean);
    const cellUrl = /[\s"'\\]/.test(url) ? JSON.stringify(url) : url;
    const columns = request.source.columns?.length ? `\n${request.source.columns.map((c) => `${c.name} ${c.type}`).join('\n')}` : '';
    return {
      kind: 's3_import',
      connection: request.source.connection.name,
      url,
      format: format ?? request.source.format ?? null,
      compression: compression ?? null,
      files: files.length,
      bytes: files.reduce((s, f) => s + f.size, 0),
      table_created: created,
      cluster: this.cluster ?? null,
      cell: `%%s3 import ${cellUrl} into ${request.table}${options.length ? ` ${options.join(' ')}` : ''}${columns}`,
    };
  }
}
