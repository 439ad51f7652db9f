// The `migration` bench of `npm run bench` (or `npm run bench -- migration`): migrates a 1M-row, 9-column table from a throwaway PostgreSQL 15 into embedded chDB and prints,
// measured in the same run, the migration time ÷ `COPY events TO STDOUT (FORMAT binary)` and ÷ ClickHouse's own
// `INSERT … SELECT FROM postgresql(…)`, with the peak memory of the migrating process. The migration checks values
// as they stream (no separate value-check scan) and loads `parallelism` ranges side by side on chDB connections.
// Env: CHLAB_BENCH_MIGRATION_ROWS (default 1000000), CHLAB_BENCH_MIGRATION_RUNS (default 2), CHLAB_BENCH_MIGRATION_BATCH, CHLAB_BENCH_MIGRATION_PARALLELISM.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { availableParallelism, loadavg } from 'node:os';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { startBenchPostgres } from './pg-cluster.js';

const ROWS = Number(process.env.CHLAB_BENCH_MIGRATION_ROWS ?? 1_000_000);
const RUNS = Math.max(1, Number(process.env.CHLAB_BENCH_MIGRATION_RUNS ?? 2));
const BATCH = Number(process.env.CHLAB_BENCH_MIGRATION_BATCH ?? 100_000);
const PARALLELISM = Number(process.env.CHLAB_BENCH_MIGRATION_PARALLELISM ?? 2);
const here = path.dirname(fileURLToPath(import.meta.url));

const log = (s: string) => process.stdout.write(`${s}\n`);
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const cpuSec = (ms: number | undefined) => (ms === undefined ? 'n/a' : sec(ms));

function worker(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(here, 'migration-worker.js'), ...args], { maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${args[0]} worker failed: ${stderr || error.message}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>);
    });
  });
}

async function copyBinary(client: pg.Client): Promise<number> {
  const t = performance.now();
  let bytes = 0;
  await pipeline(
    client.query(copyTo('COPY events TO STDOUT (FORMAT binary)')),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        bytes += chunk.length;
        cb();
      },
    }),
  );
  if (bytes === 0) throw new Error('COPY sent nothing');
  return performance.now() - t;
}

