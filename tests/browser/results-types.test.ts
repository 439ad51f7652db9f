// Type fidelity, end to end in headless Chromium: every ClickHouse type of one row goes ClickHouse (embedded chDB)
// → proxy (faithful Arrow) → the browser grid → DuckDB-WASM (`_1`), and back into a grid from a %%duckdb cell.
// For each type: the text the grid shows, DuckDB's type for it, and DuckDB's value as text.
// Screenshots: docs/screenshots/results-types.png (light), results-dark.png (dark theme).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSkipReason } from '../support/browser.js';
import {
  SCREENSHOTS,
  STATIC_DIR,
  bundleBuilt,
  command,
  openNotebook,
  readCells,
  runAll,
  showCell,
  startResultsLab,
  unexpectedConsole,
  waitForResults,
  type ResultsLab,
} from '../support/results-lab.js';

const skipReason = browserSkipReason(STATIC_DIR, bundleBuilt());
if (skipReason) it.skip(`result types in the browser: skipped, ${skipReason}`, () => undefined);

/** column, ClickHouse expression, grid text, DuckDB type, DuckDB value as VARCHAR (undefined: same as the grid). */
const TYPES: [string, string, string, string, string?][] = [
  ['i8', 'toInt8(-8)', '-8', 'TINYINT'],
  ['u64', 'toUInt64(18446744073709551615)', '18446744073709551615', 'UBIGINT'],
  ['i128', "toInt128('-170141183460469231731687303715884105728')", '-170141183460469231731687303715884105728', 'HUGEINT'],
  ['u128', "toUInt128('340282366920938463463374607431768211455')", '340282366920938463463374607431768211455', 'UHUGEINT'],
  ['i256', "toInt256('-57896044618658097711785492504343953926634992332820282019728792003956564819968')", '-57896044618658097711785492504343953926634992332820282019728792003956564819968', 'VARCHAR'],
  ['f32', 'toFloat32(1.5)', '1.5', 'FLOAT'],
  ['f64', 'toFloat64(0.1)', '0.1', 'DOUBLE'],
  ['d32', 'toDecimal32(1.23, 2)', '1.23', 'DECIMAL(9,2)'],
  ['d64', 'toDecimal64(-1.5, 3)', '-1.500', 'DECIMAL(18,3)'],
  ['d128', "toDecimal128('12345678901234567890.123456789', 9)", '12345678901234567890.123456789', 'DECIMAL(38,9)'],
  ['d256', "toDecimal256('-1234567890123456789012345678901234567890.5', 1)", '-1234567890123456789012345678901234567890.5', 'VARCHAR'],
  ['d', "toDate('2024-02-29')", '2024-02-29', 'DATE'],
  ['date32', "toDate32('1900-01-01')", '1900-01-01', 'DATE'],
  ['dt', "toDateTime('2024-05-01 12:00:00', 'Asia/Tokyo')", '2024-05-01 12:00:00', 'TIMESTAMP WITH TIME ZONE', '2024-05-01 03:00:00+00'],
  ['dt64', "toDateTime64('2024-05-01 12:00:00.123456789', 9, 'America/New_York')", '2024-05-01 12:00:00.123456789', 'TIMESTAMP_NS', '2024-05-01 16:00:00.123456789'],
  ['dt64ms', "toDateTime64('2024-05-01 12:00:00.123', 3, 'UTC')", '2024-05-01 12:00:00.123', 'TIMESTAMP WITH TIME ZONE', '2024-05-01 12:00:00.123+00'],
  ['e8', "CAST('b', 'Enum8(\\'a\\' = 1, \\'b\\' = 2)')", 'b', 'VARCHAR'],
  ['uuid', "toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0')", '61f0c404-5cb3-11e7-907b-a6006ad3dba0', 'VARCHAR'],
  ['ip4', "toIPv4('1.2.3.4')", '1.2.3.4', 'VARCHAR'],
  ['ip6', "toIPv6('2001:db8::1')", '2001:db8::1', 'VARCHAR'],
  ['lc', "toLowCardinality('low')", 'low', 'VARCHAR'],
  ['ns', "CAST(NULL, 'Nullable(String)')", 'NULL', 'VARCHAR', 'NULL'],
  ['ni', 'CAST(7, \'Nullable(Int32)\')', '7', 'INTEGER'],
  ['b', 'true', 'true', 'BOOLEAN'],
  ['fs', "toFixedString('ab', 4)", 'ab', 'VARCHAR', 'ab\0\0'],
  ['arr', '[1, 2, 3]', '[1, 2, 3]', 'UTINYINT[]'],
  ['m', "map('k', 1)", "{'k':1}", 'MAP(VARCHAR, UTINYINT)', '{k=1}'],
  ['t', "CAST((1, 'y'), 'Tuple(a Int32, b String)')", "(1, 'y')", 'STRUCT(a INTEGER, b VARCHAR)', '{\'a\': 1, \'b\': y}'],
  ['arrdt', "[toDateTime('2024-01-01 00:00:00', 'UTC')]", "['2024-01-01 00:00:00']", 'TIMESTAMP WITH TIME ZONE[]', "['2024-01-01 00:00:00+00']"],
  ['arre', "[CAST('a', 'Enum8(\\'a\\' = 1)')]", "['a']", 'VARCHAR[]', '[a]'],
  ['arru', "[toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0')]", "['61f0c404-5cb3-11e7-907b-a6006ad3dba0']", 'VARCHAR[]', '[61f0c404-5cb3-11e7-907b-a6006ad3dba0]'],
  ['j', '\'{"a": 1, "b": [1, 2]}\'::JSON', '{"a":1,"b":[1,2]}', 'VARCHAR'],
];

