import type { ICodeCellModel } from '@jupyterlab/cells';
import type * as nbformat from '@jupyterlab/nbformat';
import { type INotebookCellExecutor, type INotebookModel, runCell } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';
import { tableFromIPC, tableToIPC } from 'apache-arrow';

import { ARROW_MIME } from './comm.js';
import { type DuckEngine, QueryInterruptedError, RESULTS_SCHEMA, getDuckDB } from './duckdb/engine.js';
import { createTableAs, duckdbCellBody, firstKeyword, isDuckDBCell, splitDuckDBStatements, statementKind } from './duckdb/sql.js';

export { duckdbCellBody, isDuckDBCell };
import { ArrowPage, gridColumns } from './grid/source.js';
import { type ResultColumn, type ResultRegistry, resultName, resultRegistry, savedPreviewNote } from './registry.js';
import { formatBytes, formatElapsed, formatRowCount } from './summary.js';

/** Rows of a `%%duckdb` result kept in the notebook (as for SQL results). */
export const DUCKDB_PREVIEW_ROWS = 1000;


function toBase64(bytes: Uint8Array): string {
  const native = bytes as Uint8Array & { toBase64?: () => string };
  if (typeof native.toBase64 === 'function') {
    return native.toBase64();
  }
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

let duckResultCounter = 0;

function missingTableHint(message: string, registry: ResultRegistry): string {
  const missing = /Table with name (\S+) does not exist/.exec(message)?.[1];
  if (!missing) {
    return message;
  }
  const evicted = registry.evictedName(missing.replace(/^"(.*)"$/, '$1'));
  if (evicted) {
    const cell = evicted.executionCount !== undefined ? ` (the cell that ran as [${evicted.executionCount}])` : '';
    return (
      `${message}\n\n${missing} was dropped from this browser tab to keep results within their memory budget ` +
      `(${formatBytes(evicted.budget)}, setting "Memory for results in the browser"): older results go first, ` +
      `_ and results named with -- name: are kept. Run its SQL cell again${cell} to load it back.`
    );
  }
  return (
    `${message}\n\nResults of SQL cells are loaded into DuckDB in this browser tab when they run (as _N, _ and ` +
    `their -- name:), and from a saved notebook's outputs when it is opened (the preview rows it kept). ` +
    `Run the SQL cell again.`
  );
}

async function describe(db: DuckEngine, tableRef: string): Promise<ResultColumn[]> {
  const table = await db.query(`DESCRIBE SELECT * FROM ${tableRef}`);
  const columns: ResultColumn[] = [];
  for (let i = 0; i < table.numRows; i++) {
    columns.push({ name: String(table.getChild('column_name')!.get(i)), type: String(table.getChild('column_type')!.get(i)) });
  }
  return columns;
}

/** A small text table for the notebook's text/plain fallback. */
function textTable(ipc: Uint8Array, columns: ResultColumn[], rows: number, elapsedMs: number, notes: string[] = []): string {
  const table = tableFromIPC(ipc);
  const shown = Math.min(table.numRows, 10);
  const page = new ArrowPage(0, table.slice(0, shown), gridColumns(table, columns, 'duckdb'));
  const lines = [columns.map(c => c.name).join('\t')];
  for (let row = 0; row < shown; row++) {
    lines.push(columns.map((_, i) => page.text(row, i) ?? 'NULL').join('\t'));
  }
  lines.push(`${formatRowCount(rows)} · ${formatElapsed(elapsedMs)} · DuckDB${rows > shown ? ` · first ${shown} shown` : ''}`);
  lines.push(...notes);
  return lines.join('\n');
}

/**
 * Runs the statements of a `%%duckdb` cell in DuckDB-WASM, in this page, against the results held there.
 * A query's rows become a table (CREATE TABLE … AS), shown in the same grid as any result; the notebook keeps
 * a preview. The last result of a cell starting with `-- name: x` is `x`.
 */
export async function runDuckDBCell(
  source: string,
  registry: ResultRegistry = resultRegistry,
  signal?: AbortSignal
): Promise<nbformat.IOutput[]> {
  const db = await getDuckDB();
  await registry.whenIdle();
  const session = await db.session();
  try {
    return await runStatements(db, session, source, registry, signal);
  } finally {
    void session.close();
  }
}

/**
 * The saved previews cut short of their whole result that a query reads: the result tables in its plan
 * (EXPLAIN — DuckDB resolves the views `_1`, `trips` … to them; nothing runs).
 */
async function partialPreviewsRead(
  db: DuckEngine,
  registry: ResultRegistry,
  statement: string,
  kind: ReturnType<typeof statementKind>
): Promise<ReturnType<ResultRegistry['partialPreviewsIn']>> {
  if (kind !== 'query' || !registry.all().some(record => record.partialPreview)) {
    return [];
  }
  let plan = '';
  try {
    const explained = await db.query(`EXPLAIN ${statement.replace(/;\s*$/, '')}`);
    for (const column of explained.schema.fields.map(field => explained.getChild(field.name)!)) {
      for (let row = 0; row < explained.numRows; row++) {
        plan += `${column.get(row)}\n`;
      }
    }
  } catch {
    return [];
  }
  const tables = registry
    .all()
    .filter(record => record.partialPreview && plan.includes(record.table))
    .map(record => record.table);
  return registry.partialPreviewsIn(tables, statement);
}

function interruptedOutput(): nbformat.IOutput {
  const error = new QueryInterruptedError();
  return { output_type: 'error', ename: error.name, evalue: error.message, traceback: [`${error.name}: ${error.message}`] };
}

async function runStatements(
  db: DuckEngine,
  session: Awaited<ReturnType<DuckEngine['session']>>,
  source: string,
  registry: ResultRegistry,
  signal: AbortSignal | undefined
): Promise<nbformat.IOutput[]> {
  const outputs: nbformat.IOutput[] = [];
  const name = resultName(source);
  let last: { record: ReturnType<ResultRegistry['ensure']>; rows: number; columns: ResultColumn[] } | undefined;
  for (const statement of splitDuckDBStatements(duckdbCellBody(source))) {
    if (signal?.aborted) {
      outputs.push(interruptedOutput());
      return outputs;
    }
    const started = performance.now();
    try {
      const kind = statementKind(statement);
      if (kind === 'command') {
        const result = tableFromIPC(await session.run(statement, signal));
        const elapsed = performance.now() - started;
        const count = result.numCols === 1 && result.schema.fields[0].name === 'Count' ? Number(result.getChildAt(0)?.get(0)) : undefined;
        const keyword = firstKeyword(statement);
        outputs.push({
          output_type: 'display_data',
          data: { 'text/plain': `${keyword}: ${count !== undefined ? `${count.toLocaleString('en-US')} rows` : 'OK'} · ${formatElapsed(elapsed)}` },
          metadata: {}
        });
        continue;
      }
      const record = registry.ensure(`duckdb-${Date.now().toString(36)}-${++duckResultCounter}`, 'duckdb');
      // Names it reads that hold only a saved notebook's preview of their result.
      const partial = (await partialPreviewsRead(db, registry, statement, kind)).map(p => savedPreviewNote(p.rows, p.totalRows, p.names));
      if (kind === 'query') {
        await session.run(createTableAs(record.tableRef, statement), signal);
      } else {
        // DESCRIBE, SHOW, SUMMARIZE …: a subquery; EXPLAIN, PRAGMA …: their (small) result, copied in.
        try {
          await session.run(createTableAs(record.tableRef, `SELECT * FROM (${statement.replace(/;\s*$/, '')}\n)`), signal);
        } catch (reason) {
          if (reason instanceof QueryInterruptedError) {
            throw reason;
          }
          const result = tableFromIPC(await session.run(statement, signal));
          await db.insertIPC(RESULTS_SCHEMA, record.table, tableToIPC(result, 'stream'), true);
        }
      }
      const elapsed = performance.now() - started;
      const rows = Number((await db.query(`SELECT count(*) AS n FROM ${record.tableRef}`)).getChildAt(0)?.get(0) ?? 0);
      const columns = await describe(db, record.tableRef);
      const preview = await db.queryIPC(`SELECT * FROM ${record.tableRef} WHERE rowid < ${DUCKDB_PREVIEW_ROWS} ORDER BY rowid`);
      await registry.addLocal(db, record, { rows, columns });
      last = { record, rows, columns };
      const previewRows = Math.min(rows, DUCKDB_PREVIEW_ROWS);
      outputs.push({
        output_type: 'display_data',
        data: { [ARROW_MIME]: toBase64(preview), 'text/plain': textTable(preview, columns, rows, elapsed, partial) },
        metadata: {
          [ARROW_MIME]: {
            result_id: record.id,
            engine: 'duckdb',
            rows,
            total_rows: rows,
            preview_rows: previewRows,
            truncated: false,
            elapsed_ms: Math.round(elapsed),
            columns: columns.map(column => ({ name: column.name, type: column.type })),
            ...(partial.length ? { notes: partial } : {})
          }
        }
      });
    } catch (reason) {
      if (reason instanceof QueryInterruptedError || signal?.aborted) {
        outputs.push(interruptedOutput());
        return outputs;
      }
      const message = reason instanceof Error ? reason.message : String(reason);
      const evalue = missingTableHint(message, registry);
      outputs.push({ output_type: 'error', ename: 'DuckDBError', evalue, traceback: [`DuckDBError: ${evalue}`] });
      return outputs;
    }
  }
  if (name && last) {
    await registry.addLocal(db, last.record, { rows: last.rows, columns: last.columns, name });
  }
  return outputs;
}

/**
 * What stops cells on a kernel: the notebook's Interrupt (toolbar, Kernel menu, `I, I`), which ends in
 * `kernel.interrupt()`, and a restart (or the kernel dying). Either aborts the `%%duckdb` cells running for that
 * kernel's notebook and starts a new epoch: cells queued before it do not run afterwards, as the kernel drops
 * its own queue (`stop_on_error`).
 */
class KernelStops {
  private readonly running = new WeakMap<Kernel.IKernelConnection, Set<AbortController>>();
  private readonly epochs = new WeakMap<Kernel.IKernelConnection, number>();

  /** Counts the interrupts and restarts of `kernel`: a cell queued in an earlier epoch does not run. */
  epoch(kernel: Kernel.IKernelConnection | null | undefined): number {
    if (!kernel) {
      return 0;
    }
    this.follow(kernel);
    return this.epochs.get(kernel)!;
  }

  /** An abort signal for a cell run on `kernel`; call the returned function when it is done. */
  watch(kernel: Kernel.IKernelConnection | null | undefined, controller: AbortController): () => void {
    if (!kernel) {
      return () => undefined;
    }
    this.follow(kernel);
    const set = this.running.get(kernel)!;
    set.add(controller);
    return () => set.delete(controller);
  }

  private follow(kernel: Kernel.IKernelConnection): void {
    if (this.epochs.has(kernel)) {
      return;
    }
    this.epochs.set(kernel, 0);
    this.running.set(kernel, new Set());
    const interrupt = kernel.interrupt.bind(kernel);
    kernel.interrupt = () => {
      this.stop(kernel);
      return interrupt();
    };
    kernel.statusChanged.connect((_, status) => {
      if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
        this.stop(kernel);
      }
    });
  }

  private stop(kernel: Kernel.IKernelConnection): void {
    this.epochs.set(kernel, (this.epochs.get(kernel) ?? 0) + 1);
    for (const running of this.running.get(kernel) ?? []) {
      running.abort();
    }
  }
}

