import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { decodeFrame, encodeMessage, V1_PROTOCOL } from '../kernel/wire.js';
import { MemorySampler, median, mib } from './process-memory.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROWS = 1_000_000;
const RUNS = 3;

/** 1M rows × 9 columns: integers, nullable text, decimal, DateTime, array, UUID, bool, float. */
export const RESULT_QUERY = `SELECT
  number AS id,
  toInt32(number % 1000) AS quantity,
  if(number % 7 = 0, NULL, concat('customer-', toString(number % 50000))) AS customer,
  toDecimal64(number / 100, 2) AS amount,
  toDateTime('2024-01-01 00:00:00', 'UTC') + number AS created_at,
  [toString(number % 5), 'tag'] AS tags,
  reinterpretAsUUID(reverse(toFixedString(reinterpretAsString(cityHash64(number)), 16))) AS uuid,
  number % 2 = 0 AS flag,
  number / 3 AS ratio
FROM numbers(${ROWS})`;

interface Timing {
  totalMs: number;
  /** Baseline only: the same query run again in the same, warm process. */
  warmMs?: number;
  firstBatchMs: number;
  rows: number;
  bytes: number;
}

/**
 * ClickHouse (chDB) producing the same ArrowStream alone, in its own process: the first query of the process, the
 * same query again warm, then warm once more with each chunk written to a WebSocket client in this process (the
 * floor of any delivery: ClickHouse and the socket, nothing else).
 */
async function baselineRun(): Promise<Timing & { socketMs: number; socketBytes: number }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'chlab-bench-base-'));
  const script = `
    const { Session } = require('chdb');
    const { WebSocketServer } = require('ws');
    const s = new Session(${JSON.stringify(dataDir)});
    (async () => {
      await s.queryAsync("SET output_format_arrow_compression_method='none'; SET output_format_arrow_string_as_string=1; SELECT 1", { format: 'Null' });
      const run = async (send) => {
        const t0 = performance.now(); let first = 0, rows = 0, bytes = 0;
        for await (const c of s.queryStream(${JSON.stringify(RESULT_QUERY)}, { format: 'ArrowStream' })) {
          if (!first) first = performance.now() - t0;
          const raw = c.raw();
          rows += c.numRows; bytes += raw.length;
          if (send) await send(raw);
        }
        return { totalMs: performance.now() - t0, firstBatchMs: first, rows, bytes };
      };
      const cold = await run();
      const warm = await run();
      const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
      await new Promise((r) => server.once('listening', r));
      server.once('connection', async (socket) => {
        await run(async (raw) => {
          socket.send(raw, { binary: true });
          while (socket.bufferedAmount > 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 5));
        });
        socket.close(1000);
        console.log(JSON.stringify({ ...cold, warmMs: warm.totalMs }));
        server.close();
        s.close();
      });
      console.log(JSON.stringify({ port: server.address().port }));
    })();`;
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], { cwd: path.join(here, '..', '..'), stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      let socketMs = 0;
      let socketBytes = 0;
      let result: Timing | undefined;
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        const lines = out.split('\n');
        out = lines.pop()!;
        for (const line of lines.filter(Boolean)) {
          const message = JSON.parse(line) as Timing & { port?: number };
          if (message.port === undefined) {
            result = message;
            continue;
          }
          const client = new WebSocket(`ws://127.0.0.1:${message.port}`);
          const t0 = performance.now();
          client.on('message', (data: Buffer) => (socketBytes += data.length));
          client.on('close', () => (socketMs = performance.now() - t0));
          client.on('error', reject);
        }
      });
      child.on('exit', (code) => (code === 0 && result ? resolve({ ...result, socketMs, socketBytes }) : reject(new Error(`baseline exited with ${code}`))));
    });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function startProxy(): Promise<ProxyProcess> {
  return startProxyProcess('proxy', { CHLAB_MAX_RESULT_ROWS: String(ROWS * 2), CHLAB_MAX_RESULT_BYTES: String(4 * 1024 ** 3) });
}

