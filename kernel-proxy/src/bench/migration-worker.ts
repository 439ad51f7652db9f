// One measured task in a fresh process (own chDB data dir, own memory peak):
//   node worker.js migrate <pgjson> <batch> <parallelism>   → our migration (value check + copy + validation)
//   node worker.js pull <pgjson>                            → INSERT … SELECT FROM postgresql(…) into the same DDL
//   node worker.js history                                  → migration_history record updates: chlab's (lightweight
//                                                              UPDATE) against synchronous mutations on a copy of the table
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseSettings } from '../clickhouse/engine.js';
import { EmbeddedEngine } from '../clickhouse/embedded.js';
import type { PostgresConfig } from '../config.js';
import { PostgresConnections } from '../postgres/connections.js';
import { MigrationService } from '../migration/service.js';
import { HISTORY_DDL, MigrationHistory } from '../migration/history.js';

const TARGET_DDL = `CREATE TABLE events_pull (id Int64, user_id Int32, note Nullable(String), amount Decimal(12, 2), created_at DateTime64(6, 'UTC'),
  tags Array(String), payload String, ext_id UUID, active Bool) ENGINE = MergeTree ORDER BY id`;

async function main(): Promise<void> {
  const [task, pgJson, batch, parallelism] = process.argv.slice(2);
  const pg = (task === 'history' ? {} : JSON.parse(pgJson!)) as PostgresConfig;
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
    if (task === 'history') {
      result = await historyUpdates(engine);
    } else if (task === 'pull') {
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

const HISTORY_RECORDS = 25;

/** Milliseconds of each update: two per record (running, then completed), as a migration makes them. */
async function historyUpdates(engine: EmbeddedEngine): Promise<Record<string, unknown>> {
  const history = new MigrationHistory(engine);
  await history.ensureTables();
  await engine.command(HISTORY_DDL.replace('migration_history', 'migration_history_mutations'));
  const lightweight: number[] = [];
  const mutations: number[] = [];
  const timed = async (into: number[], update: () => Promise<unknown>) => {
    const t = performance.now();
    await update();
    into.push(performance.now() - t);
  };
  for (let i = 0; i < HISTORY_RECORDS; i++) {
    const id = crypto.randomUUID();
    await history.insert({ id, source: 'bench', destination: 'default.t', source_table: 'public.t', deskripsi: '', tabel_fields: [], field_mappings: '[]', status: 'pending', created_by: 'bench', metadata: '{}', total_records: 0, spec_key: id, started_at: new Date() });
    await engine.command(
      "INSERT INTO migration_history_mutations (id, source, destination, source_table, deskripsi, tabel_fields, field_mappings, status, records_migrated, error_message, duration_seconds, created_by, metadata) VALUES ({id:UUID}, 'bench', 'default.t', 'public.t', '', [], '[]', 'pending', 0, NULL, 0, 'bench', '{}')",
      { params: { id } },
    );
    for (const status of ['running', 'completed'] as const) {
      await timed(lightweight, () => history.update(id, { status, metadata: `{"status":"${status}"}` }));
      await timed(mutations, () =>
        engine.command(`ALTER TABLE migration_history_mutations UPDATE status = {status:String}, metadata = {metadata:String} WHERE id = {id:UUID}`, {
          params: { id, status, metadata: `{"status":"${status}"}` },
          settings: { mutations_sync: 2 },
        }),
      );
    }
  }
  return { lightweight, mutations };
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
