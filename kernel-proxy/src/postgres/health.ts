import pg from 'pg';
import type { PostgresConfig } from '../config.js';

export interface PostgresHealth {
  configured: boolean;
  ok: boolean;
  version?: string;
  error?: string;
}

export async function checkPostgres(config: PostgresConfig | undefined): Promise<PostgresHealth> {
  if (!config) return { configured: false, ok: false, error: 'POSTGRES_HOST is not set' };
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 3000, query_timeout: 3000 });
  try {
    await client.connect();
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return { configured: true, ok: true, version: result.rows[0]?.server_version };
  } catch (error) {
    return { configured: true, ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}
