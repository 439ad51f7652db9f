// The loopback feed embedded chDB reads each range from: one GET per offer, unguessable paths, and a body cut
// short (a failed COPY) read by ClickHouse as an error with nothing inserted.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseSettings } from '../../src/clickhouse/engine.js';
import { EmbeddedEngine } from '../../src/clickhouse/embedded.js';
import { RangeFeed } from '../../src/migration/range-feed.js';
import { FEED_SETTINGS, rangeInsertSettings } from '../../src/migration/runner.js';

let feed: RangeFeed;
let engine: EmbeddedEngine;

beforeAll(async () => {
  feed = await RangeFeed.open();
  engine = new EmbeddedEngine(path.join(mkdtempSync(path.join(tmpdir(), 'chlab-feed-')), 'chdb'), baseSettings(0));
  await engine.command('CREATE TABLE fed (n UInt32, s String) ENGINE = MergeTree ORDER BY n');
});

afterAll(async () => {
  await feed?.close();
  await engine?.close();
});

const rows = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${from + i}\trow ${from + i}\n`).join('');
// (the settings of a migration's range insert; a fresh deduplication token for each)
let inserts = 0;
const insertSettings = () => ({ ...rangeInsertSettings('feed-test', ++inserts), ...FEED_SETTINGS });

describe('RangeFeed', () => {
  it('serves an offer to one GET only; other paths and a second GET get 410', async () => {
    const offer = feed.offer((response) => response.end(rows(0, 3)));
    expect((await fetch(`${offer.url}x`)).status).toBe(410);
    expect((await fetch(offer.url, { method: 'HEAD' })).status).toBe(200);
    const first = await fetch(offer.url);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe(rows(0, 3));
    expect((await fetch(offer.url)).status).toBe(410);
    expect(new URL(offer.url).hostname).toBe('127.0.0.1');
    expect(new URL(offer.url).pathname).toMatch(/^\/[0-9a-f]{48}$/);
  });

  it('is read whole by ClickHouse url(), in one insert', async () => {
    const offer = feed.offer((response) => {
      response.write(rows(0, 50_000));
      setTimeout(() => response.end(rows(50_000, 100_000)), 50);
    });
    await engine.command(`INSERT INTO fed SELECT * FROM url('${offer.url}', 'TSV', 'n UInt32, s String')`, { settings: insertSettings() });
    const [row] = await engine.json<{ c: string; total: string }>('SELECT toString(count()) AS c, toString(sum(n)) AS total FROM fed');
    expect(row).toEqual({ c: '100000', total: String((99_999 * 100_000) / 2) });
  });

  it('a body cut short at a row boundary fails the insert, and nothing of it is inserted', async () => {
    await engine.command('TRUNCATE TABLE fed');
    const offer = feed.offer((response) => {
      response.write(rows(0, 20_000));
      setTimeout(() => response.destroy(), 50);
    });
    await expect(engine.command(`INSERT INTO fed SELECT * FROM url('${offer.url}', 'TSV', 'n UInt32, s String')`, { settings: insertSettings() })).rejects.toThrow();
    const [row] = await engine.json<{ c: string }>('SELECT toString(count()) AS c FROM fed');
    expect(row!.c).toBe('0');
  });
});
