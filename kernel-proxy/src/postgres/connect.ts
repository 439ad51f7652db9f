import pg from 'pg';
import type { PostgresConfig } from '../config.js';

/**
 * Session settings every migration connection runs with, so COPY text output is what the ClickHouse side
 * parses: ISO dates, UTC instants, ISO 8601 intervals, hex bytea, shortest-exact floats.
 */
export const SESSION_SETTINGS = [
  "SET DateStyle = 'ISO, YMD'",
  "SET IntervalStyle = 'iso_8601'",
  "SET TimeZone = 'UTC'",
  "SET bytea_output = 'hex'",
  'SET extra_float_digits = 3',
  "SET client_encoding = 'UTF8'",
];

export interface ConnectOptions {
  /** Extra statements after the session settings. */
  init?: string[];
  connectTimeoutMs?: number;
  applicationName?: string;
  /** Apply SESSION_SETTINGS (default true). */
  migrationSession?: boolean;
}

/** A connected client. An 'error' listener is attached so a dropped connection never crashes the process. */
export async function connectPostgres(config: PostgresConfig, options: ConnectOptions = {}): Promise<pg.Client> {
  const client = new pg.Client({
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    database: config.database,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: options.applicationName ?? 'chlab-migration',
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    if (options.migrationSession !== false) {
      // One round trip (a simple query may hold several statements): every range's connection pays it.
      await client.query(SESSION_SETTINGS.join('; '));
    }
    for (const statement of options.init ?? []) await client.query(statement);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

/** Runs `fn` with a short-lived client. */
export async function withPostgres<T>(config: PostgresConfig, fn: (client: pg.Client) => Promise<T>, options: ConnectOptions = {}): Promise<T> {
  const client = await connectPostgres(config, options);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A safe description of a PostgreSQL connection (never the password). */
export function describePostgres(config: PostgresConfig): string {
  return `postgresql://${config.host}:${config.port}/${config.database}`;
}

/** PostgreSQL errors as a user-facing message (no stack, no connection secrets). */
export function postgresErrorMessage(error: unknown): string {
  const e = error as { message?: string; code?: string; detail?: string; hint?: string };
  const message = e.message ?? String(error);
  const parts = [message];
  if (e.detail) parts.push(`Detail: ${e.detail}`);
  if (e.hint) parts.push(`Hint: ${e.hint}`);
  if (e.code === 'ECONNREFUSED') return `PostgreSQL is unreachable: ${message}`;
  return parts.join(' ');
}
