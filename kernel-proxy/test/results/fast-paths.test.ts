import { afterAll, describe, expect, it } from 'vitest';
import type { RecordBatch } from 'apache-arrow';
import { FaithfulBatches, streamingStatement } from '../../src/results/faithful.js';
import { decodeFrame, encodeMessage, encodeMessageParts } from '../../src/kernel/wire.js';
import type { ColumnInfo } from '../../src/clickhouse/engine.js';
import { testQueryService } from '../support/engine.js';

const { engine, queries } = testQueryService();
const ctx = { user: 'tester', source: 'kernel' as const };

afterAll(() => engine.close());

async function rawBatches(sql: string): Promise<RecordBatch[]> {
  const batches: RecordBatch[] = [];
  for await (const batch of engine.arrowBatches(sql)) batches.push(batch);
  return batches;
}

describe('results shaped by ClickHouse (streamingStatement)', () => {
  const shape = { dateTimeAsTimestamp: true };
  it('wraps only statements with UUID / IPv4 / wide integer / DateTime columns or a block size, quoting names', () => {
    const plain: ColumnInfo[] = [{ name: 'n', type: 'UInt64' }, { name: 'ip6', type: 'IPv6' }, { name: 't64', type: 'DateTime64(3)' }];
    expect(streamingStatement('SELECT 1', plain, shape)).toBe('SELECT 1');
    expect(streamingStatement('SELECT 1', undefined, { ...shape, blockRows: 5000 })).toBe('SELECT 1');
    expect(streamingStatement('SELECT 1', plain, { ...shape, blockRows: 5000 })).toBe('SELECT * FROM (\nSELECT 1\n)\nSETTINGS max_block_size = 5000');
    const wrapped = streamingStatement(
      'SELECT x',
      [
        { name: 'a`b c', type: 'Nullable(UUID)' },
        { name: 'n', type: 'UInt64' },
        { name: 'w', type: 'LowCardinality(UInt256)' },
        { name: 't', type: "Nullable(DateTime('Asia/Tokyo'))" },
      ],
      shape,
    );
    expect(wrapped).toBe('SELECT * REPLACE (toString(`a\\`b c`) AS `a\\`b c`, toString(`w`) AS `w`, toDateTime64(`t`, 0) AS `t`) FROM (\nSELECT x\n)');
    // A server without toDateTime64 leaves DateTime to the proxy.
    expect(streamingStatement('SELECT x', [{ name: 't', type: 'DateTime' }], { dateTimeAsTimestamp: false })).toBe('SELECT x');
    // Repeated names: REPLACE could not tell them apart, so the statement stays as it is.
    expect(streamingStatement('SELECT x', [{ name: 'u', type: 'UUID' }, { name: 'u', type: 'UUID' }], { ...shape, blockRows: 5000 })).toBe('SELECT x');
  });

  it('delivers the same text, types and order as the proxy conversion, names and NULLs included', async () => {
    const sql = `SELECT number AS n,
        if(number % 3 = 1, NULL, reinterpretAsUUID(reverse(toFixedString(reinterpretAsString(cityHash64(number)), 16)))) AS \`odd \`\`name\`\`\`,
        toIPv4(3232235776 + number) AS ip, toInt128(-5) - number AS i128,
        if(number % 5 = 0, NULL, toUInt256(number) * toUInt256('1000000000000000000000000000000')) AS u256,
        toIPv6('::1.2.3.4') AS ip6
      FROM numbers(5000) ORDER BY n DESC`;
    const outcome = await queries.run(sql, ctx);
    if (outcome.kind !== 'rows') throw new Error('expected rows');
    expect(outcome.result.rows).toBe(5000);
    const fields = outcome.table.schema.fields;
    expect(fields.map((f) => f.metadata.get('clickhouse.type'))).toEqual(['UInt64', 'Nullable(UUID)', 'IPv4', 'Int128', 'Nullable(UInt256)', 'IPv6']);
    expect(fields.slice(1, 5).map((f) => String(f.type))).toEqual(['Utf8', 'Utf8', 'Utf8', 'Utf8']);
    // The proxy's own conversion of ClickHouse's binary columns, for comparison.
    const columns = outcome.columns;
    const faithful = new FaithfulBatches(columns);
    const expected = (await rawBatches(sql)).map((b) => faithful.convert(b));
    const want = expected.flatMap((b) => b.toArray().map((r) => r.toJSON()));
    const got = outcome.table.toArray().map((r) => r.toJSON());
    expect(got).toEqual(want.slice(0, got.length));
    expect(got[0]!.n).toBe(4999n);
    expect(got[0]!['odd `name`']).toBeNull();
    expect(got[0]!.ip).toBe('192.168.20.135');
    expect(got[0]!.i128).toBe('-5004');
    expect(got[0]!.u256).toBe('4999000000000000000000000000000000');
    expect(got[0]!.ip6).toBe('::102:304');
  });
});

