import { Signal } from '@lumino/signaling';
import { type Schema, Table, tableFromIPC, tableToIPC } from 'apache-arrow';

import { type IpcInfo, countBatch, inspectIpc, registerZstd, uncompressedIpc } from './compression.js';
import { type DuckDBLoadPlan, convertTable, planDuckDBLoad } from './duckdb/prepare.js';
import { type DuckEngine, RESULTS_SCHEMA, getDuckDB, quoteIdent, resultTableRef } from './duckdb/engine.js';

export type ResultState = 'receiving' | 'complete' | 'failed' | 'evicted';

export interface ResultColumn {
  name: string;
  type: string;
}

/** A result name a `%%duckdb` cell can use: `-- name: trips` on the first line of a cell. */
export function resultName(code: string): string | undefined {
  const lines = code.split('\n');
  let i = /^\s*%%/.test(lines[0] ?? '') ? 1 : 0;
  for (; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) {
      continue;
    }
    return /^--\s*name\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(line)?.[1];
  }
  return undefined;
}

let tableCounter = 0;

/** One result held by DuckDB-WASM in this page: a ClickHouse result as it streams in, or a `%%duckdb` result. */
export class ResultRecord {
  readonly changed = new Signal<ResultRecord, void>(this);
  /** The table in the `chlab` schema. */
  readonly table: string;
  /** The result's Arrow schema as the kernel sent it (ClickHouse types in field metadata). */
  schema: Schema | undefined;
  columns: ResultColumn[] = [];
  /** Rows in DuckDB. */
  rows = 0;
  /** Rows received (some may still be on their way into DuckDB). */
  received = 0;
  /** Arrow bytes received. */
  bytes = 0;
  state: ResultState = 'receiving';
  truncated = false;
  /** The query failed (ClickHouse error or interrupt). */
  error: string | undefined;
  /** DuckDB could not take the result. */
  loadError: string | undefined;
  /** Views in `main` that show this result: `_3`, `_`, `trips`. */
  names: string[] = [];
  executionCount: number | undefined;
  /** The statement that produced it (for exports of the whole result by ClickHouse). */
  query: string | undefined;
  created = false;
  plan: DuckDBLoadPlan | undefined;
  /** Set once the kernel's final display for the result arrived (ClickHouse results). */
  finalized = false;
  /**
   * Set for a result loaded from a saved notebook's output (opened, or the page reloaded): DuckDB holds only
   * the preview kept in the notebook, of `totalRows` rows the query gave.
   */
  saved: { totalRows: number } | undefined;
  /** The names it had when it was evicted. */
  evictedNames: string[] = [];
  /** A grid's own copy of its preview (to sort or chart it): not a result, never evicted. */
  viewCopy = false;
  readonly createdAt = Date.now();

  constructor(
    readonly id: string,
    readonly engine: 'clickhouse' | 'duckdb'
  ) {
    this.table = `${engine === 'duckdb' ? 'd' : 'r'}${++tableCounter}_${id.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}`;
  }

  get tableRef(): string {
    return resultTableRef(this.table);
  }

  /** All rows are in DuckDB. */
  get complete(): boolean {
    return this.state === 'complete' && this.created && !this.loadError && this.rows === this.received;
  }

  /** A saved preview that holds fewer rows than the result had. */
  get partialPreview(): boolean {
    return !!this.saved && this.rows < this.saved.totalRows;
  }

  emit(): void {
    this.changed.emit();
  }
}

/** A result kept in a saved notebook's output, to load into DuckDB when the notebook opens. */
export interface SavedResult {
  id: string;
  engine: 'clickhouse' | 'duckdb';
  /** The Arrow IPC preview kept in the output. */
  preview: Uint8Array;
  /** Rows the query gave (metadata `total_rows`). */
  totalRows?: number;
  executionCount?: number;
  name?: string;
  query?: string;
}