interface NotebookChain {
  /** Settles when the last `%%duckdb` cell scheduled in this notebook finished. */
  barrier: Promise<boolean>;
  /** Kernel cells sent and not finished yet. */
  pending: Set<Promise<boolean>>;
}

/**
 * The notebook's cell executor: `%%duckdb` cells run in the browser (no round trip to the proxy), every other
 * cell goes to the kernel as usual. Order is kept across both: a `%%duckdb` cell waits for the cells scheduled
 * before it (and for their results to be in DuckDB), and cells after it wait for it.
 */
export class ChlabCellExecutor implements INotebookCellExecutor {
  private readonly chains = new WeakMap<INotebookModel, NotebookChain>();
  private readonly stops = new KernelStops();

  constructor(private readonly registry: ResultRegistry = resultRegistry) {}

  private chainOf(notebook: INotebookModel): NotebookChain {
    let chain = this.chains.get(notebook);
    if (!chain) {
      chain = { barrier: Promise.resolve(true), pending: new Set() };
      this.chains.set(notebook, chain);
    }
    return chain;
  }

  runCell(options: INotebookCellExecutor.IRunCellOptions): Promise<boolean> {
    const chain = this.chainOf(options.notebook);
    const { cell } = options;
    // An Interrupt or a restart after this cell was queued, and before it started, cancels it.
    const kernel = options.sessionContext?.session?.kernel;
    const epoch = this.stops.epoch(kernel);
    const stopped = () => this.stops.epoch(kernel) !== epoch;
    if (cell.model.type === 'code' && isDuckDBCell(cell.model.sharedModel.getSource())) {
      const before = [chain.barrier, ...chain.pending];
      (cell.model as ICodeCellModel).executionState = 'running';
      const run = Promise.allSettled(before).then(results => {
        const failed = results.some(r => r.status === 'rejected' || r.value === false);
        return failed || stopped() ? this.skip(options) : this.runDuckDB(options);
      });
      const settled = run.catch(() => false);
      chain.barrier = settled;
      // A failure stops the cells scheduled with it, not the ones run later.
      void settled.then(() => {
        if (chain.barrier === settled) {
          chain.barrier = Promise.resolve(true);
        }
      });
      return run;
    }
    // A kernel cell queued behind a `%%duckdb` cell waits here, not in the kernel's queue: when that cell
    // fails or is interrupted, it is dropped as the kernel would drop it.
    const barrier = chain.barrier;
    const run = barrier.then(ok => (ok && !stopped() ? runCell(options) : false));
    chain.pending.add(run);
    const forget = () => chain.pending.delete(run);
    run.then(forget, forget);
    return run;
  }

