// The transfer: ranges copied in parallel from PostgreSQL (COPY … TO STDOUT, text) into ClickHouse.
//  - embedded chDB: each range's COPY streams into `INSERT … SELECT <conversions> FROM url(…, 'TSV')` through a
//    loopback HTTP feed (range-feed.ts): chDB parses as PostgreSQL sends, with backpressure, and no temp file;
//    each worker has its own chDB connection, so `parallelism` ranges load side by side. When every column has a
//    binary codec (binary-transport.ts), the COPY is binary and each row is re-encoded as RowBinary as it is
//    taken out of the protocol (postgres/row-binary.ts): neither side prints or parses text;
//  - ClickHouse server: each range's COPY stream is the body of `INSERT … SELECT … FROM input(…) FORMAT TSV`;
//  - pull: ClickHouse reads the range itself through postgresql() (same insert, no rows through Node).
// Exactness: each range is inserted as ONE block (squashing thresholds above the range size, one insert
// thread) with insert_deduplication_token = "<migration id>:<range id>" on a MergeTree with
// non_replicated_deduplication_window. A block is committed whole (one part per partition) or not at all, and
// a retried or resumed range with the same token is dropped by ClickHouse if it had been committed before its
// "done" record was written. So a range is loaded exactly once however often it is retried.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import type pg from 'pg';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { ClickHouseHttpConfig } from '../config.js';
import type { ClickHouseEngine, QueryOptions, Settings } from '../clickhouse/engine.js';
import { toClickHouseError } from '../clickhouse/errors.js';
import { connectPostgres, postgresErrorMessage } from '../postgres/connect.js';
import { CopyOutStream } from '../postgres/copy.js';
import { BinaryCopyError, RowBinaryEncoder } from '../postgres/row-binary.js';
import type { ResolvedConnection } from '../postgres/connections.js';
import type { MigrationHistory } from './history.js';
import { activeColumns, copySelectList, finalExpression, inputSource, insertSelect, urlSource, type ColumnPlan } from './plan.js';
import { RangeFeed } from './range-feed.js';
import { binaryTransport, type BinaryTransport } from './binary-transport.js';
import { rangeCondition, type CopyRange, type RangePlan } from './planner.js';
import { chIdent, chString, chTable, MigrationError, pgTable } from './sql.js';

export interface TransferTarget {
  database: string;
  table: string;
}

export interface TransferJob {
  migrationId: string;
  source: { schema: string; table: string };
  target: TransferTarget;
  mappings: ColumnPlan[];
  ranges: RangePlan;
  pending: CopyRange[];
  parallelism: number;
  retries: number;
  method: 'copy' | 'pull';
  /** An exported snapshot the workers join (same view of the source for every range). */
  snapshot?: string;
  /**
   * A resumed run: before loading a range, look at what the target already holds in its key range (when the
   * key column is copied as is) instead of trusting insert deduplication alone (see keyedRangeState).
   */
  resuming?: boolean;
  /**
   * The copy-time value check (value-check.ts rowCheckExpression): sent as one more COPY column, and a row where
   * it is true makes ClickHouse refuse the range's whole insert block (nothing of the range lands).
   */
  check?: string | null;
  /**
   * Called after a range's COPY succeeded, with the connection that copied it when that connection reads the shared
   * snapshot (the source side of the validation is computed there, range by range; see service.ts). Must not throw.
   */
  afterCopy?: (client: pg.Client, range: CopyRange) => Promise<void>;
  /** Settles once the run's plan is recorded: no range loads before (workers connect meanwhile); its rejection fails the transfer. */
  ready?: Promise<unknown>;
}

export interface TransferDeps {
  engine: ClickHouseEngine;
  history: MigrationHistory;
  connection: ResolvedConnection;
  /** For a ClickHouse server: where to stream inserts (the same server the engine talks to). */
  http?: ClickHouseHttpConfig;
  onRows(rows: number): void;
  /** A range finished: its rows are final (replaces what onRows reported for it). */
  onRangeDone(range: CopyRange, rows: number, reportedRows: number): void;
  onRangeRetry(range: CopyRange, reportedRows: number, error: unknown): void;
  signal: AbortSignal;
}

