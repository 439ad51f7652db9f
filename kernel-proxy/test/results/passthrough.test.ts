import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataType, Table, tableFromIPC, tableToIPC, type RecordBatch } from 'apache-arrow';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/server.js';
import { batchesOf, ipcMessages, IpcFormatError, rawMessageOf } from '../../src/results/ipc-messages.js';
import { blockRowsFor, COMM_MESSAGE_BYTES } from '../../src/results/block-rows.js';
import { ResultStream } from '../../src/kernel/result-stream.js';
import type { JupyterMessage } from '../../src/kernel/messages.js';
import { PlainJupyterClient } from '../support/jupyter-client.js';
import { silentLogger, testConfig, testQueryService, listenOnLoopback } from '../support/engine.js';

const config = testConfig({ CHLAB_MAX_RESULT_ROWS: '150000' });
const { engine } = testQueryService(config);
afterAll(() => engine.close());

async function collectBatches(source: AsyncIterable<RecordBatch>): Promise<RecordBatch[]> {
  const batches: RecordBatch[] = [];
  for await (const batch of source) batches.push(batch);
  return batches;
}

async function* piecesOf(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const plain = (value: unknown): unknown => (value && typeof value === 'object' && 'toArray' in value ? [...(value as Iterable<unknown>)] : value);
const rowsOf = (batches: RecordBatch[]) =>
  new Table(batches).toArray().map((row) => Object.fromEntries(Object.entries(row.toJSON()).map(([k, v]) => [k, plain(v)])));

describe('Arrow IPC messages cut from a stream (ipcMessages, batchesOf)', () => {
  let stream: Uint8Array;
  let expected: Record<string, unknown>[];

  beforeAll(async () => {
    const batches = await collectBatches(
      engine.arrowBatches(`SELECT number AS n, if(number % 3 = 0, NULL, repeat('x', number % 17)) AS s, [number, 1] AS a
        FROM numbers(20000) SETTINGS max_block_size = 4096`),
    );
    expect(batches.length).toBeGreaterThan(3);
    stream = tableToIPC(new Table(batches), 'stream');
    expected = rowsOf(batches);
  });

  it('reads the same batches whatever size the pieces come in, each with its own message bytes', async () => {
    for (const size of [1, 7, 4096, 100_000, stream.length]) {
      const batches = await collectBatches(batchesOf(ipcMessages(piecesOf(stream, size))));
      expect(rowsOf(batches)).toEqual(expected);
      for (const batch of batches) {
        const raw = rawMessageOf(batch)!;
        expect(raw).toBeDefined();
        // The message bytes are in the stream as they are.
        expect(Buffer.from(stream).indexOf(Buffer.from(raw))).toBeGreaterThan(0);
      }
    }
  });

  it('refuses a stream that ends inside a message', async () => {
    const cut = stream.subarray(0, stream.length - 100);
    await expect(collectBatches(batchesOf(ipcMessages(piecesOf(cut, 1000))))).rejects.toThrow(IpcFormatError);
  });

  it('gives the columns of a result without rows', async () => {
    const empty = await collectBatches(engine.arrowBatches('SELECT toInt32(1) AS a, toString(2) AS b WHERE 0'));
    expect(empty.reduce((n, b) => n + b.numRows, 0)).toBe(0);
    expect(empty[0]!.schema.fields.map((f) => f.name)).toEqual(['a', 'b']);
  });
});

describe('blocks the size of a comm message (blockRowsFor)', () => {
  it('estimates rows per block from the column types, within ClickHouse-friendly bounds', () => {
    expect(blockRowsFor([{ name: 'n', type: 'UInt8' }], COMM_MESSAGE_BYTES)).toBe(65_409);
    expect(blockRowsFor([{ name: 's', type: 'Array(Array(String))' }, { name: 'u', type: 'UUID' }], COMM_MESSAGE_BYTES)).toBe(4_096);
    const mixed = blockRowsFor(
      [
        { name: 'id', type: 'UInt64' },
        { name: 't', type: "DateTime('UTC')" },
        { name: 'c', type: 'Nullable(String)' },
      ],
      COMM_MESSAGE_BYTES,
    );
    expect(mixed).toBeGreaterThan(4_096);
    expect(mixed).toBeLessThan(65_409);
  });
});

describe('a record batch goes to the browser as ClickHouse wrote it (ResultStream)', () => {
  it('sends the raw record batch message behind the proxy schema; a sliced batch is encoded anew', async () => {
    const [batch] = await collectBatches(engine.arrowBatches('SELECT number AS n, toString(number) AS s FROM numbers(1000)'));
    const raw = rawMessageOf(batch!)!;
    expect(raw).toBeDefined();
    const sent: JupyterMessage[] = [];
    const client = { id: 'c', send: (message: JupyterMessage) => void sent.push(message) };
    const parent = { channel: 'shell', header: { msg_id: 'p', msg_type: 'execute_request', session: 's', username: 'u', date: '', version: '5.3' }, parent_header: {}, metadata: {}, content: {}, buffers: [] };
    const stream = new ResultStream('r', [{ client, commId: 'comm' }], parent as never, 'session');
    await stream.send(batch!, undefined);
    await stream.send(batch!.slice(10, 20), undefined);
    const [whole, slice] = sent.map((m) => Buffer.from(m.buffers![0]! as Uint8Array));
    expect(whole!.indexOf(Buffer.from(raw))).toBeGreaterThan(0);
    expect(tableFromIPC(whole!).toArray().map((r) => r.toJSON())).toEqual(batch!.toArray().map((r) => r.toJSON()));
    expect(slice!.indexOf(Buffer.from(raw))).toBe(-1);
    expect(tableFromIPC(slice!).getChild('n')!.toArray()).toEqual(BigUint64Array.from({ length: 10 }, (_, i) => BigInt(10 + i)));
  });
});

describe('a streamed result through the kernel', () => {
  let app: FastifyInstance;
  let baseUrl: string;

  beforeAll(async () => {
    ({ app } = await buildServer({ config, logger: silentLogger, engine }));
    baseUrl = await listenOnLoopback(app);
  });
  afterAll(() => app.close());

  async function streamed(sql: string) {
    const response = await fetch(`${baseUrl}/api/kernels`, { method: 'POST', headers: { Authorization: `token ${config.token}` }, body: '{}' });
    const { id } = (await response.json()) as { id: string };
    const client = await PlainJupyterClient.connect(baseUrl, config.token, id, 'v1');
    client.send('shell', 'comm_open', { comm_id: 'results', target_name: 'chlab.results', data: {} });
    const { reply, iopub } = await client.execute(sql);
    client.close();
    expect(reply.content.status).toBe('ok');
    const messages = iopub.filter((m) => m.header.msg_type === 'comm_msg' && !m.content.data.done);
    const done = iopub.find((m) => m.header.msg_type === 'comm_msg' && m.content.data.done)!;
    return { buffers: messages.map((m) => m.buffers![0]!), done: done.content.data as { rows: number; truncated: boolean } };
  }

  it('arrives in messages of bounded size with DateTime as timestamps in their zone and each ClickHouse type', async () => {
    const { buffers, done } = await streamed(`SELECT number AS n,
        toDateTime(1700000000 + number, 'Asia/Tokyo') AS tokyo,
        if(number % 5 = 0, NULL, toDateTime(1700000000 + number)) AS naive,
        toUUID(concat('00112233-4455-6677-8899-', leftPad(hex(number), 12, '0'))) AS u,
        if(number % 3 = 0, NULL, concat('row ', toString(number))) AS s
      FROM numbers(100000)`);
    expect(done).toMatchObject({ rows: 100000, truncated: false });
    expect(buffers.length).toBeGreaterThan(5);
    for (const buffer of buffers) expect(buffer.byteLength).toBeLessThanOrEqual(4 * COMM_MESSAGE_BYTES);
    const table = new Table(buffers.flatMap((b) => tableFromIPC(b).batches));
    expect(table.numRows).toBe(100000);
    const fields = Object.fromEntries(table.schema.fields.map((f) => [f.name, f]));
    expect(fields.tokyo!.metadata.get('clickhouse.type')).toBe("DateTime('Asia/Tokyo')");
    expect(String(fields.tokyo!.type)).toBe('Timestamp<SECOND, Asia/Tokyo>');
    // A DateTime without a zone stays a timestamp without one.
    expect(DataType.isTimestamp(fields.naive!.type) && fields.naive!.type.timezone).toBeNull();
    expect(fields.naive!.metadata.get('clickhouse.type')).toBe('Nullable(DateTime)');
    expect(String(fields.u!.type)).toBe('Utf8');
    for (const i of [0, 1, 4097, 99999]) {
      const row = table.get(i)!.toJSON();
      expect(row.n).toBe(BigInt(i));
      expect(row.tokyo).toBe((1700000000 + i) * 1000);
      expect(row.naive).toBe(i % 5 === 0 ? null : (1700000000 + i) * 1000);
      expect(row.u).toBe(`00112233-4455-6677-8899-${i.toString(16).padStart(12, '0')}`);
      expect(row.s).toBe(i % 3 === 0 ? null : `row ${i}`);
    }
  });

  it('cuts a result at the row cap inside a batch and says so', async () => {
    const { buffers, done } = await streamed('SELECT number AS n FROM numbers(1000000)');
    expect(done).toMatchObject({ rows: 150000, truncated: true });
    const n = new Table(buffers.flatMap((b) => tableFromIPC(b).batches)).getChild('n')!;
    expect(n.length).toBe(150000);
    expect(n.get(149999)).toBe(149999n);
  });
});
