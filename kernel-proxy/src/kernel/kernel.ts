import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { QueryCancelledError } from '../clickhouse/embedded.js';
import { toClickHouseError } from '../clickhouse/errors.js';
import type { QueryService } from '../clickhouse/query-service.js';
import { pointAtError, statementContext } from './error-pointer.js';
import { locateStatements } from '../clickhouse/sql-split.js';
import { SchemaCatalog, tokenAround, tokenBefore } from './catalog.js';
import { outputFor } from './cell-output.js';
import { ResultStreams, type StreamingClient } from './result-stream.js';
import { CellError, parseMagic, type CellMagic } from './cell-magic.js';
import {
  CommInfoRequestSchema,
  CompleteRequestSchema,
  ExecuteRequestSchema,
  HistoryRequestSchema,
  InspectRequestSchema,
  IsCompleteRequestSchema,
  makeMessage,
  type IncomingMessage,
  type JupyterMessage,
} from './messages.js';
import { ARROW_MIME, KERNEL_NAME, LANGUAGE_INFO } from './spec.js';
import { RESULTS_COMM_TARGET } from './result-stream.js';
import { Table, type RecordBatch } from 'apache-arrow';
import type { ColumnInfo } from '../clickhouse/engine.js';
import type { KernelModel } from './types.js';
import { PermissionDeniedError, type Principal } from '../access/roles.js';
import { LimitExceededError } from '../access/limiter.js';
import type { AuditLog } from '../access/audit.js';

export type KernelClient = StreamingClient;

interface QueuedExecution {
  message: IncomingMessage;
  client: KernelClient;
}

interface RunningExecution {
  controller: AbortController;
  queryId: string;
}

/** The `clickhouse` kernel: one per notebook session, all sharing one QueryService. */
export class ClickHouseKernel {
  readonly id = randomUUID();
  readonly name = KERNEL_NAME;
  private executionCount = 0;
  private state: KernelModel['execution_state'] = 'idle';
  private lastActivity = new Date();
  private readonly clients = new Map<string, KernelClient>();
  private readonly queue: QueuedExecution[] = [];
  private draining = false;
  private running: RunningExecution | undefined;
  private history: { line: number; input: string }[] = [];
  private readonly sessionId = `chlab-${randomUUID()}`;
  private readonly results = new ResultStreams(this.sessionId);

  constructor(
    private readonly queries: QueryService,
    private readonly catalog: SchemaCatalog,
    private readonly log: Logger,
    /** The kernel's owner: its statements run as them. */
    readonly principal: Principal,
    magics: readonly CellMagic[] = [],
    private readonly auditLog?: AuditLog,
  ) {
    this.magics = new Map(magics.map((m) => [m.name, m]));
  }

  private readonly magics: Map<string, CellMagic>;

  get model(): KernelModel {
    return {
      id: this.id,
      name: this.name,
      last_activity: this.lastActivity.toISOString(),
      execution_state: this.state,
      connections: this.clients.size,
    };
  }

  connect(client: KernelClient): void {
    this.clients.set(client.id, client);
  }

  disconnect(clientId: string): void {
    this.clients.delete(clientId);
    this.results.forgetClient(clientId);
  }

  private publish(msgType: string, content: Record<string, unknown>, parent: IncomingMessage | undefined, metadata: Record<string, unknown> = {}): void {
    const message = makeMessage('iopub', msgType, content, parent, this.sessionId, metadata);
    for (const client of this.clients.values()) client.send(message);
  }

  private reply(client: KernelClient, request: IncomingMessage, msgType: string, content: Record<string, unknown>, metadata: Record<string, unknown> = {}): void {
    client.send(makeMessage(request.channel === 'control' ? 'control' : 'shell', msgType, content, request, this.sessionId, metadata));
  }

  private setState(state: KernelModel['execution_state'], parent?: IncomingMessage): void {
    this.state = state;
    this.lastActivity = new Date();
    this.publish('status', { execution_state: state }, parent);
  }

  /** Publishes an error about a message that could not be read, so the client sees why. */
  rejectMalformed(client: KernelClient, reason: string): void {
    client.send(makeMessage('iopub', 'error', { ename: 'InvalidMessage', evalue: reason, traceback: [`InvalidMessage: ${reason}`] }, undefined, this.sessionId));
  }