const TYPES_SQL = `-- name: types\nSELECT\n${TYPES.map(([name, expression]) => `  ${expression} AS ${name}`).join(',\n')}`;
const DUCKDB_TYPES_SQL = `%%duckdb\nSELECT column_name, column_type FROM (DESCRIBE types)`;
const DUCKDB_VALUES_SQL = `%%duckdb\nSELECT * FROM _1`;

/** Every column of row 0 of grid `index` (scrolling it sideways, since only visible columns are in the DOM). */
function gridRow(page: Page, index: number): Promise<Record<string, { type: string; text: string | null }>> {
  return page.evaluate(async (index) => {
    const grid = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .chlab-Grid')[index] as HTMLElement;
    const seen: Record<string, { type: string; text: string | null }> = {};
    for (let x = 0; ; x += 300) {
      grid.scrollLeft = x;
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      const headers = [...grid.querySelectorAll('.chlab-Grid-headerCell')] as HTMLElement[];
      for (const header of headers) {
        const cell = grid.querySelector(`.chlab-Grid-row[data-row="0"] .chlab-Grid-cell[data-col="${header.dataset.col}"]`);
        seen[header.querySelector('.chlab-ResultTable-columnName')!.textContent!] = {
          type: header.querySelector('.chlab-ResultTable-columnType')!.textContent!,
          text: !cell ? '?' : cell.classList.contains('chlab-ResultTable-null') ? null : cell.textContent,
        };
      }
      if (x >= grid.scrollWidth) break;
    }
    grid.scrollLeft = 0;
    return seen;
  }, index);
}