/**
 * `preview: 1,000 of 1,000,000 rows — re-run the cell for all`, or with the names a `%%duckdb` cell used:
 * `_1, trips hold only the saved preview: 1,000 of 1,000,000 rows — re-run its cell for all`.
 */
export function savedPreviewNote(rows: number, totalRows: number, names: string[] = []): string {
  const counts = `${rows.toLocaleString('en-US')} of ${totalRows.toLocaleString('en-US')} ${totalRows === 1 ? 'row' : 'rows'}`;
  if (!names.length) {
    return `preview: ${counts} — re-run the cell for all`;
  }
  return `${names.join(', ')} ${names.length === 1 ? 'holds' : 'hold'} only the saved preview: ${counts} — re-run its cell for all`;
}

interface PendingBatch {
  bytes: Uint8Array;
  info: IpcInfo;
  rows: number;
}

/** One uncompressed IPC stream of the batches (each an IPC stream of the same schema, maybe compressed). */
function joinedIpc(batches: PendingBatch[]): Uint8Array {
  if (batches.length === 1) {
    return uncompressedIpc(batches[0].bytes, batches[0].info);
  }
  registerZstd();
  const tables = batches.map(b => tableFromIPC(b.bytes));
  return tableToIPC(new Table(tables[0].schema, tables.flatMap(t => t.batches)), 'stream');
}

/** An Arrow IPC file starts with the magic `ARROW1`; a stream does not. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isIPCFile(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && String.fromCharCode(...bytes.subarray(0, 6)) === 'ARROW1';
}


/** Results held at most by default, in received Arrow bytes; older ones are dropped first (not `_` nor named ones). */
export const RESULT_MEMORY_BUDGET = 1536 * 1024 * 1024;

/** A name whose result was dropped to keep within the memory budget. */
export interface EvictedName {
  /** The execution count of the cell that gave the result (to run it again). */
  executionCount: number | undefined;
  /** The budget, in bytes, when it was dropped. */
  budget: number;
}

/**
 * Every result of the page in DuckDB-WASM: batches from the `chlab.results` comm go straight into a table
 * (nothing is kept in JavaScript), then the result gets its names — `_N` for the cell's execution count,
 * `_` for the latest, and the cell's `-- name:` — as views.
 */
export class ResultRegistry {
  readonly namesChanged = new Signal<ResultRegistry, void>(this);
  private readonly records = new Map<string, ResultRecord>();
  /** View name → record id. */
  private readonly views = new Map<string, string>();
  /** Names whose result was evicted (until a new result takes the name). */
  private readonly evicted = new Map<string, EvictedName>();
  private budget = RESULT_MEMORY_BUDGET;
  private queue: Promise<void> = Promise.resolve();

  get(id: string | undefined): ResultRecord | undefined {
    return id ? this.records.get(id) : undefined;
  }

  /** The record a view name points at. */
  byName(name: string): ResultRecord | undefined {
    return this.get(this.views.get(name));
  }

  /** `_3`, `_`, then names given with `-- name:`. */
  namesOf(id: string): string[] {
    const rank = (name: string) => (/^_\d+$/.test(name) ? 0 : name === '_' ? 1 : 2);
    return [...this.views]
      .filter(([, target]) => target === id)
      .map(([name]) => name)
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }

  all(): ResultRecord[] {
    return [...this.records.values()];
  }

  ensure(id: string, engine: 'clickhouse' | 'duckdb' = 'clickhouse'): ResultRecord {
    let record = this.records.get(id);
    if (!record) {
      record = new ResultRecord(id, engine);
      this.records.set(id, record);
    }
    return record;
  }