  /** Tells one client that a readable message of theirs was refused (an iopub error under it, to them only). */
  private refuse(client: KernelClient, message: IncomingMessage, ename: string, evalue: string): void {
    client.send(makeMessage('iopub', 'error', { ename, evalue, traceback: [`${ename}: ${evalue}`] }, message, this.sessionId));
  }

  handle(message: IncomingMessage, client: KernelClient): void {
    const type = message.header.msg_type;
    if (type === 'execute_request') {
      this.queue.push({ message, client });
      void this.drain();
      return;
    }
    void this.answer(message, client).catch((error: unknown) => {
      this.log.error({ err: error, msgType: type }, 'kernel request failed');
      this.reply(client, message, type.replace(/_request$/, '_reply'), { status: 'error', ename: 'KernelError', evalue: errorText(error), traceback: [] });
    });
  }

  private async answer(message: IncomingMessage, client: KernelClient): Promise<void> {
    const type = message.header.msg_type;
    const wrap = async (body: () => Promise<void> | void) => {
      this.publish('status', { execution_state: 'busy' }, message);
      try {
        await body();
      } finally {
        this.publish('status', { execution_state: this.running ? 'busy' : 'idle' }, message);
      }
    };
    switch (type) {
      case 'kernel_info_request':
        return wrap(() => this.reply(client, message, 'kernel_info_reply', kernelInfo()));
      case 'complete_request':
        return wrap(() => this.complete(message, client));
      case 'inspect_request':
        return wrap(() => this.inspect(message, client));
      case 'is_complete_request':
        return wrap(() => {
          const { code } = parse(IsCompleteRequestSchema, message);
          this.reply(client, message, 'is_complete_reply', isComplete(code));
        });
      case 'history_request':
        return wrap(() => {
          const request = parse(HistoryRequestSchema, message);
          this.reply(client, message, 'history_reply', { status: 'ok', history: this.historyFor(request) });
        });
      case 'comm_info_request':
        return wrap(() => {
          const { target_name } = parse(CommInfoRequestSchema, message);
          const comms = target_name && target_name !== RESULTS_COMM_TARGET ? {} : this.results.info();
          this.reply(client, message, 'comm_info_reply', { status: 'ok', comms });
        });
      case 'interrupt_request':
        await this.interrupt();
        return this.reply(client, message, 'interrupt_reply', { status: 'ok' });
      case 'shutdown_request': {
        const restart = z.object({ restart: z.boolean().default(false) }).parse(message.content).restart;
        if (restart) await this.restart();
        else await this.interrupt();
        return this.reply(client, message, 'shutdown_reply', { status: 'ok', restart });
      }
      case 'comm_open':
      case 'comm_msg':
      case 'comm_close':
        {
          const refused = this.results.handleComm(message, client);
          if (refused) this.refuse(client, message, refused.ename, refused.evalue);
        }
        return;
      default:
        return wrap(() => {
          const evalue = `The clickhouse kernel does not handle ${type}`;
          if (type.endsWith('_request')) {
            this.reply(client, message, type.replace(/_request$/, '_reply'), { status: 'error', ename: 'UnsupportedMessage', evalue, traceback: [] });
          } else {
            // Not a request, so no reply is due: the sender still learns it was not understood.
            this.refuse(client, message, 'UnsupportedMessage', evalue);
          }
        });
    }
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const next = this.queue.shift()!;
        const ok = await this.execute(next.message, next.client);
        // A failed cell aborts the queue unless it asked not to (stop_on_error: false).
        if (!ok && ExecuteRequestSchema.safeParse(next.message.content).data?.stop_on_error !== false) this.abortQueued();
      }
    } finally {
      this.draining = false;
    }
  }

  /** Aborts the queued cells that stop on error; the others (stop_on_error: false) stay queued and run. */
  private abortQueued(): void {
    const queued = this.queue.splice(0);
    const aborted: QueuedExecution[] = [];
    for (const entry of queued) {
      const stop = ExecuteRequestSchema.safeParse(entry.message.content);
      if (!stop.success || stop.data.stop_on_error) aborted.push(entry);
      else this.queue.push(entry);
    }
    for (const { message, client } of aborted) {
      this.publish('status', { execution_state: 'busy' }, message);
      this.reply(client, message, 'execute_reply', { status: 'aborted', execution_count: null });
      this.publish('status', { execution_state: 'idle' }, message);
    }
  }

  /** Returns false when the cell failed (so queued cells are aborted). */
  private async execute(message: IncomingMessage, client: KernelClient): Promise<boolean> {
    this.setState('busy', message);
    const parsed = ExecuteRequestSchema.safeParse(message.content);
    if (!parsed.success) {
      this.sendError(client, message, 'InvalidMessage', `execute_request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, this.executionCount);
      this.setState('idle', message);
      return false;
    }
    const request = parsed.data;
    if (!request.silent && request.store_history) this.executionCount++;
    const count = this.executionCount;
    if (!request.silent) this.publish('execute_input', { code: request.code, execution_count: count }, message);
    if (request.store_history) this.history.push({ line: count, input: request.code });

    let ok = true;
    /** The statement being run (a syntax error points into it), and where it is in the cell. */
    let current = { text: '', line: 1, index: 0, total: 1 };
    try {
      const magic = parseMagic(request.code);
      if (magic) {
        await this.runMagic(magic, request, message, client, count);
        this.reply(client, message, 'execute_reply', { status: 'ok', execution_count: count, payload: [], user_expressions: {} });
        return true;
      }
      const statements = locateStatements(request.code);
      for (const [index, located] of statements.entries()) {
        current = { ...located, index, total: statements.length };
        const statement = located.text;
        const controller = new AbortController();
        const queryId = randomUUID();
        this.running = { controller, queryId };
        try {
          const stream = !request.silent && this.results.active ? this.results.open(message) : undefined;
          let shown = false;
          const outcome = await this.queries
            .run(statement, {
              user: this.principal.username,
              principal: this.principal,
              address: client.address,
              source: 'kernel',
              signal: controller.signal,
              queryId,
              sessionId: this.sessionId,
              arrowCompression: stream?.compression,
              onBatch: stream
                ? async (batch, columns) => {
                    if (!shown) {
                      shown = true;
                      this.showFirstBatch(batch, columns, stream.resultId, message, statement);
                    }
                    await stream.send(batch, columns);
                  }
                : undefined,
            })
            .catch((error: unknown) => {
              stream?.end({ truncated: false, error: error instanceof Error ? error.message : String(error) });
              throw error;
            });
          if (outcome.kind === 'command') this.catalog.invalidate();
          if (outcome.kind === 'rows') stream?.end({ truncated: outcome.result.truncated });
          if (!request.silent) {
            const bundle = outputFor(outcome, this.principal.limits.maxResultRows);
            if (stream && outcome.kind === 'rows') {
              const metadata = { ...bundle.metadata, [ARROW_MIME]: { ...(bundle.metadata[ARROW_MIME] as object), result_id: stream.resultId, streamed: true, query: statement } };
              this.publish(shown ? 'update_display_data' : 'display_data', { ...bundle, metadata, transient: { display_id: stream.resultId } }, message);
            } else {
              // The statement goes with a result, so the whole of it can be exported (/api/query/export).
              const metadata = outcome.kind === 'rows' ? { ...bundle.metadata, [ARROW_MIME]: { ...(bundle.metadata[ARROW_MIME] as object), query: statement } } : bundle.metadata;
              this.publish('display_data', { ...bundle, metadata, transient: {} }, message);
            }
          }
        } finally {
          this.running = undefined;
        }
      }
      this.reply(client, message, 'execute_reply', { status: 'ok', execution_count: count, payload: [], user_expressions: {} });
    } catch (error) {
      ok = false;
      const where = statementContext(current.index, current.total, current.line);
      if (error instanceof QueryCancelledError) this.sendError(client, message, 'Interrupted', 'Query interrupted: it was stopped on the server', count, where);
      else if (error instanceof CellError) this.sendError(client, message, error.ename, error.message, count);
      else if (error instanceof LimitExceededError) this.sendError(client, message, 'LimitExceeded', error.message, count, where);
      else if (error instanceof PermissionDeniedError) this.sendError(client, message, 'PermissionDenied', error.message, count, where);
      else {
        const ch = toClickHouseError(error);
        this.sendError(client, message, ch.type ?? 'ClickHouseError', ch.display, count, [...where, ...pointAtError(current.text, ch.display, current.line)]);
      }
    } finally {
      this.setState('idle', message);
    }
    return ok;
  }

  private async runMagic(
    magic: { name: string; args: string; body: string },
    request: z.infer<typeof ExecuteRequestSchema>,
    message: IncomingMessage,
    client: KernelClient,
    count: number,
  ): Promise<void> {
    const handler = this.magics.get(magic.name);
    if (!handler) throw new CellError('UnsupportedCell', unsupportedMagic(magic.name, [...this.magics.keys()]));
    const controller = new AbortController();
    this.running = { controller, queryId: '' };
    try {
      await handler.run({
        ...magic,
        code: request.code,
        user: this.principal.username,
        principal: this.principal,
        address: client.address,
        audit: (action, target, outcome, detail) =>
          this.auditLog?.record({ user: this.principal.username, role: this.principal.role, address: client.address ?? '', action, target, outcome, detail }),
        executionCount: count,
        silent: request.silent,
        signal: controller.signal,
        display: (bundle, displayId) => {
          if (!request.silent) this.publish('display_data', { ...bundle, transient: displayId ? { display_id: displayId } : {} }, message);
        },
        update: (displayId, bundle) => {
          if (!request.silent) this.publish('update_display_data', { ...bundle, transient: { display_id: displayId } }, message);
        },
        stream: (name, text) => {
          if (!request.silent) this.publish('stream', { name, text }, message);
        },
      });
      if (controller.signal.aborted) throw new QueryCancelledError();
    } finally {
      this.running = undefined;
      this.catalog.invalidate();
    }
  }

  /** The first rows on screen while the rest streams: replaced in place when the result ends. */
  private showFirstBatch(batch: RecordBatch, columns: ColumnInfo[] | undefined, resultId: string, message: IncomingMessage, statement: string): void {
    const preview = batch.numRows > this.queries.limits.previewRows ? batch.slice(0, this.queries.limits.previewRows) : batch;
    const table = new Table([preview]);
    const bundle = outputFor(
      {
        kind: 'rows',
        table,
        result: { schema: batch.schema, preview: [preview], previewRows: preview.numRows, rows: batch.numRows, bytes: batch.data.byteLength, truncated: false },
        columns: columns ?? table.schema.fields.map((f) => ({ name: f.name, type: f.metadata.get('clickhouse.type') ?? String(f.type) })),
        elapsedMs: 0,
      },
      this.queries.limits.maxResultRows,
    );
    const metadata = { ...bundle.metadata, [ARROW_MIME]: { ...(bundle.metadata[ARROW_MIME] as object), result_id: resultId, streaming: true, query: statement } };
    this.publish('display_data', { ...bundle, metadata, transient: { display_id: resultId } }, message);
  }

  /** `details`: traceback lines after the headline (where in the cell, a caret under the spot). */
  private sendError(client: KernelClient, message: IncomingMessage, ename: string, evalue: string, count: number, details: string[] = []): void {
    // ("Code: 62 (SYNTAX_ERROR). …" names its type already)
    const headline = evalue.includes(`(${ename})`) ? evalue : `${ename}: ${evalue}`;
    const content = { ename, evalue, traceback: [headline, ...details] };
    this.publish('error', content, message);
    this.reply(client, message, 'execute_reply', { status: 'error', execution_count: count, ...content });
  }

  private async complete(message: IncomingMessage, client: KernelClient): Promise<void> {
    const { code, cursor_pos } = parse(CompleteRequestSchema, message);
    const cursor = Math.min(cursor_pos, code.length);
    const token = tokenBefore(code, cursor);
    const matches = token.text ? await this.catalog.complete(token.text) : [];
    this.reply(client, message, 'complete_reply', {
      status: 'ok',
      matches: matches.map((m) => m.text),
      cursor_start: token.start,
      cursor_end: cursor,
      metadata: {
        _jupyter_types_experimental: matches.map((m) => ({ text: m.text, type: m.type, signature: m.signature ?? '', start: token.start, end: cursor })),
      },
    });
  }

  private async inspect(message: IncomingMessage, client: KernelClient): Promise<void> {
    const { code, cursor_pos } = parse(InspectRequestSchema, message);
    const name = tokenAround(code, Math.min(cursor_pos, code.length));
    const text = name ? await this.catalog.inspect(name) : undefined;
    this.reply(client, message, 'inspect_reply', {
      status: 'ok',
      found: text !== undefined,
      data: text === undefined ? {} : { 'text/plain': text },
      metadata: {},
    });
  }

  private historyFor(request: z.infer<typeof HistoryRequestSchema>): [number, number, string][] {
    let entries = this.history;
    if (request.hist_access_type === 'search' && request.pattern) {
      const pattern = new RegExp(`^${request.pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
      entries = entries.filter((e) => pattern.test(e.input));
    }
    if (request.n) entries = entries.slice(-request.n);
    return entries.map((e) => [0, e.line, e.input]);
  }

  async interrupt(): Promise<void> {
    const running = this.running;
    if (!running) return;
    running.controller.abort();
    if (!running.queryId) return;
    try {
      await this.queries.engine.kill(running.queryId);
    } catch (error) {
      this.log.warn({ err: error }, 'KILL QUERY failed');
    }
  }

  /** Answers every queued cell as aborted (a restart or shutdown drops them; no request goes unanswered). */
  private abortAll(): void {
    for (const { message, client } of this.queue.splice(0)) {
      this.publish('status', { execution_state: 'busy' }, message);
      this.reply(client, message, 'execute_reply', { status: 'aborted', execution_count: null });
      this.publish('status', { execution_state: 'idle' }, message);
    }
  }

  async restart(): Promise<void> {
    this.abortAll();
    await this.interrupt();
    this.executionCount = 0;
    this.history = [];
    // As a new kernel process would: `starting`, then `idle`. A `restarting` status on IOPub means an automatic
    // restart to Jupyter clients (Jupyter's server sends it only then); JupyterLab reconnects once more on it.
    this.state = 'restarting';
    this.setState('starting');
    this.setState('idle');
  }

  async shutdown(): Promise<void> {
    this.abortAll();
    await this.interrupt();
    this.state = 'dead';
    this.publish('status', { execution_state: 'dead' }, undefined);
  }
}

function unsupportedMagic(magic: string, known: string[]): string {
  if (magic === 'duckdb') return '%%duckdb cells run in the browser (DuckDB-WASM); they are not sent to the ClickHouse kernel.';
  const list = known.length ? ` Known cell kinds: ${known.map((k) => `%%${k}`).join(', ')}.` : '';
  return `Unknown cell kind %%${magic}.${list}`;
}

function parse<T extends z.ZodType>(schema: T, message: IncomingMessage): z.infer<T> {
  const result = schema.safeParse(message.content);
  if (!result.success) {
    throw new Error(`${message.header.msg_type}: ${result.error.issues.map((i) => `${i.path.join('.') || 'content'}: ${i.message}`).join('; ')}`);
  }
  return result.data;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function kernelInfo(): Record<string, unknown> {
  return {
    status: 'ok',
    protocol_version: '5.3',
    implementation: 'chlab',
    implementation_version: '0.1.0',
    language_info: LANGUAGE_INFO,
    banner: 'chlab — ClickHouse SQL kernel',
    debugger: false,
    help_links: [{ text: 'ClickHouse SQL reference', url: 'https://clickhouse.com/docs/en/sql-reference' }],
  };
}

/** A cell is incomplete while a string, quoted identifier or block comment is left open. */
export function isComplete(code: string): { status: 'complete' | 'incomplete'; indent?: string } {
  let quote: string | undefined;
  for (let i = 0; i < code.length; i++) {
    const ch = code[i]!;
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '-' && code[i + 1] === '-') {
      const nl = code.indexOf('\n', i);
      if (nl === -1) break;
      i = nl;
    } else if (ch === '/' && code[i + 1] === '*') {
      const end = code.indexOf('*/', i + 2);
      if (end === -1) return { status: 'incomplete', indent: '' };
      i = end + 1;
    }
  }
  return quote ? { status: 'incomplete', indent: '' } : { status: 'complete' };
}
