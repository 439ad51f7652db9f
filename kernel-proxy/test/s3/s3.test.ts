// S3 cells and REST against a real S3 protocol server (npm s3rver behind a SigV4 check, in its own process)
// and embedded chDB in this process. Fixtures are written through ClickHouse s3().
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { LookupFunction } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { tableFromIPC } from 'apache-arrow';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { buildServer } from '../../src/server.js';
import { IncomingMessageSchema, type JupyterMessage } from '../../src/kernel/messages.js';
import { ARROW_MIME } from '../../src/kernel/spec.js';
import { loadConnections } from '../../src/s3/connections.js';
import { S3Listing } from '../../src/s3/listing.js';
import type { S3Service } from '../../src/s3/service.js';
import { startTestS3, type TestS3 } from '../../../tests/support/s3-server.js';
import { testConfig } from '../support/engine.js';
import { FIXTURES, writeFixtures } from './fixtures.js';

const TOKEN = 'test-token-123456';
let s3server: TestS3;
let app: FastifyInstance;
let s3: S3Service;
let logText = '';
let secrets: string[] = [];

beforeAll(async () => {
  s3server = await startTestS3(['lake', 'empty-bucket']);
  const config = testConfig(s3server.env);
  // A second connection with the right key id and a wrong secret, and one pointing at nothing.
  const connectionsFile = path.join(config.dataDir, 's3-connections.json');
  writeFileSync(
    connectionsFile,
    JSON.stringify({
      connections: {
        wrong: { endpoint: s3server.endpoint, access_key_id: s3server.accessKeyId, secret_access_key: '${WRONG_SECRET_FOR_TEST}' },
        nowhere: { endpoint: 'http://127.0.0.1:9', access_key_id: 'AKIANOWHERE', secret_access_key: 'nowhere-secret-value' },
      },
    }),
  );
  process.env.WRONG_SECRET_FOR_TEST = 'wrong-secret-9f8e7d6c5b4a';
  config.s3.connectionsFile = connectionsFile;
  secrets = [s3server.secretAccessKey, s3server.accessKeyId, process.env.WRONG_SECRET_FOR_TEST, 'nowhere-secret-value'];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logText += chunk.toString();
      done();
    },
  });
  ({ app } = await buildServer({ config, logger: createLogger('debug', sink) }));
  s3 = app.chlab.s3;
  await s3.start();
  await writeFixtures(app.chlab.engine, s3);
}, 180_000);

afterAll(async () => {
  await app?.close();
  await s3server?.stop();
});

/** No key of any connection in this text. */
function expectNoSecret(text: string) {
  for (const secret of secrets) expect(text).not.toContain(secret);
}

const get = (url: string) => app.inject({ method: 'GET', url, headers: { authorization: `token ${TOKEN}` } });
const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload, headers: { authorization: `token ${TOKEN}` } });

async function runCell(code: string): Promise<JupyterMessage[]> {
  const kernels = app.chlab.kernels;
  const model = await kernels.start();
  const kernel = kernels.kernel(model.id)!;
  const received: JupyterMessage[] = [];
  const client = { id: randomUUID(), send: (m: JupyterMessage) => received.push(m) };
  kernel.connect(client);
  kernel.handle(IncomingMessageSchema.parse({ channel: 'shell', header: { msg_id: randomUUID(), msg_type: 'execute_request' }, content: { code } }), client);
  for (let i = 0; i < 6000 && !received.some((m) => m.header.msg_type === 'execute_reply'); i++) await new Promise((r) => setTimeout(r, 10));
  return received;
}

function replyOf(messages: JupyterMessage[]) {
  return messages.find((m) => m.header.msg_type === 'execute_reply')!.content as Record<string, unknown>;
}

function arrowOutputs(messages: JupyterMessage[]) {
  return messages
    .filter((m) => m.header.msg_type === 'display_data' && (m.content.data as Record<string, unknown>)[ARROW_MIME])
    .map((m) => ({
      table: tableFromIPC(Buffer.from((m.content.data as Record<string, string>)[ARROW_MIME]!, 'base64')),
      meta: (m.content.metadata as Record<string, Record<string, unknown>>)[ARROW_MIME]!,
      s3: (m.content.metadata as Record<string, unknown>)['chlab.s3'] as Record<string, unknown> | undefined,
    }));
}

