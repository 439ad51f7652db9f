// Fuzz: ≥ 10,000 malformed or hostile messages against a real proxy (buildServer on embedded chDB, the shared
// PostgreSQL 15, a local S3): kernel WebSocket frames on both framings (invalid JSON, wrong types, missing header
// fields, unknown msg_types, wrong channels, binary garbage, bad offset tables, comm messages to unknown comms,
// hostile SQL, near-limit sizes) and REST requests (/api/query, /api/migration, /api/s3, /api/contents, /files with
// traversal paths, wrong content types, invalid JSON, oversized bodies, bad query strings), while a migration runs
// beside them. Every message must get a clear answer: REST a 4xx with a JSON message (never a 5xx, never a stack),
// the kernel a reply, an error under the request, or (for unreadable frames) an InvalidMessage error; frames over
// the size limit close the socket with 1009. No secret appears in any answer; the server still answers afterwards;
// the migration ends exact. Seeded: CHLAB_FUZZ_SEED=<n> replays a run (each stream prints its seed on failure).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type pg from 'pg';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildServer } from '../../src/server.js';
import type { Config } from '../../src/config.js';
import { decodeFrame, encodeMessage, V1_PROTOCOL, type WireProtocol } from '../../src/kernel/wire.js';
import { silentLogger, testConfig } from '../support/engine.js';
import { PlainJupyterClient } from '../support/jupyter-client.js';
import { pgConfig, useTestSchema } from '../migration/support.js';
import { startTestS3, type TestS3 } from '../../../tests/support/s3-server.js';

const SEED = Number(process.env.CHLAB_FUZZ_SEED ?? 20261130);
const KERNEL_STREAMS = 4;
const KERNEL_MESSAGES_PER_STREAM = 1_500;
const REST_STREAMS = 4;
const REST_REQUESTS_PER_STREAM = 1_050;
const MAX_MESSAGE_BYTES = 1024 * 1024;
const MIGRATION_ROWS = 150_000;
const TOKEN = 'fuzz-token-5e1c7a9d0b';
const OUTSIDE_MARKER = `outside-notebooks-${SEED}-d41d8cd98f00b204`;

/** mulberry32: small, fast, reproducible. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const chance = (p: number) => next() < p;
  return { next, int, pick, bytes, chance };
}
type Rng = ReturnType<typeof prng>;

// ---------------------------------------------------------------------------------------------------------------
// Hostile text

const SQL_PARTS = [
  "'; DROP TABLE fuzz_nonexistent; --",
  '"; DROP TABLE fuzz_nonexistent; --',
  '`; DROP TABLE fuzz_nonexistent; --',
  "' OR '1'='1",
  "''''",
  "'\\''",
  '\\',
  "\\\\'",
  '"""',
  '`a``b`',
  '$$',
  '$tag$ x $tag$',
  '/*',
  '*/',
  '--',
  '#',
  '\u0000',
  "\u0000'\u0000",
  'é',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '🚀',
  '\u202e',
  '\ufeff',
  '\ud800',
  '\n',
  '\r\n',
  '\t',
  'SELECT',
  'FROM',
  'WHERE',
  'numbers(3)',
  'system.one',
  ';',
  ';;',
  '(',
  ')',
  '{x:String}',
  '{{',
  '?',
  ':',
  '%',
  '%%',
  '%%migrate',
  '%%s3',
  '%%duckdb',
  '%%bogus',
  'FORMAT JSON',
  'SETTINGS max_threads = 1',
  'DROP TABLE fuzz_nonexistent',
  "SELECT 'a''b'",
  'SELECT 1',
  'SELECT "x"',
  'SELECT toString(number) FROM numbers(2)',
  'CREATE TABLE',
  'ALTER',
  '1e309',
  '-9223372036854775809',
  '0x',
];

function hostileSql(rng: Rng): string {
  const parts = Array.from({ length: 1 + rng.int(6) }, () => rng.pick(SQL_PARTS));
  const sql = parts.join(rng.pick([' ', '', '\n']));
  return rng.chance(0.2) ? `SELECT '${sql}'` : sql;
}

function hostileString(rng: Rng): string {
  return rng.pick([
    () => hostileSql(rng),
    () => rng.bytes(1 + rng.int(64)).toString('utf8'),
    () => 'x'.repeat(rng.int(5000)),
    () => '../'.repeat(1 + rng.int(6)) + 'etc/passwd',
    () => `%2e%2e%2f${rng.int(10)}`,
    () => String.fromCharCode(...Array.from({ length: 1 + rng.int(20) }, () => rng.int(0x10000))),
    () => '',
    () => ' ',
  ])();
}

function hostileValue(rng: Rng, depth = 0): unknown {
  return rng.pick([
    () => hostileString(rng),
    () => rng.int(2 ** 31) - 2 ** 30,
    () => rng.pick([0, -1, 1e308, -1e308, 0.5, Number.MAX_SAFE_INTEGER + 2]),
    () => rng.chance(0.5),
    () => null,
    () => (depth < 2 ? Array.from({ length: rng.int(4) }, () => hostileValue(rng, depth + 1)) : []),
    () => (depth < 2 ? Object.fromEntries(Array.from({ length: rng.int(4) }, () => [hostileString(rng).slice(0, 20), hostileValue(rng, depth + 1)])) : {}),
    () => JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}'),
  ])();
}

// ---------------------------------------------------------------------------------------------------------------
// Kernel side

interface WireMessage {
  channel: string;
  header: { msg_id: string; msg_type: string };
  parent_header: { msg_id?: string };
  content: Record<string, any>;
}

type Expectation =
  /** An unreadable frame: an iopub error InvalidMessage with no parent, to the sender. */
  | { kind: 'invalid' }
  /** A request: its reply on shell/control (any of the given statuses). */
  | { kind: 'reply'; msgId: string; replyType: string; statuses: string[] }
  /** A readable message that cannot be acted on: an iopub error under it. */
  | { kind: 'refused'; msgId: string; ename: string }
  /** comm_open for a target nobody serves: comm_close. */
  | { kind: 'comm_close'; msgId: string };

interface KernelCase {
  label: string;
  data: string | Buffer;
  expect: Expectation;
}

function header(msgId: string, msgType: string) {
  return { msg_id: msgId, msg_type: msgType, session: 'fuzz', username: 'fuzz', date: new Date(0).toISOString(), version: '5.3' };
}

function envelope(channel: string, msgId: string, msgType: string, content: unknown): Record<string, unknown> {
  return { channel, header: header(msgId, msgType), parent_header: {}, metadata: {}, content };
}

function frame(message: Record<string, unknown>, protocol: WireProtocol, rng: Rng): string | Buffer {
  // Either framing's peer also accepts plain JSON text frames.
  if (protocol === 'v1' && rng.chance(0.3)) return JSON.stringify(message);
  return encodeMessage(message as never, protocol);
}

function legacyBinary(parts: Buffer[]): Buffer {
  const table = Buffer.alloc(4 * (parts.length + 1));
  table.writeUInt32BE(parts.length, 0);
  let position = table.length;
  parts.forEach((p, i) => {
    table.writeUInt32BE(position, 4 * (i + 1));
    position += p.length;
  });
  return Buffer.concat([table, ...parts]);
}

