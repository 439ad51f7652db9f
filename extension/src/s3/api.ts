/** The proxy's S3 REST API (`/api/s3/*`): the browser sees names, sizes and dates, never a key. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface S3ConnectionInfo {
  name: string;
  endpoint: string;
  region: string;
  url_style: 'path' | 'virtual';
  collection: string;
  anonymous: boolean;
  demo: boolean;
}

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
  next_token: string | null;
  truncated: boolean;
}

export class S3ApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

async function getJson<T>(path: string, query: Record<string, string | undefined>, settings: ServerConnection.ISettings): Promise<T> {
  const search = Object.entries(query)
    .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  const url = URLExt.join(settings.baseUrl, path) + (search ? `?${search}` : '');
  const response = await ServerConnection.makeRequest(url, { method: 'GET' }, settings);
  const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } } & T;
  if (!response.ok) {
    throw new S3ApiError(response.status, body.error?.message ?? `${response.status} ${response.statusText}`);
  }
  return body;
}

export class S3Api {
  constructor(private readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  async connections(): Promise<S3ConnectionInfo[]> {
    return (await getJson<{ connections: S3ConnectionInfo[] }>('api/s3/connections', {}, this.settings)).connections;
  }

  async buckets(connection?: string): Promise<BucketEntry[]> {
    return (await getJson<{ buckets: BucketEntry[] }>('api/s3/buckets', { connection }, this.settings)).buckets;
  }

  list(bucket: string, prefix: string, options: { connection?: string; token?: string; limit?: number } = {}): Promise<ListPage> {
    return getJson<ListPage>(
      'api/s3/list',
      { bucket, prefix, connection: options.connection, token: options.token, limit: options.limit ? String(options.limit) : undefined },
      this.settings
    );
  }
}

/** An s3:// URL as a `%%s3` cell argument: quoted when it holds blanks, quotes or backslashes. */
export function cellUrl(url: string): string {
  return /[\s"'\\]/.test(url) ? `"${url.replace(/[\\"]/g, '\\$&')}"` : url;
}

/** The `%%s3 preview` cell for an object (or a glob), with the connection when it is not the default one. */
export function previewCell(url: string, connection?: string): string {
  const conn = connection && connection !== 'default' ? ` connection=${connection}` : '';
  return `%%s3 preview ${cellUrl(url)}${conn}`;
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** `2024-05-01 14:03` in the browser's time zone (the title holds the exact ISO time). */
export function formatDate(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return iso;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