function texts(messages: JupyterMessage[]): string {
  return messages
    .filter((m) => ['display_data', 'update_display_data', 'stream', 'error'].includes(m.header.msg_type))
    .map((m) => JSON.stringify(m.content))
    .join('\n');
}

const rowsOf = (n: string) => FIXTURES.find((f) => f.key === n)!.rows;

describe('browse', () => {
  it('lists buckets (REST and %%s3 ls)', async () => {
    const response = await get('/api/s3/buckets');
    expect(response.statusCode).toBe(200);
    expect(response.json().buckets.map((b: { name: string }) => b.name)).toEqual(['empty-bucket', 'lake']);
    const messages = await runCell('%%s3 ls');
    const [out] = arrowOutputs(messages);
    expect(out!.table.getChild('bucket')!.toArray()).toEqual(['s3://empty-bucket/', 's3://lake/']);
  });

  it('lists prefixes and objects with sizes and dates', async () => {
    const root = (await get('/api/s3/list?bucket=lake')).json();
    expect(root.prefixes).toEqual(['csv/', 'json/', 'many/', 'odd/', 'sales/', 'tsv/', 'weird/']);
    expect(root.objects).toEqual([]);
    const page = (await get('/api/s3/list?bucket=lake&prefix=sales/2024/')).json();
    expect(page.objects.map((o: { key: string }) => o.key)).toEqual(['sales/2024/01.parquet', 'sales/2024/02.parquet', 'sales/2024/03.parquet']);
    for (const o of page.objects) {
      expect(o.size).toBeGreaterThan(100);
      expect(Date.now() - Date.parse(o.last_modified)).toBeLessThan(3600_000);
    }
    const messages = await runCell('%%s3 ls s3://lake/sales/');
    const [out] = arrowOutputs(messages);
    expect(out!.table.getChild('name')!.toArray()).toEqual(['2023/', '2024/']);
    expect(out!.table.getChild('type')!.toArray()).toEqual(['folder', 'folder']);
    const files = arrowOutputs(await runCell('%%s3 ls s3://lake/sales/2024/'))[0]!;
    expect(files.table.getChild('size')!.toArray().every((s: bigint) => s > 100n)).toBe(true);
    expect(files.meta.columns).toEqual(expect.arrayContaining([{ name: 'last_modified', type: "DateTime64(3, 'UTC')" }]));
  });

  it('pages through a large prefix', async () => {
    const first = (await get('/api/s3/list?bucket=lake&prefix=many/&limit=10')).json();
    expect(first.objects).toHaveLength(10);
    expect(first.truncated).toBe(true);
    const keys = first.objects.map((o: { key: string }) => o.key);
    let token = first.next_token;
    while (token) {
      const page = (await get(`/api/s3/list?bucket=lake&prefix=many/&limit=10&token=${encodeURIComponent(token)}`)).json();
      keys.push(...page.objects.map((o: { key: string }) => o.key));
      token = page.next_token;
    }
    expect(keys).toEqual(FIXTURES.filter((f) => f.key.startsWith('many/')).map((f) => f.key));
    // The cell pages by position (after=KEY), so a saved notebook can show the next page.
    const messages = await runCell('%%s3 ls s3://lake/many/ limit=10');
    expect(arrowOutputs(messages)[0]!.table.numRows).toBe(10);
    expect(texts(messages)).toContain('after=\\"many/f-09.csv\\"');
    const next = arrowOutputs(await runCell('%%s3 ls s3://lake/many/ limit=10 after="many/f-09.csv"'))[0]!;
    expect(next.table.getChild('name')!.toArray()[0]).toBe('f-10.csv');
  });

  it('lists a virtual-hosted connection (bucket in the host name)', async () => {
    const [connection] = loadConnections({ ...app.chlab.config.s3, endpoint: `http://s3.localhost:${s3server.port}`, urlStyle: 'virtual', connectionsFile: undefined });
    const hosts: string[] = [];
    // Resolves <bucket>.s3.localhost to loopback, as DNS would for a real virtual-hosted endpoint.
    const lookup = (host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
      hosts.push(host);
      if (opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
      else cb(null, '127.0.0.1', 4);
    };
    const agent = new http.Agent({ lookup: lookup as unknown as LookupFunction });
    const listing = new S3Listing({ agent });
    const page = await listing.list(connection!, 'lake', 'tsv/');
    expect(page.objects.map((o) => o.key)).toEqual(['tsv/cities.tsv']);
    expect(hosts).toContain('lake.s3.localhost');
    listing.close();
  });
});

describe('preview', () => {
  it('previews a Parquet file: schema, rows as Arrow, equivalent SQL without keys', async () => {
    const messages = await runCell('%%s3 preview s3://lake/sales/2024/01.parquet limit=5');
    expect(replyOf(messages).status).toBe('ok');
    const [out] = arrowOutputs(messages);
    expect(out!.table.numRows).toBe(5);
    expect(out!.meta.columns).toEqual([
      { name: 'id', type: 'UInt32' },
      { name: 'day', type: 'Date32' },
      { name: 'region', type: 'String' },
      { name: 'amount', type: 'Float64' },
    ]);
    expect(out!.table.getChild('id')!.toArray()[0]).toBe(1000);
    const info = out!.s3!;
    expect(info.format).toBe('Parquet');
    expect(info.sql).toBe("SELECT * FROM s3(s3_default, filename = 'lake/sales/2024/01.parquet', format = 'Parquet') LIMIT 5");
    // The result's Export re-runs the whole file on ClickHouse, through the named collection.
    expect(out!.meta.query).toBe("SELECT * FROM s3(s3_default, filename = 'lake/sales/2024/01.parquet', format = 'Parquet')");
    const exported = await post('/api/query/export', { query: out!.meta.query as string, format: 'csv' });
    expect(exported.statusCode, exported.body).toBe(200);
    expect(exported.body.trim().split('\n')).toHaveLength(101);
    expectNoSecret(JSON.stringify(messages));
  });

  it('previews a glob with exact row count, file count and bytes', async () => {
    const messages = await runCell('%%s3 preview s3://lake/sales/2024/*.parquet limit=1000 count');
    const [out] = arrowOutputs(messages);
    expect(out!.table.numRows).toBe(600);
    expect(out!.s3!.count).toMatchObject({ rows: 600, files: 3 });
    expect((out!.s3!.count as { bytes: number }).bytes).toBeGreaterThan(300);
    expect(texts(messages)).toContain('600 rows · 3 files');
    const deep = (await post('/api/s3/preview', { bucket: 'lake', key: 'sales/**.parquet', limit: 0, count: true })).json();
    expect(deep.count.rows).toBe(650);
  });

  it.each([
    ['csv/people.csv', {}, 25, [['id', 'Nullable(Int64)'], ['name', 'Nullable(String)'], ['city', 'Nullable(String)']]],
    ['csv/people_noheader.csv', { header: 'no' }, 25, [['c1', 'Nullable(Int64)'], ['c2', 'Nullable(String)'], ['c3', 'Nullable(String)']]],
    ['csv/people.csv.zst', {}, 33, [['id', 'Nullable(Int64)'], ['name', 'Nullable(String)'], ['city', 'Nullable(String)']]],
    ['tsv/cities.tsv', {}, 10, [['city_id', 'Nullable(Int64)'], ['city', 'Nullable(String)'], ['population', 'Nullable(Int64)']]],
    ['json/events.jsonl', {}, 40, [['ts', 'Nullable(DateTime)'], ['user', 'Nullable(String)'], ['n', 'Nullable(Int64)']]],
    ['json/events.jsonl.gz', {}, 70, [['ts', 'Nullable(DateTime)'], ['user', 'Nullable(String)'], ['n', 'Nullable(Int64)']]],
    ['json/events.ndjson.zst', {}, 60, [['ts', 'Nullable(DateTime)'], ['user', 'Nullable(String)'], ['n', 'Nullable(Int64)']]],
    ['odd/data.bin', { format: 'CSVWithNames' }, 7, [['k', 'Nullable(Int64)'], ['v', 'Nullable(String)']]],
    [`weird/it's a "file" + more.csv`, {}, 3, [['q', 'Nullable(Int64)']]],
  ] as const)('previews %s (REST, the /api/query/execute shape) with the inferred schema', async (key, options, rows, schema) => {
    const response = await post('/api/s3/preview', { bucket: 'lake', key, limit: 1000, count: true, ...options });
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ success: true, rows, total_rows: rows, truncated: false });
    expect(body.data).toHaveLength(rows);
    expect(typeof body.execution_time_ms).toBe('number');
    expect(body.metadata.columns).toEqual(schema.map(([n]) => n));
    expect(body.metadata.types).toEqual(schema.map(([, t]) => t));
    expect(body.schema).toEqual(schema.map(([name, type]) => ({ name, type })));
    expect(body.count.rows).toBe(rows);
    expect(rows).toBe(rowsOf(key));
    expectNoSecret(response.body);
  });

  it('reads CSV without a header as c1, c2, … and with header=yes by name', async () => {
    const noHeader = (await post('/api/s3/preview', { bucket: 'lake', key: 'csv/people.csv', header: 'no', limit: 1 })).json();
    expect(noHeader.data[0]).toEqual({ c1: 'id', c2: 'name', c3: 'city' });
    const header = (await post('/api/s3/preview', { bucket: 'lake', key: 'csv/people.csv', header: 'yes', format: 'csv', limit: 1 })).json();
    expect(header.data[0]).toEqual({ id: 0, name: 'name 0', city: 'Oslo' });
    expect(header.source.format).toBe('CSVWithNames');
  });

  it('shows the schema of a compressed JSON Lines file (%%s3 schema)', async () => {
    const [out] = arrowOutputs(await runCell('%%s3 schema s3://lake/json/events.jsonl.gz'));
    expect(out!.table.getChild('name')!.toArray()).toEqual(['ts', 'user', 'n']);
    expect(out!.table.getChild('type')!.toArray()).toEqual(['Nullable(DateTime)', 'Nullable(String)', 'Nullable(Int64)']);
  });

  it('overrides the format and the compression', async () => {
    const wrong = await post('/api/s3/preview', { bucket: 'lake', key: 'csv/people.csv', format: 'Parquet' });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.message).toMatch(/Could not read s3:\/\/lake\/csv\/people\.csv as Parquet/);
    const messages = await runCell('%%s3 preview s3://lake/odd/data.bin format=CSVWithNames compression=none limit=3');
    expect(arrowOutputs(messages)[0]!.table.numRows).toBe(3);
  });

  it('records the preview in the query history as SQL without keys', async () => {
    const history = (await get('/api/query/history?limit=200&search=s3_default')).json();
    expect(history.queries.length).toBeGreaterThan(3);
    expect(history.queries.map((q: { query: string }) => q.query)).toContain("SELECT * FROM s3(s3_default, filename = 'lake/sales/2024/01.parquet', format = 'Parquet') LIMIT 5");
    expectNoSecret(JSON.stringify((await get('/api/query/history?limit=1000')).json()));
  });
});

