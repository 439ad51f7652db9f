// The `load` scenario, shared by kernel-proxy/test/server/load.test.ts (which asserts behaviour) and
// `npm run bench -- load` (which prints latency): many kernels on one proxy, each over its own WebSocket running a
// handful of small queries whose results are checked, while one kernel streams a large result through the
// chlab.results comm and a PostgreSQL → ClickHouse migration runs over REST.
import { randomUUID } from 'node:crypto';
import { tableFromIPC, type Table } from 'apache-arrow';
import WebSocket from 'ws';
import { decodeFrame, encodeMessage, V1_PROTOCOL, type WireProtocol } from '../kernel/wire.js';
import { ARROW_MIME } from '../kernel/spec.js';

export interface LoadScenario {
  baseUrl: string;
  token: string;
  /** Concurrent kernels, each on its own WebSocket. */
  kernels: number;
  /** Small queries per kernel, one after the other. */
  queriesPerKernel: number;
  /** Rows of the large result (`SELECT number, toString(number) FROM numbers(n)`), streamed to its own kernel; 0: none. */
  bigRows: number;
  /** A migration started over REST beside the queries. */
  migration?: { spec: string; target: string; expectedRows: number; key: string };
}

export interface LoadOutcome {
  /** Milliseconds from execute_request to execute_reply, one per small query. */
  latencies: number[];
  /** Everything that went wrong (a reply not ok, a wrong result, a timeout); empty when all is right. */
  errors: string[];
  wallMs: number;
  big?: { rows: number; batches: number; ms: number };
  migration?: { id: string; status: string; records: number; validationOk: boolean; loadedRows: number; ms: number };
}

interface Message {
  channel: string;
  header: { msg_id: string; msg_type: string };
  parent_header: { msg_id?: string };
  content: Record<string, any>;
  buffers?: Buffer[];
}

const TIMEOUT_MS = 300_000;

/** The i-th small query of kernel k, and a check of its result. */
export function smallQuery(k: number, i: number): { sql: string; check(table: Table): string | undefined } {
  const rows = 3 + ((k + i) % 5);
  const sql = `SELECT ${k} AS k, number * ${k + 1} AS v, concat('k', toString(${k}), '-', toString(number + ${i})) AS s FROM numbers(${rows})`;
  return {
    sql,
    check(table) {
      if (table.numRows !== rows) return `kernel ${k} query ${i}: ${table.numRows} rows, expected ${rows}`;
      const v = table.getChild('v')!;
      const s = table.getChild('s')!;
      for (let j = 0; j < rows; j++) {
        if (BigInt(v.get(j) as bigint) !== BigInt(j * (k + 1))) return `kernel ${k} query ${i}: v[${j}] = ${v.get(j)}, expected ${j * (k + 1)}`;
        if (s.get(j) !== `k${k}-${j + i}`) return `kernel ${k} query ${i}: s[${j}] = ${s.get(j)}, expected k${k}-${j + i}`;
      }
      return undefined;
    },
  };
}

/** One WebSocket to one kernel; requests resolve when their reply and the idle status after it have arrived. */
class KernelSocket {
  private readonly waiting = new Map<string, { messages: Message[]; reply?: Message; resolve: (m: Message[]) => void; onMessage?: (m: Message) => void }>();

