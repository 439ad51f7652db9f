/// <reference path="../support/provided.d.ts" />
// vitest globalSetup: once per `npm test` run, start
//   - a throwaway PostgreSQL 15 cluster (required: fails the run if it cannot start), and
//   - a ClickHouse server (Debian's clickhouse-server 18.16): required in CI (process.env.CI), optional on a
//     developer machine without the binary (tests then skip with the reason in `clickhouseSkipReason`),
// hand their coordinates to the test files with project.provide() (types: tests/support/provided.d.ts,
// read them with tests/support/services.ts), and stop both at the end.
//
// CHLAB_TEST_SERVICES=none (ignored in CI) skips both for quick local unit runs.
import type { TestProject } from 'vitest/node';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { startClickHouseServer, findClickHouseServerCommand, CLICKHOUSE_MISSING, type ClickHouseServer } from '../support/clickhouse-server.js';

const log = (msg: string) => process.stderr.write(`[globalSetup] ${msg}\n`);

export default async function setup(project: TestProject) {
  const inCI = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
  if (!inCI && process.env.CHLAB_TEST_SERVICES === 'none') {
    log('CHLAB_TEST_SERVICES=none: no PostgreSQL, no ClickHouse server');
    project.provide('postgres', null);
    project.provide('clickhouse', null);
    project.provide('clickhouseSkipReason', 'CHLAB_TEST_SERVICES=none');
    return async () => undefined;
  }

  let pg: PostgresServer | undefined;
  let ch: ClickHouseServer | undefined;
  let chSkip = '';
  const teardown = async () => {
    await Promise.allSettled([pg?.stop(), ch?.destroy()]);
  };

  try {
    const chCommand = findClickHouseServerCommand();
    if (!chCommand) {
      if (inCI) throw new Error(`CI=${process.env.CI}: ClickHouse server required for the transport tests, but ${CLICKHOUSE_MISSING}`);
      chSkip = CLICKHOUSE_MISSING;
      log(`ClickHouse server tests will be skipped: ${chSkip}`);
    }
    const [pgRes, chRes] = await Promise.allSettled([
      startPostgres(),
      chCommand ? startClickHouseServer({ command: chCommand }) : Promise.resolve(undefined),
    ]);
    if (pgRes.status === 'fulfilled') pg = pgRes.value;
    if (chRes.status === 'fulfilled') ch = chRes.value;
    if (pgRes.status === 'rejected') throw pgRes.reason;
    if (chRes.status === 'rejected') throw chRes.reason;

    log(`PostgreSQL ${pg!.version} on 127.0.0.1:${pg!.port} (db ${pg!.database}) ready in ${pg!.startupMs} ms`);
    if (ch) log(`ClickHouse ${ch.version} on ${ch.url} ready in ${ch.startupMs} ms`);
  } catch (err) {
    await teardown();
    throw err;
  }

  project.provide('postgres', pg!.info());
  project.provide('clickhouse', ch ? ch.info() : null);
  project.provide('clickhouseSkipReason', chSkip);
  return teardown;
}
