#!/usr/bin/env node
// @ts-check
// A local S3 server on loopback, in its own process: npm `s3rver` (the S3 REST protocol over a folder)
// behind a front that checks AWS Signature V4 with @smithy/signature-v4, which s3rver itself does not do
// (it accepts any V4 signature from a known key id). So a wrong secret gets `403 SignatureDoesNotMatch`,
// as on AWS and MinIO.
//
// Used by `chlab start` for the demo bucket when no S3_ENDPOINT is configured, and by the tests.
// Plain JavaScript on purpose: it runs as a child process both from the built proxy and from tests that
// run TypeScript sources, and must not depend on a build.
//
// Configuration: JSON in the environment variable CHLAB_LOCAL_S3 (not argv: other users can read a command line)
//   {"host":"127.0.0.1","port":0,"directory":"/…","accessKeyId":"…","secretAccessKey":"…","buckets":["demo"]}
// Prints one line `{"ready":true,"port":N}` on stdout when listening. Exits when stdin closes (the parent
// is gone) or on SIGTERM/SIGINT.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { timingSafeEqual } from 'node:crypto';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');
/** @type {any} */
const AWSAccount = require('s3rver/lib/models/account');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');

/** @type {{host?: string, port?: number, directory: string, accessKeyId: string, secretAccessKey: string, buckets?: string[]}} */
const options = JSON.parse(process.env.CHLAB_LOCAL_S3 ?? '{}');
delete process.env.CHLAB_LOCAL_S3;
if (!options.directory || !options.accessKeyId || !options.secretAccessKey) {
  process.stderr.write('local-s3-server: directory, accessKeyId and secretAccessKey are required\n');
  process.exit(2);
}

// s3rver knows one hard-coded key pair (S3RVER/S3RVER): replace it with ours.
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
AWSAccount.DUMMY_ACCOUNT.createKeyPair(options.accessKeyId, options.secretAccessKey);

const s3rver = new S3rver({
  silent: true,
  directory: options.directory,
  configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  vhostBuckets: true,
  // Virtual-hosted requests name the bucket in the host: <bucket>.s3.localhost.
  serviceEndpoint: 'localhost',
});
const handler = s3rver.callback();

/** @param {import('node:http').ServerResponse} res @param {number} status @param {string} code @param {string} message */
function s3Error(res, status, code, message) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>0</RequestId></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const AUTH = /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request,\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/;

/**
 * Recomputes the request's V4 signature with the known secret. The payload hash is the one the client
 * declared (x-amz-content-sha256), as S3 does for header-signed requests.
 * @param {import('node:http').IncomingMessage} req
 * @returns {Promise<null | {status: number, code: string, message: string}>}
 */
async function verify(req) {
  const authorization = req.headers.authorization;
  if (!authorization) return { status: 403, code: 'AccessDenied', message: 'Anonymous access is not allowed.' };
  const match = AUTH.exec(authorization);
  if (!match) return { status: 400, code: 'AuthorizationHeaderMalformed', message: 'Only AWS Signature Version 4 is supported.' };
  const [, keyId, , region, service, signedHeaderList, signature] = /** @type {string[]} */ (match);
  if (keyId !== options.accessKeyId) return { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const dateMatch = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dateMatch) return { status: 403, code: 'AccessDenied', message: 'x-amz-date is missing or malformed.' };
  const [, y, mo, d, h, mi, s] = dateMatch;
  const signingDate = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));

  const signedHeaders = (signedHeaderList ?? '').split(';');
  /** @type {Record<string, string>} */
  const headers = {};
  for (const name of signedHeaders) {
    const value = req.headers[name];
    if (value === undefined) return { status: 403, code: 'SignatureDoesNotMatch', message: `Signed header ${name} is missing.` };
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  /** @type {Record<string, string | string[]>} */
  const query = {};
  for (const [k, v] of url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    region: region ?? 'us-east-1',
    service: service ?? 's3',
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false,
    applyChecksum: false,
  });
  const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
  const signed = await signer.sign(
    { method: req.method ?? 'GET', protocol: 'http:', hostname: String(req.headers.host ?? '').replace(/:\d+$/, ''), path: rawPath, query, headers },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? signed.headers.Authorization ?? ''))?.[1] ?? '';
  const ok = expected.length === 64 && timingSafeEqual(Buffer.from(expected), Buffer.from(signature ?? ''));
  return ok ? null : { status: 403, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.' };
}

