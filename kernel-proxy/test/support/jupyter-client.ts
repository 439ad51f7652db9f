import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { decodeFrame, encodeMessage, V1_PROTOCOL, type WireProtocol } from '../../src/kernel/wire.js';

export interface WireMessage {
  channel: string;
  header: { msg_id: string; msg_type: string; session?: string };
  parent_header: { msg_id?: string };
  metadata: Record<string, unknown>;
  content: Record<string, any>;
  buffers?: Buffer[];
}

/** A plain Jupyter client: REST to start a session, one WebSocket for the channels. */
export class PlainJupyterClient {
  private readonly received: WireMessage[] = [];
  private readonly waiters: (() => void)[] = [];
  private readonly session = randomUUID();

  private constructor(
    private readonly socket: WebSocket,
    private readonly protocol: WireProtocol,
  ) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      this.received.push(decodeFrame(data, isBinary, protocol) as WireMessage);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async connect(baseUrl: string, token: string, kernelId: string, protocol: WireProtocol = 'json'): Promise<PlainJupyterClient> {
    const url = `${baseUrl.replace(/^http/, 'ws')}/api/kernels/${kernelId}/channels?session_id=${randomUUID()}`;
    const socket = new WebSocket(url, protocol === 'v1' ? [V1_PROTOCOL] : [], { headers: { Authorization: `token ${token}` } });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket refused: ${res.statusCode}`)));
    });
    return new PlainJupyterClient(socket, protocol);
  }

  get negotiatedProtocol(): string {
    return this.socket.protocol;
  }

  sendRaw(data: string | Buffer): void {
    this.socket.send(data);
  }

  send(channel: 'shell' | 'control', msgType: string, content: Record<string, unknown>): string {
    const msgId = randomUUID();
    const message = {
      channel,
      header: { msg_id: msgId, msg_type: msgType, session: this.session, username: 'test', date: new Date().toISOString(), version: '5.3' },
      parent_header: {},
      metadata: {},
      content,
    };
    this.socket.send(encodeMessage(message, this.protocol));
    return msgId;
  }

  /** Waits for a message that matches, searching what arrived already first. */
  async waitFor(match: (m: WireMessage) => boolean, timeoutMs = 30_000): Promise<WireMessage> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.received.length; seen++) if (match(this.received[seen]!)) return this.received[seen]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a kernel message');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  messagesFor(parentId: string): WireMessage[] {
    return this.received.filter((m) => m.parent_header?.msg_id === parentId);
  }

  /** Sends a request and resolves when its reply and the idle status after it have arrived. */
  async request(channel: 'shell' | 'control', msgType: string, content: Record<string, unknown>): Promise<{ reply: WireMessage; iopub: WireMessage[] }> {
    const id = this.send(channel, msgType, content);
    const reply = await this.waitFor((m) => m.parent_header?.msg_id === id && m.channel === channel);
    await this.waitFor((m) => m.parent_header?.msg_id === id && m.header.msg_type === 'status' && m.content.execution_state === 'idle');
    return { reply, iopub: this.messagesFor(id).filter((m) => m.channel === 'iopub') };
  }

  execute(code: string, extra: Record<string, unknown> = {}) {
    return this.request('shell', 'execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true, ...extra });
  }

  close(): void {
    this.socket.close();
  }
}