function v1Table(count: number, offsets: number[], body: Buffer): Buffer {
  const table = Buffer.alloc(8 * (1 + offsets.length));
  table.writeBigUInt64LE(BigInt(count), 0);
  offsets.forEach((o, i) => table.writeBigUInt64LE(BigInt(o), 8 * (i + 1)));
  return Buffer.concat([table, body]);
}

function kernelCase(rng: Rng, protocol: WireProtocol, id: string): KernelCase {
  const category = rng.int(100);
  // 1. Not JSON at all.
  if (category < 12) {
    const valid = JSON.stringify(envelope('shell', id, 'kernel_info_request', {}));
    const text = rng.pick([
      () => valid.slice(0, rng.int(valid.length)),
      () => rng.bytes(1 + rng.int(300)).toString('utf8'),
      () => rng.pick(['', '{', '}', 'nul\u0000l', 'undefined', 'NaN', "{'channel': 'shell'}", '{"a":1,}', '\ufeff{}', '[', '"unterminated']),
      () => valid.replace('{', '{{'),
      () => `${valid}${valid}`,
    ])();
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
    }
    if (!parses) return { label: `not-json ${JSON.stringify(text.slice(0, 80))}`, data: text, expect: { kind: 'invalid' } };
    return { label: `json-not-a-message ${JSON.stringify(text.slice(0, 80))}`, data: text, expect: { kind: 'invalid' } };
  }
  // 2. JSON of the wrong shape.
  if (category < 34) {
    const message = envelope('shell', id, rng.pick(['kernel_info_request', 'execute_request', 'comm_open']), { code: 'SELECT 1' });
    const mutation = rng.pick<[string, () => void]>([
      ['channel', () => (message.channel = rng.pick(['iopub', 'Shell', '', 'foo', 1, null, [], {}, 'shell\u0000']))],
      ['no channel', () => delete message.channel],
      ['no header', () => delete message.header],
      ['header', () => (message.header = rng.pick([null, 'x', [], 5, true, {}]))],
      ['header.msg_id', () => ((message.header as Record<string, unknown>).msg_id = rng.pick([undefined, '', 5, null, [], {}, 'x'.repeat(257)]))],
      ['header.msg_type', () => ((message.header as Record<string, unknown>).msg_type = rng.pick([undefined, '', 5, null, [], 'y'.repeat(129)]))],
      ['header.session', () => ((message.header as Record<string, unknown>).session = rng.pick([5, [], {}, 's'.repeat(257)]))],
      ['header.version', () => ((message.header as Record<string, unknown>).version = rng.pick([5, 'v'.repeat(17)]))],
      ['header.date', () => ((message.header as Record<string, unknown>).date = rng.pick([5, {}, 'd'.repeat(65)]))],
      ['content', () => (message.content = rng.pick([[], 'x', 5, true, [1, 2]]))],
      ['metadata', () => (message.metadata = rng.pick([[], 'x', 5, true]))],
      ['parent_header', () => (message.parent_header = rng.pick(['x', 5, true]))],
      ['buffers', () => (message.buffers = rng.pick([['x'], 'x', [1], {}]))],
    ]);
    mutation[1]();
    const text = rng.chance(0.5) ? JSON.stringify(message) : JSON.stringify([message]);
    return { label: `wrong-shape ${mutation[0]}`, data: text, expect: { kind: 'invalid' } };
  }
  // 3. Binary garbage and broken offset tables.
  if (category < 46) {
    const body = rng.bytes(rng.int(400));
    const crafted = protocol === 'json'
      ? rng.pick([
          () => body,
          () => Buffer.concat([Buffer.from([0, 0, 0, 0]), body]),
          () => Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), body]),
          () => { const b = Buffer.alloc(12); b.writeUInt32BE(2, 0); b.writeUInt32BE(99999, 4); b.writeUInt32BE(1, 8); return b; },
          () => legacyBinary([Buffer.from('not json'), body]),
          () => legacyBinary([Buffer.from('5'), body]),
          () => legacyBinary([Buffer.from(JSON.stringify(envelope('iopub', id, 'kernel_info_request', {}))), body]),
        ])()
      : rng.pick([
          () => body,
          () => rng.bytes(rng.int(8)),
          () => v1Table(rng.int(6), [8, 9, 10], body),
          () => v1Table(2 ** 40, [8], body),
          () => v1Table(7, [200, 100, 50, 40, 30, 20, 10], body),
          () => v1Table(6, [56, 56, 56, 56, 56, 99999], body),
          () => v1Table(6, [56, 61, 62, 63, 64, 65], Buffer.concat([Buffer.from('shell{{{{{'), body])),
          () => {
            const parts = ['iopub', JSON.stringify(header(id, 'kernel_info_request')), '{}', '{}', '{}'].map((s) => Buffer.from(s));
            const offsets: number[] = [];
            let at = 8 * 7;
            for (const p of parts) { offsets.push(at); at += p.length; }
            offsets.push(at);
            return v1Table(6, offsets, Buffer.concat(parts));
          },
        ])();
    return { label: `binary-garbage (${crafted.length} bytes)`, data: crafted, expect: { kind: 'invalid' } };
  }
  // 4. Unknown msg_type.
  if (category < 56) {
    const word = rng.pick(['foo', 'debug', 'usage', 'input', 'é', '\u0000', 'x'.repeat(60), 'kernel_info', 'execute']);
    const type = rng.pick([`fuzz_${word}_request`, `fuzz_${word}`, `fuzz_${word}_reply`, `fuzz_${word}_result`]);
    const message = envelope(rng.pick(['shell', 'control', 'stdin']), id, type, {});
    if (type.endsWith('_request')) return { label: `unknown ${type}`, data: frame(message, protocol, rng), expect: { kind: 'reply', msgId: id, replyType: type.replace(/_request$/, '_reply'), statuses: ['error'] } };
    return { label: `unknown ${type}`, data: frame(message, protocol, rng), expect: { kind: 'refused', msgId: id, ename: 'UnsupportedMessage' } };
  }
  // 5. Known requests on other channels and with broken content.
  if (category < 72) {
    const channel = rng.pick(['shell', 'control', 'stdin']);
    const [type, content, statuses] = rng.pick<[string, unknown, string[]]>([
      ['kernel_info_request', hostileValue(rng), ['ok']],
      ['complete_request', { code: rng.pick([5, null, []]), cursor_pos: 1 }, ['error']],
      ['complete_request', { code: hostileString(rng), cursor_pos: rng.pick([-1, 1.5, 'x', null]) }, ['error']],
      ['complete_request', { code: hostileString(rng).slice(0, 200), cursor_pos: rng.int(300) }, ['ok']],
      ['inspect_request', { code: hostileString(rng), cursor_pos: 0, detail_level: rng.pick([2, -1, 'x']) }, ['error']],
      ['inspect_request', { code: hostileString(rng).slice(0, 200), cursor_pos: rng.int(300) }, ['ok']],
      ['is_complete_request', rng.pick([{}, { code: 5 }, { code: null }]), ['error']],
      ['history_request', { hist_access_type: rng.pick(['x', 5, 'range; DROP']), n: 1 }, ['error']],
      ['history_request', { hist_access_type: 'search', pattern: hostileString(rng).slice(0, 500), n: 1 + rng.int(5) }, ['ok']],
      ['history_request', { n: rng.pick([0, -5, 1e9, 'x']) }, ['error']],
      ['comm_info_request', { target_name: rng.pick([5, [], 'x'.repeat(300)]) }, ['error']],
      ['comm_info_request', { target_name: hostileString(rng).slice(0, 200) }, ['ok']],
      ['shutdown_request', { restart: rng.pick(['yes', 5, null, []]) }, ['error']],
      ['interrupt_request', hostileValue(rng), ['ok']],
      ['execute_request', rng.pick([{}, { code: 5 }, { code: null }, { code: 'SELECT 1', silent: 'no' }, { code: 'SELECT 1', user_expressions: [] }]), ['error', 'aborted']],
    ]);
    const body = content !== null && typeof content === 'object' && !Array.isArray(content) ? content : {};
    return {
      label: `${type} on ${channel} ${JSON.stringify(body).slice(0, 100)}`,
      data: frame(envelope(channel, id, type, body), protocol, rng),
      expect: { kind: 'reply', msgId: id, replyType: type.replace(/_request$/, '_reply'), statuses },
    };
  }
  // 6. Comm messages: unknown targets and comms, broken content.
  if (category < 84) {
    const commId = `fuzz-comm-${rng.int(1e9)}`;
    const [type, content, expect] = rng.pick<[string, Record<string, unknown>, Expectation]>([
      ['comm_open', { comm_id: commId, target_name: rng.pick(['nobody.listens', hostileString(rng).slice(0, 100), '']), data: {} }, { kind: 'comm_close', msgId: id }],
      ['comm_open', { comm_id: rng.pick([5, '', null, 'c'.repeat(300)]), target_name: 'chlab.results' }, { kind: 'refused', msgId: id, ename: 'InvalidMessage' }],
      ['comm_open', { comm_id: commId, target_name: 5 }, { kind: 'refused', msgId: id, ename: 'InvalidMessage' }],
      ['comm_msg', { comm_id: commId, data: hostileValue(rng) }, { kind: 'refused', msgId: id, ename: 'UnknownComm' }],
      ['comm_msg', rng.pick([{}, { comm_id: 5 }, { data: {} }]), { kind: 'refused', msgId: id, ename: 'InvalidMessage' }],
      ['comm_close', { comm_id: commId }, { kind: 'refused', msgId: id, ename: 'UnknownComm' }],
      ['comm_close', rng.pick([{}, { comm_id: [] }]), { kind: 'refused', msgId: id, ename: 'InvalidMessage' }],
    ]);
    return { label: `${type} ${JSON.stringify(content).slice(0, 100)}`, data: frame(envelope(rng.pick(['shell', 'control']), id, type, content), protocol, rng), expect };
  }
  // 7. A valid message in the legacy binary framing with extra buffers: it is read and answered.
  if (category < 88 && protocol === 'json') {
    const parts = [Buffer.from(JSON.stringify(envelope('shell', id, 'kernel_info_request', {}))), ...Array.from({ length: 1 + rng.int(3) }, () => rng.bytes(rng.int(200)))];
    return { label: 'legacy binary with buffers', data: legacyBinary(parts), expect: { kind: 'reply', msgId: id, replyType: 'kernel_info_reply', statuses: ['ok'] } };
  }
  // 8. execute_request with hostile SQL: run by ClickHouse, answered ok or with its error.
  const code = hostileSql(rng);
  const content = { code, silent: rng.chance(0.1), store_history: rng.chance(0.8), user_expressions: {}, allow_stdin: rng.chance(0.1), stop_on_error: rng.chance(0.7) };
  return {
    label: `execute ${JSON.stringify(code).slice(0, 160)}`,
    data: frame(envelope(rng.pick(['shell', 'shell', 'control']), id, 'execute_request', content), protocol, rng),
    expect: { kind: 'reply', msgId: id, replyType: 'execute_reply', statuses: ['ok', 'error', 'aborted'] },
  };
}