describe.skipIf(!!skipReason)('type fidelity: ClickHouse → proxy → browser grid → DuckDB-WASM (headless Chromium)', () => {
  let lab: ResultsLab;
  let page: Page;

  beforeAll(async () => {
    lab = await startResultsLab({ token: 'results-types-token-0123456789', notebooks: { 'types.ipynb': [TYPES_SQL, DUCKDB_TYPES_SQL, DUCKDB_VALUES_SQL] } });
    page = (await lab.open()).page;
    await mkdir(SCREENSHOTS, { recursive: true });
    await openNotebook(page, 'types.ipynb');
    await runAll(page);
    await waitForResults(page);
  });

  afterAll(async () => {
    await lab?.close();
  });

  it('shows every ClickHouse type as what it means, with its type in the sticky header', async () => {
    const cells = await readCells(page);
    expect(cells.map((c) => c.outputs.map((o) => (o.type === 'error' ? o.text : o.type)))).toEqual([['display_data'], ['display_data'], ['display_data']]);
    const row = await gridRow(page, 0);
    for (const [name, expression, text] of TYPES) {
      expect(row[name], `${name} = ${expression}`).toBeDefined();
      expect(row[name]!.text ?? 'NULL', `${name} = ${expression}`).toBe(text);
    }
    expect(row.i128!.type).toBe('Int128');
    expect(row.dt!.type).toBe("DateTime('Asia/Tokyo')");
    expect(row.dt64!.type).toBe("DateTime64(9, 'America/New_York')");
    expect(row.t!.type).toBe('Tuple(a Int32, b String)');
    expect(row.ns!.text).toBeNull(); // shown as NULL, styled apart
  });

  it('loads the row into DuckDB-WASM with matching types and exact values (_1, _ and the name `types`)', async () => {
    const db = await page.evaluate(async (names) => {
      const { getDuckDB } = (window as unknown as { chlabResults: any }).chlabResults;
      const duck = await getDuckDB();
      const described = await duck.query('DESCRIBE _1');
      const types: Record<string, string> = {};
      for (let i = 0; i < described.numRows; i++) types[described.getChild('column_name').get(i)] = described.getChild('column_type').get(i);
      const values = await duck.query(`SELECT ${names.map((n: string) => `CAST("${n}" AS VARCHAR) AS "${n}"`).join(', ')} FROM _1`);
      const text: Record<string, string | null> = {};
      for (const n of names) text[n] = values.getChild(n).get(0);
      const same = await duck.query("SELECT (SELECT count(*) FROM _) AS latest, (SELECT count(*) FROM types) AS named, (SELECT i128 FROM types) = CAST('-170141183460469231731687303715884105728' AS HUGEINT) AS exact");
      return { types, text, same: same.get(0).toJSON() };
    }, TYPES.map(([name]) => name));
    for (const [name, expression, text, duckType, duckText] of TYPES) {
      expect(db.types[name], `${name} = ${expression}`).toBe(duckType);
      expect(db.text[name] ?? 'NULL', `${name} = ${expression}`).toBe(duckText ?? text);
    }
    expect(db.same).toEqual({ latest: 1n, named: 1n, exact: true });
  });

  it('shows the DuckDB copy in a %%duckdb grid: same values, DuckDB types in the header', async () => {
    const described = await gridRow(page, 1);
    expect(described.column_name).toEqual({ type: 'VARCHAR', text: 'i8' });
    const row = await gridRow(page, 2);
    for (const [name, expression, text, duckType] of TYPES) {
      expect(row[name]!.type, `${name} = ${expression}`).toBe(duckType);
      // Time zones: DuckDB-WASM (no ICU) shows instants in UTC; DateTime64(9) keeps nanoseconds as naive UTC.
      const expected: Record<string, string> = {
        dt: '2024-05-01 03:00:00',
        dt64: '2024-05-01 16:00:00.123456789',
        fs: 'ab\0\0',
      };
      expect(row[name]!.text ?? 'NULL', `${name} = ${expression}`).toBe(expected[name] ?? text);
    }
  });

  it('renders in the light and the dark theme (screenshots)', async () => {
    await showCell(page, 0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'results-types.png') });
    await command(page, 'apputils:change-theme', { theme: 'JupyterLab Dark' });
    await page.waitForFunction(() => document.body.dataset.jpThemeLight === 'false', undefined, { timeout: 60_000 });
    await page.waitForTimeout(500);
    const colors = await page.evaluate(() => {
      const cell = document.querySelector('.chlab-Grid-cell:not(.chlab-ResultTable-null)')!;
      const row = cell.parentElement!;
      return { text: getComputedStyle(cell).color, background: getComputedStyle(row).backgroundColor };
    });
    const luminance = (rgb: string) => {
      const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((c) => {
        const v = Number(c) / 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    expect(luminance(colors.background)).toBeLessThan(0.1);
    expect((luminance(colors.text) + 0.05) / (luminance(colors.background) + 0.05)).toBeGreaterThan(4.5);
    await showCell(page, 0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'results-dark.png') });
    await command(page, 'apputils:change-theme', { theme: 'JupyterLab Light' });
  });

  it('logged no unexpected console errors or warnings, and loaded nothing from outside loopback', () => {
    expect(unexpectedConsole(lab.tab!)).toEqual([]);
    expect(lab.tab!.blocked).toEqual([]);
  });
});
