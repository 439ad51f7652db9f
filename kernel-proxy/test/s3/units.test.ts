import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConnections, normalizeEndpoint } from '../../src/s3/connections.js';
import { inferFromName, resolveFormat } from '../../src/s3/formats.js';
import { bucketUrl, encodeKey, objectUrl, parseS3Url, parseTableName, sqlIdentifier, sqlString } from '../../src/s3/location.js';
import { parseCommand, tokenize } from '../../src/s3/magic.js';
import { scrubSecrets } from '../../src/util/secrets.js';

const base = { region: 'us-east-1', demo: false } as const;

describe('S3 locations', () => {
  it('parses s3:// URLs and validates bucket names and keys', () => {
    expect(parseS3Url('s3://lake/sales/2024/*.parquet')).toEqual({ bucket: 'lake', key: 'sales/2024/*.parquet' });
    expect(parseS3Url('s3://lake/', { allowEmptyKey: true })).toEqual({ bucket: 'lake', key: '' });
    for (const bad of ['http://lake/x', 's3://Lake/x', 's3://a/x', "s3://lake'--/x", 's3://la..ke/x', 's3://lake']) {
      expect(() => parseS3Url(bad), bad).toThrow();
    }
    expect(() => parseS3Url('s3://lake/a\u0000b')).toThrow(/control/);
    expect(() => parseS3Url('s3://lake//abs')).toThrow(/must not start/);
  });

  it('builds path-style and virtual-hosted URLs, keeping globs and encoding the rest', () => {
    const path = { name: 'default', endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', urlStyle: 'path', collection: 's3_default' } as const;
    const virtual = { ...path, endpoint: 'https://s3.eu-west-1.amazonaws.com', urlStyle: 'virtual' } as const;
    expect(objectUrl(path, { bucket: 'lake', key: 'sales/2024/*.parquet' })).toBe('http://127.0.0.1:9000/lake/sales/2024/*.parquet');
    expect(objectUrl(virtual, { bucket: 'lake', key: 'a b/{x,y}?.csv' })).toBe('https://lake.s3.eu-west-1.amazonaws.com/a%20b/{x,y}?.csv');
    expect(bucketUrl(virtual, 'lake')).toBe('https://lake.s3.eu-west-1.amazonaws.com/');
    expect(encodeKey("year=2024/it's #1 & 50%.csv")).toBe("year=2024/it's%20%231%20%26%2050%25.csv");
  });

  it('quotes SQL strings and identifiers rigorously', () => {
    expect(sqlString("a'b\\c\nd")).toBe("'a\\'b\\\\c\\x0ad'");
    expect(sqlIdentifier('we`ird\\')).toBe('`we\\`ird\\\\`');
    expect(parseTableName('db.t_1')).toMatchObject({ database: 'db', table: 't_1', sql: '`db`.`t_1`' });
    for (const bad of ['t; DROP TABLE x', 'a.b.c', '1abc', '`t`', '']) expect(() => parseTableName(bad), bad).toThrow(/destination_table/);
  });
});

describe('formats', () => {
  it.each([
    ['x.parquet', 'Parquet', undefined],
    ['x.csv', 'CSV', undefined],
    ['x.csv.gz', 'CSV', 'gzip'],
    ['x.tsv.zst', 'TSV', 'zstd'],
    ['x.jsonl', 'JSONEachRow', undefined],
    ['x.ndjson.zstd', 'JSONEachRow', 'zstd'],
    ['dir/*.json.bz2', 'JSONEachRow', 'bz2'],
    ['x.bin', undefined, undefined],
    ['data', undefined, undefined],
  ])('%s → %s %s', (key, format, compression) => {
    expect(inferFromName(key)).toEqual({ format, compression });
  });

  it('lets the user override format, header and compression', () => {
    expect(resolveFormat('x.csv', { header: 'yes' })).toMatchObject({ format: 'CSVWithNames', inferred: true });
    expect(resolveFormat('x.csv', { header: 'no' })).toMatchObject({ format: 'CSV', settings: { input_format_csv_detect_header: 0 } });
    expect(resolveFormat('x.tsv', { header: 'no' })).toMatchObject({ format: 'TSV', settings: { input_format_tsv_detect_header: 0 } });
    expect(resolveFormat('x.bin', { format: 'jsonl' })).toMatchObject({ format: 'JSONEachRow', inferred: false });
    expect(resolveFormat('x.csv.gz', { compression: 'none' })).toMatchObject({ compression: 'none' });
    expect(resolveFormat('x.csv', { format: 'RowBinaryWithNamesAndTypes' }).format).toBe('RowBinaryWithNamesAndTypes');
    expect(() => resolveFormat('x.csv', { format: "CSV') --" })).toThrow(/format/);
    expect(() => resolveFormat('x.csv', { compression: 'rar' })).toThrow(/compression/);
    expect(() => resolveFormat('x.parquet', { header: 'no' })).toThrow(/header/);
  });
});

describe('%%s3 cell syntax', () => {
  it('tokenizes with quotes', () => {
    expect(tokenize(`preview "s3://b/a b.csv" format='CSV' count`)).toEqual(['preview', 's3://b/a b.csv', 'format=CSV', 'count']);
    expect(() => tokenize('ls "s3://b')).toThrow(/unclosed/);
  });

  it('parses each command', () => {
    expect(parseCommand('ls', '')).toMatchObject({ verb: 'ls' });
    expect(parseCommand('ls', '').url).toBeUndefined();
    expect(parseCommand('ls s3://lake/x/ limit=10 after="x/k 9"', '')).toMatchObject({ verb: 'ls', url: 's3://lake/x/' });
    const preview = parseCommand('s3://lake/a/*.parquet limit=5', 'count\n# a comment\nformat=Parquet');
    expect(preview.verb).toBe('preview');
    expect([...preview.options]).toEqual([
      ['limit', '5'],
      ['format', 'Parquet'],
    ]);
    expect(preview.flags.has('count')).toBe(true);
    const imp = parseCommand('import s3://lake/a.csv into db.t create=yes', 'id UInt64,\n`the name` Nullable(String)\n-- note\n');
    expect(imp).toMatchObject({ verb: 'import', table: 'db.t', columns: [{ name: 'id', type: 'UInt64' }, { name: 'the name', type: 'Nullable(String)' }] });
    expect(parseCommand('', 'schema s3://lake/a.csv')).toMatchObject({ verb: 'schema', url: 's3://lake/a.csv' });
    expect(parseCommand('', '')).toMatchObject({ verb: 'help' });
  });

  it('names what it did not understand', () => {
    expect(() => parseCommand('preview s3://lake/a.csv colour=red', '')).toThrow(/unknown option "colour"/);
    expect(() => parseCommand('preview', '')).toThrow(/needs an s3:\/\/bucket\/path URL/);
    expect(() => parseCommand('import s3://lake/a.csv', '')).toThrow(/table is missing/);
    expect(() => parseCommand('frobnicate', '')).toThrow(/unknown %%s3 command/);
  });
});

describe('connections', () => {
  it('reads the default connection and named ones (keys from the environment), never listing keys', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'chlab-s3-conn-'));
    const file = path.join(dir, 's3.json');
    writeFileSync(file, JSON.stringify({ connections: { archive: { endpoint: 'minio.internal:9000', access_key_id: '${ARCH_ID}', secret_access_key: '${ARCH_SECRET}' }, public: { region: 'eu-west-1' } } }));
    const connections = loadConnections(
      { ...base, endpoint: 'http://127.0.0.1:9000/', accessKeyId: 'AKIADEFAULT', secretAccessKey: 'default-secret-xyz', connectionsFile: file },
      { ARCH_ID: 'AKIAARCHIVE', ARCH_SECRET: 'archive-secret-abc' },
    );
    expect(connections.map((c) => [c.name, c.endpoint, c.urlStyle, c.collection])).toEqual([
      ['default', 'http://127.0.0.1:9000', 'path', 's3_default'],
      ['archive', 'https://minio.internal:9000', 'path', 's3_archive'],
      ['public', 'https://s3.eu-west-1.amazonaws.com', 'virtual', 's3_public'],
    ]);
    expect(connections[1]!.secretAccessKey).toBe('archive-secret-abc');
    expect(connections[2]!.accessKeyId).toBeUndefined();
    expect(scrubSecrets('failed with archive-secret-abc and default-secret-xyz')).toBe('failed with [HIDDEN] and [HIDDEN]');
    expect(() => loadConnections({ ...base, connectionsFile: file }, {})).toThrow(/ARCH_ID is not set/);
  });

  it('refuses keys in the URL and half a key pair', () => {
    expect(() => normalizeEndpoint('http://user:pass@host', 'S3_ENDPOINT')).toThrow(/not in the URL/);
    expect(() => normalizeEndpoint('ftp://host', 'S3_ENDPOINT')).toThrow(/http/);
    expect(() => loadConnections({ ...base, endpoint: 'http://h', accessKeyId: 'AKIA' })).toThrow(/both/);
  });

  it('scrubs credentials in URLs and AWS signature material', () => {
    expect(scrubSecrets('GET https://AKIAX:s3cr3t@host/b?X-Amz-Signature=abc123&X-Amz-Credential=AKIAX%2F2024')).toBe(
      'GET https://[HIDDEN]@host/b?X-Amz-Signature=[HIDDEN]&X-Amz-Credential=[HIDDEN]',
    );
    expect(scrubSecrets("secret_access_key = 'abc'")).toBe("secret_access_key = '[HIDDEN]'");
  });
});