function matches(expect: Expectation, m: WireMessage): boolean {
  switch (expect.kind) {
    case 'invalid':
      return m.channel === 'iopub' && m.header.msg_type === 'error' && m.content.ename === 'InvalidMessage' && !m.parent_header?.msg_id;
    case 'reply':
      return (m.channel === 'shell' || m.channel === 'control') && m.parent_header?.msg_id === expect.msgId;
    case 'refused':
      return m.channel === 'iopub' && m.header.msg_type === 'error' && m.parent_header?.msg_id === expect.msgId;
    case 'comm_close':
      return m.header.msg_type === 'comm_close' && m.parent_header?.msg_id === expect.msgId;
  }
}

/** What is wrong with the answer (undefined: it is the clear answer expected). */
function judge(expect: Expectation, m: WireMessage): string | undefined {
  if (expect.kind === 'reply') {
    if (m.header.msg_type !== expect.replyType) return `reply type ${m.header.msg_type}, expected ${expect.replyType}`;
    if (!expect.statuses.includes(m.content.status)) return `reply status ${m.content.status} (${m.content.evalue ?? ''}), expected ${expect.statuses.join('|')}`;
    if (m.content.status === 'error' && (typeof m.content.ename !== 'string' || typeof m.content.evalue !== 'string' || !m.content.evalue)) return 'error reply without ename/evalue';
    return undefined;
  }
  if (expect.kind === 'refused' && m.content.ename !== expect.ename) return `refused with ${m.content.ename}: ${m.content.evalue}, expected ${expect.ename}`;
  if ((expect.kind === 'refused' || expect.kind === 'invalid') && (typeof m.content.evalue !== 'string' || !m.content.evalue)) return 'error without a message';
  return undefined;
}

const STACK = /\n\s+at\s|node:internal|\(\/[^)]*:\d+:\d+\)|\.ts:\d+:\d+/;

class FuzzSocket {
  readonly failures: string[] = [];
  received = 0;
  private waiter: { expect: Expectation; resolve: (m: WireMessage) => void } | undefined;

