import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { tableFromIPC, Table, type RecordBatch } from 'apache-arrow';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { ClickHouseEngine } from '../clickhouse/engine.js';
import type { Notebook } from '../jupyter/nbformat.js';
import { parseMagic } from '../kernel/cell-magic.js';
import type { ClickHouseKernel } from '../kernel/kernel.js';
import { IncomingMessageSchema, type JupyterMessage } from '../kernel/messages.js';
import { RESULTS_COMM_TARGET } from '../kernel/result-stream.js';
import { ARROW_MIME, KERNEL_NAME, KERNEL_SPEC, LANGUAGE_INFO } from '../kernel/spec.js';
import { renderHtml, renderText } from '../results/render.js';
import { toIpcBytes } from '../results/collect.js';
import { buildServer } from '../server.js';
import { registerSecret, scrubSecrets } from '../util/secrets.js';
import { DuckDbCellError, DuckDbWorkspace, resultName } from './duckdb.js';
import { cellSource, writeNotebookFile } from './notebook-io.js';
import { CellOutputs, OutputCollector, type Output } from './outputs.js';
import { applyParameters } from './parameters.js';
import { MIGRATION_PROGRESS_MIME, silentReporter, type CellInfo, type CellOutcome, type RunReporter } from './reporter.js';

export interface RunOptions {
  notebook: Notebook;
  /** Shown in messages. */
  name: string;
  /** Where the executed notebook goes; nothing is written when undefined. */
  output?: string;
  /** `-p name=value` overrides of the `parameters` cell. */
  parameters?: ReadonlyMap<string, string>;
  /** Run `%%migrate run` cells even when the same migration already completed (`%%migrate run --rerun`). */
  rerunMigrations?: boolean;
  config: Config;
  logger: Logger;
  /** Reuse an engine (tests share one chDB per process). */
  engine?: ClickHouseEngine;
  reporter?: RunReporter;
  /** Aborting interrupts the running cell and stops the run. */
  signal?: AbortSignal;
}

export interface RunFailure {
  /** 0-based index of the cell in the executed notebook. */
  index: number;
  executionCount: number | null;
  ename: string;
  evalue: string;
}

export interface RunResult {
  ok: boolean;
  notebook: Notebook;
  failure?: RunFailure;
  /** Cells that ran, in order. */
  executed: number;
  /** Overrides naming no `SET param_…` of the parameters cell. */
  unknownParameters: string[];
  interrupted: boolean;
}

type CellKind = { kind: 'empty' } | { kind: 'duckdb'; body: string } | { kind: 'kernel'; label: string; code: string; storeHistory?: boolean };

function classify(source: string, rerun: boolean): CellKind {
  if (!source.trim()) return { kind: 'empty' };
  const magic = parseMagic(source);
  if (!magic) return { kind: 'kernel', label: 'SQL', code: source };
  if (magic.name === 'duckdb') return { kind: 'duckdb', body: magic.body };
  const action = magic.args.split(/\s+/)[0] ?? '';
  let code = source;
  if (magic.name === 'migrate' && action === 'run' && rerun && !/(^|\s)--rerun(\s|$)/.test(magic.args)) {
    code = source.replace(/^(\s*%%migrate[ \t]+run)/, '$1 --rerun');
  }
  return { kind: 'kernel', label: `%%${magic.name}${action ? ` ${action}` : ''}`, code };
}

