// Results in the browser (headless Chromium, the built JupyterLab bundle, a proxy started from dist/):
//   - execute → first grid paint of the 1M-row × 9-column RESULT_QUERY, beside execute → the kernel's first-rows
//     message reaching the page (the baseline: what is left is the grid's own cost), and execute → all rows in
//     DuckDB-WASM;
//   - a GROUP BY over the 1M-row result in DuckDB-WASM, beside the same GROUP BY in ClickHouse (chDB) over the
//     same rows held in a Memory table;
//   - the page's JavaScript heap before and after (the rows live in DuckDB's worker).
// Env: CHROMIUM_PATH (default /usr/bin/chromium), CHLAB_STATIC_DIR (another app build).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { median } from './process-memory.js';
import { startProxyProcess, type ProxyProcess } from './proxy-process.js';
import { RESULT_QUERY } from './results.js';

const ROWS = 1_000_000;
const RUNS = 3;
const GROUP_BY_DUCKDB = 'SELECT quantity % 10 AS bucket, count(*) AS n, sum(amount) AS amount, avg(ratio) AS ratio FROM _ GROUP BY bucket ORDER BY bucket';
const GROUP_BY_CLICKHOUSE = 'SELECT quantity % 10 AS bucket, count() AS n, sum(amount) AS amount, avg(ratio) AS ratio FROM bench_result GROUP BY bucket ORDER BY bucket';

function findChromium(): string {
  const found = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/lib/chromium/chromium'].find((p): p is string => !!p && existsSync(p));
  if (!found) throw new Error('no Chromium: apt-get install chromium (or set CHROMIUM_PATH)');
  return found;
}

function startProxy(notebookDir: string): Promise<ProxyProcess> {
  return startProxyProcess('browser', { CHLAB_NOTEBOOK_DIR: notebookDir });
}

function notebook(cells: string[]): string {
  return JSON.stringify({
    cells: cells.map((source) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source })),
    metadata: { kernelspec: { name: 'clickhouse', display_name: 'ClickHouse SQL', language: 'sql' } },
    nbformat: 4,
    nbformat_minor: 5,
  });
}

/** Code run in the page (kept as text: the proxy's tsconfig has no DOM types). */
const IN_PAGE = {
  /** Opens the notebook and waits for an idle kernel. */
  open: `(async () => {
    const app = window.jupyterapp;
    await app.commands.execute('docmanager:open', { path: 'bench.ipynb' });
    for (;;) {
      const panel = app.shell.currentWidget;
      if (panel?.context?.path === 'bench.ipynb' && panel.sessionContext?.session?.kernel?.status === 'idle') break;
      await new Promise((r) => setTimeout(r, 100));
    }
  })()`,
  /** Runs cell 0 and resolves with timings relative to the execute. */
  run: `(async () => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    const kernel = panel.sessionContext.session.kernel;
    const registry = window.chlabResults.registry;
    const paints = window.chlabResults.paintTimes;
    let firstMessage = 0;
    let lastBatch = 0;
    let resultId;
    const onMessage = (_, msg) => {
      if (msg.header.msg_type === 'comm_msg' && msg.content?.data?.rows) lastBatch = performance.now();
      const meta = msg.content?.metadata?.['application/vnd.apache.arrow.stream'];
      if (!firstMessage && msg.header.msg_type === 'display_data' && meta?.result_id) {
        firstMessage = performance.now();
        resultId = meta.result_id;
      }
    };
    kernel.iopubMessage.connect(onMessage);
    panel.content.activeCellIndex = 0;
    panel.content.mode = 'command';
    const stats = window.__chlabResultsCompression;
    const receivedBefore = stats ? stats.receivedBytes : 0;
    const started = performance.now();
    await app.commands.execute('notebook:run-cell');
    for (;;) {
      const record = resultId && registry.get(resultId);
      if (record && record.complete && paints.has(resultId)) break;
      if (record && (record.loadError || record.state === 'failed')) throw new Error(record.loadError || record.error);
      await new Promise((r) => setTimeout(r, 20));
    }
    const loaded = performance.now();
    kernel.iopubMessage.disconnect(onMessage);
    const record = registry.get(resultId);
    return { firstMessageMs: firstMessage - started, firstPaintMs: paints.get(resultId) - started, lastBatchMs: lastBatch - started, allInDuckDBMs: loaded - started, rows: record.rows, bytes: record.bytes, wireBytes: stats ? stats.receivedBytes - receivedBefore : record.bytes };
  })()`,
  groupBy: `(async () => {
    const db = await window.chlabResults.getDuckDB();
    const started = performance.now();
    const table = await db.query(${JSON.stringify(GROUP_BY_DUCKDB)});
    return { ms: performance.now() - started, groups: table.numRows };
  })()`,
  /** The live heap: garbage is collected first, a few times as pending work settles (Chromium runs with --expose-gc). */
  heapMb: `(async () => { for (let i = 0; i < 3; i++) { window.gc?.(); await new Promise((r) => setTimeout(r, 200)); } return performance.memory ? performance.memory.usedJSHeapSize / 1e6 : NaN; })()`,
};

