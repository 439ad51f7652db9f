import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelMessage } from '@jupyterlab/services';

import { ARROW_COMPRESSION, compressionStats, registerZstd } from './compression.js';
import { getDuckDB } from './duckdb/engine.js';
import { decodeBase64Payload } from './metadata.js';
import { type ResultColumn, type ResultRegistry, resultName } from './registry.js';
import { resultsSettings } from './settings.js';

export const RESULTS_COMM_TARGET = 'chlab.results';
export const ARROW_MIME = 'application/vnd.apache.arrow.stream';
/** The kernel whose results stream over the comm. */
export const CLICKHOUSE_KERNEL = 'clickhouse';

interface ExecuteInfo {
  executionCount: number;
  code: string;
}

interface Attached {
  kernel: Kernel.IKernelConnection;
  comm: Kernel.IComm | undefined;
  /** Set when the server forgot the comm (restart, reconnect): opened again once the kernel answers. */
  stale: boolean;
  connectedOnce: boolean;
  /** Results streaming from this kernel that have not ended yet. */
  receiving: Set<string>;
}

/** Why a result that was streaming when its kernel restarted (or died) stopped. */
export const KERNEL_RESTARTED_ERROR = 'The kernel restarted (or stopped) before the result ended.';

const MAX_REMEMBERED_EXECUTIONS = 500;

let previewCounter = 0;

/**
 * Opens the `chlab.results` comm on every clickhouse kernel connection of the page, and opens it again after
 * a restart or a reconnect (the kernel forgets comms then). Batches go to the registry as they arrive,
 * keyed by `result_id`, whether or not an output shows them yet.
 */
export class ResultsComms {
  private readonly attached = new Map<Kernel.IKernelConnection, Attached>();
  /** execute_request msg_id → what the kernel said it runs (`execute_input`). */
  private readonly executions = new Map<string, ExecuteInfo>();

  constructor(private readonly registry: ResultRegistry) {
    registerZstd();
  }

  /** Follows the kernel of a notebook or console. */
  watch(sessionContext: ISessionContext): void {
    const follow = () => {
      const kernel = sessionContext.session?.kernel;
      if (kernel) {
        this.attach(kernel);
      }
    };
    sessionContext.kernelChanged.connect((_, change) => {
      if (change.oldValue) {
        this.detach(change.oldValue);
      }
      follow();
    });
    sessionContext.disposed.connect(() => {
      const kernel = sessionContext.session?.kernel;
      if (kernel) {
        this.detach(kernel);
      }
    });
    follow();
  }

  attach(kernel: Kernel.IKernelConnection): void {
    if (this.attached.has(kernel) || kernel.isDisposed || !kernel.handleComms) {
      return;
    }
    const state: Attached = {
      kernel,
      comm: undefined,
      stale: false,
      connectedOnce: kernel.connectionStatus === 'connected',
      receiving: new Set()
    };
    this.attached.set(kernel, state);
    kernel.iopubMessage.connect(this.onIOPub, this);
    kernel.statusChanged.connect(this.onStatus, this);
    kernel.connectionStatusChanged.connect(this.onConnection, this);
    kernel.disposed.connect(() => this.detach(kernel));
    const open = () => {
      if (kernel.name === CLICKHOUSE_KERNEL) {
        this.open(state);
      }
    };
    // The kernel name is known once its model arrived.
    if (kernel.name) {
      open();
    } else {
      void kernel.info.then(open, () => undefined);
    }
  }

  detach(kernel: Kernel.IKernelConnection): void {
    const state = this.attached.get(kernel);
    if (!state) {
      return;
    }
    this.attached.delete(kernel);
    kernel.iopubMessage.disconnect(this.onIOPub, this);
    kernel.statusChanged.disconnect(this.onStatus, this);
    kernel.connectionStatusChanged.disconnect(this.onConnection, this);
    if (state.comm && !state.comm.isDisposed && !kernel.isDisposed) {
      state.comm.dispose();
    }
  }

  private open(state: Attached): void {
    const { kernel } = state;
    if (kernel.isDisposed || kernel.name !== CLICKHOUSE_KERNEL) {
      return;
    }
    if (state.comm && !state.comm.isDisposed) {
      state.comm.dispose();
    }
    const comm = kernel.createComm(RESULTS_COMM_TARGET);
    comm.onMsg = message => this.onCommMsg(state, message);
    state.comm = comm;
    state.stale = false;
    try {
      // No reply comes for comm_open. Batches may come ZSTD-compressed: the page reads them (./compression.ts).
      const arrowCompression = resultsSettings.compressResults ? ARROW_COMPRESSION : 'none';
      compressionStats.asked = arrowCompression;
      comm.open({ arrow_compression: arrowCompression }).done.catch(() => undefined);
    } catch (reason) {
      console.warn('chlab: could not open the results comm', reason);
    }
  }