  private constructor(
    private readonly socket: WebSocket,
    readonly protocol: WireProtocol,
    private readonly secrets: string[],
  ) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      this.received++;
      const raw = data.toString('utf8');
      for (const secret of secrets) if (raw.includes(secret)) this.failures.push(`a kernel message carried a secret (${secret.slice(0, 4)}…)`);
      const m = decodeFrame(data, isBinary, protocol) as WireMessage;
      if (m.header.msg_type === 'error' || m.content?.status === 'error') {
        const text = [m.content.evalue, ...(Array.isArray(m.content.traceback) ? m.content.traceback : [])].join('\n');
        if (STACK.test(text)) this.failures.push(`a stack trace in ${m.header.msg_type}: ${text.slice(0, 300)}`);
      }
      if (this.waiter && matches(this.waiter.expect, m)) {
        const { resolve } = this.waiter;
        this.waiter = undefined;
        resolve(m);
      }
    });
  }

  static async open(baseUrl: string, kernelId: string, protocol: WireProtocol, secrets: string[]): Promise<FuzzSocket> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/kernels/${kernelId}/channels`, protocol === 'v1' ? [V1_PROTOCOL] : [], {
      headers: { Authorization: `token ${TOKEN}` },
    });
    await new Promise<void>((resolve, reject) => socket.once('open', () => resolve()).once('error', reject));
    return new FuzzSocket(socket, protocol, secrets);
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends one case and waits for its answer; a silence of 20 s is a failure. */
  async roundTrip(c: KernelCase, where: string): Promise<void> {
    const answer = new Promise<WireMessage | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, 20_000);
      this.waiter = {
        expect: c.expect,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
    });
    this.socket.send(c.data, { binary: typeof c.data !== 'string' });
    const m = await answer;
    if (!m) {
      this.failures.push(`${where} ${c.label}: no answer (expected ${c.expect.kind})`);
      return;
    }
    const wrong = judge(c.expect, m);
    if (wrong) this.failures.push(`${where} ${c.label}: ${wrong}`);
  }

  /** Runs a cell and says whether it answered ok. */
  async executeOk(code: string): Promise<boolean> {
    const id = `check-${Math.random()}`;
    const c: KernelCase = {
      label: code,
      data: encodeMessage(envelope('shell', id, 'execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }) as never, this.protocol),
      expect: { kind: 'reply', msgId: id, replyType: 'execute_reply', statuses: ['ok'] },
    };
    const before = this.failures.length;
    await this.roundTrip(c, 'health check');
    return this.failures.length === before;
  }

  /** Sends a frame without waiting for an answer. */
  sendRaw(data: string | Buffer): void {
    this.socket.send(data);
  }

  closed(): Promise<number> {
    return new Promise((resolve) => this.socket.once('close', (code) => resolve(code)));
  }

  close(): Promise<number> {
    return new Promise((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) return resolve(0);
      this.socket.once('close', (code) => resolve(code));
      this.socket.close();
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// REST side

interface RestCase {
  label: string;
  request: InjectOptions;
  /** true: the request is wrong and must get a 4xx; false: it may also succeed (never a 5xx). */
  mustFail: boolean;
  /** Over a real socket (the path exactly as written) rather than inject(). */
  raw?: boolean;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** A request with its path sent byte for byte (no URL normalization on the client side). */
function rawHttp(port: number, request: InjectOptions): Promise<{ statusCode: number; body: string }> {
  const payload = request.payload === undefined ? undefined : String(request.payload);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        agent,
        method: request.method as string,
        path: request.url as string,
        headers: { ...(request.headers as Record<string, string>), ...(payload === undefined ? {} : { 'content-length': String(Buffer.byteLength(payload)) }) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** [path, escapes or is unusable: must fail]. `%252e` decodes once to a literal `%2e` file name, legal inside the folder. */
const TRAVERSALS: [string, boolean][] = [
  ['../../etc/passwd', true],
  ['..%2f..%2fetc%2fpasswd', true],
  ['%2e%2e/%2e%2e/etc/passwd', true],
  ['%2e%2e%2f%2e%2e%2fetc%2fpasswd', true],
  ['%252e%252e%252f%252e%252e%252fetc%252fpasswd', false],
  ['....//....//etc/passwd', true],
  ['/etc/passwd', true],
  ['%2Fetc%2Fpasswd', true],
  ['..\\..\\etc\\passwd', true],
  ['..%5c..%5cetc%5cpasswd', true],
  ['..', true],
  ['%2e%2e', true],
  ['../outside-secret.txt', true],
  ['..%2foutside-secret.txt', true],
  ['a/../../outside-secret.txt', true],
  ['inside.txt/../../outside-secret.txt', true],
  ['x%00.ipynb', true],
  ['%00', true],
  ['~/.ssh/id_rsa', true],
  [`${'a/'.repeat(300)}deep`, true],
  [`${'x'.repeat(5000)}.ipynb`, true],
  ['..%c0%af..%c0%afetc%c0%afpasswd', true],
  ['%ZZ', false],
  ['notebooks/../../outside-secret.txt', true],
];

const CONTENT_TYPES = [
  'application/json',
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/json; charset=utf-16',
  'application/octet-stream',
  '',
  'application/json; charset=latin1',
  '*/*',
];

function body(rng: Rng, valueOk: () => unknown): { payload: string | Buffer; contentType: string; mustFail: boolean } {
  const contentType = rng.pick(CONTENT_TYPES);
  return rng.pick([
    () => ({ payload: rng.pick(['{', '{"query":', 'not json', '{"a":1,}', "{'query':'SELECT 1'}", 'nul\u0000l', '[1,2', '\ufeff{"x":']), contentType, mustFail: true }),
    () => ({ payload: rng.bytes(1 + rng.int(200)), contentType, mustFail: true }),
    () => ({ payload: JSON.stringify(rng.pick([5, 'str', [1, 2], true])), contentType, mustFail: true }),
    () => ({ payload: 'x'.repeat(MAX_MESSAGE_BYTES + 1 + rng.int(1000)), contentType, mustFail: true }),
    () => ({ payload: JSON.stringify(valueOk()), contentType, mustFail: false }),
  ])();
}

/** Percent-encodes every byte (lone surrogates too, which encodeURIComponent refuses). */
function percentEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`)).join('');
}

