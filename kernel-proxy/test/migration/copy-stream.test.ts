// CopyOutStream against a real PostgreSQL: the bytes it pushes are exactly COPY's rows (the same as
// pg-copy-streams gives), coalesced into pushes of at most OUTPUT_BYTES whatever the row sizes, and an error in
// the middle of a COPY fails the stream and leaves the connection usable.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { CopyOutStream, OUTPUT_BYTES } from '../../src/postgres/copy.js';
import { useTestSchema } from './support.js';

let client: pg.Client;
let schema: string;

useTestSchema('mcopystream', (pgAdmin, name) => ((client = pgAdmin), (schema = name)));

beforeAll(async () => {
  // Small rows, rows of a few KiB, and a few rows larger than one push (2.5 MiB of text each, with escapes).
  await client.query(`
    SET search_path = ${schema};
    CREATE TABLE t (id int PRIMARY KEY, body text);
    INSERT INTO t SELECT g, CASE
        WHEN g % 5000 = 0 THEN repeat(E'a\\tb\\\\c\\n', 2621440 / 7)
        WHEN g % 10 = 0 THEN repeat('é', 1000 + g % 3000)
        ELSE 'row ' || g END
      FROM generate_series(1, 20000) g;
  `);
}, 60_000);

function collect(): { sink: Writable; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    highWaterMark: OUTPUT_BYTES,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      // A slow consumer: the stream must pause the socket rather than buffer the table.
      setImmediate(callback);
    },
  });
  return { sink, chunks };
}

describe('CopyOutStream', () => {
  const sql = () => `COPY (SELECT id, body FROM ${schema}.t ORDER BY id) TO STDOUT`;

  it('pushes exactly the rows COPY sends, in pushes of at most OUTPUT_BYTES, and counts them', async () => {
    const reference = collect();
    await pipeline(client.query(copyTo(sql())), reference.sink);
    const expected = Buffer.concat(reference.chunks);

    const ours = collect();
    const reported = { rows: 0, bytes: 0 };
    const source = client.query(
      new CopyOutStream(sql(), (rows, bytes) => {
        reported.rows += rows;
        reported.bytes += bytes;
      }),
    );
    await pipeline(source, ours.sink);
    const got = Buffer.concat(ours.chunks);

    expect(got.length).toBe(expected.length);
    expect(got.equals(expected)).toBe(true);
    expect(source.rows).toBe(20_000);
    expect(source.commandRows).toBe(20_000);
    expect(reported).toEqual({ rows: 20_000, bytes: expected.length });
    expect(Math.max(...ours.chunks.map((c) => c.length))).toBeLessThanOrEqual(OUTPUT_BYTES);
    // Coalesced: every push but the last is full (PostgreSQL itself sends 8 KiB at a time).
    expect(ours.chunks.slice(0, -1).every((c) => c.length === OUTPUT_BYTES)).toBe(true);
    expect(ours.chunks.length).toBe(Math.ceil(expected.length / OUTPUT_BYTES));

    // pg has its connection back.
    expect((await client.query('SELECT 41 + 1 AS n')).rows[0].n).toBe(42);
  });

  it('fails with PostgreSQL’s error when the COPY breaks midway, and the connection stays usable', async () => {
    const broken = `COPY (SELECT id, 1 / (id - 15000) FROM ${schema}.t ORDER BY id) TO STDOUT`;
    const ours = collect();
    const source = client.query(new CopyOutStream(broken));
    await expect(pipeline(source, ours.sink)).rejects.toThrow(/division by zero/);
    // Rows before the error may have been pushed; none after it.
    expect(source.rows).toBeLessThan(15_000);
    expect((await client.query('SELECT 6 * 7 AS n')).rows[0].n).toBe(42);
  });
});