/** The cell's code on one line (comments and the magic line left out), for progress lines. */
function titleOf(source: string): string {
  const lines = source.split('\n').map((l) => l.trim());
  const code = lines.filter((l, i) => l && !(i === 0 && l.startsWith('%%')) && !l.startsWith('--'));
  const text = (code.length ? code : lines.filter(Boolean)).join(' ').replace(/\s+/g, ' ');
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

/** Messages the kernel sends to the runner, routed to the request they answer. */
class InProcessClient {
  readonly id = `chlab-run-${randomUUID()}`;
  private readonly listeners = new Map<string, (message: JupyterMessage) => void>();

  send(message: JupyterMessage): void {
    const parent = message.parent_header.msg_id;
    if (parent) this.listeners.get(parent)?.(message);
  }

  request(kernel: ClickHouseKernel, msgType: string, content: Record<string, unknown>, onMessage: (message: JupyterMessage) => void): Promise<JupyterMessage> {
    const msgId = randomUUID();
    return new Promise((resolve) => {
      let reply: JupyterMessage | undefined;
      let idle = false;
      this.listeners.set(msgId, (message) => {
        if (message.channel === 'shell' || message.channel === 'control') reply = message;
        else if (message.header.msg_type === 'status' && message.content.execution_state === 'idle') idle = true;
        else onMessage(message);
        if (reply && (idle || msgType.startsWith('comm'))) {
          this.listeners.delete(msgId);
          resolve(reply);
        }
      });
      const message = IncomingMessageSchema.parse({
        channel: 'shell',
        header: { msg_id: msgId, msg_type: msgType, session: this.id, username: 'chlab-run', date: new Date().toISOString(), version: '5.3' },
        parent_header: {},
        metadata: {},
        content,
      });
      kernel.handle(message, this);
    });
  }

  /** Sends a message that gets no reply (comm_open). */
  post(kernel: ClickHouseKernel, msgType: string, content: Record<string, unknown>): void {
    kernel.handle(
      IncomingMessageSchema.parse({
        channel: 'shell',
        header: { msg_id: randomUUID(), msg_type: msgType, session: this.id, username: 'chlab-run', date: new Date().toISOString(), version: '5.3' },
        content,
      }),
      this,
    );
  }
}

/** Collects every batch of a cell's results from the `chlab.results` comm (only when %%duckdb cells need them). */
class ResultCapture {
  private readonly results = new Map<string, { batches: RecordBatch[]; done: boolean; error?: string }>();
  private order: string[] = [];

  accept(message: JupyterMessage): boolean {
    if (message.header.msg_type !== 'comm_msg') return false;
    const data = (message.content.data ?? {}) as { result_id?: string; done?: boolean; error?: string };
    if (!data.result_id) return true;
    let result = this.results.get(data.result_id);
    if (!result) {
      result = { batches: [], done: false };
      this.results.set(data.result_id, result);
      this.order.push(data.result_id);
    }
    if (data.done) {
      result.done = true;
      result.error = data.error;
      return true;
    }
    const buffer = message.buffers?.[0];
    if (buffer) {
      const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      result.batches.push(...tableFromIPC(bytes).batches);
    }
    return true;
  }

  /** The cell's last complete result, then forgets the cell's results. */
  take(): Table | undefined {
    let last: Table | undefined;
    for (const id of this.order) {
      const result = this.results.get(id)!;
      if (result.done && !result.error && result.batches.length > 0) last = new Table(result.batches);
    }
    this.results.clear();
    this.order = [];
    return last;
  }
}

/** The last Arrow result a cell showed (its preview): how results of %%s3 and other magics are named. */
function lastArrowOutput(outputs: Output[]): Table | undefined {
  for (let i = outputs.length - 1; i >= 0; i--) {
    const data = outputs[i]!.data as Record<string, unknown> | undefined;
    const payload = data?.[ARROW_MIME];
    if (typeof payload === 'string' || Array.isArray(payload)) {
      try {
        return tableFromIPC(Buffer.from(Array.isArray(payload) ? payload.join('') : payload, 'base64'));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function registerConfigSecrets(config: Config): void {
  registerSecret(config.token);
  if (config.clickhouse.kind === 'http') registerSecret(config.clickhouse.password);
  registerSecret(config.postgres?.password);
  registerSecret(config.s3.secretAccessKey);
}

function checkKernel(nb: Notebook, name: string): void {
  const spec = nb.metadata.kernelspec as { name?: unknown } | undefined;
  const kernel = spec && typeof spec === 'object' && typeof spec.name === 'string' ? spec.name : undefined;
  if (kernel && kernel !== KERNEL_NAME) throw new Error(`${name} is a notebook for the "${kernel}" kernel; chlab runs "${KERNEL_NAME}" notebooks`);
  if (!kernel) {
    nb.metadata.kernelspec = { name: KERNEL_NAME, display_name: KERNEL_SPEC.spec.display_name, language: KERNEL_SPEC.spec.language };
    nb.metadata.language_info = { ...LANGUAGE_INFO };
  }
}

/**
 * Runs a notebook headless through the same kernel code as the browser: a `clickhouse` kernel of a
 * proxy built in this process (no port is opened) for SQL, %%migrate and %%s3 cells, and DuckDB in
 * Node for %%duckdb cells. Stops at the first failing cell; the executed notebook is written either way.
 */
export async function runNotebook(options: RunOptions): Promise<RunResult> {
  const reporter = options.reporter ?? silentReporter;
  const started = performance.now();
  const parameters = options.parameters ?? new Map<string, string>();
  const plan = applyParameters(options.notebook, parameters);
  const nb = plan.notebook;
  checkKernel(nb, options.name);
  registerConfigSecrets(options.config);

  // Unreached cells keep no stale outputs: the executed notebook shows exactly this run.
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'code') continue;
    cell.outputs = [];
    cell.execution_count = null;
  }
  const code = nb.cells.map((cell, index) => ({ cell, index })).filter(({ cell }) => cell.cell_type === 'code');
  const kinds = new Map(code.map(({ cell, index }) => [index, classify(cellSource(cell), options.rerunMigrations === true)]));
  // The injected cell takes no execution count, so `_N` names the same results with and without -p.
  const injected = plan.injectedCell !== undefined ? kinds.get(plan.injectedCell) : undefined;
  if (injected?.kind === 'kernel') Object.assign(injected, { label: 'injected parameters', storeHistory: false });
  const defaults = plan.parametersCell !== undefined ? kinds.get(plan.parametersCell) : undefined;
  if (defaults?.kind === 'kernel' && defaults.label === 'SQL') defaults.label = 'parameters';
  const runnable = code.filter(({ index }) => kinds.get(index)!.kind !== 'empty');
  const needsResults = runnable.some(({ index }) => kinds.get(index)!.kind === 'duckdb');

  const { app } = await buildServer({ config: options.config, logger: options.logger, engine: options.engine });
  const result: RunResult = { ok: true, notebook: nb, executed: 0, unknownParameters: plan.unknown, interrupted: false };
  const duckdb = needsResults ? new DuckDbWorkspace() : undefined;
  let kernel: ClickHouseKernel | undefined;
  let kernelId: string | undefined;
  const onAbort = () => void kernel?.interrupt();
  options.signal?.addEventListener('abort', onAbort);
  try {
    reporter.begin({ notebook: options.name, codeCells: runnable.length, engine: app.chlab.engine.description, parameters });
    if (plan.unknown.length) {
      reporter.note(
        plan.parametersCell === undefined
          ? `no cell is tagged "parameters": ${plan.unknown.join(', ')} injected at the top`
          : `parameter${plan.unknown.length === 1 ? '' : 's'} ${plan.unknown.join(', ')} not set in the parameters cell (injected anyway)`,
      );
    }
    const model = await app.chlab.kernels.start(KERNEL_NAME);
    kernelId = model.id;
    kernel = app.chlab.kernels.kernel(model.id)!;
    const client = new InProcessClient();
    kernel.connect(client);
    const capture = needsResults ? new ResultCapture() : undefined;
    if (capture) client.post(kernel, 'comm_open', { comm_id: randomUUID(), target_name: RESULTS_COMM_TARGET, data: {} });
    const collector = new OutputCollector();

    let alreadyCompleted = 0;
    for (const [step, { cell, index }] of runnable.entries()) {
      if (options.signal?.aborted) {
        result.interrupted = true;
        result.ok = false;
        break;
      }
      const source = cellSource(cell);
      const kind = kinds.get(index)!;
      if (kind.kind === 'empty') continue;
      const info: CellInfo = { index, step: step + 1, steps: runnable.length, kind: kind.kind === 'duckdb' ? '%%duckdb' : kind.label, title: titleOf(source) };
      reporter.cellStart(info);
      const cellStarted = performance.now();
      const outputs = new CellOutputs();
      let outcome: CellOutcome;
      if (kind.kind === 'duckdb') {
        outcome = await runDuckDbCell(duckdb!, kind.body, resultName(source), outputs, options.config.limits.previewRows);
      } else {
        const reply = await client.request(
          kernel,
          'execute_request',
          { code: kind.code, silent: false, store_history: kind.storeHistory !== false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
          (message) => {
            if (capture?.accept(message)) return;
            const changed = collector.accept(message, outputs);
            const progress = changed?.data && (changed.data as Record<string, unknown>)[MIGRATION_PROGRESS_MIME];
            if (progress && typeof progress === 'object') reporter.progress(info, progress);
          },
        );
        const content = reply.content as { status?: string; execution_count?: number; ename?: string; evalue?: string };
        outcome = {
          status: content.status === 'ok' ? 'ok' : 'error',
          executionCount: typeof content.execution_count === 'number' && kind.storeHistory !== false ? content.execution_count : null,
          elapsedMs: 0,
          outputs: outputs.outputs,
          ename: content.status === 'ok' ? undefined : (content.ename ?? (content.status === 'aborted' ? 'Aborted' : 'Error')),
          evalue: content.status === 'ok' ? undefined : scrubSecrets(content.evalue ?? ''),
        };
        if (outcome.status === 'ok' && kind.label === '%%migrate run' && /already completed/.test(outputs.outputs.map((o) => String(o.text ?? '')).join(''))) {
          alreadyCompleted++;
        }
        if (outcome.status === 'ok' && duckdb && outcome.executionCount !== null) {
          const table = capture?.take() ?? lastArrowOutput(outputs.outputs);
          if (table) duckdb.registerResult(outcome.executionCount, table, resultName(source));
        }
      }
      outcome.elapsedMs = performance.now() - cellStarted;
      cell.outputs = outputs.outputs as never;
      cell.execution_count = outcome.executionCount;
      result.executed++;
      reporter.cellEnd(info, outcome);
      if (outcome.status !== 'ok') {
        result.ok = false;
        result.interrupted = options.signal?.aborted === true || outcome.ename === 'Interrupted';
        result.failure = { index, executionCount: outcome.executionCount, ename: outcome.ename ?? 'Error', evalue: outcome.evalue ?? '' };
        break;
      }
    }
    if (alreadyCompleted) {
      const which = alreadyCompleted === 1 ? 'a migration that had already completed was' : `${alreadyCompleted} migrations that had already completed were`;
      reporter.note(`${which} not copied again; chlab run --rerun runs them again`);
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    duckdb?.close();
    if (kernelId) await app.chlab.kernels.shutdown(kernelId).catch(() => undefined);
    await app.close();
  }
  if (options.output) await writeNotebookFile(options.output, nb);
  const failedCell = result.failure;
  reporter.end({
    ok: result.ok,
    written: options.output ? path.relative(process.cwd(), options.output) || options.output : undefined,
    elapsedMs: performance.now() - started,
    failed: failedCell ? { cell: { index: failedCell.index, step: 0, steps: 0, kind: '', title: '' }, ename: failedCell.ename, evalue: failedCell.evalue } : undefined,
  });
  return result;
}

async function runDuckDbCell(duckdb: DuckDbWorkspace, body: string, name: string | undefined, outputs: CellOutputs, previewRows: number): Promise<CellOutcome> {
  try {
    const results = await duckdb.run(body, name);
    for (const statement of results) {
      const elapsedMs = Math.round(statement.elapsedMs);
      if (statement.kind === 'command' || !statement.table) {
        const what = statement.changedRows !== undefined ? `${statement.keyword}: ${statement.changedRows.toLocaleString('en-US')} rows` : `${statement.keyword}: OK`;
        outputs.push({ output_type: 'display_data', data: { 'text/plain': `${what} · ${elapsedMs} ms` }, metadata: {} });
        continue;
      }
      outputs.push({ output_type: 'display_data', ...duckdbBundle(statement.table, elapsedMs, previewRows) });
    }
    return { status: 'ok', executionCount: null, elapsedMs: 0, outputs: outputs.outputs };
  } catch (error) {
    const ename = error instanceof DuckDbCellError ? 'DuckDBError' : 'Error';
    const evalue = scrubSecrets((error as Error).message);
    outputs.push({ output_type: 'error', ename, evalue, traceback: [`${ename}: ${evalue}`] });
    return { status: 'error', executionCount: null, elapsedMs: 0, outputs: outputs.outputs, ename, evalue };
  }
}

/** A DuckDB result shown like a SQL result: Arrow (the preview), HTML and text, with its DuckDB types. */
function duckdbBundle(table: Table, elapsedMs: number, previewRows: number): { data: Record<string, unknown>; metadata: Record<string, unknown> } {
  const preview = table.numRows > previewRows ? table.slice(0, previewRows) : table;
  const bytes = toIpcBytes(preview);
  const summary = { rows: table.numRows, shownRows: preview.numRows, truncated: false, elapsedMs, bytes: bytes.byteLength, rowCap: table.numRows };
  const columns = table.schema.fields.map((f) => ({ name: f.name, type: f.metadata.get('duckdb.type') ?? String(f.type) }));
  return {
    data: {
      [ARROW_MIME]: Buffer.from(bytes).toString('base64'),
      'text/html': renderHtml(preview, summary),
      'text/plain': renderText(preview, summary),
    },
    metadata: {
      [ARROW_MIME]: { rows: table.numRows, preview_rows: preview.numRows, truncated: false, elapsed_ms: elapsedMs, bytes: bytes.byteLength, columns, engine: 'duckdb' },
    },
  };
}