describe('SQL cells with s3() and the named collection', () => {
  it('reads through s3(s3_default, filename = …) with no key in the notebook', async () => {
    const messages = await runCell("SELECT count() AS n, sum(amount) > 0 AS ok FROM s3(s3_default, filename = 'lake/sales/2024/*.parquet')");
    expect(replyOf(messages).status).toBe('ok');
    const [out] = arrowOutputs(messages);
    expect(Number(out!.table.getChild('n')!.toArray()[0])).toBe(600);
  });

  it('shows the collection as [HIDDEN] and refuses to send its keys elsewhere', async () => {
    const rows = await app.chlab.engine.json<{ collection: unknown; create_query: string }>("SELECT collection, create_query FROM system.named_collections WHERE name = 's3_default'");
    expect(JSON.stringify(rows)).toContain('[HIDDEN]');
    expectNoSecret(JSON.stringify(rows));
    const messages = await runCell("SELECT * FROM s3(s3_default, url = 'http://127.0.0.1:9/steal/')");
    expect(replyOf(messages)).toMatchObject({ status: 'error' });
    expect(String(replyOf(messages).evalue)).toContain("Override not allowed for 'url'");
    const override = await runCell("SELECT * FROM s3(s3_default, filename = 'lake/csv/people.csv', secret_access_key = 'x')");
    expect(String(replyOf(override).evalue)).toMatch(/Override not allowed/);
  });

  it('scrubs keys a user writes into a failing s3() call', async () => {
    const messages = await runCell(`SELECT * FROM s3('http://127.0.0.1:${s3server.port}/lake/nope.csv', '${s3server.accessKeyId}', '${s3server.secretAccessKey}', 'CSV', 'a String')`);
    expect(replyOf(messages).status).toBe('error');
    expectNoSecret(String(replyOf(messages).evalue));
  });
});

