import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageHeader, Table, tableFromIPC, type RecordBatch } from 'apache-arrow';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/server.js';
// Also registers the ZSTD codec with apache-arrow, so the compressed buffers below can be read.
import { byteLengthOf, ipcMessagesOf, isLazy, rawMessageOf } from '../../src/results/ipc-messages.js';
import { FaithfulBatches } from '../../src/results/faithful.js';
import { PlainJupyterClient, type WireMessage } from '../support/jupyter-client.js';
import { silentLogger, testConfig, testQueryService, listenOnLoopback } from '../support/engine.js';

const config = testConfig({ CHLAB_MAX_RESULT_ROWS: '150000' });
const { engine } = testQueryService(config);

const plain = (value: unknown): unknown => (value && typeof value === 'object' && 'toArray' in value ? [...(value as Iterable<unknown>)] : value);
const rowsOf = (buffers: Uint8Array[]) =>
  new Table(buffers.flatMap((b) => tableFromIPC(b).batches))
    .toArray()
    .map((row) => Object.fromEntries(Object.entries(row.toJSON()).map(([k, v]) => [k, plain(v)])));

/** Whether each record batch message of one comm buffer has compressed buffers. */
function compressedBatches(buffer: Uint8Array): boolean[] {
  return [...ipcMessagesOf(buffer)]
    .filter((m) => m.header === MessageHeader.RecordBatch)
    .map((m) => (m.metadata.header() as { compression?: unknown }).compression != null);
}

describe('compressed batches in the proxy (LazyRecordBatch)', () => {
  const zstd = { settings: { output_format_arrow_compression_method: 'zstd' } };

  it('counts rows and bytes from the message header, decodes only on use, and converts correctly when buffers change', async () => {
    const columns = [
      { name: 'n', type: 'UInt64' },
      { name: 'e', type: "Enum8('a' = 0, 'b' = 1, 'c' = 2)" },
    ];
    const sql = "SELECT number AS n, CAST(number % 3 AS Enum8('a' = 0, 'b' = 1, 'c' = 2)) AS e FROM numbers(30000) SETTINGS max_block_size = 10000";
    const plainBatches: RecordBatch[] = [];
    for await (const batch of engine.arrowBatches(sql)) plainBatches.push(batch);
    const faithful = new FaithfulBatches(columns);
    const converted: RecordBatch[] = [];
    for await (const batch of engine.arrowBatches(sql, zstd)) {
      expect(isLazy(batch)).toBe(true);
      expect(rawMessageOf(batch)).toBeDefined();
      const plainBatch = plainBatches[converted.length]!;
      expect(batch.numRows).toBe(plainBatch.numRows);
      expect(byteLengthOf(batch)).toBe(plainBatch.data.byteLength);
      // Enum becomes a dictionary: the batch is decoded and has no raw message any more (it goes out re-encoded).
      const out = faithful.convert(batch);
      expect(rawMessageOf(out)).toBeUndefined();
      converted.push(out);
    }
    expect(converted.length).toBe(3);
    const table = new Table(converted);
    expect(table.numRows).toBe(30000);
    expect([0, 1, 2, 29999].map((i) => table.get(i)!.toJSON())).toEqual([
      { n: 0n, e: 'a' },
      { n: 1n, e: 'b' },
      { n: 2n, e: 'c' },
      { n: 29999n, e: 'c' },
    ]);
  });
});