/** Settings that make one range one atomic, deduplicated insert block. */
export function rangeInsertSettings(migrationId: string, rangeId: number): Settings {
  return {
    insert_deduplicate: 1,
    insert_deduplication_token: `${migrationId}:${rangeId}`,
    max_insert_threads: 1,
    min_insert_block_size_rows: 1_000_000_000_000,
    min_insert_block_size_bytes: 1_000_000_000_000_000,
    max_insert_block_size: 1_000_000_000_000,
    max_partitions_per_insert_block: 0,
    input_format_null_as_default: 0,
    insert_null_as_default: 0,
    date_time_input_format: 'best_effort',
    input_format_allow_errors_num: 0,
    input_format_allow_errors_ratio: 0,
    max_execution_time: 0,
  };
}

export function copySql(job: Pick<TransferJob, 'source' | 'mappings' | 'ranges' | 'check'>, range: CopyRange, binary = false): string {
  const where = rangeCondition(job.ranges, range);
  return `COPY (SELECT ${copySelectList(job.mappings, job.check)} FROM ${pgTable(job.source.schema, job.source.table)}${where ? ` WHERE ${where}` : ''}) TO STDOUT${binary ? ' (FORMAT binary)' : ''}`;
}

/** Connection-level failures worth a retry on a fresh connection (not SQL errors in the data). */
export function isTransient(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (typeof e.code === 'string' && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|57P01|57P02|57P03|08000|08003|08006|08001|08004|40001)$/.test(e.code)) return true;
  return /Connection terminated|terminating connection|connection .*(closed|ended)|Client has encountered a connection error|socket hang up|ECONNRESET|read ECONNRESET/i.test(e.message ?? '');
}

class AbortedError extends Error {
  constructor() {
    super('interrupted');
    this.name = 'AbortError';
  }
}

/** Runs the pending ranges with `parallelism` workers; rejects with the first failure (others stop). */
export async function transfer(job: TransferJob, deps: TransferDeps): Promise<void> {
  const queue = [...job.pending];
  const internal = new AbortController();
  const signal = AbortSignal.any([deps.signal, internal.signal]);
  let failure: unknown;
  let http: ClickHouseClient | undefined;
  if (deps.engine.kind === 'http' && job.method === 'copy') {
    if (!deps.http) throw new MigrationError('', 'ClickHouse server configuration missing for streaming inserts');
    http = createClient({
      url: deps.http.url,
      username: deps.http.username,
      password: deps.http.password,
      database: deps.http.database,
      request_timeout: 24 * 3600 * 1000,
      application: 'chlab-migration',
    });
  }
  const workers = Math.max(1, Math.min(job.parallelism, queue.length));
  // Embedded chDB: each worker loads through a connection of its own (chDB runs them side by side).
  const lanes = !http && job.method === 'copy' ? openLoadLanes(deps.engine, workers) : [];
  const feed = lanes.length ? await RangeFeed.open() : undefined;
  const binary = lanes.length ? binaryTransport(job.mappings, job.check) : null;
  const worker = async (index: number) => {
    let client: pg.Client | undefined;
    /** Whether `client` reads the shared snapshot. */
    let inSnapshot = false;
    const connect = async () => {
      const snapshot = job.snapshot;
      const init: string[] = [];
      if (snapshot) init.push('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', `SET TRANSACTION SNAPSHOT '${snapshot.replace(/[^0-9A-Fa-f-]/g, '')}'`);
      inSnapshot = false;
      try {
        const connected = await connectPostgres(deps.connection.config, { init });
        inSnapshot = !!snapshot;
        return connected;
      } catch (error) {
        if (!snapshot) throw error;
        // The exporting transaction is gone (its connection dropped): go on without a shared snapshot.
        job.snapshot = undefined;
        return connectPostgres(deps.connection.config);
      }
    };
    const afterCopy = async (range: CopyRange) => {
      if (job.afterCopy && client && inSnapshot) await job.afterCopy(client, range);
    };
    try {
      while (queue.length && !signal.aborted) {
        const range = queue.shift()!;
        for (let attempt = 0; ; attempt++) {
          let reported = 0;
          const started = performance.now();
          try {
            if (signal.aborted) throw new AbortedError();
            if (job.method === 'copy') client ??= await connect();
            await job.ready;
            let rows: number;
            let bytes = 0;
            const onRows = (n: number) => {
              reported += n;
              deps.onRows(n);
            };
            if (job.method === 'pull') {
              rows = await pullRange(job, deps, range);
              onRows(rows);
            } else if (http) {
              const result = await streamRangeHttp(job, client!, http, range, onRows, signal);
              rows = result.rows;
              bytes = result.bytes;
              await afterCopy(range);
            } else {
              const result = await streamRangeEmbedded(job, deps, { lane: lanes[index]!.command, feed: feed!, binary, client: client!, range, onRows, signal, afterCopy: () => afterCopy(range) });
              rows = result.rows;
              bytes = result.bytes;
            }
            await deps.history.recordRangeDone(job.migrationId, range, job.ranges.kind, rows, bytes, performance.now() - started);
            deps.onRangeDone(range, rows, reported);
            break;
          } catch (error) {
            if (signal.aborted) throw deps.signal.aborted ? new AbortedError() : error;
            if (client) {
              await client.end().catch(() => undefined);
              client = undefined;
            }
            if (!isTransient(error) || attempt >= job.retries) throw error;
            deps.onRangeRetry(range, reported, error);
            await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
          }
        }
      }
    } catch (error) {
      failure ??= error;
      internal.abort();
    } finally {
      await client?.end().catch(() => undefined);
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, (_, index) => worker(index)));
  } finally {
    await http?.close().catch(() => undefined);
    await feed?.close().catch(() => undefined);
    await Promise.all(lanes.map((l) => l.close().catch(() => undefined)));
  }
  if (failure) throw failure;
  if (deps.signal.aborted) throw new AbortedError();
}

