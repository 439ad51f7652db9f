import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ClickHouseHttpConfig {
  kind: 'http';
  url: string;
  username: string;
  password: string;
  database: string;
  /** CLICKHOUSE_CLUSTER: a cluster of the server; S3 previews and imports then use s3Cluster(). */
  cluster?: string;
}

export interface ClickHouseEmbeddedConfig {
  kind: 'embedded';
  dataDir: string;
  database: string;
}

export type ClickHouseConfig = ClickHouseHttpConfig | ClickHouseEmbeddedConfig;

export interface PostgresConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface S3Config {
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** CHLAB_S3_URL_STYLE: `path` (MinIO-style, default with S3_ENDPOINT) or `virtual` (bucket in the host name). */
  urlStyle?: 'path' | 'virtual';
  /** CHLAB_S3_CONNECTIONS: a JSON file with further named S3 connections (see kernel-proxy/src/s3/connections.ts). */
  connectionsFile?: string;
  /** CHLAB_S3_DEMO (default on): `chlab start` without S3_ENDPOINT serves a local demo bucket. */
  demo: boolean;
  /** Set by `chlab start` when the endpoint is that local demo server. */
  demoServer?: boolean;
}

export interface Limits {
  /** Rows kept in a result sent to a client (cells and REST). */
  maxResultRows: number;
  /** Bytes of Arrow kept in a result sent to a client. */
  maxResultBytes: number;
  /** Passed to ClickHouse as max_execution_time (seconds). */
  maxExecutionTimeSeconds: number;
  /** Rows embedded in a cell output (the bounded preview saved in the notebook). */
  previewRows: number;
  /** Rows a REST response carries at most. */
  restMaxRows: number;
  /** Largest accepted HTTP body / WebSocket message. */
  maxMessageBytes: number;
}

export interface Config {
  host: string;
  port: number;
  token: string;
  tokenWasGenerated: boolean;
  dataDir: string;
  notebookDir: string;
  /** Where the built JupyterLab bundle lives (extension/app/build). */
  staticDir: string;
  clickhouse: ClickHouseConfig;
  postgres?: PostgresConfig;
  /** CHLAB_POSTGRES_CONNECTIONS: a JSON file of further named PostgreSQL sources (see postgres/connections-file.ts). */
  postgresConnectionsFile?: string;
  /** CHLAB_DEMO_POSTGRES (default on): without POSTGRES_HOST, migrations read from an embedded demo PostgreSQL (PGlite). */
  demoPostgres?: boolean;
  s3: S3Config;
  limits: Limits;
  /** CHLAB_USERS_FILE: users and roles (JSON); without it, the one token holder is the only (admin) user. */
  usersFile?: string;
  logLevel: string;
}

export const DEFAULT_LIMITS: Limits = {
  maxResultRows: 1_000_000,
  maxResultBytes: 256 * 1024 * 1024,
  maxExecutionTimeSeconds: 300,
  previewRows: 1000,
  restMaxRows: 10_000,
  maxMessageBytes: 16 * 1024 * 1024,
};

const intFromEnv = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return fallback;
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) {
        ctx.addIssue({ code: 'custom', message: `expected a non-negative integer, got "${value}"` });
        return z.NEVER;
      }
      return n;
    });

const EnvSchema = z.object({
  PORT: intFromEnv(8888),
  CHLAB_HOST: z.string().optional(),
  CHLAB_TOKEN: z.string().min(8, 'CHLAB_TOKEN must be at least 8 characters').optional(),
  CHLAB_DATA_DIR: z.string().optional(),
  CHLAB_NOTEBOOK_DIR: z.string().optional(),
  CHLAB_STATIC_DIR: z.string().optional(),
  CHLAB_LOG_LEVEL: z.string().optional(),
  CHLAB_MAX_RESULT_ROWS: intFromEnv(DEFAULT_LIMITS.maxResultRows),
  CHLAB_MAX_RESULT_BYTES: intFromEnv(DEFAULT_LIMITS.maxResultBytes),
  CHLAB_MAX_EXECUTION_TIME: intFromEnv(DEFAULT_LIMITS.maxExecutionTimeSeconds),
  CHLAB_PREVIEW_ROWS: intFromEnv(DEFAULT_LIMITS.previewRows),
  CHLAB_MAX_MESSAGE_BYTES: intFromEnv(DEFAULT_LIMITS.maxMessageBytes),
  CHLAB_REST_MAX_ROWS: intFromEnv(DEFAULT_LIMITS.restMaxRows),
  CHLAB_USERS_FILE: z.string().optional(),
  CHLAB_POSTGRES_CONNECTIONS: z.string().optional(),
  CLICKHOUSE_URL: z.string().url().optional(),
  CLICKHOUSE_HOST: z.string().optional(),
  CLICKHOUSE_PORT: intFromEnv(8123),
  CLICKHOUSE_USER: z.string().optional(),
  CLICKHOUSE_PASSWORD: z.string().optional(),
  CLICKHOUSE_DATABASE: z.string().optional(),
  POSTGRES_HOST: z.string().optional(),
  POSTGRES_PORT: intFromEnv(5432),
  POSTGRES_USER: z.string().optional(),
  POSTGRES_PASSWORD: z.string().optional(),
  POSTGRES_DB: z.string().optional(),
  CHLAB_DEMO_POSTGRES: z.string().optional(),
  S3_ENDPOINT: z.string().optional(),
  S3_REGION: z.string().optional(),
  AWS_ACCESS_KEY_ID: z.string().optional(),
  AWS_SECRET_ACCESS_KEY: z.string().optional(),
  CHLAB_S3_URL_STYLE: z.enum(['path', 'virtual']).optional(),
  CHLAB_S3_CONNECTIONS: z.string().optional(),
  CHLAB_S3_DEMO: z.enum(['0', '1', 'false', 'true', 'no', 'yes', 'off', 'on']).optional(),
  CLICKHOUSE_CLUSTER: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'CLICKHOUSE_CLUSTER: letters, digits, _ . - only').optional(),
});

