import { runResultsBench } from './results.js';
import { runBrowserBench } from './browser.js';
import { runMigrationBench } from './migration.js';
import { runLoadBench } from './load-bench.js';

/** `npm run bench`: every benchmark, each printing ratios against a baseline measured in the same run. */
const benches: Record<string, () => Promise<unknown>> = {
  results: runResultsBench,
  browser: runBrowserBench,
  migration: runMigrationBench,
  load: runLoadBench,
};

const only = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (only.length > 0 && !only.includes(name)) continue;
  await run();
}