/**
 * For an insert reading a range from the loopback feed: one GET (no HEAD, no retry), and no timeout while PostgreSQL
 * works. Each range is parsed on one thread: the ranges already load side by side (one per copy worker), and
 * parallel parsing's extra segmenting pass cost 0.2-0.4 s more CPU per 1M rows (measured on 2 cores) with no
 * speed-up, the COPY being the slower side of each range.
 */
export const FEED_SETTINGS: Settings = { http_max_tries: 1, http_make_head_request: 0, http_receive_timeout: 24 * 3600, input_format_parallel_parsing: 0 };

interface EmbeddedRange {
  lane: LoadLane;
  feed: RangeFeed;
  /** The range travels as binary COPY re-encoded as RowBinary (null: COPY text read as TSV). */
  binary: BinaryTransport | null;
  client: pg.Client;
  range: CopyRange;
  onRows: (rows: number) => void;
  signal: AbortSignal;
  /** The source side of the validation for the range, started once its COPY is through (beside chDB writing the part). */
  afterCopy: () => Promise<void>;
}

/**
 * One range into embedded chDB: ClickHouse's INSERT reads the range's COPY through the loopback feed as PostgreSQL
 * sends it. A failed COPY (a dropped connection, a PostgreSQL error) cuts the body short, so ClickHouse commits
 * nothing, and is what this rejects with (retried when transient); a refused insert (the value check, a value
 * ClickHouse cannot parse) stops the COPY and rejects as a RangeLoadError.
 */
async function streamRangeEmbedded(job: TransferJob, deps: TransferDeps, r: EmbeddedRange): Promise<{ rows: number; bytes: number }> {
  const { range, client, signal } = r;
  let sourceRows = 0;
  const token = await prepareKeyedLoad(job, deps, range, async () => (sourceRows = await countSourceRange(job, client, range)));
  if (token === null) {
    // A resumed range the target already holds whole: its rows count as copied.
    r.onRows(sourceRows);
    return { rows: sourceRows, bytes: 0 };
  }
  const binary = r.binary;
  const mappings = binary?.plans ?? job.mappings;
  let source: CopyOutStream | undefined;
  let endCopy!: (error?: unknown) => void;
  const copied = new Promise<void>((resolve, reject) => (endCopy = (error) => (error === undefined ? resolve() : reject(error))));
  copied.catch(() => undefined);
  const offer = r.feed.offer((response: ServerResponse) => {
    const sql = copySql({ ...job, mappings }, range, !!binary);
    source = client.query(new CopyOutStream(sql, r.onRows, binary ? new RowBinaryEncoder(binary.fields) : undefined));
    pipeline(source, response, { signal }).then(
      () => endCopy(),
      (error: unknown) => {
        // (the chunked body stays unfinished: ClickHouse fails the read and commits nothing)
        response.destroy();
        endCopy(error);
      },
    );
  });
  const settings = { ...rangeInsertSettings(job.migrationId, range.id), ...FEED_SETTINGS };
  if (token) settings.insert_deduplication_token = token;
  const insert = r.lane(insertSelect(job.target, mappings, urlSource(offer.url, mappings, !!job.check, binary ? 'RowBinary' : 'TSV'), !!job.check), { settings, signal });
  insert.catch(() => undefined);
  let partial: Promise<void> | undefined;
  try {
    const first = await Promise.race([copied.then(() => 'copied', () => 'copy failed'), insert.then(() => 'inserted', () => 'insert failed')]);
    if (first === 'copied') partial = r.afterCopy();
    await insert;
    if (!source) throw new RangeLoadError(range, 'ClickHouse did not read the range');
    await copied;
    await (partial ?? r.afterCopy());
  } catch (error) {
    // (withdrawn first: a request that comes now gets 410 and starts no COPY)
    offer.withdraw();
    if (source) {
      if (!source.destroyed) source.destroy();
      await copied.catch(() => undefined);
    }
    await partial?.catch(() => undefined);
    if (source?.failure) throw source.failure;
    if (signal.aborted || error instanceof RangeLoadError) throw error;
    const encodeError = source && (await copied.then(() => undefined, (e: unknown) => (e instanceof BinaryCopyError ? e : undefined)));
    if (encodeError) throw new RangeLoadError(range, encodeError.message);
    throw new RangeLoadError(range, toClickHouseError(error).display);
  } finally {
    offer.withdraw();
  }
  if (source.commandRows !== undefined && source.commandRows !== source.rows) {
    throw new RangeLoadError(range, `PostgreSQL reported ${source.commandRows} rows but sent ${source.rows}`);
  }
  return { rows: source.rows, bytes: source.bytes };
}

