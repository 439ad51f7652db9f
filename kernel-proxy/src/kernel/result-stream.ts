import { randomUUID } from 'node:crypto';
import { RecordBatch, Table, tableToIPC, type Schema } from 'apache-arrow';
import { z } from 'zod';
import type { ColumnInfo } from '../clickhouse/engine.js';
import { COMM_MESSAGE_BYTES } from '../results/block-rows.js';
import { IPC_END, rawMessageOf, schemaMessage } from '../results/ipc-messages.js';
import { makeMessage, type IncomingMessage, type JupyterMessage } from './messages.js';

/** The comm a frontend opens to receive every batch of its results, as binary Arrow buffers. */
export const RESULTS_COMM_TARGET = 'chlab.results';

export interface StreamingClient {
  readonly id: string;
  /** The client's network address (audit). */
  readonly address?: string;
  send(message: JupyterMessage): void;
  /** Resolves when the client's socket has room again (backpressure). */
  drain?(): Promise<void>;
}

const CommOpenSchema = z.object({ comm_id: z.string().min(1).max(256), target_name: z.string().max(256), data: z.record(z.string(), z.unknown()).default({}) });
const CommCloseSchema = z.object({ comm_id: z.string().min(1).max(256) });
/**
 * What a frontend may ask when it opens the results comm. `arrow_compression: 'zstd'`: record batches may come with
 * ZSTD-compressed buffers (Arrow IPC body compression), which the client must be able to read.
 */
const ResultsCommDataSchema = z.object({ arrow_compression: z.enum(['none', 'zstd']).default('none') });

interface ResultsComm {
  client: StreamingClient;
  commId: string;
  arrowCompression: 'none' | 'zstd';
}

export interface CommRefusal {
  ename: string;
  evalue: string;
}

function invalid(type: string, error: z.ZodError): CommRefusal {
  return { ename: 'InvalidMessage', evalue: `${type}: ${error.issues.map((i) => `${i.path.join('.') || 'content'}: ${i.message}`).join('; ')}` };
}

/**
 * Frontends that opened a `chlab.results` comm get each result batch as it arrives:
 * `comm_msg {result_id, seq, rows, columns?}` with one Arrow IPC stream in `buffers[0]`, then
 * `{result_id, done: true, rows, truncated}`. Other clients see only the display outputs.
 */
export class ResultStreams {
  private readonly comms = new Map<string, ResultsComm>();

  constructor(private readonly session: string) {}

  /**
   * Handles comm_open / comm_msg / comm_close. A comm_open for another target is answered with comm_close; what
   * cannot be acted on (unreadable content, a comm that is not open) comes back as a refusal for the kernel to
   * send as an error, so no malformed comm message goes unanswered.
   */
  handleComm(message: IncomingMessage, client: StreamingClient): CommRefusal | undefined {
    const type = message.header.msg_type;
    if (type === 'comm_open') {
      const open = CommOpenSchema.safeParse(message.content);
      if (!open.success) return invalid(type, open.error);
      if (open.data.target_name !== RESULTS_COMM_TARGET) {
        client.send(makeMessage('iopub', 'comm_close', { comm_id: open.data.comm_id, data: {} }, message, this.session));
        return undefined;
      }
      const asked = ResultsCommDataSchema.safeParse(open.data.data);
      if (!asked.success) {
        // Not opened: the frontend learns why, and that its comm is closed.
        client.send(makeMessage('iopub', 'comm_close', { comm_id: open.data.comm_id, data: {} }, message, this.session));
        return {
          ename: 'InvalidMessage',
          evalue: `${type}: ${asked.error.issues.map((i) => `data.${i.path.join('.')}: ${i.message}`).join('; ')} (the ${RESULTS_COMM_TARGET} comm takes arrow_compression "none" or "zstd")`,
        };
      }
      this.comms.set(open.data.comm_id, { client, commId: open.data.comm_id, arrowCompression: asked.data.arrow_compression });
      return undefined;
    }
    const target = CommCloseSchema.safeParse(message.content);
    if (!target.success) return invalid(type, target.error);
    if (!this.comms.has(target.data.comm_id)) {
      return { ename: 'UnknownComm', evalue: `${type}: no comm ${JSON.stringify(target.data.comm_id)} is open on this kernel` };
    }
    if (type === 'comm_close') this.comms.delete(target.data.comm_id);
    return undefined;
  }