  /** Runs DuckDB work in order, after everything queued before. */
  enqueue<T>(work: (db: DuckEngine) => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => work(await getDuckDB()));
    this.queue = run.then(
      () => undefined,
      () => undefined
    );
    return run;
  }

  /** Resolves once every queued load and naming is done. */
  whenIdle(): Promise<void> {
    return this.queue;
  }

  /** Batches received and not yet taken by a DuckDB load (see receiveBatch). */
  private readonly pendingBatches = new WeakMap<ResultRecord, PendingBatch[]>();

  /** One batch of a streaming result: an Arrow IPC stream with the schema and one record batch. */
  receiveBatch(id: string, rows: number, bytes: Uint8Array, columns?: ResultColumn[]): void {
    const record = this.ensure(id);
    if (record.state === 'evicted') {
      return;
    }
    if (columns?.length) {
      record.columns = columns;
    }
    record.received += rows;
    // Batches may come compressed (./compression.ts): the budget counts them as DuckDB will hold them.
    const info = inspectIpc(bytes);
    countBatch(bytes.byteLength, info);
    record.bytes += info.uncompressedBytes;
    record.emit();
    // Batches that arrive while DuckDB is busy go in together: each insert costs DuckDB-WASM about as much as
    // a few hundred KiB of rows, and compressed batches arrive faster than it takes them one by one.
    const pending = this.pendingBatches.get(record) ?? [];
    this.pendingBatches.set(record, pending);
    pending.push({ bytes, info, rows });
    if (pending.length > 1) {
      return;
    }
    void this.enqueue(async db => {
      const batches = pending.splice(0);
      if (record.loadError || record.state === 'evicted') {
        return;
      }
      try {
        await this.insert(db, record, joinedIpc(batches), batches.reduce((n, b) => n + b.rows, 0));
      } catch (reason) {
        record.loadError = reason instanceof Error ? reason.message : String(reason);
        console.warn(`chlab: DuckDB could not load result ${id}`, reason);
      }
      record.emit();
    });
  }

  private async insert(db: DuckEngine, record: ResultRecord, bytes: Uint8Array, rows: number): Promise<void> {
    let payload = bytes;
    if (isIPCFile(bytes)) {
      // DuckDB's own results (a saved `%%duckdb` preview) are Arrow IPC files; DuckDB takes streams.
      payload = bytes = tableToIPC(tableFromIPC(bytes), 'stream');
    }
    if (!record.plan) {
      const table = tableFromIPC(bytes);
      record.schema = table.schema;
      record.plan = planDuckDBLoad(table.schema);
      if (record.plan.convert) {
        payload = tableToIPC(convertTable(table, record.plan), 'stream');
      }
    } else if (record.plan.convert) {
      payload = tableToIPC(convertTable(tableFromIPC(bytes), record.plan), 'stream');
    }
    const create = !record.created;
    await db.insertIPC(RESULTS_SCHEMA, record.table, payload, create);
    if (create) {
      record.created = true;
      for (const statement of record.plan.afterCreate(record.tableRef)) {
        await db.query(statement);
      }
    }
    record.rows += rows;
  }

  /** The end of a streaming result (`{done: true}` on the comm). */
  finish(id: string, details: { truncated?: boolean; error?: string }): void {
    const record = this.ensure(id);
    record.truncated = details.truncated === true;
    record.error = details.error;
    record.state = details.error ? 'failed' : 'complete';
    record.emit();
    if (details.error) {
      // A stopped query leaves no result to re-query: free what it had loaded.
      void this.enqueue(async db => {
        if (record.created) {
          await db.query(`DROP TABLE IF EXISTS ${record.tableRef}`);
        }
      }).catch(() => undefined);
    }
  }

  /**
   * The kernel's final display of a result: loads the preview when no batch came (an empty result, or a
   * client without the comm), then names it.
   */
  finalize(
    id: string,
    preview: Uint8Array | undefined,
    details: { executionCount?: number; name?: string; query?: string; truncated?: boolean; streamed?: boolean }
  ): Promise<void> {
    const record = this.ensure(id);
    record.query = details.query ?? record.query;
    record.executionCount = details.executionCount ?? record.executionCount;
    record.finalized = true;
    if (!details.streamed && record.state === 'receiving') {
      // Not streamed over the comm: the preview is all there is.
      record.state = 'complete';
      record.truncated = details.truncated === true;
    }
    return this.enqueue(async db => {
      if (record.state === 'failed' || record.state === 'evicted') {
        return;
      }
      if (!record.created && preview) {
        try {
          const table = tableFromIPC(preview);
          record.received = record.received || table.numRows;
          record.bytes = record.bytes || preview.byteLength;
          await this.insert(db, record, preview, table.numRows);
        } catch (reason) {
          record.loadError = reason instanceof Error ? reason.message : String(reason);
        }
      }
      if (!record.created || record.loadError) {
        record.emit();
        return;
      }
      const names = [
        ...(details.executionCount !== undefined ? [`_${details.executionCount}`, '_'] : []),
        ...(details.name ? [details.name] : [])
      ];
      await this.nameViews(db, record, names);
      record.emit();
      await this.evict(db);
    });
  }

  /**
   * Loads the results kept in a saved notebook's outputs (their bounded previews) into DuckDB under their
   * names — `_N` by the cell's execution count, `_` for the latest, `-- name:` — so `%%duckdb` cells work after
   * the notebook is reopened or the page reloaded. A name that a result run in this page holds is kept.
   */
  restoreSaved(results: SavedResult[]): Promise<void> {
    if (!results.length) {
      return Promise.resolve();
    }
    const numbered = results.filter(r => r.executionCount !== undefined && r.engine === 'clickhouse');
    const latest = numbered.reduce<SavedResult | undefined>((a, b) => (!a || b.executionCount! >= a.executionCount! ? b : a), undefined);
    return this.enqueue(async db => {
      for (const saved of results) {
        if (this.records.get(saved.id)?.created) {
          continue;
        }
        const record = this.ensure(saved.id, saved.engine);
        let rows: number;
        try {
          rows = tableFromIPC(saved.preview).numRows;
          record.received = rows;
          record.bytes = saved.preview.byteLength;
          await this.insert(db, record, saved.preview, rows);
        } catch (reason) {
          record.loadError = reason instanceof Error ? reason.message : String(reason);
          record.emit();
          continue;
        }
        record.state = 'complete';
        record.finalized = true;
        record.executionCount = saved.executionCount;
        record.query = saved.query;
        record.saved = { totalRows: Math.max(saved.totalRows ?? rows, rows) };
        const names = [
          ...(saved.executionCount !== undefined && saved.engine === 'clickhouse' ? [`_${saved.executionCount}`] : []),
          ...(saved === latest ? ['_'] : []),
          ...(saved.name ? [saved.name] : [])
        ].filter(name => {
          const holder = this.byName(name);
          return !holder || holder.saved !== undefined;
        });
        await this.nameViews(db, record, names);
        record.emit();
      }
      await this.evict(db);
    });
  }

  /**
   * Of the tables a query reads (DuckDB resolves the views `_1`, `trips` … to the result tables behind them),
   * the results that are a saved preview cut short of the whole result, with the names the query used.
   */
  partialPreviewsIn(tables: string[], sql: string): { names: string[]; rows: number; totalRows: number }[] {
    const read = new Set(tables.map(table => table.split('.').pop()!.replace(/^"(.*)"$/, '$1')));
    return this.all()
      .filter(record => record.partialPreview && read.has(record.table))
      .map(record => {
        const used = record.names.filter(name =>
          new RegExp(`(^|[^\\w$"])${escapeRegExp(name)}(?![\\w$])|"${escapeRegExp(name)}"`).test(sql)
        );
        return { names: used.length ? used : record.names, rows: record.rows, totalRows: record.saved!.totalRows };
      });
  }

  /** Registers a table a `%%duckdb` cell created, and names it when the cell asked. */
  async addLocal(
    db: DuckEngine,
    record: ResultRecord,
    details: { rows: number; columns: ResultColumn[]; name?: string; schema?: Schema }
  ): Promise<void> {
    record.rows = details.rows;
    record.received = details.rows;
    record.columns = details.columns;
    record.schema = details.schema;
    record.created = true;
    record.finalized = true;
    record.state = 'complete';
    if (details.name) {
      await this.nameViews(db, record, [details.name]);
    }
    record.emit();
  }

  private async nameViews(db: DuckEngine, record: ResultRecord, names: string[]): Promise<void> {
    for (const name of names) {
      await db.query(`CREATE OR REPLACE VIEW main.${quoteIdent(name)} AS SELECT * FROM ${record.tableRef}`);
      const previous = this.get(this.views.get(name));
      this.views.set(name, record.id);
      this.evicted.delete(name);
      if (previous && previous !== record) {
        previous.names = this.namesOf(previous.id);
        previous.emit();
      }
    }
    record.names = this.namesOf(record.id);
    this.namesChanged.emit();
  }

  /** The memory budget for results, in received Arrow bytes (the `resultsMemoryBudget` setting). */
  get memoryBudget(): number {
    return this.budget;
  }

  /** Sets the memory budget; results beyond a lowered budget are dropped at once. */
  setMemoryBudget(bytes: number): Promise<void> {
    if (!(bytes > 0) || bytes === this.budget) {
      return Promise.resolve();
    }
    this.budget = bytes;
    if (!this.all().some(record => record.created)) {
      // Nothing held: DuckDB need not start for it.
      return Promise.resolve();
    }
    return this.enqueue(db => this.evict(db));
  }

  /** Why a name is gone: the result it showed was dropped to keep within the memory budget. */
  evictedName(name: string): EvictedName | undefined {
    return this.evicted.get(name);
  }

  /** Drops the oldest results beyond the memory budget, keeping `_` and user-named results. */
  private async evict(db: DuckEngine): Promise<void> {
    const held = this.all().filter(r => r.state === 'complete' && r.created && r.engine === 'clickhouse' && !r.viewCopy);
    let total = held.reduce((sum, r) => sum + r.bytes, 0);
    let dropped = false;
    const protectedIds = new Set([...this.views].filter(([name]) => !/^_\d*$/.test(name) || name === '_').map(([, id]) => id));
    for (const record of held.sort((a, b) => a.createdAt - b.createdAt)) {
      if (total <= this.budget) {
        break;
      }
      if (protectedIds.has(record.id)) {
        continue;
      }
      total -= record.bytes;
      dropped = true;
      record.state = 'evicted';
      const names = this.namesOf(record.id);
      for (const name of names) {
        this.views.delete(name);
        this.evicted.set(name, { executionCount: record.executionCount, budget: this.budget });
      }
      record.evictedNames = names;
      record.names = [];
      record.emit();
      try {
        for (const name of names) {
          await db.query(`DROP VIEW IF EXISTS main.${quoteIdent(name)}`);
        }
        await db.query(`DROP TABLE IF EXISTS ${record.tableRef}`);
      } catch (reason) {
        console.warn(`chlab: could not drop evicted result ${record.id}`, reason);
      }
    }
    if (dropped) {
      this.namesChanged.emit();
    }
  }

  /** Loads a whole Arrow table as a result (a preview saved in the notebook, for sort/filter/charts). */
  loadTable(record: ResultRecord, table: Table): Promise<void> {
    return this.enqueue(async db => {
      if (record.created) {
        return;
      }
      record.viewCopy = true;
      record.received = table.numRows;
      await this.insert(db, record, tableToIPC(table, 'stream'), table.numRows);
      record.state = 'complete';
      record.finalized = true;
      record.emit();
    });
  }
}

/** The page's results (the MIME renderer and the plugins share it). */
export const resultRegistry = new ResultRegistry();