export class ConfigError extends Error {}

/** Reads `.env` (if present) into process.env without overriding what is already set. */
export function loadDotEnv(file = path.join(process.cwd(), '.env')): void {
  if (existsSync(file)) process.loadEnvFile(file);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid configuration: ${details}`);
  }
  const e = parsed.data;
  const dataDir = path.resolve(e.CHLAB_DATA_DIR ?? path.join(REPO_ROOT, '.chlab'));
  const database = e.CLICKHOUSE_DATABASE ?? 'default';

  let clickhouse: ClickHouseConfig;
  if (e.CLICKHOUSE_URL || e.CLICKHOUSE_HOST) {
    const url = e.CLICKHOUSE_URL ?? `http://${e.CLICKHOUSE_HOST}:${e.CLICKHOUSE_PORT}`;
    clickhouse = {
      kind: 'http',
      url,
      username: e.CLICKHOUSE_USER ?? 'default',
      password: e.CLICKHOUSE_PASSWORD ?? '',
      database,
      cluster: e.CLICKHOUSE_CLUSTER,
    };
  } else {
    clickhouse = { kind: 'embedded', dataDir: path.join(dataDir, 'chdb'), database };
  }

  const postgres: PostgresConfig | undefined = e.POSTGRES_HOST
    ? {
        host: e.POSTGRES_HOST,
        port: e.POSTGRES_PORT,
        user: e.POSTGRES_USER ?? 'postgres',
        password: e.POSTGRES_PASSWORD ?? '',
        database: e.POSTGRES_DB ?? 'postgres',
      }
    : undefined;

  const token = e.CHLAB_TOKEN ?? randomBytes(24).toString('hex');
  return {
    host: e.CHLAB_HOST ?? '127.0.0.1',
    port: e.PORT,
    token,
    tokenWasGenerated: e.CHLAB_TOKEN === undefined,
    dataDir,
    notebookDir: path.resolve(e.CHLAB_NOTEBOOK_DIR ?? path.join(REPO_ROOT, 'notebooks')),
    staticDir: path.resolve(e.CHLAB_STATIC_DIR ?? path.join(REPO_ROOT, 'extension', 'app', 'build')),
    clickhouse,
    postgres,
    demoPostgres: !['0', 'false', 'no', 'off'].includes(e.CHLAB_DEMO_POSTGRES ?? '1'),
    s3: {
      endpoint: e.S3_ENDPOINT,
      region: e.S3_REGION ?? 'us-east-1',
      accessKeyId: e.AWS_ACCESS_KEY_ID,
      secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
      urlStyle: e.CHLAB_S3_URL_STYLE,
      connectionsFile: e.CHLAB_S3_CONNECTIONS ? path.resolve(e.CHLAB_S3_CONNECTIONS) : undefined,
      demo: !['0', 'false', 'no', 'off'].includes(e.CHLAB_S3_DEMO ?? '1'),
    },
    limits: {
      maxResultRows: e.CHLAB_MAX_RESULT_ROWS,
      maxResultBytes: e.CHLAB_MAX_RESULT_BYTES,
      maxExecutionTimeSeconds: e.CHLAB_MAX_EXECUTION_TIME,
      previewRows: e.CHLAB_PREVIEW_ROWS,
      maxMessageBytes: e.CHLAB_MAX_MESSAGE_BYTES,
      restMaxRows: e.CHLAB_REST_MAX_ROWS,
    },
    usersFile: e.CHLAB_USERS_FILE ? path.resolve(e.CHLAB_USERS_FILE) : undefined,
    postgresConnectionsFile: e.CHLAB_POSTGRES_CONNECTIONS ? path.resolve(e.CHLAB_POSTGRES_CONNECTIONS) : undefined,
    logLevel: e.CHLAB_LOG_LEVEL ?? 'info',
  };
}
