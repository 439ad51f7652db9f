// Values the vitest globalSetup (tests/setup/global.ts) passes to test files via provide()/inject().
// Read them through tests/support/services.ts rather than calling inject() directly.
import type { PostgresInfo } from './postgres-server.js';
import type { ClickHouseInfo } from './clickhouse-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The shared throwaway PostgreSQL 15 cluster (globalSetup fails without it; null only with CHLAB_TEST_SERVICES=none). */
    postgres: PostgresInfo | null;
    /** The shared ClickHouse server (Debian 18.16), or null when the binary is absent outside CI. */
    clickhouse: ClickHouseInfo | null;
    /** Why `clickhouse` is null (empty string when it is set). */
    clickhouseSkipReason: string;
  }
}