  forgetClient(clientId: string): void {
    for (const [commId, comm] of this.comms) if (comm.client.id === clientId) this.comms.delete(commId);
  }

  info(): Record<string, { target_name: string }> {
    return Object.fromEntries([...this.comms.keys()].map((id) => [id, { target_name: RESULTS_COMM_TARGET }]));
  }

  get active(): boolean {
    return this.comms.size > 0;
  }

  /**
   * A stream for one result; `send` awaits the slowest client's socket before returning. Every comm gets the same
   * bytes: the stream asks for compressed batches only when every comm of the kernel asked for them.
   */
  open(parent: IncomingMessage): ResultStream {
    const targets = [...this.comms.values()];
    const compression = targets.length > 0 && targets.every((t) => t.arrowCompression === 'zstd') ? 'zstd' : undefined;
    return new ResultStream(randomUUID(), targets, parent, this.session, compression);
  }
}

/** A record batch up to this size goes out as ClickHouse wrote it; a larger one is cut into slices of COMM_MESSAGE_BYTES. */
const PASSTHROUGH_BYTES = 4 * COMM_MESSAGE_BYTES;

export class ResultStream {
  private seq = 0;
  private rows = 0;
  /** The schema message of the last schema sent, re-used while batches keep that schema. */
  private schema: { of: Schema; bytes: Uint8Array } | undefined;

  constructor(
    readonly resultId: string,
    private readonly targets: { client: StreamingClient; commId: string }[],
    private readonly parent: IncomingMessage,
    private readonly session: string,
    /** Set when every target takes ZSTD-compressed record batches: what the kernel asks ClickHouse for. */
    readonly compression?: 'zstd',
  ) {}

  /**
   * Sends a batch as one or more comm messages of at most about COMM_MESSAGE_BYTES each: browsers take
   * multi-megabyte WebSocket messages slowly.
   */
  async send(batch: RecordBatch, columns: ColumnInfo[] | undefined): Promise<void> {
    const raw = rawMessageOf(batch);
    if (raw && raw.byteLength <= PASSTHROUGH_BYTES) {
      // As ClickHouse wrote it: only the schema in front is the proxy's (with each column's ClickHouse type).
      await this.sendIpc(Buffer.concat([this.schemaBytes(batch.schema), raw, IPC_END]), batch.numRows, columns);
      return;
    }
    const bytes = batch.data.byteLength;
    // Slices start at multiples of 8 rows, so their null bitmaps are byte slices (no bit-by-bit repacking).
    const rowsPerSlice = bytes > COMM_MESSAGE_BYTES ? Math.max(8, Math.floor((batch.numRows * COMM_MESSAGE_BYTES) / bytes / 8) * 8) : batch.numRows;
    for (let start = 0; start < batch.numRows || start === 0; start += rowsPerSlice) {
      await this.sendSlice(rowsPerSlice >= batch.numRows ? batch : batch.slice(start, Math.min(batch.numRows, start + rowsPerSlice)), columns);
      if (batch.numRows === 0) break;
    }
  }

  private sendSlice(batch: RecordBatch, columns: ColumnInfo[] | undefined): Promise<void> {
    return this.sendIpc(tableToIPC(new Table([batch]), 'stream'), batch.numRows, columns);
  }

  private schemaBytes(schema: Schema): Uint8Array {
    if (this.schema?.of !== schema) this.schema = { of: schema, bytes: schemaMessage(schema) };
    return this.schema.bytes;
  }

  private async sendIpc(ipc: Uint8Array, rows: number, columns: ColumnInfo[] | undefined): Promise<void> {
    this.rows += rows;
    const data: Record<string, unknown> = { result_id: this.resultId, seq: this.seq, rows, total_rows: this.rows };
    if (this.seq === 0 && columns) data.columns = columns;
    this.seq++;
    await Promise.all(
      this.targets.map(async ({ client, commId }) => {
        const message = makeMessage('iopub', 'comm_msg', { comm_id: commId, data }, this.parent, this.session);
        message.buffers = [ipc];
        client.send(message);
        await client.drain?.();
      }),
    );
  }

  end(details: { truncated: boolean; error?: string }): void {
    for (const { client, commId } of this.targets) {
      client.send(makeMessage('iopub', 'comm_msg', { comm_id: commId, data: { result_id: this.resultId, done: true, rows: this.rows, ...details } }, this.parent, this.session));
    }
  }
}