describe('import', () => {
  it('imports a glob into a new table with the inferred schema, exact count, progress and a migration_history row', async () => {
    const messages = await runCell('%%s3 import s3://lake/sales/2024/*.parquet into s3_sales');
    expect(replyOf(messages).status, texts(messages)).toBe('ok');
    const [count] = await app.chlab.engine.json<{ n: string }>('SELECT count() AS n FROM s3_sales');
    expect(Number(count!.n)).toBe(600);
    const updates = messages.filter((m) => m.header.msg_type === 'update_display_data');
    expect(updates.length).toBeGreaterThan(1);
    expect(texts(messages)).toContain('Imported 600 rows from 3 files');
    const [history] = await app.chlab.engine.json<Record<string, unknown>>(
      "SELECT source, destination, source_table, status, records_migrated, tabel_fields, created_by, metadata FROM migration_history WHERE destination = 's3_sales' ORDER BY migration_time DESC LIMIT 1",
    );
    expect(history).toMatchObject({ source: 's3:default', destination: 's3_sales', source_table: 's3://lake/sales/2024/*.parquet', status: 'completed', created_by: 'analyst' });
    expect(Number(history!.records_migrated)).toBe(600);
    expect(history!.tabel_fields).toEqual(['id', 'day', 'region', 'amount']);
    expect(JSON.parse(String(history!.metadata))).toMatchObject({
      kind: 's3_import',
      files: 3,
      table_created: true,
      format: 'Parquet',
      cell: '%%s3 import s3://lake/sales/2024/*.parquet into s3_sales',
    });
    expectNoSecret(JSON.stringify(history));
    // The same history as PostgreSQL migrations, through their REST API.
    const listed = (await get('/api/migration/history?search=s3_sales&limit=10')).json();
    expect(listed.migrations.some((m: { source: string; status: string }) => m.source === 's3:default' && m.status === 'completed')).toBe(true);
  });

  it('imports into an existing table by column name (REST) and counts exactly', async () => {
    await app.chlab.engine.command('CREATE TABLE s3_events (n Int64, user String, ts DateTime, extra String DEFAULT \'x\') ENGINE = MergeTree ORDER BY ts');
    const response = await post('/api/s3/import', { bucket: 'lake', key: 'json/events.*', destination_table: 'default.s3_events' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ success: true, rows: 170, destination_table: 'default.s3_events', created: false, files: 3 });
    const again = (await post('/api/s3/import', { bucket: 'lake', key: 'json/events.jsonl', destination_table: 's3_events', create: 'no' })).json();
    expect(again.rows).toBe(40);
    const [row] = await app.chlab.engine.json<{ n: string; users: string }>('SELECT count() AS n, uniqExact(user) AS users FROM s3_events');
    expect(Number(row!.n)).toBe(210);
    expect(Number(row!.users)).toBe(4);
  });

  it('imports with an edited schema (column lines in the cell) and many files in batches', async () => {
    const code = '%%s3 import s3://lake/many/*.csv into s3_many order_by=x\nx UInt32\n';
    const messages = await runCell(code);
    expect(replyOf(messages).status, texts(messages)).toBe('ok');
    const [row] = await app.chlab.engine.json<{ n: string; t: string }>("SELECT count() AS n, any(toTypeName(x)) AS t FROM s3_many");
    expect(Number(row!.n)).toBe(FIXTURES.filter((f) => f.key.startsWith('many/')).reduce((s, f) => s + f.rows, 0));
    expect(row!.t).toBe('UInt32');
    expect(texts(messages)).toContain(`Imported ${row!.n} rows from 25 files`);
  });

  it('refuses bad columns, bad tables and existing tables with create=yes', async () => {
    const badType = await post('/api/s3/import', { bucket: 'lake', key: 'csv/people.csv', destination_table: 's3_bad', columns: [{ name: 'id', type: 'String) ENGINE = Memory; DROP TABLE s3_sales; --' }] });
    expect(badType.statusCode).toBe(400);
    expect(badType.json().error.message).toMatch(/columns: "id" has no valid ClickHouse type/);
    const badTable = await post('/api/s3/import', { bucket: 'lake', key: 'csv/people.csv', destination_table: 's3_x; DROP TABLE s3_sales' });
    expect(badTable.statusCode).toBe(400);
    expect(badTable.json().error.message).toMatch(/destination_table/);
    const exists = await post('/api/s3/import', { bucket: 'lake', key: 'csv/people.csv', destination_table: 's3_sales', create: 'yes' });
    expect(exists.statusCode).toBe(409);
    const [row] = await app.chlab.engine.json<{ n: string }>('SELECT count() AS n FROM s3_sales');
    expect(Number(row!.n)).toBe(600);
    const failed = await app.chlab.engine.json<{ status: string }>("SELECT status FROM migration_history WHERE destination = 's3_sales' AND status = 'failed'");
    expect(failed.length).toBeGreaterThan(0);
  });
});