/** @param {string} text */
const xml = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The bucket a request names: `<bucket>.s3.localhost` (virtual-hosted) or the first path segment.
 * @param {import('node:http').IncomingMessage} req
 */
function bucketOf(req) {
  const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
  const vhost = /^(.+)\.s3\.localhost$/.exec(host);
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (vhost) return { bucket: vhost[1] ?? '', rest: path.slice(1) };
  const [, bucket = '', rest = ''] = /^\/([^/]*)\/?(.*)$/.exec(path) ?? [];
  return { bucket: decodeURIComponent(bucket), rest };
}

/**
 * ListObjectsV2 done right: s3rver 3.7 loses common prefixes that hold only sub-folders (`sales/` with just
 * `sales/2024/…`) and fails on pages that end in a common prefix. Keys come from its store, without a delimiter
 * (that part works); prefixes, paging and continuation tokens are computed here as S3 does.
 * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
 * @returns {Promise<boolean>} whether the request was a listing and was answered
 */
async function listObjectsV2(req, res) {
  if (req.method !== 'GET') return false;
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.searchParams.get('list-type') !== '2') return false;
  const { bucket, rest } = bucketOf(req);
  if (rest !== '') return false;
  if (!(await s3rver.store.getBucket(bucket))) {
    s3Error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
    return true;
  }
  const prefix = url.searchParams.get('prefix') ?? '';
  const delimiter = url.searchParams.get('delimiter') ?? '';
  const maxKeys = Math.min(1000, Math.max(0, Number(url.searchParams.get('max-keys') ?? 1000) || 0));
  const token = url.searchParams.get('continuation-token');
  const startAfter = token ? Buffer.from(token, 'base64url').toString('utf8') : (url.searchParams.get('start-after') ?? '');
  const { objects } = await s3rver.store.listObjects(bucket, { prefix, maxKeys: Infinity });
  /** @type {{key: string, object?: any}[]} */
  const entries = [];
  for (const object of objects.sort((/** @type {any} */ a, /** @type {any} */ b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const key = String(object.key);
    const idx = delimiter ? key.slice(prefix.length).indexOf(delimiter) : -1;
    const entryKey = idx === -1 ? key : key.slice(0, prefix.length + idx + delimiter.length);
    // A common prefix counts once, and is skipped when the page before ended inside it.
    if (entryKey <= startAfter || (idx !== -1 && startAfter.startsWith(entryKey))) continue;
    if (idx !== -1 && entries.at(-1)?.key === entryKey) continue;
    entries.push(idx === -1 ? { key, object } : { key: entryKey });
  }
  const page = entries.slice(0, maxKeys);
  const truncated = entries.length > page.length;
  const last = page.at(-1);
  // Past the last entry: for a common prefix, past every key under it.
  const next = truncated && last ? Buffer.from(last.object ? last.key : `${last.key}\uffff`, 'utf8').toString('base64url') : '';
  const contents = page
    .filter((e) => e.object)
    .map(
      ({ key, object }) =>
        `<Contents><Key>${xml(key)}</Key><LastModified>${object.lastModifiedDate.toISOString()}</LastModified><ETag>${xml(String(object.metadata.etag ?? ''))}</ETag><Size>${object.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    )
    .join('');
  const prefixes = page
    .filter((e) => !e.object)
    .map((e) => `<CommonPrefixes><Prefix>${xml(e.key)}</Prefix></CommonPrefixes>`)
    .join('');
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xml(bucket)}</Name><Prefix>${xml(prefix)}</Prefix>` +
    `${delimiter ? `<Delimiter>${xml(delimiter)}</Delimiter>` : ''}<MaxKeys>${maxKeys}</MaxKeys><KeyCount>${page.length}</KeyCount><IsTruncated>${truncated}</IsTruncated>` +
    `${token ? `<ContinuationToken>${xml(token)}</ContinuationToken>` : ''}${next ? `<NextContinuationToken>${next}</NextContinuationToken>` : ''}${contents}${prefixes}</ListBucketResult>`;
  res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  return true;
}

const server = createServer((req, res) => {
  verify(req).then(
    async (problem) => {
      if (problem) {
        req.resume();
        return s3Error(res, problem.status, problem.code, problem.message);
      }
      if (await listObjectsV2(req, res)) return;
      handler(req, res);
    },
    (error) => {
      req.resume();
      s3Error(res, 500, 'InternalError', error instanceof Error ? error.message : String(error));
    },
  );
});

// s3rver.run() would create the configured buckets and listen itself; we listen behind the verifier.
await s3rver.configureBuckets();

server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