/** One execute of RESULT_QUERY through the proxy to a WebSocket client holding the chlab.results comm. */
async function proxyRun(baseUrl: string, token: string): Promise<Timing> {
  const kernel = (await (await fetch(`${baseUrl}/api/kernels`, { method: 'POST', headers: { Authorization: `token ${token}` }, body: '{}' })).json()) as { id: string };
  const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/api/kernels/${kernel.id}/channels`, [V1_PROTOCOL], { headers: { Authorization: `token ${token}` } });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const header = (type: string) => ({ msg_id: `${type}-${Math.random()}`, msg_type: type, session: 'bench', username: 'bench', date: new Date().toISOString(), version: '5.3' });
  const send = (type: string, content: Record<string, unknown>) =>
    socket.send(encodeMessage({ channel: 'shell', header: header(type), parent_header: {}, metadata: {}, content }, 'v1'));
  send('comm_open', { comm_id: 'bench-results', target_name: 'chlab.results', data: {} });
  const t0 = performance.now();
  let first = 0;
  let rows = 0;
  let bytes = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const message = decodeFrame(data, isBinary, 'v1') as { header: { msg_type: string }; content: { data?: { done?: boolean; rows?: number }; status?: string; evalue?: string }; buffers?: Buffer[] };
      if (message.header.msg_type === 'comm_msg') {
        if (message.content.data?.done) return;
        if (!first) first = performance.now() - t0;
        rows += message.content.data?.rows ?? 0;
        bytes += message.buffers?.[0]?.length ?? 0;
      }
      if (message.header.msg_type === 'execute_reply') {
        if (message.content.status === 'ok') resolve();
        else reject(new Error(`execute failed: ${message.content.evalue}`));
      }
    });
  });
  send('execute_request', { code: RESULT_QUERY, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
  await done;
  const totalMs = performance.now() - t0;
  socket.close();
  await fetch(`${baseUrl}/api/kernels/${kernel.id}`, { method: 'DELETE', headers: { Authorization: `token ${token}` } });
  return { totalMs, firstBatchMs: first, rows, bytes };
}

export async function runResultsBench(): Promise<Record<string, number>> {
  process.stdout.write(`\n== results: ${ROWS.toLocaleString('en-US')} rows × 9 columns to a WebSocket client as Arrow ==\n`);
  const baselines: (Timing & { socketMs: number; socketBytes: number })[] = [];
  const proxy = await startProxy();
  const runs: Timing[] = [];
  let peakKb = 0;
  let idleKb = 0;
  try {
    await proxyRun(proxy.baseUrl, proxy.token);
    idleKb = MemorySampler.rssKb(proxy.child.pid!);
    for (let i = 0; i < RUNS; i++) {
      // Baseline and proxy runs take turns, so a change in the machine's load falls on both alike.
      baselines.push(await baselineRun());
      const sampler = new MemorySampler(proxy.child.pid!);
      sampler.start();
      runs.push(await proxyRun(proxy.baseUrl, proxy.token));
      peakKb = Math.max(peakKb, sampler.stop());
    }
  } finally {
    proxy.child.kill('SIGTERM');
    await new Promise((r) => proxy.child.once('exit', r));
    rmSync(proxy.dataDir, { recursive: true, force: true });
  }
  for (const run of runs) if (run.rows !== ROWS) throw new Error(`proxy delivered ${run.rows} rows, expected ${ROWS}`);
  const base = median(baselines.map((b) => b.totalMs));
  const total = median(runs.map((r) => r.totalMs));
  const figures = {
    baseline_ms: base,
    baseline_first_batch_ms: median(baselines.map((b) => b.firstBatchMs)),
    proxy_ms: total,
    proxy_first_batch_ms: median(runs.map((r) => r.firstBatchMs)),
    ratio: total / base,
    baseline_warm_ms: median(baselines.map((b) => b.warmMs ?? b.totalMs)),
    ratio_warm: total / median(baselines.map((b) => b.warmMs ?? b.totalMs)),
    baseline_socket_ms: median(baselines.map((b) => b.socketMs)),
    baseline_socket_mib: median(baselines.map((b) => b.socketBytes)) / 1024 ** 2,
    ratio_socket: total / median(baselines.map((b) => b.socketMs)),
    arrow_mib: median(runs.map((r) => r.bytes)) / 1024 ** 2,
    proxy_idle_rss_mib: idleKb / 1024,
    proxy_peak_rss_mib: peakKb / 1024,
  };
  process.stdout.write(
    [
      `ClickHouse (chDB) ArrowStream alone: ${base.toFixed(0)} ms (first batch ${figures.baseline_first_batch_ms.toFixed(0)} ms)`,
      `proxy → WebSocket client (Arrow):    ${total.toFixed(0)} ms (first batch ${figures.proxy_first_batch_ms.toFixed(0)} ms), ${figures.arrow_mib.toFixed(0)} MiB of Arrow`,
      `ratio proxy ÷ ClickHouse alone:      ${figures.ratio.toFixed(2)}× (goal ≤ 1.15×)`,
      `  (chDB's same query again in its warm process: ${figures.baseline_warm_ms.toFixed(0)} ms; proxy ÷ that: ${figures.ratio_warm.toFixed(2)}×)`,
      `  (and once more, each chunk written to a WebSocket client: ${figures.baseline_socket_ms.toFixed(0)} ms for ${figures.baseline_socket_mib.toFixed(0)} MiB; proxy ÷ that: ${figures.ratio_socket.toFixed(2)}×)`,
      `proxy memory: idle ${mib(idleKb)}, peak during delivery ${mib(peakKb)} (${mib(peakKb - idleKb)} above idle)`,
      `(median of ${RUNS} runs each, taking turns; machine load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`,
    ].join('\n') + '\n',
  );
  return figures;
}