  private skip({ cell }: INotebookCellExecutor.IRunCellOptions): boolean {
    (cell.model as ICodeCellModel).executionState = 'idle';
    return false;
  }

  private async runDuckDB(options: INotebookCellExecutor.IRunCellOptions): Promise<boolean> {
    const { cell, onCellExecuted, onCellExecutionScheduled, sessionContext } = options;
    const model = cell.model as ICodeCellModel;
    onCellExecutionScheduled({ cell });
    model.sharedModel.transact(() => model.clearExecution(), false);
    model.executionState = 'running';
    let outputs: nbformat.IOutput[];
    const controller = new AbortController();
    const release = this.stops.watch(sessionContext?.session?.kernel, controller);
    try {
      outputs = await runDuckDBCell(model.sharedModel.getSource(), this.registry, controller.signal);
    } catch (reason) {
      const evalue = reason instanceof Error ? reason.message : String(reason);
      outputs = [{ output_type: 'error', ename: 'DuckDBError', evalue: `DuckDB-WASM could not start: ${evalue}`, traceback: [] }];
    } finally {
      release();
    }
    if (cell.isDisposed) {
      return false;
    }
    for (const output of outputs) {
      model.outputs.add(output);
    }
    model.executionState = 'idle';
    const failed = outputs.some(output => output.output_type === 'error');
    onCellExecuted({ cell, success: !failed });
    return !failed;
  }
}
