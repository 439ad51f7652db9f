import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { HeadBucketCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpRequest } from '@smithy/types';
import type { S3Connection } from './connections.js';
import { S3Error } from './errors.js';

// The SDK warns on every start that releases from 2027 on need Node 22; chlab pins a release that runs on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface BucketEntry {
  name: string;
  created: string | null;
}

export interface ObjectEntry {
  key: string;
  size: number;
  last_modified: string | null;
}

export interface ListPage {
  bucket: string;
  prefix: string;
  prefixes: string[];
  objects: ObjectEntry[];
  /** Pass back as `token` for the next page; null on the last page. */
  next_token: string | null;
  truncated: boolean;
}

export interface ListOptions {
  /** Entries per page (1–1000, default 200). */
  limit?: number;
  /** The `next_token` of the previous page. */
  token?: string;
  /** Start after this key (a position a notebook can write down, unlike a token). */
  after?: string;
}

/** For tests: route requests through an agent (e.g. one resolving virtual-hosted names to loopback). */
export interface ListingOptions {
  agent?: HttpAgent | HttpsAgent;
}

/**
 * Buckets and objects through the S3 API (AWS SDK v3, path-style for MinIO-like endpoints). Reading data goes
 * through ClickHouse; this client only lists and checks existence, so the proxy can answer with clear errors.
 */
export class S3Listing {
  private readonly clients = new Map<string, S3Client>();

  constructor(private readonly options: ListingOptions = {}) {}

  private client(connection: S3Connection): S3Client {
    let client = this.clients.get(connection.name);
    if (!client) {
      const anonymous = !connection.accessKeyId;
      client = new S3Client({
        endpoint: connection.endpoint,
        region: connection.region,
        forcePathStyle: connection.urlStyle === 'path',
        credentials: { accessKeyId: connection.accessKeyId ?? '', secretAccessKey: connection.secretAccessKey ?? '' },
        // Anonymous connections (public buckets) send unsigned requests.
        ...(anonymous ? { signer: { sign: async (request: HttpRequest) => request } } : {}),
        maxAttempts: 2,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: new NodeHttpHandler({
          connectionTimeout: 5000,
          requestTimeout: 30_000,
          ...(this.options.agent ? { httpAgent: this.options.agent as HttpAgent, httpsAgent: this.options.agent as HttpsAgent } : {}),
        }),
      });
      this.clients.set(connection.name, client);
    }
    return client;
  }

  async buckets(connection: S3Connection, signal?: AbortSignal): Promise<BucketEntry[]> {
    try {
      const result = await this.client(connection).send(new ListBucketsCommand({}), { abortSignal: signal });
      return (result.Buckets ?? [])
        .filter((b): b is typeof b & { Name: string } => typeof b.Name === 'string')
        .map((b) => ({ name: b.Name, created: b.CreationDate ? b.CreationDate.toISOString() : null }))
        .sort((a, b) => a.name.localeCompare(b.name));
    } catch (error) {
      throw s3ApiError(error, connection, {});
    }
  }

  /** One page of a "folder": the sub-prefixes and the objects directly in `prefix`. */
  async list(connection: S3Connection, bucket: string, prefix: string, options: ListOptions = {}, signal?: AbortSignal): Promise<ListPage> {
    const limit = Math.min(Math.max(options.limit ?? 200, 1), 1000);
    try {
      const result = await this.client(connection).send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix || undefined,
          Delimiter: '/',
          MaxKeys: limit,
          ContinuationToken: options.token || undefined,
          StartAfter: options.token ? undefined : options.after || undefined,
        }),
        { abortSignal: signal },
      );
      const truncated = result.IsTruncated === true;
      return {
        bucket,
        prefix,
        prefixes: (result.CommonPrefixes ?? []).map((p) => p.Prefix).filter((p): p is string => typeof p === 'string'),
        objects: (result.Contents ?? [])
          .filter((o) => typeof o.Key === 'string' && o.Key !== prefix)
          .map((o) => ({ key: o.Key!, size: Number(o.Size ?? 0), last_modified: o.LastModified ? o.LastModified.toISOString() : null })),
        next_token: truncated ? (result.NextContinuationToken ?? null) : null,
        truncated,
      };
    } catch (error) {
      throw s3ApiError(error, connection, { bucket });
    }
  }

  /** Throws a clear S3Error when the bucket or the key is missing or the keys are refused. */
  async checkObject(connection: S3Connection, bucket: string, key: string, signal?: AbortSignal): Promise<{ size: number; last_modified: string | null }> {
    try {
      const head = await this.client(connection).send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
      return { size: Number(head.ContentLength ?? 0), last_modified: head.LastModified ? head.LastModified.toISOString() : null };
    } catch (error) {
      if (statusOf(error) === 404) {
        await this.checkBucket(connection, bucket, signal);
        throw new S3Error(404, `No such key: s3://${bucket}/${key} does not exist`);
      }
      throw s3ApiError(error, connection, { bucket, key });
    }
  }

  async checkBucket(connection: S3Connection, bucket: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.client(connection).send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
    } catch (error) {
      throw s3ApiError(error, connection, { bucket });
    }
  }

  close(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** An SDK error as an S3Error a user can act on (the SDK's messages carry no keys; scrubbed anyway). */
export function s3ApiError(error: unknown, connection: S3Connection, where: { bucket?: string; key?: string }): S3Error {
  if (error instanceof S3Error) return error;
  const e = error as { name?: string; Code?: string; code?: string; message?: string };
  const code = e.Code ?? e.name ?? '';
  const status = statusOf(error);
  const target = where.key !== undefined ? `s3://${where.bucket}/${where.key}` : where.bucket !== undefined ? `bucket "${where.bucket}"` : connection.endpoint;
  if (code === 'NoSuchBucket' || (status === 404 && where.key === undefined && where.bucket !== undefined)) {
    return new S3Error(404, `No such bucket: "${where.bucket}" does not exist on ${connection.endpoint} (connection ${connection.name})`);
  }
  if (code === 'NoSuchKey' || code === 'NotFound' || status === 404) return new S3Error(404, `No such key: ${target} does not exist`);
  if (code === 'SignatureDoesNotMatch' || code === 'InvalidAccessKeyId' || code === 'AccessDenied' || code === 'InvalidToken' || code === 'ExpiredToken' || status === 403 || status === 401) {
    const why = code && code !== 'Forbidden' && code !== 'AccessDenied' && !/^\d+$/.test(code) ? ` (${code})` : '';
    return new S3Error(403, `Access denied to ${target}${why}: check the access key and secret of S3 connection "${connection.name}"`);
  }
  if (e.code && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EAI_AGAIN|EPIPE)$/.test(e.code)) {
    return new S3Error(502, `The S3 endpoint ${connection.endpoint} is unreachable (${e.code})`);
  }
  if (code === 'TimeoutError' || code === 'AbortError') return new S3Error(504, `The S3 endpoint ${connection.endpoint} did not answer in time`);
  return new S3Error(502, `S3 request to ${target} failed: ${code ? `${code}: ` : ''}${e.message ?? String(error)}`);
}
