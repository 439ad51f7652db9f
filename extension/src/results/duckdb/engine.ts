import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { type Table, tableFromIPC } from 'apache-arrow';

/** Where the proxy serves DuckDB-WASM's files (copied into the app build by rspack): no CDN. */
export function duckdbAssetsUrl(): string {
  return URLExt.join(PageConfig.getOption('fullStaticUrl') || '/static/lab', 'duckdb');
}

/** The schema that holds result tables; user-facing names (`_`, `_3`, `trips`) are views in `main`. */
export const RESULTS_SCHEMA = 'chlab';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

export function resultTableRef(table: string): string {
  return `${quoteIdent(RESULTS_SCHEMA)}.${quoteIdent(table)}`;
}

/** A `%%duckdb` query stopped by the notebook's Interrupt. */
export class QueryInterruptedError extends Error {
  constructor() {
    super('Query interrupted: DuckDB stopped it in the browser');
    this.name = 'Interrupted';
  }
}

/**
 * A connection of its own for one `%%duckdb` cell: its statements run as pending queries, executed slice by
 * slice in the worker, so an abort signal cancels one between slices (the page's other work — results
 * streaming in — keeps its own connection).
 */
export interface DuckSession {
  /** Runs SQL and returns the Arrow IPC bytes of its result; rejects with {@link QueryInterruptedError} on abort. */
  run(sql: string, signal?: AbortSignal): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * DuckDB-WASM for the page: one engine in one worker, started on first use. Query results come back as
 * Arrow IPC bytes and are read with the extension's own apache-arrow.
 */
export interface DuckEngine {
  readonly version: string;
  /** Runs SQL and returns its result. */
  query(sql: string): Promise<Table>;
  /** Runs SQL and returns the raw Arrow IPC bytes of its result. */
  queryIPC(sql: string): Promise<Uint8Array>;
  /** Creates (create = true) or appends to `schema.table` from an Arrow IPC stream. */
  insertIPC(schema: string, table: string, bytes: Uint8Array, create: boolean): Promise<void>;
  /** A new connection whose queries can be interrupted. */
  session(): Promise<DuckSession>;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let position = 0;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.byteLength;
  }
  return out;
}

let engine: Promise<DuckEngine> | undefined;
let startedAt = 0;
let readyMs: number | undefined;

/** The page's DuckDB, started at the first call. */
export function getDuckDB(): Promise<DuckEngine> {
  if (!engine) {
    startedAt = performance.now();
    engine = startDuckDB().then(
      started => {
        readyMs = performance.now() - startedAt;
        return started;
      },
      reason => {
        engine = undefined;
        throw reason;
      }
    );
  }
  return engine;
}

/** Whether the engine was asked for, and how long it took to start (for diagnostics and the bench). */
export function duckdbStatus(): { requested: boolean; readyMs?: number } {
  return { requested: engine !== undefined, readyMs };
}

async function startDuckDB(): Promise<DuckEngine> {
  const duckdb = await import('@duckdb/duckdb-wasm');
  const base = duckdbAssetsUrl();
  const bundle = await duckdb.selectBundle({
    mvp: { mainModule: `${base}/duckdb-mvp.wasm`, mainWorker: `${base}/duckdb-browser-mvp.worker.js` },
    eh: { mainModule: `${base}/duckdb-eh.wasm`, mainWorker: `${base}/duckdb-browser-eh.worker.js` }
  });
  const worker = new Worker(bundle.mainWorker!);
  const db = new duckdb.AsyncDuckDB(new duckdb.VoidLogger(), worker);
  await db.instantiate(bundle.mainModule, bundle.pthreadWorker);
  await db.open({
    query: {
      castBigIntToDouble: false,
      castDecimalToDouble: false,
      castTimestampToDate: false,
      castDurationToTime64: false,
      // A pending query (a `%%duckdb` cell) runs this many ms per step: how soon Interrupt takes.
      queryPollingInterval: 50
    }
  });
  const conn = await db.connectInternal();
  const run = (sql: string) => db.runQuery(conn, sql);
  // Nothing may be fetched from the network: extensions are not installed or loaded on demand, and an
  // explicit INSTALL asks the proxy (which has none) instead of a CDN.
  await run('SET autoinstall_known_extensions = false');
  await run('SET autoload_known_extensions = false');
  await run(`SET custom_extension_repository = ${quoteLiteral(new URL(`${base}/extensions`, location.href).href)}`);
  await run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(RESULTS_SCHEMA)}`);
  const version = await db.getVersion();

  return {
    version,
    async query(sql) {
      return tableFromIPC(await run(sql));
    },
    queryIPC: run,
    async insertIPC(schema, table, bytes, create) {
      await db.insertArrowFromIPCStream(conn, bytes, { schema, name: table, create });
    },
    async session() {
      const id = await db.connectInternal();
      const cancel = async () => {
        await db.cancelPendingQuery(id).catch(() => false);
        throw new QueryInterruptedError();
      };
      return {
        async run(sql, signal) {
          if (signal?.aborted) {
            throw new QueryInterruptedError();
          }
          let header = await db.startPendingQuery(id, sql, false);
          while (header === null) {
            if (signal?.aborted) {
              await cancel();
            }
            header = await db.pollPendingQuery(id);
          }
          const chunks = [header];
          for (;;) {
            const chunk = await db.fetchQueryResults(id);
            if (chunk === null) {
              if (signal?.aborted) {
                await cancel();
              }
              continue;
            }
            if (chunk.byteLength === 0) {
              break;
            }
            chunks.push(chunk);
          }
          return concat(chunks);
        },
        async close() {
          await db.disconnect(id).catch(() => undefined);
        }
      };
    }
  };
}
