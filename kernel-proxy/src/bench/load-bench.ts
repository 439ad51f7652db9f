// The `load` bench of `npm run bench` (or `npm run bench -- load`): a proxy process (`chlab start`, embedded chDB)
// serving 50 kernels that each run a handful of small queries over their own WebSocket, beside a 2,000,000-row
// result streamed to another kernel and a PostgreSQL → ClickHouse migration (a throwaway PostgreSQL 15). Prints the
// small queries' p50 and p99 latency, p99 ÷ p50 and the errors, against the baseline measured in the same run: one
// kernel running the same small queries alone on the same proxy.
// Env: CHLAB_BENCH_LOAD_KERNELS (50), CHLAB_BENCH_LOAD_QUERIES (5 per kernel), CHLAB_BENCH_LOAD_BIG_ROWS (2000000),
// CHLAB_BENCH_LOAD_MIGRATION_ROWS (100000), CHLAB_BENCH_LOAD_BASELINE_RUNS (10).
import { rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import pg from 'pg';
import { startBenchPostgres, type BenchPostgres } from './pg-cluster.js';
import { quantile, runLoadScenario } from './load.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';

const KERNELS = Number(process.env.CHLAB_BENCH_LOAD_KERNELS ?? 50);
const QUERIES = Number(process.env.CHLAB_BENCH_LOAD_QUERIES ?? 5);
const BIG_ROWS = Number(process.env.CHLAB_BENCH_LOAD_BIG_ROWS ?? 2_000_000);
const MIGRATION_ROWS = Number(process.env.CHLAB_BENCH_LOAD_MIGRATION_ROWS ?? 100_000);
const BASELINE_RUNS = Math.max(1, Number(process.env.CHLAB_BENCH_LOAD_BASELINE_RUNS ?? 10));
const log = (s: string) => process.stdout.write(`${s}\n`);
const ms = (x: number) => `${x.toFixed(1)} ms`;

function startProxy(server: BenchPostgres): Promise<ProxyProcess> {
  return startProxyProcess('load', {
    CHLAB_MAX_RESULT_ROWS: String(Math.max(1_000_000, BIG_ROWS * 2)),
    CHLAB_MAX_RESULT_BYTES: String(1024 ** 3),
    POSTGRES_HOST: server.host,
    POSTGRES_PORT: String(server.port),
    POSTGRES_USER: server.user,
    POSTGRES_PASSWORD: server.password,
    POSTGRES_DB: server.database,
  });
}

export async function runLoadBench(): Promise<Record<string, number>> {
  log(`\n== load: ${KERNELS} kernels × ${QUERIES} small queries, beside a ${BIG_ROWS.toLocaleString('en-US')}-row result and a ${MIGRATION_ROWS.toLocaleString('en-US')}-row migration (${availableParallelism()} cores) ==`);
  const server = await startBenchPostgres();
  let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
  try {
    const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: server.database });
    await client.connect();
    await client.query(`CREATE TABLE orders (id bigint PRIMARY KEY, customer int NOT NULL, amount numeric(12, 2) NOT NULL, note text)`);
    await client.query(`INSERT INTO orders SELECT g, g % 997, (g % 50000) / 100.0, CASE WHEN g % 5 = 0 THEN NULL ELSE 'order ' || g END FROM generate_series(1, ${MIGRATION_ROWS}) g`);
    await client.query('VACUUM ANALYZE orders');
    await client.end();

    proxy = await startProxy(server);
    const { baseUrl, token } = proxy;
    // Warm up (first query, history table, catalog), then the baseline: one kernel, the same small queries, alone.
    await runLoadScenario({ baseUrl, token, kernels: 1, queriesPerKernel: QUERIES, bigRows: 0 });
    const baseline: number[] = [];
    const baselineErrors: string[] = [];
    for (let i = 0; i < BASELINE_RUNS; i++) {
      const run = await runLoadScenario({ baseUrl, token, kernels: 1, queriesPerKernel: QUERIES, bigRows: 0 });
      baseline.push(...run.latencies);
      baselineErrors.push(...run.errors);
    }
    const load = await runLoadScenario({
      baseUrl,
      token,
      kernels: KERNELS,
      queriesPerKernel: QUERIES,
      bigRows: BIG_ROWS,
      migration: { spec: `source: public.orders\ntarget: bench_orders\noptions:\n  batch_size: 10000\n`, target: 'bench_orders', expectedRows: MIGRATION_ROWS, key: 'id' },
    });

    const figures = {
      p50_ms: quantile(load.latencies, 0.5),
      p99_ms: quantile(load.latencies, 0.99),
      p99_over_p50: quantile(load.latencies, 0.99) / quantile(load.latencies, 0.5),
      errors: load.errors.length + baselineErrors.length,
      baseline_p50_ms: quantile(baseline, 0.5),
      baseline_p99_ms: quantile(baseline, 0.99),
      p50_over_baseline: quantile(load.latencies, 0.5) / quantile(baseline, 0.5),
      p99_over_baseline_p99: quantile(load.latencies, 0.99) / quantile(baseline, 0.99),
      big_result_ms: load.big?.ms ?? NaN,
      migration_ms: load.migration?.ms ?? NaN,
      wall_ms: load.wallMs,
    };
    log(`baseline, 1 kernel alone:     p50 ${ms(figures.baseline_p50_ms)}, p99 ${ms(figures.baseline_p99_ms)} (${baseline.length} queries)`);
    log(`${String(KERNELS).padStart(2)} kernels under load:       p50 ${ms(figures.p50_ms)}, p99 ${ms(figures.p99_ms)} (${load.latencies.length} queries)`);
    log(`p99 ÷ p50 under load:         ${figures.p99_over_p50.toFixed(2)}×`);
    log(`p50 ÷ baseline p50:           ${figures.p50_over_baseline.toFixed(1)}×;  p99 ÷ baseline p99: ${figures.p99_over_baseline_p99.toFixed(1)}×`);
    log(`errors:                       ${figures.errors}${figures.errors ? `: ${[...load.errors, ...baselineErrors].slice(0, 5).join('; ')}` : ''}`);
    log(`beside them: ${load.big?.rows.toLocaleString('en-US')} rows streamed in ${(figures.big_result_ms / 1000).toFixed(1)} s (${load.big?.batches} batches); ` +
      `migration ${load.migration?.records.toLocaleString('en-US')} rows ${load.migration?.status} in ${(figures.migration_ms / 1000).toFixed(1)} s (validation ${load.migration?.validationOk ? 'ok' : 'FAILED'}); wall ${(figures.wall_ms / 1000).toFixed(1)} s`);
    log(`(one embedded chDB runs one statement at a time, so the small queries queue behind each other, the stream and the migration)`);
    log(`machine load average: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    return figures;
  } finally {
    if (proxy) {
      proxy.child.kill('SIGTERM');
      await new Promise((r) => proxy!.child.once('exit', r));
      rmSync(proxy.dataDir, { recursive: true, force: true });
    }
    server.stop();
  }
}