describe('errors are clear and hold no key', () => {
  it('a missing key', async () => {
    const response = await post('/api/s3/preview', { bucket: 'lake', key: 'sales/2024/missing.parquet' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ success: false, error: { message: 'No such key: s3://lake/sales/2024/missing.parquet does not exist' } });
    const messages = await runCell('%%s3 preview s3://lake/sales/2024/missing.parquet');
    expect(replyOf(messages)).toMatchObject({ status: 'error', ename: 'S3Error', evalue: 'No such key: s3://lake/sales/2024/missing.parquet does not exist' });
    const glob = await post('/api/s3/preview', { bucket: 'lake', key: 'sales/2025/*.parquet' });
    expect(glob.statusCode).toBe(404);
    expect(glob.json().error.message).toBe('No object matches s3://lake/sales/2025/*.parquet');
  });

  it('a bad bucket: missing, or not a bucket name', async () => {
    for (const key of ['x.parquet', 'sales/*.parquet']) {
      const response = await post('/api/s3/preview', { bucket: 'no-such-bucket', key });
      expect(response.statusCode).toBe(404);
      expect(response.json().error.message).toMatch(/^No such bucket: "no-such-bucket" does not exist/);
    }
    const list = await get('/api/s3/list?bucket=no-such-bucket');
    expect(list.statusCode).toBe(404);
    const invalid = await post('/api/s3/preview', { bucket: "lake'); DROP TABLE s3_sales; --", key: 'x.csv' });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.message).toMatch(/not a valid bucket name/);
    const cell = await runCell('%%s3 ls s3://Bad_Bucket!/');
    expect(replyOf(cell)).toMatchObject({ status: 'error', ename: 'S3Error' });
  });

  it('a wrong secret: 403 naming the connection, never the secret', async () => {
    const responses = [
      await get('/api/s3/buckets?connection=wrong'),
      await get('/api/s3/list?connection=wrong&bucket=lake'),
      await post('/api/s3/preview', { connection: 'wrong', bucket: 'lake', key: 'csv/people.csv' }),
      await post('/api/s3/preview', { connection: 'wrong', bucket: 'lake', key: 'csv/*.csv' }),
      await post('/api/s3/import', { connection: 'wrong', bucket: 'lake', key: 'csv/people.csv', destination_table: 's3_never' }),
    ];
    for (const response of responses) {
      expect(response.statusCode, response.body).toBe(403);
      expect(response.json().error.message).toMatch(/Access denied to .*check the access key and secret of S3 connection "wrong"/);
      expectNoSecret(response.body);
    }
    const messages = await runCell('%%s3 preview s3://lake/csv/*.csv connection=wrong');
    expect(replyOf(messages)).toMatchObject({ status: 'error', ename: 'S3Error' });
    expectNoSecret(JSON.stringify(messages));
    // ClickHouse itself (not the listing client) refusing the keys: a SQL cell on the wrong collection.
    const sql = await runCell("SELECT count() FROM s3(s3_wrong, filename = 'lake/csv/people.csv')");
    expect(replyOf(sql).status).toBe('error');
    expect(String(replyOf(sql).evalue)).toMatch(/403|credentials/i);
    expectNoSecret(JSON.stringify(sql));
  });

  it('an unreachable endpoint', async () => {
    const response = await get('/api/s3/buckets?connection=nowhere');
    expect(response.statusCode).toBe(502);
    expect(response.json().error.message).toMatch(/unreachable/);
    expectNoSecret(response.body);
  });

  it('bad input names the field; injection attempts stay data', async () => {
    expect((await post('/api/s3/preview', { key: 'x' })).json().error.message).toMatch(/bucket/);
    expect((await post('/api/s3/preview', { bucket: 'lake', key: 'x', limit: -1 })).json().error.message).toMatch(/limit/);
    expect((await post('/api/s3/preview', { bucket: 'lake', key: 'x.csv', format: "CSV'); DROP TABLE s3_sales; --" })).json().error.message).toMatch(/format/);
    expect((await post('/api/s3/preview', { bucket: 'lake', key: 'x.csv', compression: 'gzip; DROP' })).statusCode).toBe(400);
    expect((await get('/api/s3/list?bucket=lake&connection=../../etc')).statusCode).toBe(400);
    // A key full of SQL is just a key (here a glob: it has a *) that matches nothing.
    const key = "x', format = 'CSV') UNION ALL SELECT * FROM system.named_collections --";
    const response = await post('/api/s3/preview', { bucket: 'lake', key });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.message).toBe(`No object matches s3://lake/${key}`);
    const plain = "x'); DROP TABLE s3_sales; --.csv";
    const single = await post('/api/s3/preview', { bucket: 'lake', key: plain });
    expect(single.json().error.message).toBe(`No such key: s3://lake/${plain} does not exist`);
    const cell = await runCell(`%%s3 preview "s3://lake/${plain}"`);
    expect(replyOf(cell)).toMatchObject({ status: 'error', evalue: `No such key: s3://lake/${plain} does not exist` });
    const broken = await app.inject({ method: 'POST', url: '/api/s3/preview', headers: { authorization: `token ${TOKEN}`, 'content-type': 'text/plain' }, payload: '{"bucket":' });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ success: false, error: { message: 'body: not valid JSON' } });
    const glob = await post('/api/s3/preview', { bucket: 'lake', key: "csv/*') UNION ALL SELECT 1 --*.csv" });
    expect(glob.statusCode).toBe(404);
    const [row] = await app.chlab.engine.json<{ n: string }>('SELECT count() AS n FROM s3_sales');
    expect(Number(row!.n)).toBe(600);
  });

  it('needs the token', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/s3/buckets' });
    expect([401, 403]).toContain(response.statusCode);
  });

  it('never wrote a key to the log, the history or any REST answer', async () => {
    expect(logText.length).toBeGreaterThan(0);
    expectNoSecret(logText);
    expectNoSecret(JSON.stringify((await get('/api/query/history?limit=1000')).json()));
    expectNoSecret((await get('/api/s3/connections')).body);
    const migrations = await app.chlab.engine.json('SELECT * FROM migration_history');
    expectNoSecret(JSON.stringify(migrations));
  });
});

describe('scale-out', () => {
  it('builds s3Cluster() when the ClickHouse connection names a cluster', async () => {
    const { S3Reader } = await import('../../src/s3/reader.js');
    const reader = new S3Reader(app.chlab.engine, app.chlab.queries, s3.collections, s3.listing, 'analytics');
    const tf = await reader.tableFunction({ connection: s3.connection(), bucket: 'lake', key: 'sales/2024/*.parquet' });
    expect(tf.display).toBe("s3Cluster('analytics', s3_default, filename = 'lake/sales/2024/*.parquet', format = 'Parquet')");
    // ClickHouse parses it (it cannot run here: chDB has no cluster).
    const plan = await app.chlab.engine.json<{ explain: string } | string>(`EXPLAIN AST SELECT * FROM ${tf.sql}`, { params: tf.params });
    expect(plan.map((r) => (typeof r === 'string' ? r : r.explain)).join('\n')).toContain('Function s3Cluster');
  });
});
