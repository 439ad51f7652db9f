import type { S3Connection } from './connections.js';
import { S3Error } from './errors.js';

/** A bucket and a key (or a glob, or a prefix when listing). */
export interface S3Location {
  bucket: string;
  key: string;
}

/** S3 bucket naming rules (3–63 characters, lowercase, digits, `.` and `-`), `_` allowed for older MinIO buckets. */
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function validateBucket(bucket: string, field = 'bucket'): string {
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    throw new S3Error(400, `${field}: "${bucket.slice(0, 80)}" is not a valid bucket name (3–63 characters: a-z, 0-9, . and -)`);
  }
  return bucket;
}

/** Object keys: up to 1024 bytes, no control characters, not starting with `/`. */
export function validateKey(key: string, field = 'key', { allowEmpty = false } = {}): string {
  if (!allowEmpty && key === '') throw new S3Error(400, `${field}: must not be empty`);
  if (Buffer.byteLength(key) > 1024) throw new S3Error(400, `${field}: longer than 1024 bytes`);
  if (CONTROL.test(key)) throw new S3Error(400, `${field}: control characters are not allowed`);
  if (key.startsWith('/')) throw new S3Error(400, `${field}: must not start with "/"`);
  return key;
}

/** Parses `s3://bucket/key`; the key may be a glob (`*`, `**`, `?`, `{a,b}`, `{1..9}`) or, when listing, a prefix. */
export function parseS3Url(url: string, { allowEmptyKey = false } = {}): S3Location {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/s.exec(url.trim());
  if (!match) throw new S3Error(400, `"${url.slice(0, 120)}" is not an S3 URL: write s3://bucket/path`);
  const bucket = validateBucket(match[1]!);
  const key = validateKey(match[2] ?? '', 'key', { allowEmpty: allowEmptyKey });
  return { bucket, key };
}

export function formatS3Url({ bucket, key }: S3Location): string {
  return `s3://${bucket}/${key}`;
}

export function isGlob(key: string): boolean {
  return /[*?{]/.test(key);
}

/**
 * A key as it goes into a URL ClickHouse reads: each byte outside the unreserved set is percent-encoded,
 * except `/` and what ClickHouse reads as a glob (`* ? { } ,`) and `=` (hive-style `year=2024/`).
 */
export function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%2F/g, '/').replace(/%3D/g, '=').replace(/%7B/g, '{').replace(/%7D/g, '}').replace(/%2C/g, ',').replace(/%3F/g, '?');
}

/** The https URL of a bucket (with a trailing slash) in the connection's URL style. */
export function bucketUrl(connection: S3Connection, bucket: string): string {
  if (connection.urlStyle === 'path') return `${connection.endpoint}/${bucket}/`;
  const url = new URL(connection.endpoint);
  return `${url.protocol}//${bucket}.${url.host}${url.pathname.replace(/\/+$/, '')}/`;
}

/** The URL of an object (or a glob) in the connection's URL style: what the s3() table function reads. */
export function objectUrl(connection: S3Connection, location: S3Location): string {
  return `${bucketUrl(connection, location.bucket)}${encodeKey(location.key)}`;
}

/**
 * A ClickHouse string literal. Only for text shown to users (history, the equivalent SQL of a cell) and for
 * the one DDL statement that cannot take parameters (CREATE NAMED COLLECTION): queries bind values as parameters.
 */
export function sqlString(value: string): string {
  let out = "'";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === "'") out += "\\'";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}'`;
}

/** A ClickHouse identifier in backquotes. */
export function sqlIdentifier(name: string): string {
  // eslint-disable-next-line no-control-regex
  if (name === '' || /[\u0000]/.test(name)) throw new S3Error(400, 'an identifier must not be empty or hold NUL');
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

/** `db.table` or `table`: plain names (letters, digits, _), the way the cell and REST accept them. */
export function parseTableName(name: string, field = 'destination_table'): { database?: string; table: string; sql: string; display: string } {
  const match = /^(?:([A-Za-z_][A-Za-z0-9_]{0,127})\.)?([A-Za-z_][A-Za-z0-9_]{0,127})$/.exec(name.trim());
  if (!match) throw new S3Error(400, `${field}: "${name.slice(0, 120)}" is not a table name (write table or database.table: letters, digits and _)`);
  const [, database, table] = match;
  return {
    database,
    table: table!,
    sql: database ? `${sqlIdentifier(database)}.${sqlIdentifier(table!)}` : sqlIdentifier(table!),
    display: database ? `${database}.${table}` : table!,
  };
}
