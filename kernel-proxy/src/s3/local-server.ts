import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, type Config } from '../config.js';
import type { S3Service } from './service.js';

/** The child process script (plain JavaScript, so it runs the same from sources and from the build). */
export const LOCAL_S3_SCRIPT = path.join(REPO_ROOT, 'kernel-proxy', 'src', 's3', 'local-s3-server.mjs');

export interface LocalS3Options {
  /** Where the buckets and objects are kept. */
  directory: string;
  buckets?: string[];
  accessKeyId?: string;
  secretAccessKey?: string;
  port?: number;
  host?: string;
}

export interface LocalS3 {
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts the local S3 server (npm s3rver behind a Signature V4 check) in its own process on loopback.
 * Its own process because embedded chDB runs queries in this one and must reach it over HTTP without the
 * server waiting on this event loop. Keys are random unless given.
 */
export function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  mkdirSync(options.directory, { recursive: true });
  const accessKeyId = options.accessKeyId ?? `CHLAB${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = options.secretAccessKey ?? randomBytes(24).toString('base64url');
  const host = options.host ?? '127.0.0.1';
  const child = spawn(process.execPath, [LOCAL_S3_SCRIPT], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      CHLAB_LOCAL_S3: JSON.stringify({ host, port: options.port ?? 0, directory: options.directory, accessKeyId, secretAccessKey, buckets: options.buckets ?? [] }),
    },
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the local S3 server did not start in 30 s: ${stderr.trim()}`));
    }, 30_000);
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`the local S3 server exited (${code}): ${stderr.trim()}`));
    };
    child.once('exit', onExit);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      const { port } = JSON.parse(line) as { port: number };
      resolve({
        endpoint: `http://${host}:${port}`,
        port,
        accessKeyId,
        secretAccessKey,
        child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

export const DEMO_BUCKET = 'demo';

/** Sample files of the demo bucket, written through ClickHouse (the same s3() path the cells read with). */
const DEMO_FILES: { key: string; format: string; select: string }[] = [
  ...[1, 2, 3].map((month) => ({
    key: `sales/2024/2024-0${month}.parquet`,
    format: 'Parquet',
    select: `SELECT toUInt32(${month * 100000} + number) AS order_id,
       toDate('2024-0${month}-01') + toUInt32(number % 28) AS order_date,
       ['north', 'south', 'east', 'west'][1 + number % 4] AS region,
       ['widget', 'gadget', 'gizmo', 'doohickey', 'thingamajig'][1 + (number * 7 + ${month}) % 5] AS product,
       toUInt16(1 + (number * 13 + ${month}) % 9) AS quantity,
       toDecimal64(round(2.5 + ((number * 37 + ${month}) % 400) / 10, 2), 2) AS unit_price
     FROM numbers(${500 + month * 100})`,
  })),
  {
    key: 'customers/customers.csv',
    format: 'CSVWithNames',
    select: `SELECT number + 1 AS customer_id, concat('Customer ', toString(number + 1)) AS name,
       ['DE', 'FR', 'US', 'BR', 'JP', 'IN'][1 + number % 6] AS country, toDate('2023-01-01') + toUInt32(number * 3) AS signup_date
     FROM numbers(120)`,
  },
  {
    key: 'customers/regions.tsv',
    format: 'TSVWithNames',
    select: `SELECT region, manager FROM values('region String, manager String', ('north', 'Ada'), ('south', 'Grace'), ('east', 'Edsger'), ('west', 'Barbara'))`,
  },
  {
    key: 'events/2024-01-01.jsonl.gz',
    format: 'JSONEachRow',
    select: `SELECT toDateTime('2024-01-01 00:00:00', 'UTC') + number * 37 AS ts, 1 + number % 50 AS user_id,
       ['view', 'click', 'purchase'][1 + number % 3] AS event, if(number % 3 = 2, round(5 + number % 90, 2), NULL) AS value
     FROM numbers(2000)`,
  },
  {
    key: 'events/2024-01-02.jsonl.zst',
    format: 'JSONEachRow',
    select: `SELECT toDateTime('2024-01-02 00:00:00', 'UTC') + number * 41 AS ts, 1 + number % 50 AS user_id,
       ['view', 'click', 'purchase'][1 + (number + 1) % 3] AS event, if((number + 1) % 3 = 2, round(5 + number % 90, 2), NULL) AS value
     FROM numbers(1800)`,
  },
];

/** Fills the demo bucket once (kept in the data folder across restarts). Returns the keys written. */
export async function seedDemoBucket(s3: S3Service): Promise<string[]> {
  const connection = s3.connections.find((c) => c.demo) ?? s3.connection();
  const existing = await s3.listing.list(connection, DEMO_BUCKET, 'sales/2024/', { limit: 10 });
  if (existing.objects.length > 0) return [];
  const { collection, filenamePrefix } = await s3.collections.forBucket(connection, DEMO_BUCKET);
  const written: string[] = [];
  for (const file of DEMO_FILES) {
    await s3.reader.engine.command(
      `INSERT INTO FUNCTION s3(${collection}, filename = {filename:String}, format = {format:String}) ${file.select} SETTINGS s3_truncate_on_insert = 1`,
      { params: { filename: `${filenamePrefix}${file.key}`, format: file.format } },
    );
    written.push(file.key);
  }
  return written;
}

/**
 * With no S3 connection configured (and CHLAB_S3_DEMO not off), starts the local demo server under
 * CHLAB_DATA_DIR/s3 and points `config.s3` at it. Returns the server (stop it on exit), or undefined.
 * The proxy built on that config writes the demo files (S3Service.start).
 */
export async function startDemoS3IfUnconfigured(config: Config): Promise<LocalS3 | undefined> {
  if (!config.s3.demo || config.s3.endpoint || config.s3.accessKeyId) return undefined;
  const local = await startLocalS3({ directory: path.join(config.dataDir, 's3'), buckets: [DEMO_BUCKET] });
  config.s3 = { ...config.s3, endpoint: local.endpoint, accessKeyId: local.accessKeyId, secretAccessKey: local.secretAccessKey, urlStyle: 'path', demoServer: true };
  return local;
}