async function clickhouseGroupBy(baseUrl: string, token: string): Promise<number> {
  const execute = async (query: string) => {
    const response = await fetch(`${baseUrl}/api/query/execute`, {
      method: 'POST',
      headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as { success: boolean; error?: { message: string } };
    if (!body.success) throw new Error(`ClickHouse: ${body.error?.message}`);
  };
  await execute(`CREATE TABLE IF NOT EXISTS bench_result ENGINE = Memory AS ${RESULT_QUERY}`);
  await execute(GROUP_BY_CLICKHOUSE); // warm
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await execute(GROUP_BY_CLICKHOUSE);
    times.push(performance.now() - started);
  }
  return median(times);
}

export async function runBrowserBench(): Promise<Record<string, number>> {
  process.stdout.write(`\n== browser: ${ROWS.toLocaleString('en-US')} rows × 9 columns into the grid and DuckDB-WASM (headless Chromium) ==\n`);
  const notebookDir = mkdtempSync(path.join(tmpdir(), 'chlab-bench-notebooks-'));
  mkdirSync(notebookDir, { recursive: true });
  writeFileSync(path.join(notebookDir, 'bench.ipynb'), notebook([RESULT_QUERY]));
  const proxy = await startProxy(notebookDir);
  const browser = await chromium.launch({
    executablePath: findChromium(),
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run', '--enable-precise-memory-info', '--js-flags=--expose-gc'],
    env: { ...process.env, TZ: 'UTC' },
  });
  try {
    const runs: { firstMessageMs: number; firstPaintMs: number; lastBatchMs: number; allInDuckDBMs: number; rows: number; bytes: number; wireBytes: number }[] = [];
    const groupBys: number[] = [];
    let heapBefore = NaN;
    let heapAfter = NaN;
    let duckdbStartMs = NaN;
    for (let i = 0; i < RUNS; i++) {
      // A fresh page each run: DuckDB-WASM starts anew, nothing cached in the page.
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const started = page.waitForEvent('console', { predicate: (m) => m.text() === 'chlab: JupyterLab started', timeout: 120_000 });
      await page.goto(`${proxy.baseUrl}/lab?token=${proxy.token}`, { timeout: 120_000 });
      await started;
      await page.evaluate(IN_PAGE.open);
      // Start DuckDB-WASM first, so that the timings below are of the result, not of the engine's start.
      duckdbStartMs = await page.evaluate(`(async () => { const t = performance.now(); await window.chlabResults.getDuckDB(); return performance.now() - t; })()`);
      heapBefore = await page.evaluate(IN_PAGE.heapMb);
      const run = (await page.evaluate(IN_PAGE.run)) as (typeof runs)[number];
      if (run.rows !== ROWS) throw new Error(`the grid holds ${run.rows} rows, expected ${ROWS}`);
      runs.push(run);
      heapAfter = await page.evaluate(IN_PAGE.heapMb);
      await page.evaluate(IN_PAGE.groupBy); // warm
      for (let j = 0; j < RUNS; j++) groupBys.push(((await page.evaluate(IN_PAGE.groupBy)) as { ms: number }).ms);
      await page.close();
    }
    const clickhouse = await clickhouseGroupBy(proxy.baseUrl, proxy.token);
    const figures = {
      first_message_ms: median(runs.map((r) => r.firstMessageMs)),
      first_paint_ms: median(runs.map((r) => r.firstPaintMs)),
      last_batch_ms: median(runs.map((r) => r.lastBatchMs)),
      all_in_duckdb_ms: median(runs.map((r) => r.allInDuckDBMs)),
      duckdb_start_ms: duckdbStartMs,
      duckdb_group_by_ms: median(groupBys),
      clickhouse_group_by_ms: clickhouse,
      heap_before_mb: heapBefore,
      heap_after_mb: heapAfter,
      arrow_mib: median(runs.map((r) => r.bytes)) / 1024 ** 2,
      wire_mib: median(runs.map((r) => r.wireBytes)) / 1024 ** 2,
    };
    process.stdout.write(
      [
        `execute → kernel's first rows in the page: ${figures.first_message_ms.toFixed(0)} ms (baseline)`,
        `execute → first grid paint:                ${figures.first_paint_ms.toFixed(0)} ms (+${(figures.first_paint_ms - figures.first_message_ms).toFixed(0)} ms for the grid)`,
        `execute → last batch in the page:          ${figures.last_batch_ms.toFixed(0)} ms (${figures.arrow_mib.toFixed(0)} MiB of Arrow, ${figures.wire_mib.toFixed(0)} MiB of it over the kernel WebSocket)`,
        `execute → all ${ROWS.toLocaleString('en-US')} rows in DuckDB-WASM: ${figures.all_in_duckdb_ms.toFixed(0)} ms (DuckDB-WASM started beforehand, in ${figures.duckdb_start_ms.toFixed(0)} ms)`,
        `GROUP BY over the 1M-row result, DuckDB-WASM: ${figures.duckdb_group_by_ms.toFixed(0)} ms; ClickHouse (chDB, Memory table): ${figures.clickhouse_group_by_ms.toFixed(0)} ms (ratio ${(figures.duckdb_group_by_ms / figures.clickhouse_group_by_ms).toFixed(2)}×)`,
        `page JS heap: ${figures.heap_before_mb.toFixed(0)} MB before, ${figures.heap_after_mb.toFixed(0)} MB with the 1M-row result shown (rows live in DuckDB's worker)`,
        `(median of ${RUNS} runs; ${RUNS * RUNS} GROUP BYs)`,
      ].join('\n') + '\n',
    );
    return figures;
  } finally {
    await browser.close().catch(() => undefined);
    proxy.child.kill('SIGTERM');
    await new Promise((r) => proxy.child.once('exit', r));
    rmSync(proxy.dataDir, { recursive: true, force: true });
    rmSync(notebookDir, { recursive: true, force: true });
  }
}