  private constructor(
    private readonly socket: WebSocket,
    private readonly protocol: WireProtocol,
  ) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const m = decodeFrame(data, isBinary, protocol) as Message;
      const entry = m.parent_header?.msg_id ? this.waiting.get(m.parent_header.msg_id) : undefined;
      if (!entry) return;
      if (entry.onMessage) entry.onMessage(m);
      else entry.messages.push(m);
      if (m.channel === 'shell' || m.channel === 'control') entry.reply = m;
      if (entry.reply && m.header.msg_type === 'status' && m.content.execution_state === 'idle') {
        this.waiting.delete(m.parent_header.msg_id!);
        entry.resolve([...entry.messages, entry.reply].filter((x, n, all) => all.indexOf(x) === n));
      }
    });
  }

  static async open(baseUrl: string, token: string, kernelId: string, protocol: WireProtocol): Promise<KernelSocket> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/kernels/${kernelId}/channels?session_id=${randomUUID()}`, protocol === 'v1' ? [V1_PROTOCOL] : [], {
      headers: { Authorization: `token ${token}` },
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new KernelSocket(socket, protocol);
  }

  send(msgType: string, content: Record<string, unknown>, msgId = randomUUID()): string {
    const message = {
      channel: 'shell' as const,
      header: { msg_id: msgId, msg_type: msgType, session: 'load', username: 'load', date: new Date().toISOString(), version: '5.3' },
      parent_header: {},
      metadata: {},
      content,
    };
    this.socket.send(encodeMessage(message, this.protocol));
    return msgId;
  }

  /** Runs a cell; `onMessage` sees its messages as they arrive (then they are not kept). */
  execute(code: string, onMessage?: (m: Message) => void): Promise<{ reply: Message; messages: Message[] }> {
    const msgId = randomUUID();
    const done = new Promise<Message[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(msgId);
        reject(new Error(`no reply within ${TIMEOUT_MS / 1000} s: ${code.slice(0, 80)}`));
      }, TIMEOUT_MS);
      this.waiting.set(msgId, {
        messages: [],
        onMessage,
        resolve: (messages) => {
          clearTimeout(timer);
          resolve(messages);
        },
      });
    });
    this.send('execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }, msgId);
    return done.then((messages) => ({ reply: messages.find((m) => m.channel === 'shell')!, messages }));
  }

  close(): void {
    this.socket.close();
  }
}

async function rest(baseUrl: string, token: string, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${baseUrl}${url}`, {
    method,
    headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

async function startKernel(baseUrl: string, token: string): Promise<string> {
  const response = await rest(baseUrl, token, 'POST', '/api/kernels', { name: 'clickhouse' });
  if (response.status !== 201) throw new Error(`POST /api/kernels: HTTP ${response.status}`);
  return response.json.id as string;
}

async function bigResult(baseUrl: string, token: string, rows: number, errors: string[]): Promise<LoadOutcome['big']> {
  const kernelId = await startKernel(baseUrl, token);
  const socket = await KernelSocket.open(baseUrl, token, kernelId, 'v1');
  try {
    socket.send('comm_open', { comm_id: `load-results-${kernelId}`, target_name: 'chlab.results', data: {} });
    let received = 0;
    let batches = 0;
    let next = 0n;
    let done: Record<string, unknown> | undefined;
    const t0 = performance.now();
    const { reply } = await socket.execute(`SELECT number, toString(number) AS s FROM numbers(${rows})`, (m) => {
      if (m.header.msg_type !== 'comm_msg') return;
      const data = m.content.data as Record<string, unknown>;
      if (data.done) {
        done = data;
        return;
      }
      const table = tableFromIPC(m.buffers![0]!);
      batches++;
      const numbers = table.getChild('number')!;
      const strings = table.getChild('s')!;
      const first = numbers.get(0) as bigint;
      const last = numbers.get(table.numRows - 1) as bigint;
      if (first !== next || last !== next + BigInt(table.numRows - 1)) errors.push(`large result: batch ${batches} holds ${first}…${last}, expected to start at ${next}`);
      if (strings.get(0) !== String(first) || strings.get(table.numRows - 1) !== String(last)) errors.push(`large result: batch ${batches} strings do not match their numbers`);
      next = last + 1n;
      received += table.numRows;
    });
    const ms = performance.now() - t0;
    if (reply.content.status !== 'ok') errors.push(`large result: ${reply.content.status} ${reply.content.evalue ?? ''}`);
    if (received !== rows) errors.push(`large result: ${received} rows streamed, expected ${rows}`);
    if (!done || done.rows !== rows || done.truncated !== false) errors.push(`large result: end marker ${JSON.stringify(done)}`);
    return { rows: received, batches, ms };
  } finally {
    socket.close();
    await rest(baseUrl, token, 'DELETE', `/api/kernels/${kernelId}`).catch(() => undefined);
  }
}

async function migrate(baseUrl: string, token: string, migration: NonNullable<LoadScenario['migration']>, errors: string[]): Promise<LoadOutcome['migration']> {
  const t0 = performance.now();
  const started = await rest(baseUrl, token, 'POST', '/api/migration/execute', { spec: migration.spec });
  if (started.status !== 202) {
    errors.push(`migration: HTTP ${started.status} ${JSON.stringify(started.json)}`);
    return undefined;
  }
  const id = started.json.migration_id as string;
  let status = 'running';
  for (let i = 0; i < 6000 && status !== 'completed' && status !== 'failed'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await rest(baseUrl, token, 'GET', `/api/migration/status/${id}`)).json.status as string;
  }
  const ms = performance.now() - t0;
  const details = (await rest(baseUrl, token, 'GET', `/api/migration/history/${id}`)).json;
  const count = await rest(baseUrl, token, 'POST', '/api/query/execute', { query: `SELECT toString(count()) AS n, toString(uniqExact(${migration.key})) AS d FROM ${migration.target}` });
  const loadedRows = Number(count.json?.data?.[0]?.n ?? -1);
  const outcome = { id, status, records: Number(details.records_migrated), validationOk: details.validation?.ok === true, loadedRows, ms };
  if (status !== 'completed') errors.push(`migration ${id}: ${status} ${details.error_message ?? ''}`);
  if (outcome.records !== migration.expectedRows || loadedRows !== migration.expectedRows) errors.push(`migration ${id}: ${outcome.records} recorded, ${loadedRows} loaded, expected ${migration.expectedRows}`);
  if (Number(count.json?.data?.[0]?.d) !== migration.expectedRows) errors.push(`migration ${id}: duplicate rows in ${migration.target}`);
  if (!outcome.validationOk) errors.push(`migration ${id}: validation ${JSON.stringify(details.validation)}`);
  return outcome;
}

