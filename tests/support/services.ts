/// <reference path="./provided.d.ts" />
// Test-side access to the servers started once per run by tests/setup/global.ts.
import { inject } from 'vitest';
import type { PostgresInfo } from './postgres-server.js';
import type { ClickHouseInfo } from './clickhouse-server.js';

export type { PostgresInfo, ClickHouseInfo };

/** The shared PostgreSQL (database `chlab_test`). Create your own schema/tables; don't drop the database. */
export function sharedPostgres(): PostgresInfo {
  const pg = inject('postgres');
  if (!pg) {
    throw new Error(
      process.env.CHLAB_TEST_SERVICES === 'none'
        ? 'no shared PostgreSQL: CHLAB_TEST_SERVICES=none'
        : 'no shared PostgreSQL: is tests/setup/global.ts configured as globalSetup?',
    );
  }
  return pg;
}

/** False only when the run was started with CHLAB_TEST_SERVICES=none (outside CI): use describe.skipIf. */
export function hasSharedPostgres(): boolean {
  return !!inject('postgres');
}

/**
 * The shared ClickHouse server, or null (then `clickhouseSkipReason()` says why; use describe.skipIf).
 * Never stop or kill it: start your own with startClickHouseServer() for fault tests.
 */
export function sharedClickHouse(): ClickHouseInfo | null {
  return inject('clickhouse') ?? null;
}

export function clickhouseSkipReason(): string {
  return inject('clickhouseSkipReason') || (inject('clickhouse') ? '' : 'globalSetup provided no ClickHouse server');
}