  private onStatus(kernel: Kernel.IKernelConnection, status: Kernel.Status): void {
    const state = this.attached.get(kernel);
    if (!state) {
      return;
    }
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      state.stale = true;
      this.endReceiving(state);
    } else if (state.stale && (status === 'idle' || status === 'busy' || status === 'starting')) {
      this.open(state);
    }
  }

  private onConnection(kernel: Kernel.IKernelConnection, status: Kernel.ConnectionStatus): void {
    const state = this.attached.get(kernel);
    if (!state || status !== 'connected') {
      return;
    }
    if (state.connectedOnce) {
      // A new socket: the proxy dropped the comms of the old one.
      this.open(state);
    }
    state.connectedOnce = true;
  }

  /**
   * A restart stops the kernel's queries and forgets its comms: the end of a result streaming then never comes.
   * It ends here, as a query stopped before its result ended (its grid keeps the rows that came).
   */
  private endReceiving(state: Attached): void {
    for (const id of state.receiving) {
      if (this.registry.get(id)?.state === 'receiving') {
        this.registry.finish(id, { error: KERNEL_RESTARTED_ERROR });
      }
    }
    state.receiving.clear();
  }

  private onCommMsg(state: Attached, message: KernelMessage.ICommMsgMsg): void {
    const data = (message.content.data ?? {}) as Record<string, unknown>;
    const id = typeof data.result_id === 'string' ? data.result_id : undefined;
    if (!id) {
      return;
    }
    const record = this.registry.ensure(id);
    const execution = this.executions.get((message.parent_header as { msg_id?: string }).msg_id ?? '');
    if (execution && record.executionCount === undefined) {
      record.executionCount = execution.executionCount;
    }
    if (data.done === true) {
      state.receiving.delete(id);
      this.registry.finish(id, { truncated: data.truncated === true, error: typeof data.error === 'string' ? data.error : undefined });
      return;
    }
    const buffer = message.buffers?.[0];
    if (!buffer) {
      return;
    }
    state.receiving.add(id);
    const bytes =
      buffer instanceof ArrayBuffer
        ? new Uint8Array(buffer)
        : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    const columns = Array.isArray(data.columns) ? (data.columns as ResultColumn[]) : undefined;
    this.registry.receiveBatch(id, Number(data.rows) || 0, bytes, columns);
  }

  private onIOPub(kernel: Kernel.IKernelConnection, message: KernelMessage.IIOPubMessage): void {
    const type = message.header.msg_type;
    const parentId = (message.parent_header as { msg_id?: string }).msg_id ?? '';
    if (type === 'execute_input') {
      const content = message.content as KernelMessage.IExecuteInputMsg['content'];
      // A cell runs on a clickhouse kernel: DuckDB-WASM starts now (3 s or more), not at the first batch.
      void getDuckDB().catch(() => undefined);
      if (typeof content.execution_count === 'number') {
        this.executions.set(parentId, { executionCount: content.execution_count, code: content.code });
      }
      if (this.executions.size > MAX_REMEMBERED_EXECUTIONS) {
        this.executions.delete(this.executions.keys().next().value!);
      }
      return;
    }
    if (type !== 'display_data' && type !== 'update_display_data') {
      return;
    }
    const content = message.content as KernelMessage.IDisplayDataMsg['content'];
    const payload = content.data?.[ARROW_MIME];
    if (payload === undefined) {
      return;
    }
    const metadata = (content.metadata?.[ARROW_MIME] ?? {}) as Record<string, unknown>;
    if (metadata.streaming === true) {
      // The first rows of a result still streaming: its record says it is live (not a saved output).
      if (typeof metadata.result_id === 'string') {
        this.registry.ensure(metadata.result_id);
        this.attached.get(kernel)?.receiving.add(metadata.result_id);
      }
      return;
    }
    const execution = this.executions.get(parentId);
    let preview: Uint8Array | undefined;
    try {
      preview = decodeBase64Payload(payload);
    } catch {
      preview = undefined;
    }
    const resultId = typeof metadata.result_id === 'string' ? metadata.result_id : `preview-${++previewCounter}`;
    if (metadata.engine === 'duckdb') {
      return;
    }
    this.attached.get(kernel)?.receiving.delete(resultId);
    void this.registry
      .finalize(resultId, preview, {
        executionCount: execution?.executionCount,
        name: execution ? resultName(execution.code) : undefined,
        query: typeof metadata.query === 'string' ? metadata.query : undefined,
        truncated: metadata.truncated === true,
        streamed: metadata.streamed === true
      })
      .catch(reason => console.warn('chlab: could not name a result in DuckDB', reason));
  }
}
