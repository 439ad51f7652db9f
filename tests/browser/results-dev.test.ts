import { it } from 'vitest';
import { startResultsLab, openNotebook, runAll, readGrids, waitForResults } from '../support/results-lab.js';
import { RESULT_QUERY } from '../../kernel-proxy/src/bench/results.js';
it('dev', async () => {
  const lab = await startResultsLab({ token: 'dev-token-0123456789', notebooks: { 'dev.ipynb': [RESULT_QUERY.replace('1000000', '200000')] } });
  try {
    const tab = await lab.open(); const page = tab.page;
    await openNotebook(page, 'dev.ipynb');
    await runAll(page);
    await waitForResults(page);
    await page.waitForTimeout(3000);
    console.log(JSON.stringify(await page.evaluate(() => (window as any).chlabResults.registry.all().map((r: any) => ({ id: r.id, rows: r.rows, received: r.received, state: r.state, created: r.created, loadError: r.loadError, names: r.names, finalized: r.finalized })))));
    console.log('status', JSON.stringify(await page.evaluate(() => (window as any).chlabResults.duckdbStatus())));
    console.log('select1', await page.evaluate(() => Promise.race([(window as any).chlabResults.getDuckDB().then((db: any) => db.query('SELECT 1 AS x')).then((t: any) => 'ok ' + t.numRows, (e: any) => 'err ' + e), new Promise((r) => setTimeout(() => r('timeout'), 10000))])));
    console.log('idle', await page.evaluate(() => Promise.race([(window as any).chlabResults.registry.whenIdle().then(() => 'idle'), new Promise((r) => setTimeout(() => r('busy'), 5000))])));
    const g = (await readGrids(page, 0))[0];
    console.log(g.rowCount, g.state, g.summary, g.notes);
    console.log(tab.console.filter(l => !/Yjs|yjs/.test(l)).join('\n'));
  } finally { await lab.close(); }
}, 300_000);