/** A range's row count in the worker's snapshot (a resumed run compares it with what the target holds). */
async function countSourceRange(job: TransferJob, client: pg.Client, range: CopyRange): Promise<number> {
  const where = rangeCondition(job.ranges, range);
  const result = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${pgTable(job.source.schema, job.source.table)}${where ? ` WHERE ${where}` : ''}`);
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * On resume, a range that was in flight when the previous process died may have landed (its "done" record lost
 * with the process), not landed, or - with a partitioned target, whose one block becomes a part per partition -
 * landed in part. Insert deduplication covers the first case, but a crash between ClickHouse writing its
 * deduplication log and committing the part would make a retry look like a duplicate. So when the key column is
 * copied as is, the target itself is asked: all the range's rows present → nothing to load (null); none → load
 * with a fresh token; some → delete them (synchronous mutation), then load with a fresh token. Without such a
 * key (ctid ranges, a transformed key) the deduplication token alone decides.
 */
async function prepareKeyedLoad(job: TransferJob, deps: TransferDeps, range: CopyRange, sourceRows: () => Promise<number>): Promise<string | null | undefined> {
  if (!job.resuming || job.ranges.kind !== 'key') return undefined;
  const key = job.mappings.find((p) => p.source_field === job.ranges.column && !p.skip && !p.transformation);
  if (!key) return undefined;
  const rows = await sourceRows();
  const conditions: string[] = [];
  if (range.lo !== null) conditions.push(`${chIdent(key.destination_field)} >= ${BigInt(range.lo).toString()}`);
  if (range.hi !== null) conditions.push(`${chIdent(key.destination_field)} < ${BigInt(range.hi).toString()}`);
  const where = conditions.length ? conditions.join(' AND ') : '1';
  const table = chTable(job.target.database, job.target.table);
  const [row] = await deps.engine.json<{ n: string | number }>(`SELECT count() AS n FROM ${table} WHERE ${where}`, { settings: { max_execution_time: 0 } });
  const present = Number(row?.n ?? 0);
  if (present === rows && rows > 0) return null;
  if (present > 0) await deps.engine.command(`ALTER TABLE ${table} DELETE WHERE ${where}`, { settings: { mutations_sync: 2, max_execution_time: 0 } });
  return `${job.migrationId}:${range.id}:${randomUUID()}`;
}

type LoadLane = (sql: string, options: QueryOptions) => Promise<unknown>;

/** `count` connections for range loads when the engine has side connections (embedded chDB), else the engine itself. */
function openLoadLanes(engine: ClickHouseEngine, count: number): { command: LoadLane; close(): Promise<void> }[] {
  const side = engine as ClickHouseEngine & { openSideConnection?: () => { command: LoadLane; close(): Promise<void> } };
  if (typeof side.openSideConnection !== 'function') return [{ command: (sql, options) => engine.command(sql, options), close: async () => undefined }];
  return Array.from({ length: count }, () => side.openSideConnection!());
}

async function streamRangeHttp(job: TransferJob, client: pg.Client, http: ClickHouseClient, range: CopyRange, onRows: (n: number) => void, signal: AbortSignal) {
  const source = client.query(new CopyOutStream(copySql(job, range), onRows));
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  const piping = pipeline(source, body, { signal });
  const sql = `${insertSelect(job.target, job.mappings, inputSource(job.mappings, !!job.check), !!job.check)} FORMAT TSV`;
  try {
    const [result] = await Promise.all([
      http.exec({ query: sql, values: body, clickhouse_settings: rangeInsertSettings(job.migrationId, range.id) as never, abort_signal: signal }),
      piping,
    ]);
    result.stream.resume();
  } catch (error) {
    body.destroy();
    const pgError = error as { code?: string };
    if (isTransient(error) || typeof pgError.code === 'string') throw error;
    throw new RangeLoadError(range, toClickHouseError(error).display);
  }
  return { rows: source.rows, bytes: source.bytes };
}

/** Server-side pull: ClickHouse reads the range through postgresql() (credentials as bound parameters). */
async function pullRange(job: TransferJob, deps: TransferDeps, range: CopyRange): Promise<number> {
  const active = activeColumns(job.mappings);
  const conditions: string[] = [];
  if (job.ranges.kind === 'key') {
    if (range.lo !== null) conditions.push(`${chIdent(job.ranges.column!)} >= ${BigInt(range.lo).toString()}`);
    if (range.hi !== null) conditions.push(`${chIdent(job.ranges.column!)} < ${BigInt(range.hi).toString()}`);
  } else if (job.ranges.kind === 'ctid') {
    throw new MigrationError('options.method', 'pull needs key ranges (a single-column integer primary key) or ranges: none');
  }
  const c = deps.connection.config;
  const from = `postgresql({pg_addr:String}, {pg_db:String}, {pg_table:String}, {pg_user:String}, {pg_password:String}, {pg_schema:String})`;
  const inner = `SELECT ${active.map((p) => chIdent(p.source_field)).join(', ')} FROM ${from}${conditions.length ? ` WHERE ${conditions.join(' AND ')}` : ''}`;
  const sql = `INSERT INTO ${chTable(job.target.database, job.target.table)} (${active.map((p) => chIdent(p.destination_field)).join(', ')}) SELECT ${active.map(finalExpression).join(', ')} FROM (${inner})`;
  const params = { pg_addr: `${c.host}:${c.port}`, pg_db: c.database, pg_table: job.source.table, pg_user: c.user, pg_password: c.password, pg_schema: job.source.schema };
  const before = await countRows(deps.engine, job.target);
  try {
    await deps.engine.command(sql, { params, settings: { ...rangeInsertSettings(job.migrationId, range.id), external_table_functions_use_nulls: 1 } });
  } catch (error) {
    throw new RangeLoadError(range, toClickHouseError(error).display.split(c.password || '\u0000').join('***'));
  }
  // postgresql() reports no row count through every engine: the range's rows are what the table gained.
  return Math.max(0, (await countRows(deps.engine, job.target)) - before);
}

async function countRows(engine: ClickHouseEngine, target: TransferTarget): Promise<number> {
  const [row] = await engine.json<{ n: string | number }>(`SELECT count() AS n FROM ${chTable(target.database, target.table)}`);
  return Number(row?.n ?? 0);
}

export class RangeLoadError extends Error {
  constructor(
    readonly range: CopyRange,
    message: string,
  ) {
    super(`ClickHouse rejected range ${range.id}${range.lo !== null || range.hi !== null ? ` [${range.lo ?? '…'}, ${range.hi ?? '…'})` : ''}: ${message}`);
    this.name = 'RangeLoadError';
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof MigrationError || error instanceof RangeLoadError) return error.message;
  const e = error as { code?: string; severity?: string };
  if (e && typeof e === 'object' && (typeof e.severity === 'string' || /^[0-9A-Z]{5}$/.test(e.code ?? ''))) return `PostgreSQL: ${postgresErrorMessage(error)}`;
  if (error instanceof Error && error.name === 'AbortError') return 'interrupted';
  if (error instanceof Error && /ClickHouse|Code: \d+/.test(error.message)) return toClickHouseError(error).display;
  return error instanceof Error ? error.message : String(error);
}

export { chString };