describe('ZSTD-compressed result batches for clients that ask (chlab.results arrow_compression)', () => {
  let app: FastifyInstance;
  let baseUrl: string;

  beforeAll(async () => {
    ({ app } = await buildServer({ config, logger: silentLogger, engine }));
    baseUrl = await listenOnLoopback(app);
  });
  afterAll(async () => {
    await app.close();
    await engine.close();
  });

  async function kernel(): Promise<string> {
    const response = await fetch(`${baseUrl}/api/kernels`, { method: 'POST', headers: { Authorization: `token ${config.token}` }, body: '{}' });
    return ((await response.json()) as { id: string }).id;
  }

  async function streamed(sql: string, data: Record<string, unknown>) {
    const client = await PlainJupyterClient.connect(baseUrl, config.token, await kernel(), 'v1');
    try {
      client.send('shell', 'comm_open', { comm_id: 'results', target_name: 'chlab.results', data });
      const { reply, iopub } = await client.execute(sql);
      expect(reply.content.status).toBe('ok');
      const messages = iopub.filter((m) => m.header.msg_type === 'comm_msg' && !m.content.data.done);
      const done = iopub.find((m) => m.header.msg_type === 'comm_msg' && m.content.data.done)!;
      const buffers = messages.map((m) => new Uint8Array(m.buffers![0]!));
      return { buffers, compressed: buffers.map(compressedBatches), done: done.content.data as { rows: number; truncated: boolean } };
    } finally {
      client.close();
    }
  }

  it('sends compressed record batches that read as the same rows as uncompressed ones', async () => {
    const sql = `SELECT number AS n, toDateTime(1700000000 + number, 'Asia/Tokyo') AS t,
        toUUID(concat('00112233-4455-6677-8899-', leftPad(hex(number), 12, '0'))) AS u,
        if(number % 3 = 0, NULL, concat('row ', toString(number % 1000))) AS s, [number, 1] AS a
      FROM numbers(120000)`;
    const zstd = await streamed(sql, { arrow_compression: 'zstd' });
    const none = await streamed(sql, {});
    expect(zstd.done).toMatchObject({ rows: 120000, truncated: false });
    expect(none.done).toMatchObject({ rows: 120000, truncated: false });
    expect(zstd.buffers.length).toBeGreaterThan(1);
    // Every batch as ClickHouse wrote it: compressed, and far smaller.
    expect(zstd.compressed.flat().every(Boolean)).toBe(true);
    expect(none.compressed.flat().some(Boolean)).toBe(false);
    const bytes = (buffers: Uint8Array[]) => buffers.reduce((n, b) => n + b.byteLength, 0);
    expect(bytes(zstd.buffers)).toBeLessThan(bytes(none.buffers) / 2);
    const schema = tableFromIPC(zstd.buffers[0]!).schema;
    expect(schema.fields.map((f) => f.metadata.get('clickhouse.type'))).toEqual(['UInt64', "DateTime('Asia/Tokyo')", 'UUID', 'Nullable(String)', 'Array(UInt64)']);
    expect(rowsOf(zstd.buffers)).toEqual(rowsOf(none.buffers));
  });

  it('cuts a compressed result at the row cap: the cut batch is encoded anew, uncompressed', async () => {
    const sql = 'SELECT number AS n, toString(number) AS s FROM numbers(1000000)';
    const zstd = await streamed(sql, { arrow_compression: 'zstd' });
    const none = await streamed(sql, { arrow_compression: 'none' });
    expect(zstd.done).toMatchObject({ rows: 150000, truncated: true });
    expect(none.done).toMatchObject({ rows: 150000, truncated: true });
    const flags = zstd.compressed.flat();
    expect(flags.slice(0, -1).every(Boolean)).toBe(true);
    expect(flags.at(-1)).toBe(false);
    const rows = rowsOf(zstd.buffers);
    expect(rows.length).toBe(150000);
    expect(rows.at(-1)).toEqual({ n: 149999n, s: '149999' });
    expect(rows).toEqual(rowsOf(none.buffers));
  });

  it('sends IPv6 and Enum columns (converted by the proxy) uncompressed and right', async () => {
    const sql = `SELECT number AS n, toIPv6(concat('2001:db8::', hex(number % 65536))) AS ip,
        CAST(number % 3 AS Enum8('a' = 0, 'b' = 1, 'c' = 2)) AS e
      FROM numbers(50000)`;
    const zstd = await streamed(sql, { arrow_compression: 'zstd' });
    const none = await streamed(sql, {});
    expect(zstd.done).toMatchObject({ rows: 50000, truncated: false });
    expect(zstd.compressed.flat().some(Boolean)).toBe(false);
    const rows = rowsOf(zstd.buffers);
    expect(rows[5]).toEqual({ n: 5n, ip: '2001:db8::5', e: 'c' });
    expect(rows).toEqual(rowsOf(none.buffers));
  });

  it('compresses only when every results comm of the kernel asked for it', async () => {
    const id = await kernel();
    const asks = await PlainJupyterClient.connect(baseUrl, config.token, id, 'v1');
    const plainClient = await PlainJupyterClient.connect(baseUrl, config.token, id, 'v1');
    try {
      asks.send('shell', 'comm_open', { comm_id: 'zstd', target_name: 'chlab.results', data: { arrow_compression: 'zstd' } });
      plainClient.send('shell', 'comm_open', { comm_id: 'plain', target_name: 'chlab.results', data: {} });
      // The comm_opens are handled in order before the execute_request on each socket; wait for the second one.
      await plainClient.request('shell', 'comm_info_request', {});
      const { iopub } = await asks.execute('SELECT number AS n FROM numbers(10000)');
      const buffers = iopub.filter((m) => m.header.msg_type === 'comm_msg' && !m.content.data.done).map((m) => new Uint8Array(m.buffers![0]!));
      expect(buffers.length).toBeGreaterThan(0);
      expect(buffers.flatMap(compressedBatches).some(Boolean)).toBe(false);
    } finally {
      asks.close();
      plainClient.close();
    }
  });

  it('refuses an arrow_compression it does not know, clearly, and does not open the comm', async () => {
    const client = await PlainJupyterClient.connect(baseUrl, config.token, await kernel(), 'v1');
    try {
      const openId = client.send('shell', 'comm_open', { comm_id: 'results', target_name: 'chlab.results', data: { arrow_compression: 'gzip' } });
      const error: WireMessage = await client.waitFor((m) => m.parent_header?.msg_id === openId && m.header.msg_type === 'error');
      expect(error.content.ename).toBe('InvalidMessage');
      expect(error.content.evalue).toMatch(/arrow_compression/);
      expect(error.content.evalue).toMatch(/"none" or "zstd"/);
      await client.waitFor((m) => m.parent_header?.msg_id === openId && m.header.msg_type === 'comm_close');
      const { iopub } = await client.execute('SELECT 1 AS x');
      expect(iopub.filter((m) => m.header.msg_type === 'comm_msg')).toEqual([]);
    } finally {
      client.close();
    }
  });
});