/** Runs the scenario; never throws for a failed query (that goes to `errors`). */
export async function runLoadScenario(scenario: LoadScenario): Promise<LoadOutcome> {
  const { baseUrl, token } = scenario;
  const errors: string[] = [];
  const latencies: number[] = [];
  const kernelIds = await Promise.all(Array.from({ length: scenario.kernels }, () => startKernel(baseUrl, token)));
  const sockets = await Promise.all(kernelIds.map((id, k) => KernelSocket.open(baseUrl, token, id, k % 2 === 0 ? 'v1' : 'json')));
  const t0 = performance.now();
  try {
    const small = sockets.map(async (socket, k) => {
      for (let i = 0; i < scenario.queriesPerKernel; i++) {
        const query = smallQuery(k, i);
        const started = performance.now();
        try {
          const { reply, messages } = await socket.execute(query.sql);
          latencies.push(performance.now() - started);
          if (reply.content.status !== 'ok') {
            errors.push(`kernel ${k} query ${i}: ${reply.content.status} ${reply.content.evalue ?? ''}`);
            continue;
          }
          const display = messages.find((m) => m.header.msg_type === 'display_data');
          if (!display) {
            errors.push(`kernel ${k} query ${i}: no display_data`);
            continue;
          }
          const wrong = query.check(tableFromIPC(Buffer.from(display.content.data[ARROW_MIME] as string, 'base64')));
          if (wrong) errors.push(wrong);
        } catch (error) {
          errors.push(`kernel ${k} query ${i}: ${(error as Error).message}`);
        }
      }
    });
    const [big, migration] = await Promise.all([
      scenario.bigRows > 0 ? bigResult(baseUrl, token, scenario.bigRows, errors).catch((e: Error) => void errors.push(`large result: ${e.message}`)) : undefined,
      scenario.migration ? migrate(baseUrl, token, scenario.migration, errors).catch((e: Error) => void errors.push(`migration: ${e.message}`)) : undefined,
      Promise.all(small),
    ]);
    return { latencies, errors, wallMs: performance.now() - t0, big: big ?? undefined, migration: migration ?? undefined };
  } finally {
    for (const socket of sockets) socket.close();
    await Promise.all(kernelIds.map((id) => rest(baseUrl, token, 'DELETE', `/api/kernels/${id}`).catch(() => undefined)));
  }
}

/** The q-quantile (0…1) of the values, nearest rank. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