describe('conversions on slices', () => {
  it('converts UUID and nullable DateTime columns of a batch sliced at any row', async () => {
    const sql = `SELECT if(number % 3 = 0, NULL, toUUID(concat('00112233-4455-6677-8899-', leftPad(hex(number), 12, '0')))) AS u,
        if(number % 4 = 0, NULL, toDateTime(1700000000 + number, 'UTC')) AS t FROM numbers(100)`;
    const columns: ColumnInfo[] = [{ name: 'u', type: 'Nullable(UUID)' }, { name: 't', type: "Nullable(DateTime('UTC'))" }];
    const [batch] = await rawBatches(sql);
    for (const start of [0, 3, 8, 13, 16]) {
      const slice = new FaithfulBatches(columns).convert(batch!.slice(start, start + 40));
      const rows = slice.toArray().map((r) => r.toJSON());
      rows.forEach((row, i) => {
        const n = start + i;
        expect(row.u).toBe(n % 3 === 0 ? null : `00112233-4455-6677-8899-${n.toString(16).toUpperCase().padStart(12, '0').toLowerCase()}`);
        expect(row.t).toBe(n % 4 === 0 ? null : (1700000000 + n) * 1000);
      });
    }
  });
});

describe('result buffers as WebSocket fragments (encodeMessageParts)', () => {
  it('frames the same message as encodeMessage, the buffer left uncopied', () => {
    const buffer = Buffer.from('arrow-bytes');
    const message = {
      channel: 'iopub',
      header: { msg_id: '1', msg_type: 'comm_msg', session: 's', username: 'u', date: '', version: '5.3' },
      parent_header: {},
      metadata: {},
      content: { comm_id: 'c', data: { rows: 1 } },
      buffers: [buffer],
    };
    const parts = encodeMessageParts(message, 'v1');
    expect(parts).toHaveLength(2);
    expect((parts[1] as Buffer).buffer).toBe(buffer.buffer);
    const joined = Buffer.concat(parts as Buffer[]);
    expect(joined.equals(encodeMessage(message, 'v1') as Buffer)).toBe(true);
    expect(decodeFrame(joined, true, 'v1')).toMatchObject({ content: message.content, buffers: [buffer] });
    expect(encodeMessageParts({ ...message, buffers: [] }, 'v1')).toHaveLength(1);
    expect(encodeMessageParts(message, 'json')).toHaveLength(1);
  });
});

describe('chDB chunks fetched ahead', () => {
  it('stops a stream early and the session takes the next statement at once', async () => {
    for (let i = 0; i < 3; i++) {
      let seen = 0;
      for await (const batch of engine.arrowBatches('SELECT number, toString(number) AS s FROM numbers(3000000)')) {
        seen += batch.numRows;
        if (seen > 0) break;
      }
      expect(seen).toBeGreaterThan(0);
      const rows = await engine.json<{ one: number }>('SELECT 1 AS one');
      expect(rows).toEqual([{ one: 1 }]);
    }
    const all = await rawBatches('SELECT number FROM numbers(1000000)');
    expect(all.reduce((n, b) => n + b.numRows, 0)).toBe(1_000_000);
  });
});