export async function runMigrationBench(): Promise<Record<string, number>> {
  log(`\n== migration: PostgreSQL → ClickHouse, ${ROWS.toLocaleString('en-US')} rows × 9 columns, ${RUNS} run(s) each, batch ${BATCH}, parallelism ${PARALLELISM}, ${availableParallelism()} cores`);
  const server = await startBenchPostgres();
  try {
    const config = { host: server.host, port: server.port, user: server.user, password: server.password, database: server.database };
    const client = new pg.Client(config);
    await client.connect();
    log(`PostgreSQL ${server.version} on 127.0.0.1:${server.port}: loading…`);
    const t0 = performance.now();
    await client.query(`CREATE TABLE events (
      id bigint PRIMARY KEY, user_id integer NOT NULL, note text, amount numeric(12, 2) NOT NULL, created_at timestamptz NOT NULL,
      tags text[] NOT NULL, payload jsonb NOT NULL, ext_id uuid NOT NULL, active boolean NOT NULL)`);
    await client.query(`INSERT INTO events
      SELECT g, ((g::bigint * 7919) % 100000)::int, CASE WHEN g % 5 = 0 THEN NULL ELSE 'note ' || g || ' with some text' END,
             ((g::bigint * 31) % 10000000) / 100.0, timestamptz '2024-01-01 00:00:00+00' + (g || ' seconds')::interval,
             ARRAY['tag' || (g % 10), 'x' || (g % 3)], jsonb_build_object('k', g, 's', 'v' || (g % 100)),
             md5(g::text)::uuid, g % 2 = 0
        FROM generate_series(1, ${ROWS}) AS g`);
    await client.query('VACUUM ANALYZE events');
    const size = await client.query<{ s: string }>("SELECT pg_size_pretty(pg_total_relation_size('events')) AS s");
    log(`loaded in ${sec(performance.now() - t0)} (${size.rows[0]?.s})`);

    // CPU of each task: PostgreSQL's (the cluster's processes, reaped backends included) and the measured process's.
    const clusterCpu = async <T>(task: () => Promise<T>): Promise<[T, number | undefined]> => {
      const before = server.cpuMs();
      const result = await task();
      await new Promise((resolve) => setTimeout(resolve, 200)); // (backends of a finished worker are reaped)
      const after = server.cpuMs();
      return [result, before === undefined || after === undefined ? undefined : after - before];
    };
    const runs: { copy: number; pull: number; migration: Record<string, unknown>; cpu: { copy?: number; pullPg?: number; pull: number; migrationPg?: number; migration: number } }[] = [];
    await copyBinary(client); // warm the cache
    for (let i = 0; i < RUNS; i++) {
      // Each run measures the three side by side, so load from elsewhere on the machine hits them alike.
      const [copyBefore, copyPg] = await clusterCpu(() => copyBinary(client));
      const [pull, pullPg] = await clusterCpu(() => worker(['pull', JSON.stringify(config)]));
      if (pull.rows !== ROWS) throw new Error(`postgresql() pull moved ${pull.rows} rows`);
      const [migration, migrationPg] = await clusterCpu(() => worker(['migrate', JSON.stringify(config), String(BATCH), String(PARALLELISM)]));
      if (migration.rows !== ROWS || migration.validation_ok !== true) throw new Error(`migration moved ${migration.rows} rows, validation ${migration.validation_ok}`);
      const copyAfter = await copyBinary(client);
      const copy = Math.min(copyBefore, copyAfter);
      const cpu = { copy: copyPg, pullPg, pull: pull.cpu_ms as number, migrationPg, migration: migration.cpu_ms as number };
      runs.push({ copy, pull: pull.ms as number, migration, cpu });
      log(`run ${i + 1}: COPY binary ${sec(copyBefore)} / ${sec(copyAfter)}, postgresql() pull ${sec(pull.ms as number)}, migration ${sec(migration.ms as number)} ${JSON.stringify(migration.phases)}`);
      log(`       CPU: COPY binary: PostgreSQL ${cpuSec(copyPg)}; pull: PostgreSQL ${cpuSec(pullPg)} + chDB process ${cpuSec(cpu.pull)}; migration: PostgreSQL ${cpuSec(migrationPg)} + chDB/Node process ${cpuSec(cpu.migration)}`);
    }
    await client.end();
    const ratio = (r: (typeof runs)[number], key: 'total' | 'copy_phase', base: 'copy' | 'pull') => {
      const phases = r.migration.phases as Record<string, number>;
      const value = key === 'total' ? (r.migration.ms as number) : (phases.copy ?? (r.migration.ms as number));
      return value / r[base];
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
    const best = runs.reduce((a, b) => (ratio(a, 'total', 'copy') <= ratio(b, 'total', 'copy') ? a : b));
    const phases = best.migration.phases as Record<string, number>;
    const total = best.migration.ms as number;
    const other = total - (phases.value_check ?? 0) - (phases.copy ?? 0) - (phases.validation ?? 0);
    const line = (label: string, key: 'total' | 'copy_phase', base: 'copy' | 'pull') =>
      `${label} best ${ratio(best, key, base).toFixed(2)}×, median ${median(runs.map((r) => ratio(r, key, base))).toFixed(2)}×`;
    log('');
    log(`best run (lowest migration ÷ COPY):`);
    log(`  COPY events TO STDOUT (FORMAT binary):      ${sec(best.copy)}`);
    log(`  INSERT … SELECT FROM postgresql(…) (chDB):  ${sec(best.pull)}`);
    log(
      `  chlab migration, whole run:                 ${sec(total)}  = ${phases.value_check ? `separate value check ${sec(phases.value_check)} + ` : ''}copy (values checked as they stream, source aggregates range by range after each COPY) ${sec(phases.copy ?? 0)} + validation ${sec(phases.validation ?? 0)} + planning/DDL/history ${sec(other)}`,
    );
    log('');
    log(line('migration ÷ COPY binary (goal ≤ 1.5×):      ', 'total', 'copy'));
    log(line('  copy phase alone ÷ COPY binary:           ', 'copy_phase', 'copy'));
    log(line('migration ÷ postgresql() pull (goal < 1×):  ', 'total', 'pull'));
    log(line('  copy phase alone ÷ postgresql() pull:     ', 'copy_phase', 'pull'));
    const cpuOf = (pg: number | undefined, own: number) => (pg === undefined ? undefined : pg + own);
    const migrationCpu = cpuOf(best.cpu.migrationPg, best.cpu.migration);
    const pullCpu = cpuOf(best.cpu.pullPg, best.cpu.pull);
    if (migrationCpu !== undefined && pullCpu !== undefined) {
      log(`CPU (PostgreSQL + the measured process) of that run: migration ${sec(migrationCpu)}, pull ${sec(pullCpu)}, COPY binary ${cpuSec(best.cpu.copy)}: the migration ÷ the pull ${(migrationCpu / pullCpu).toFixed(2)}× (machine: ${availableParallelism()} cores)`);
    }
    log(`peak memory of the migrating process: ${best.migration.peak_rss_mb} MB RSS (chDB included; ${best.migration.rss_before_mb} MB before the migration started), JS heap + buffers ${best.migration.peak_js_mb} MB`);
    const history = (await worker(['history'])) as { lightweight: number[]; mutations: number[] };
    const spread = (xs: number[]) => `median ${median(xs).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms, ${xs.filter((x) => x > 100).length} of ${xs.length} over 100 ms`;
    log(`migration_history updates (${history.lightweight.length / 2} records × running, completed; one chDB): lightweight UPDATE ${spread(history.lightweight)}; ALTER … UPDATE with mutations_sync = 2 ${spread(history.mutations)}`);
    log(`machine load average during the bench: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${availableParallelism()} cores)`);
    return {
      copy_binary_ms: best.copy,
      pull_ms: best.pull,
      migration_ms: total,
      migration_over_copy: ratio(best, 'total', 'copy'),
      copy_phase_over_copy: ratio(best, 'copy_phase', 'copy'),
      migration_over_pull: ratio(best, 'total', 'pull'),
      peak_rss_mb: best.migration.peak_rss_mb as number,
      ...(migrationCpu !== undefined && pullCpu !== undefined ? { migration_cpu_ms: migrationCpu, pull_cpu_ms: pullCpu } : {}),
    };
  } finally {
    server.stop();
  }
}