function restCase(rng: Rng, schema: string): RestCase {
  const auth = { authorization: `token ${TOKEN}` };
  const kind = rng.int(100);
  const q = () => percentEncode(hostileString(rng).slice(0, 300));
  // /api/query/*
  if (kind < 22) {
    if (rng.chance(0.3)) {
      const [url, mustFail] = rng.pick<[string, boolean]>([
        [`/api/query/history?limit=${rng.pick(['abc', '-1', '0', '1e9', '1001', '', '1.5', '%00'])}`, true],
        [`/api/query/history?offset=${rng.pick(['-1', 'x', '1e400'])}`, true],
        [`/api/query/history?status=${q()}`, true],
        ['/api/query/history?limit=1&limit=2', true],
        ['/api/query/history?limit[]=1&search[$ne]=x', false],
        [`/api/query/history?search=${'s'.repeat(1001)}`, true],
        [`/api/query/history?user=${'u'.repeat(257)}`, true],
        [`/api/query/history?search=${q()}`, false],
        [`/api/query/execute?query=${q()}`, true],
      ]);
      return { label: `GET ${url.slice(0, 120)}`, request: { method: 'GET', url, headers: auth }, mustFail };
    }
    const shape = rng.int(4);
    if (shape === 0) {
      const b = body(rng, () => ({ query: hostileSql(rng), format: rng.pick(['json', 'arrow']) }));
      return { label: `execute body ${String(b.payload).slice(0, 120)}`, request: { method: 'POST', url: '/api/query/execute', headers: { ...auth, 'content-type': b.contentType }, payload: b.payload }, mustFail: b.mustFail };
    }
    const payload = rng.pick([
      () => ({ query: hostileValue(rng) }),
      () => ({ query: '' }),
      () => ({ query: ' ;; ' }),
      () => ({ query: 'SELECT 1', format: rng.pick(['xml', 5, null, 'JSON']) }),
      () => ({}),
      () => ({ sql: 'SELECT 1' }),
      () => ({ query: `SELECT '${'q'.repeat(1024 * 1024)}'` }),
    ])();
    const query = (payload as { query?: unknown }).query;
    const format = (payload as { format?: unknown }).format;
    const valid = typeof query === 'string' && query.length <= 1024 * 1024 && !/^[\s;]*$/.test(query) && (format === undefined || format === 'json' || format === 'arrow');
    return { label: `execute ${JSON.stringify(payload).slice(0, 120)}`, request: { method: 'POST', url: '/api/query/execute', headers: auth, payload: payload as object }, mustFail: !valid };
  }
  // /api/migration/*
  if (kind < 45) {
    const sub = rng.int(7);
    if (sub === 0) {
      const injected = `${rng.pick(['victim', 'events', 'pg_class'])}${rng.pick(["'; DROP TABLE victim; --", '"; DROP TABLE victim; --', ' ; DROP TABLE victim', '\u0000', '" OR 1=1 --', `"."victim`])}`;
      const payload = rng.pick([
        () => ({ schema, table: injected }),
        () => ({ schema: `${schema}${rng.pick(["'; DROP SCHEMA public CASCADE; --", '"', '.', '\u0000'])}`, table: 'victim' }),
        () => ({ schema: hostileValue(rng), table: hostileValue(rng) }),
        () => ({ table: 'victim', extra: 1 }),
        () => ({ schema, table: 'victim', connection: rng.pick(['nope', '../etc', 5, 'x'.repeat(101)]) }),
        () => ({}),
      ])();
      return { label: `analyze ${JSON.stringify(payload).slice(0, 120)}`, request: { method: 'POST', url: '/api/migration/analyze-source', headers: auth, payload: payload as object }, mustFail: true };
    }
    if (sub === 1 || sub === 2) {
      const url = rng.pick(['/api/migration/plan', '/api/migration/suggest-mapping']);
      const payload = rng.pick([
        () => ({ source_schema: schema, source_table: 'victim', destination_table: rng.pick(['fuzz_canary; DROP TABLE fuzz_canary', '`fuzz_canary`', 'system.tables', '', 'a.b.c', '\u0000', 'x'.repeat(301)]) }),
        () => ({ source_schema: schema, source_table: 'victim', mappings: [{ source_field: 'x', destination_type: rng.pick(['String) ENGINE=Memory; DROP TABLE fuzz_canary; --', 'Nonsense(', 'UInt8', '']), transformation: rng.pick(['x); DROP TABLE fuzz_canary; --', "concat(x, '')", 'sleep(3)', '(SELECT 1']) }] }),
        () => ({ spec: rng.pick(['source: [unclosed', `source: ${schema}.victim\ntarget: "x\`; DROP TABLE fuzz_canary"`, ': : :', '\u0000', 'a: &a [*a]', 'x'.repeat(200_001)]) }),
        () => ({ spec: hostileValue(rng) }),
        () => ({ source_schema: hostileValue(rng), source_table: hostileValue(rng) }),
        () => ({ source_table: `victim_${rng.int(1000)}_missing`, source_schema: schema }),
        () => ({ unknown_field: true }),
      ])();
      return { label: `${url} ${JSON.stringify(payload).slice(0, 120)}`, request: { method: 'POST', url, headers: auth, payload: payload as object }, mustFail: false };
    }
    if (sub === 3) {
      const payload = rng.pick([
        () => ({ source_schema: schema, source_table: `missing_${rng.int(1000)}'; DROP TABLE victim; --`, destination_table: 'fuzz_canary' }),
        () => ({ source_schema: hostileValue(rng), source_table: hostileValue(rng), batch_size: hostileValue(rng) }),
        () => ({ spec: `source: ${schema}.missing_${rng.int(1000)}\ntarget: fuzz_canary\n` }),
        () => ({ spec: 'source: [' }),
        () => ({ source_table: 'victim', parallelism: 'many' }),
        () => ({ rerun: 'yes', spec: 5 }),
        () => ({}),
      ])();
      const b = rng.chance(0.3) ? body(rng, () => payload) : { payload: JSON.stringify(payload), contentType: 'application/json', mustFail: true };
      return { label: `execute ${String(b.payload).slice(0, 120)}`, request: { method: 'POST', url: '/api/migration/execute', headers: { ...auth, 'content-type': b.contentType }, payload: b.payload }, mustFail: true };
    }
    const uuid = rng.bytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
    const id = rng.pick(['not-a-uuid', '00000000-0000-0000-0000-000000000000', '%2e%2e%2f%2e%2e', encodeURIComponent("1'; DROP TABLE migration_history; --"), 'x'.repeat(2000), uuid, '%00', '../../etc/passwd']);
    const url = rng.pick([
      `/api/migration/status/${id}`,
      `/api/migration/history/${id}`,
      `/api/migration/resume/${id}`,
      `/api/migration/history?${rng.pick(['limit=0', 'limit=x', 'offset=-3', `status=${q()}`, `sort=${q()}`, `order=sideways`, `from=${q()}`, `to=2024-01-01';DROP`, `search=${'z'.repeat(1001)}`])}`,
    ]);
    const method = url.includes('/resume/') ? 'POST' : 'GET';
    return { label: `${method} ${url.slice(0, 120)}`, request: { method, url, headers: auth }, mustFail: !/(status|sort|from)=/.test(url) };
  }
  // /api/s3/*
  if (kind < 62) {
    const sub = rng.int(4);
    if (sub === 0) {
      const url = rng.pick([
        `/api/s3/list?bucket=${rng.pick(['..', '%2e%2e', 'lake/../etc', 'nope-bucket', 'UPPER', 'a', '', 'x'.repeat(64), '%00'])}`,
        `/api/s3/list?bucket=lake&prefix=${rng.pick(['../../', '%2e%2e%2f', '\u0000'])}&limit=${rng.pick(['0', '-1', 'x', '1001'])}`,
        `/api/s3/list?bucket=lake&token=${'t'.repeat(4097)}`,
        `/api/s3/list`,
        `/api/s3/buckets?connection=${rng.pick(['nope', '../x', 'A', '%00', 'x'.repeat(60)])}`,
        `/api/s3/list?bucket=lake&connection=${q()}`,
      ]);
      return { label: `GET ${url.slice(0, 120)}`, request: { method: 'GET', url, headers: auth }, mustFail: true };
    }
    const url = sub === 1 ? '/api/s3/preview' : '/api/s3/import';
    const payload = rng.pick([
      () => ({ bucket: 'lake', key: rng.pick(['../../etc/passwd', 'missing.csv', '%2e%2e/x', 'a\u0000b', "x'; DROP TABLE fuzz_canary; --", '*', '{a,b}', '?']), destination_table: 'fuzz_s3_target' }),
      () => ({ bucket: 'lake', key: 'missing.parquet', format: rng.pick(["CSV') FROM system.tables --", 'Nonsense', '', 'x'.repeat(65)]), destination_table: 'fuzz_s3_target' }),
      () => ({ bucket: 'lake', key: 'missing.csv', compression: rng.pick(['zip; rm -rf /', 'x'.repeat(17), 'gzip']), destination_table: 'fuzz_s3_target' }),
      () => ({ bucket: 'lake', key: 'missing.csv', destination_table: rng.pick(['fuzz_canary; DROP TABLE fuzz_canary', 'system.tables', '`x`', '', 'a.b.c', 'x'.repeat(258)]) }),
      () => ({ bucket: 'lake', key: 'missing.csv', destination_table: 't', columns: [{ name: 'a', type: 'String) ENGINE=Memory; DROP TABLE fuzz_canary; --' }], order_by: ['a; DROP TABLE fuzz_canary'] }),
      () => ({ bucket: hostileValue(rng), key: hostileValue(rng), limit: hostileValue(rng) }),
      () => ({ bucket: 'lake', key: 'missing.csv', limit: rng.pick([-1, 1e9, 'x', 1.5]) }),
      () => ({ bucket: 'lake', key: 'missing.csv', header: rng.pick(['maybe', 5]), output: 'xml', connection: 'UPPER' }),
    ])();
    const b = rng.chance(0.3) ? body(rng, () => payload) : { payload: JSON.stringify(payload), contentType: 'application/json', mustFail: true };
    return { label: `POST ${url} ${String(b.payload).slice(0, 120)}`, request: { method: 'POST', url, headers: { ...auth, 'content-type': b.contentType }, payload: b.payload }, mustFail: true };
  }
  // /api/contents and /files: traversal, bad bodies, bad queries; sent over a real socket, so no client-side URL
  // normalization resolves the dot segments before the server sees them.
  if (kind < 95) {
    const [target, mustFail] = rng.pick(TRAVERSALS);
    const method = rng.pick(['GET', 'GET', 'PUT', 'PATCH', 'POST', 'DELETE'] as const);
    const base = rng.pick(['/api/contents/', '/files/', '/api/contents/']);
    if (base === '/files/') return { label: `GET /files/${target.slice(0, 100)}`, request: { method: 'GET', url: `/files/${target}`, headers: auth }, mustFail, raw: true };
    const url = `${base}${target}${rng.chance(0.2) ? rng.pick(['?type=bogus', '?format=x', '?content=2', '?hash=yes', '/checkpoints/..%2f..', '/checkpoints/a;b']) : ''}`;
    let payload: string | undefined;
    let contentType = 'application/json';
    if (method === 'PUT') payload = JSON.stringify(rng.pick([{ type: 'file', format: 'text', content: 'pwned' }, { type: 'directory' }, { type: 'notebook', content: { cells: 'x' } }, { type: 'evil' }]));
    if (method === 'PATCH') payload = JSON.stringify({ path: rng.pick(['../pwned.txt', '/tmp/pwned.txt', '%2e%2e/pwned.txt', '../../pwned.txt', 'a/../../pwned.txt']) });
    if (method === 'POST') payload = JSON.stringify(rng.pick([{ copy_from: rng.pick(TRAVERSALS)[0] }, { copy_from: '../outside-secret.txt' }, { type: 'file', ext: '/../../x' }, { ext: '\u0000' }]));
    if (payload !== undefined && rng.chance(0.2)) {
      const b = body(rng, () => JSON.parse(payload!));
      payload = typeof b.payload === 'string' ? b.payload : b.payload.toString('latin1');
      contentType = b.contentType;
    }
    // A rename or copy whose other end escapes fails even where the target itself is a legal name.
    const otherEndEscapes = method === 'PATCH' || (method === 'POST' && payload?.includes('outside-secret'));
    return {
      label: `${method} ${url.slice(0, 120)} ${payload?.slice(0, 80) ?? ''}`,
      request: { method, url, headers: { ...auth, 'content-type': contentType }, ...(payload === undefined ? {} : { payload }) },
      mustFail: mustFail || !!otherEndEscapes,
      raw: true,
    };
  }
  // Without the token, or with a wrong one.
  const url = rng.pick(['/api/query/execute', '/api/migration/history', '/api/s3/connections', '/api/contents/', '/api/kernels']);
  const headers = rng.pick([{}, { authorization: 'token wrong-token-0000' }, { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, { authorization: 'token ' }, { cookie: '_xsrf=x' }]);
  return { label: `no auth ${url}`, request: { method: url.endsWith('execute') ? 'POST' : 'GET', url, headers: headers as Record<string, string>, payload: url.endsWith('execute') ? { query: 'SELECT 1' } : undefined }, mustFail: true };
}

function errorMessage(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { message?: unknown; error?: { message?: unknown } };
  if (typeof b.message === 'string') return b.message;
  if (typeof b.error?.message === 'string') return b.error.message;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------

let config: Config;
let app: FastifyInstance;
let baseUrl: string;
let port: number;
let s3: TestS3;
let admin: pg.Client;
let schema: string;
let secrets: string[];
const PASSWORD = pgConfig().password;

useTestSchema('fuzz', (pgAdmin, name) => ((admin = pgAdmin), (schema = name)));

beforeAll(async () => {
  s3 = await startTestS3(['lake']);
  await admin.query(`
    SET search_path = ${schema};
    CREATE TABLE events (id bigint PRIMARY KEY, amount numeric(12, 2) NOT NULL, note text, at timestamptz NOT NULL);
    INSERT INTO events SELECT g, (g % 100000) / 100.0, CASE WHEN g % 7 = 0 THEN NULL ELSE 'note ' || g || ' ''quoted'' "dq" é' END,
      timestamptz '2024-01-01 00:00:00+00' + (g || ' seconds')::interval FROM generate_series(1, ${MIGRATION_ROWS}) g;
    CREATE TABLE victim (x int);
    INSERT INTO victim VALUES (1), (2);
    ANALYZE events;
  `);
  const pgc = pgConfig();
  const fuzzConfig = testConfig({
    ...s3.env,
    CHLAB_TOKEN: TOKEN,
    CHLAB_DEMO_POSTGRES: '0',
    CHLAB_S3_DEMO: '0',
    CHLAB_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
    POSTGRES_HOST: pgc.host,
    POSTGRES_PORT: String(pgc.port),
    POSTGRES_USER: pgc.user,
    POSTGRES_PASSWORD: pgc.password,
    POSTGRES_DB: pgc.database,
  });
  config = fuzzConfig;
  ({ app } = await buildServer({ config, logger: silentLogger }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
  baseUrl = `http://127.0.0.1:${port}`;
  await app.chlab.engine.command('CREATE TABLE fuzz_canary (x UInt8) ENGINE = MergeTree ORDER BY x');
  await app.chlab.engine.command('INSERT INTO fuzz_canary VALUES (7)');
  writeFileSync(path.join(config.dataDir, 'outside-secret.txt'), OUTSIDE_MARKER);
  mkdirSync(config.notebookDir, { recursive: true });
  writeFileSync(path.join(config.notebookDir, 'inside.txt'), 'inside');
  secrets = [TOKEN, PASSWORD, s3.secretAccessKey, OUTSIDE_MARKER, 'root:x:0:0'];
  const notarySecret = path.join(config.dataDir, 'notebook_secret');
  if (existsSync(notarySecret)) {
    const raw = readFileSync(notarySecret);
    secrets.push(raw.toString('hex').slice(0, 24), raw.toString('base64').slice(0, 24));
    if (raw.toString('utf8').trim().length >= 16) secrets.push(raw.toString('utf8').trim().slice(0, 24));
  }
}, 120_000);

afterAll(async () => {
  agent.destroy();
  await app?.close();
  await s3?.stop();
});

async function newKernel(): Promise<string> {
  const response = await fetch(`${baseUrl}/api/kernels`, { method: 'POST', headers: { Authorization: `token ${TOKEN}`, 'Content-Type': 'application/json' }, body: '{"name":"clickhouse"}' });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

describe('fuzzing a live proxy', () => {
  it('answers ≥ 10,000 malformed or hostile messages clearly, leaks nothing, stays up, and a migration beside them stays exact', async () => {
    expect(secrets.every((secret) => secret.length >= 8)).toBe(true);
    const t0 = performance.now();
    const failures: string[] = [];
    const statuses = new Map<number, number>();

    // The migration runs beside the fuzzing.
    const started = await app.inject({
      method: 'POST',
      url: '/api/migration/execute',
      headers: { authorization: `token ${TOKEN}` },
      payload: { spec: `source: ${schema}.events\ntarget: fuzz_events\noptions:\n  batch_size: 5000\n  parallelism: 1\n` },
    });
    expect(started.statusCode, started.body).toBe(202);
    const migrationId = started.json().migration_id as string;

    const kernels = [await newKernel(), await newKernel()];
    const sockets = await Promise.all(
      Array.from({ length: KERNEL_STREAMS }, (_, i) => FuzzSocket.open(baseUrl, kernels[i % 2]!, i % 2 === 0 ? 'json' : 'v1', [TOKEN, PASSWORD, s3.secretAccessKey, OUTSIDE_MARKER])),
    );

    let kernelSent = 0;
    const timings: string[] = [];
    const kernelStream = async (stream: number) => {
      const socket = sockets[stream]!;
      const rng = prng(SEED + stream);
      for (let i = 0; i < KERNEL_MESSAGES_PER_STREAM; i++) {
        const c = kernelCase(rng, socket.protocol, `fuzz-${stream}-${i}`);
        await socket.roundTrip(c, `[seed ${SEED + stream} kernel stream ${stream} #${i}]`);
        kernelSent++;
        if (!socket.open) {
          failures.push(`kernel stream ${stream} #${i}: the socket closed after ${c.label}`);
          return;
        }
      }
      timings.push(`kernel ${stream}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    };

    let restSent = 0;
    const restStream = async (stream: number) => {
      const rng = prng(SEED + 1000 + stream);
      for (let i = 0; i < REST_REQUESTS_PER_STREAM; i++) {
        const c = restCase(rng, schema);
        const where = `[seed ${SEED + 1000 + stream} rest stream ${stream} #${i}] ${c.label}`;
        let response: { statusCode: number; body: string };
        try {
          response = c.raw ? await rawHttp(port, c.request) : await app.inject(c.request);
        } catch (error) {
          failures.push(`${where}: no answer (${(error as Error).message})`);
          continue;
        }
        restSent++;
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
        const text = response.body;
        for (const secret of secrets) if (text.includes(secret)) failures.push(`${where}: the answer carries a secret (${secret.slice(0, 4)}…)`);
        if (STACK.test(text)) failures.push(`${where}: a stack trace in ${text.slice(0, 300)}`);
        if (response.statusCode >= 500) failures.push(`${where}: HTTP ${response.statusCode} ${text.slice(0, 300)}`);
        else if (c.mustFail && response.statusCode < 400) failures.push(`${where}: HTTP ${response.statusCode} for a request that must fail: ${text.slice(0, 200)}`);
        if (response.statusCode >= 400 && response.statusCode !== 401 && response.statusCode !== 403) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            failures.push(`${where}: HTTP ${response.statusCode} with a body that is not JSON: ${text.slice(0, 200)}`);
            continue;
          }
          if (!errorMessage(parsed)) failures.push(`${where}: HTTP ${response.statusCode} without a message: ${text.slice(0, 200)}`);
        }
      }
      timings.push(`rest ${stream}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    };

    await Promise.all([
      ...Array.from({ length: KERNEL_STREAMS }, (_, s) => kernelStream(s)),
      ...Array.from({ length: REST_STREAMS }, (_, s) => restStream(s)),
    ]);
    const fuzzMs = performance.now() - t0;

    // Frames over the limit close that socket with 1009 (Message Too Big); nothing else is affected.
    const big = await FuzzSocket.open(baseUrl, kernels[0]!, 'json', []);
    const closedWith = big.closed();
    big.sendRaw('x'.repeat(MAX_MESSAGE_BYTES + 1));
    expect(await closedWith).toBe(1009);
    // A near-limit frame is read and answered.
    const nearLimit = await FuzzSocket.open(baseUrl, kernels[1]!, 'v1', []);
    const near = JSON.stringify(envelope('shell', 'near-limit', 'is_complete_request', { code: `SELECT '${'n'.repeat(MAX_MESSAGE_BYTES - 400)}` }));
    expect(near.length).toBeLessThan(MAX_MESSAGE_BYTES);
    await nearLimit.roundTrip({ label: 'near-limit', data: near, expect: { kind: 'reply', msgId: 'near-limit', replyType: 'is_complete_reply', statuses: ['incomplete'] } }, 'near limit');
    const nearCode = `SELECT length('${'é'.repeat((MAX_MESSAGE_BYTES - 600) / 2)}') AS n`;
    const nearExecute = encodeMessage(envelope('shell', 'near-execute', 'execute_request', { code: nearCode, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: false }) as never, 'v1');
    expect(nearExecute.length).toBeLessThan(MAX_MESSAGE_BYTES);
    await nearLimit.roundTrip({ label: 'near-limit execute', data: nearExecute, expect: { kind: 'reply', msgId: 'near-execute', replyType: 'execute_reply', statuses: ['ok', 'error'] } }, 'near limit');
    await nearLimit.roundTrip({ label: 'near-limit not JSON', data: `{"channel":"shell","x":"${'j'.repeat(MAX_MESSAGE_BYTES - 100)}`, expect: { kind: 'invalid' } }, 'near limit');
    const nearBinary = prng(SEED).bytes(MAX_MESSAGE_BYTES - 16);
    nearBinary.writeBigUInt64LE(7n, 0);
    await nearLimit.roundTrip({ label: 'near-limit v1 garbage', data: nearBinary, expect: { kind: 'invalid' } }, 'near limit');
    expect(nearLimit.open).toBe(true);
    failures.push(...nearLimit.failures);
    // WebSockets to a kernel that does not exist close with 4004.
    const gone = new WebSocket(`${baseUrl.replace('http', 'ws')}/api/kernels/00000000-0000-0000-0000-000000000000/channels`, { headers: { Authorization: `token ${TOKEN}` } });
    expect(await new Promise<number>((resolve) => gone.once('close', (code) => resolve(code)))).toBe(4004);

    // The server is up and answers, on every socket and over REST.
    for (const socket of sockets) {
      expect(await socket.executeOk('SELECT 42 AS answer'), socket.failures.slice(-3).join('\n')).toBe(true);
    }
    const health = await fetch(`${baseUrl}/api/query/health`, { headers: { Authorization: `token ${TOKEN}` } });
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', clickhouse: { ok: true }, postgres: { ok: true } });

    // The migration beside the fuzzing: completed, exact, validated.
    let final: { status: string } | undefined;
    for (let i = 0; i < 1200; i++) {
      final = (await app.inject({ method: 'GET', url: `/api/migration/status/${migrationId}`, headers: { authorization: `token ${TOKEN}` } })).json();
      if (final!.status === 'completed' || final!.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(final!.status, JSON.stringify(final)).toBe('completed');
    const details = (await app.inject({ method: 'GET', url: `/api/migration/history/${migrationId}`, headers: { authorization: `token ${TOKEN}` } })).json();
    expect(details.records_migrated).toBe(MIGRATION_ROWS);
    const migrationSeconds = details.duration_seconds as number;
    expect(details.validation.ok).toBe(true);
    const [loaded] = await app.chlab.engine.json<Record<string, string>>(
      'SELECT toString(count()) AS n, toString(uniqExact(id)) AS d, toString(sum(amount)) AS s, toString(count(note)) AS nn FROM fuzz_events',
    );
    const source = (await admin.query(`SELECT count(*)::text AS n, count(*)::text AS d, trim_scale(sum(amount))::text AS s, count(note)::text AS nn FROM ${schema}.events`)).rows[0];
    expect(loaded).toEqual(source);

    // What injection attempts aimed at is still there; nothing was written outside the notebook folder.
    expect(await app.chlab.engine.json('SELECT x FROM fuzz_canary')).toEqual([{ x: 7 }]);
    expect((await admin.query(`SELECT count(*)::int AS n FROM ${schema}.victim`)).rows[0].n).toBe(2);
    expect(readFileSync(path.join(config.dataDir, 'outside-secret.txt'), 'utf8')).toBe(OUTSIDE_MARKER);
    for (const file of [path.join(config.dataDir, 'pwned.txt'), '/tmp/pwned.txt', path.join(path.dirname(config.dataDir), 'pwned.txt')]) expect(existsSync(file), file).toBe(false);

    for (const socket of sockets) failures.push(...socket.failures);
    await Promise.all(sockets.map((s) => s.close()));
    await nearLimit.close();

    const total = kernelSent + restSent;
    console.log(
      `fuzz: seed ${SEED}, ${kernelSent} kernel messages + ${restSent} REST requests = ${total} in ${(fuzzMs / 1000).toFixed(1)} s; ` +
        `REST statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; ` +
        `kernel messages received ${sockets.reduce((n, s) => n + s.received, 0)}; migration ${MIGRATION_ROWS} rows ${final!.status} in ${migrationSeconds} s beside them; streams done at ${timings.join(', ')}`,
    );
    expect(total).toBeGreaterThanOrEqual(10_000);
    if (failures.length) console.log(failures.join('\n'));
    expect(failures.slice(0, 40), `${failures.length} failures (seed ${SEED})`).toEqual([]);
  }, 300_000);
});

describe('messages that used to go unanswered (found by the fuzzing)', () => {
  const cell = (code: string, stopOnError: boolean) => ({ code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: stopOnError });
  const slowFailure = 'SELECT sleepEachRow(0.1), throwIf(number = 2) FROM numbers(3) SETTINGS max_block_size = 1';

  it('answers comm messages to unknown comms, unreadable comm content, unknown non-request types and the iopub channel', async () => {
    const client = await PlainJupyterClient.connect(baseUrl, TOKEN, await newKernel(), 'json');
    const refusal = async (msgType: string, content: Record<string, unknown>) => {
      const id = client.send('shell', msgType, content);
      return (await client.waitFor((m) => m.header.msg_type === 'error' && m.parent_header?.msg_id === id, 10_000)).content;
    };
    expect(await refusal('comm_msg', { comm_id: 'nobody', data: {} })).toMatchObject({ ename: 'UnknownComm', evalue: expect.stringContaining('nobody') });
    expect(await refusal('comm_close', { comm_id: 'nobody' })).toMatchObject({ ename: 'UnknownComm' });
    expect(await refusal('comm_open', { comm_id: 5, target_name: 'chlab.results' })).toMatchObject({ ename: 'InvalidMessage', evalue: expect.stringContaining('comm_id') });
    expect(await refusal('comm_msg', { data: {} })).toMatchObject({ ename: 'InvalidMessage' });
    expect(await refusal('fuzz_event', {})).toMatchObject({ ename: 'UnsupportedMessage', evalue: expect.stringContaining('fuzz_event') });
    // A comm that is open still takes comm_msg and comm_close silently (they need no answer).
    const sent = [
      client.send('shell', 'comm_open', { comm_id: 'mine', target_name: 'chlab.results', data: {} }),
      client.send('shell', 'comm_msg', { comm_id: 'mine', data: {} }),
      client.send('shell', 'comm_close', { comm_id: 'mine' }),
    ];
    const info = await client.request('shell', 'comm_info_request', {});
    expect(info.reply.content.comms).toEqual({});
    for (const id of sent) expect(client.messagesFor(id).map((m) => m.header.msg_type)).toEqual([]);
    client.sendRaw(JSON.stringify(envelope('iopub', 'on-iopub', 'kernel_info_request', {})));
    const wrongChannel = await client.waitFor((m) => m.content.ename === 'InvalidMessage' && String(m.content.evalue).startsWith('channel'), 10_000);
    expect(wrongChannel.content.evalue).toContain('shell, control or stdin');
    client.close();
  });

  it('runs a queued cell with stop_on_error: false after a failure instead of dropping it, and aborts the others', async () => {
    const client = await PlainJupyterClient.connect(baseUrl, TOKEN, await newKernel(), 'json');
    const failing = client.send('shell', 'execute_request', cell(slowFailure, true));
    const keepGoing = client.send('shell', 'execute_request', cell('SELECT 1 AS one', false));
    const stops = client.send('shell', 'execute_request', cell('SELECT 2 AS two', true));
    const reply = (id: string) => client.waitFor((m) => m.channel === 'shell' && m.parent_header?.msg_id === id, 20_000);
    expect((await reply(failing)).content.status).toBe('error');
    expect((await reply(stops)).content.status).toBe('aborted');
    expect((await reply(keepGoing)).content.status).toBe('ok');
    // A failing cell that says stop_on_error: false leaves the queue alone.
    const tolerant = client.send('shell', 'execute_request', cell(slowFailure, false));
    const after = client.send('shell', 'execute_request', cell('SELECT 3 AS three', true));
    expect((await reply(tolerant)).content.status).toBe('error');
    expect((await reply(after)).content.status).toBe('ok');
    client.close();
  });

  it('answers queued cells as aborted when the kernel restarts', async () => {
    const client = await PlainJupyterClient.connect(baseUrl, TOKEN, await newKernel(), 'json');
    const running = client.send('shell', 'execute_request', cell('SELECT sleepEachRow(0.1) FROM numbers(30) SETTINGS max_block_size = 1', true));
    const queued = client.send('shell', 'execute_request', cell('SELECT 4 AS four', true));
    await client.waitFor((m) => m.parent_header?.msg_id === running && m.header.msg_type === 'execute_input', 10_000);
    const restart = client.send('control', 'shutdown_request', { restart: true });
    const reply = (id: string) => client.waitFor((m) => (m.channel === 'shell' || m.channel === 'control') && m.parent_header?.msg_id === id, 20_000);
    expect((await reply(restart)).content).toMatchObject({ status: 'ok', restart: true });
    expect((await reply(queued)).content.status).toBe('aborted');
    expect((await reply(running)).content).toMatchObject({ status: 'error', ename: 'Interrupted' });
    const { reply: next } = await client.execute('SELECT 5 AS five');
    expect(next.content.status).toBe('ok');
    client.close();
  });
});
