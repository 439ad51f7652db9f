// One measured task in a fresh process (own chDB data dir, own memory peak):
//   node worker.js migrate <pgjson> <batch> <parallelism>   → our migration (value check + copy + validation)
//   node worker.js pull <pgjson>                            → INSERT … SELECT FROM postgresql(…) into the same DDL
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseSettings } from '../clickhouse/engine.js';
import { EmbeddedEngine } from '../clickhouse/embedded.js';
import type { PostgresConfig } from '../config.js';
import { PostgresConnections } from '../postgres/connections.js';
import { MigrationService } from '../migration/service.js';

const TARGET_DDL = `CREATE TABLE events_pull (id Int64, user_id Int32, note Nullable(String), amount Decimal(12, 2), created_at DateTime64(6, 'UTC'),
  tags Array(String), payload String, ext_id UUID, active Bool) ENGINE = MergeTree ORDER BY id`;

async function main(): Promise<void> {
  const [task, pgJson, batch, parallelism] = process.argv.slice(2);
  const pg = JSON.parse(pgJson!) as PostgresConfig;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'chlab-bench-ch-'));
  const engine = new EmbeddedEngine(path.join(dataDir, 'chdb'), baseSettings(0));
  let peakRss = 0;
  let peakHeap = 0;
  const sample = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed + m.external + m.arrayBuffers);
  }, 20);
  try {
    await engine.json('SELECT 1');
    const rssBefore = process.memoryUsage().rss;
    const cpuBefore = process.cpuUsage();
    let result: Record<string, unknown>;
    if (task === 'pull') {
      await engine.command(TARGET_DDL);
      const t = performance.now();
      await engine.command(
        'INSERT INTO events_pull SELECT * FROM postgresql({a:String}, {d:String}, {t:String}, {u:String}, {p:String}, {s:String})',
        { params: { a: `${pg.host}:${pg.port}`, d: pg.database, t: 'events', u: pg.user, p: pg.password, s: 'public' }, settings: { max_execution_time: 0 } },
      );
      const ms = performance.now() - t;
      const [row] = await engine.json<{ n: string }>('SELECT toString(count()) AS n FROM events_pull');
      result = { ms, rows: Number(row?.n) };
    } else {
      const service = new MigrationService({ engine, connections: new PostgresConnections({ default: pg }), database: 'default' });
      const spec = `source: public.events\ntarget: events\noptions:\n  batch_size: ${batch}\n  parallelism: ${parallelism}\n`;
      const t = performance.now();
      const { run } = await service.start(spec, { rerun: true });
      const summary = await run.done;
      const ms = performance.now() - t;
      if (summary.status !== 'completed') throw new Error(`migration ${summary.status}: ${summary.error_message}`);
      result = { ms, rows: summary.records_migrated, phases: summary.phases_ms, validation_ok: summary.validation?.ok };
    }
    clearInterval(sample);
    const usage = process.resourceUsage();
    const cpu = process.cpuUsage(cpuBefore);
    process.stdout.write(
      `${JSON.stringify({ ...result, cpu_ms: Math.round((cpu.user + cpu.system) / 1000), peak_rss_mb: Math.round(Math.max(peakRss, usage.maxRSS * 1024) / 1048576), rss_before_mb: Math.round(rssBefore / 1048576), peak_js_mb: Math.round(peakHeap / 1048576) })}\n`,
    );
  } finally {
    clearInterval(sample);
    await engine.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
