import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { S3Config } from '../config.js';
import { registerSecret } from '../util/secrets.js';
import { S3Error } from './errors.js';
import { expandEnv } from '../util/env-expand.js';

/** One S3-compatible endpoint (AWS, MinIO, any S3 API) with its keys. The keys never leave the server. */
export interface S3Connection {
  /** `default` (from S3_ENDPOINT / AWS_* variables) or a name from the connections file. */
  name: string;
  /** Scheme, host, port and optional base path; no trailing slash. */
  endpoint: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** `path`: http://host/bucket/key (MinIO, most S3 APIs); `virtual`: http://bucket.host/key (AWS). */
  urlStyle: 'path' | 'virtual';
  /** The ClickHouse named collection SQL cells use: `s3(s3_default, filename = 'bucket/key')`. */
  collection: string;
  /** The local demo server started by `chlab start`. */
  demo?: boolean;
}

/** What the browser may know about a connection. */
export interface S3ConnectionInfo {
  name: string;
  endpoint: string;
  region: string;
  url_style: 'path' | 'virtual';
  collection: string;
  anonymous: boolean;
  demo: boolean;
}

export const CONNECTION_NAME = /^[a-z][a-z0-9_]{0,47}$/;

const ConnectionEntry = z.object({
  endpoint: z.string().optional(),
  region: z.string().regex(/^[a-z0-9-]{1,64}$/, 'region: lowercase letters, digits and -').optional(),
  access_key_id: z.string().optional(),
  secret_access_key: z.string().optional(),
  url_style: z.enum(['path', 'virtual']).optional(),
});

const ConnectionsFile = z.object({
  connections: z.record(z.string().regex(CONNECTION_NAME, 'connection names: a-z, 0-9 and _, starting with a letter'), ConnectionEntry),
});

const expand = (value: string | undefined, env: NodeJS.ProcessEnv, where: string) => expandEnv(value, env, where, (message) => new S3Error(500, message));

/** Normalizes and checks an endpoint URL: http(s), no credentials, query or fragment. */
export function normalizeEndpoint(raw: string, where: string): string {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    throw new S3Error(500, `${where}: not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new S3Error(500, `${where}: must be an http(s) URL`);
  if (url.username || url.password) throw new S3Error(500, `${where}: put keys in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, not in the URL`);
  if (url.search || url.hash) throw new S3Error(500, `${where}: no query or fragment allowed`);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

function awsEndpoint(region: string): string {
  return `https://s3.${region}.amazonaws.com`;
}

function make(
  name: string,
  entry: { endpoint?: string; region?: string; accessKeyId?: string; secretAccessKey?: string; urlStyle?: 'path' | 'virtual' },
  where: string,
): S3Connection {
  const region = entry.region ?? 'us-east-1';
  const endpoint = entry.endpoint ? normalizeEndpoint(entry.endpoint, `${where} endpoint`) : awsEndpoint(region);
  if (!!entry.accessKeyId !== !!entry.secretAccessKey) {
    throw new S3Error(500, `${where}: give both an access key id and a secret access key, or neither (anonymous access)`);
  }
  registerSecret(entry.accessKeyId);
  registerSecret(entry.secretAccessKey);
  return {
    name,
    endpoint,
    region,
    accessKeyId: entry.accessKeyId || undefined,
    secretAccessKey: entry.secretAccessKey || undefined,
    // A custom endpoint (MinIO, s3rver, …) is path-style unless told; AWS itself is virtual-hosted.
    urlStyle: entry.urlStyle ?? (entry.endpoint ? 'path' : 'virtual'),
    collection: `s3_${name}`,
  };
}

/**
 * The configured connections: `default` from S3_ENDPOINT / S3_REGION / AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY (when any is set), plus the named ones of the CHLAB_S3_CONNECTIONS file:
 *
 *   {"connections": {"archive": {"endpoint": "https://minio.internal:9000", "region": "us-east-1",
 *     "access_key_id": "${ARCHIVE_KEY_ID}", "secret_access_key": "${ARCHIVE_SECRET}", "url_style": "path"}}}
 */
export function loadConnections(config: S3Config, env: NodeJS.ProcessEnv = process.env): S3Connection[] {
  const connections: S3Connection[] = [];
  if (config.endpoint || config.accessKeyId || config.secretAccessKey) {
    connections.push({
      ...make('default', { ...config, urlStyle: config.urlStyle }, 'S3_ENDPOINT / AWS_ACCESS_KEY_ID'),
      demo: config.demoServer === true,
    });
  }
  if (config.connectionsFile) {
    let parsed: z.infer<typeof ConnectionsFile>;
    try {
      parsed = ConnectionsFile.parse(JSON.parse(readFileSync(config.connectionsFile, 'utf8')));
    } catch (error) {
      const detail = error instanceof z.ZodError ? error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (error as Error).message;
      throw new S3Error(500, `CHLAB_S3_CONNECTIONS (${config.connectionsFile}): ${detail}`);
    }
    for (const [name, entry] of Object.entries(parsed.connections)) {
      if (connections.some((c) => c.name === name)) throw new S3Error(500, `CHLAB_S3_CONNECTIONS: connection "${name}" is defined twice`);
      const where = `CHLAB_S3_CONNECTIONS connection "${name}"`;
      connections.push(
        make(
          name,
          {
            endpoint: expand(entry.endpoint, env, where),
            region: entry.region,
            accessKeyId: expand(entry.access_key_id, env, where),
            secretAccessKey: expand(entry.secret_access_key, env, where),
            urlStyle: entry.url_style,
          },
          where,
        ),
      );
    }
  }
  return connections;
}

export function connectionInfo(c: S3Connection): S3ConnectionInfo {
  return {
    name: c.name,
    endpoint: c.endpoint,
    region: c.region,
    url_style: c.urlStyle,
    collection: c.collection,
    anonymous: !c.accessKeyId,
    demo: c.demo === true,
  };
}
