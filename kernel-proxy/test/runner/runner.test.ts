// The headless runner in process: parameters, failures, %%duckdb on DuckDB in Node, outputs, secrets, clear.
// (The command line and every notebook in notebooks/ are run as a user would in cli.test.ts.)
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/clickhouse/create-engine.js';
import { ARROW_MIME } from '../../src/kernel/spec.js';
import { clearOutputs, parseNotebookText, writeNotebookFile, readNotebookFile } from '../../src/runner/notebook-io.js';
import { applyParameters, parameterDefaults, parameterLiteral, parseAssignment, ParameterError } from '../../src/runner/parameters.js';
import { outcomeSummary, progressBar, progressText, TerminalReporter } from '../../src/runner/reporter.js';
import { runNotebook, type RunOptions } from '../../src/runner/runner.js';
import { silentLogger, testConfig } from '../support/engine.js';
import { arrowOf, codeCells, notebookOf, outputsOf, rowsOf, textOf } from './support.js';

const config = testConfig({ POSTGRES_HOST: '127.0.0.1', POSTGRES_PASSWORD: 'pg-secret-8c1f2e' });
const engine = createEngine(config);
afterAll(async () => {
  await engine.close();
  await rm(config.dataDir, { recursive: true, force: true });
});

const run = (notebook: RunOptions['notebook'], options: Partial<RunOptions> = {}) =>
  runNotebook({ notebook, name: 'test.ipynb', config, logger: silentLogger, engine, ...options });

describe('parameters', () => {
  it('reads the defaults of a parameters cell and parses -p', () => {
    expect(parameterDefaults("-- defaults\nSET param_start = '2024-01-01';\nSET param_n = 10;\nSELECT 1")).toEqual([
      { name: 'start', literal: "'2024-01-01'" },
      { name: 'n', literal: '10' },
    ]);
    expect(parseAssignment('day=2024-02-01')).toEqual({ name: 'day', value: '2024-02-01' });
    expect(parseAssignment('expr=a=b')).toEqual({ name: 'expr', value: 'a=b' });
    expect(() => parseAssignment('novalue')).toThrow(ParameterError);
    expect(() => parseAssignment('1bad=x')).toThrow(/not a parameter name/);
    expect(parameterLiteral("O'Brien")).toBe("'O\\'Brien'");
  });

  it('injects a tagged cell after the parameters cell, replacing an earlier injection', () => {
    const nb = notebookOf([{ md: '# t' }, { code: "SET param_a = '1'", tags: ['parameters'] }, 'SELECT {a:String}']);
    const first = applyParameters(nb, new Map([['a', '2']]));
    expect(first.injectedCell).toBe(2);
    expect(first.notebook.cells[2]).toMatchObject({ cell_type: 'code', id: 'injected-parameters', metadata: { tags: ['injected-parameters'] } });
    expect(first.notebook.cells[2]!.source).toContain("SET param_a = '2';");
    const again = applyParameters(first.notebook, new Map([['a', '3'], ['typo', 'x']]));
    expect(again.notebook.cells).toHaveLength(4);
    expect(again.notebook.cells[2]!.source).toContain("SET param_a = '3';");
    expect(again.unknown).toEqual(['typo']);
    const none = applyParameters(notebookOf(['SELECT 1']), new Map([['x', '1']]));
    expect(none.injectedCell).toBe(0);
    expect(none.parametersCell).toBeUndefined();
  });

  it('runs with the defaults, and with -p overrides as ClickHouse query parameters', async () => {
    const nb = notebookOf([
      { code: "-- defaults\nSET param_day = '2024-01-01';\nSET param_n = 3;", tags: ['parameters'] },
      '-- name: picked\nSELECT {day:Date} + number AS d, {n:UInt32} AS n FROM numbers({n:UInt32})',
      '%%duckdb\nSELECT count(*) AS c, min(d) AS first FROM picked',
    ]);
    const defaults = await run(nb);
    expect(defaults.ok).toBe(true);
    expect(rowsOf(arrowOf(codeCells(defaults.notebook)[1]!)[0]!)).toHaveLength(3);

    const overridden = await run(nb, { parameters: new Map([['day', '2024-02-28'], ['n', '5']]) });
    expect(overridden.ok, JSON.stringify(overridden.failure)).toBe(true);
    const cells = codeCells(overridden.notebook);
    expect(cells).toHaveLength(4);
    expect(cells[1]!.metadata).toEqual({ tags: ['injected-parameters'] });
    // The injected cell takes no execution count: `_2` is the same result with or without -p.
    expect(cells.map((c) => c.execution_count)).toEqual([1, null, 2, null]);
    const picked = arrowOf(cells[2]!)[0]!;
    expect(picked.numRows).toBe(5);
    expect(textOf(cells[2]!)).toContain('2024-03-03');
    expect(rowsOf(arrowOf(cells[3]!)[0]!)).toEqual([{ c: 5n, first: expect.anything() }]);
  });

  it('passes values with quotes, backslashes, tabs and newlines through unchanged', async () => {
    const value = "O'Brien \\ back\tslash\nnew line";
    const nb = notebookOf([{ code: "SET param_s = 'x'", tags: ['parameters'] }, 'SELECT {s:String} AS s, length({s:String}) AS len']);
    const result = await run(nb, { parameters: new Map([['s', value]]) });
    expect(result.ok, JSON.stringify(result.failure)).toBe(true);
    const row = rowsOf(arrowOf(codeCells(result.notebook)[2]!)[0]!)[0]!;
    expect(row.s).toBe(value);
    expect(Number(row.len)).toBe(Buffer.byteLength(value));
  });

  it('reports overrides the parameters cell does not declare', async () => {
    const result = await run(notebookOf([{ code: "SET param_a = '1'", tags: ['parameters'] }, 'SELECT {a:String} AS a, {b:String} AS b']), {
      parameters: new Map([['b', 'two']]),
    });
    expect(result.ok).toBe(true);
    expect(result.unknownParameters).toEqual(['b']);
    expect(rowsOf(arrowOf(codeCells(result.notebook)[2]!)[0]!)).toEqual([{ a: '1', b: 'two' }]);
  });
});

describe('a failing notebook', () => {
  it('stops at the first failing cell, names it, and keeps what ran', async () => {
    const nb = notebookOf([{ md: 'intro' }, 'SELECT 1 AS ok', '', 'SELEC 1', 'SELECT 2 AS never']);
    const result = await run(nb);
    expect(result.ok).toBe(false);
    expect(result.failure).toMatchObject({ index: 3, executionCount: 2, ename: 'SYNTAX_ERROR' });
    expect(result.failure!.evalue).toMatch(/^Code: 62/);
    const cells = result.notebook.cells;
    expect(cells[1]!.execution_count).toBe(1);
    expect(cells[2]!.execution_count).toBeNull(); // empty cells are skipped, as JupyterLab does
    expect(outputsOf(cells[3]!)).toEqual([expect.objectContaining({ output_type: 'error', ename: 'SYNTAX_ERROR' })]);
    expect(cells[4]!.execution_count).toBeNull();
    expect(outputsOf(cells[4]!)).toEqual([]);
    expect(result.executed).toBe(2);
  });

  it('clears the outputs of an earlier run from cells it does not reach', async () => {
    const nb = notebookOf(['SELEC 1', 'SELECT 2']);
    nb.cells[1]!.outputs = [{ output_type: 'stream', name: 'stdout', text: 'stale' }];
    nb.cells[1]!.execution_count = 7;
    const result = await run(nb);
    expect(result.failure?.index).toBe(0);
    expect(result.notebook.cells[1]).toMatchObject({ outputs: [], execution_count: null });
  });

  it('refuses a notebook of another kernel', async () => {
    const nb = notebookOf(['SELECT 1']);
    nb.metadata.kernelspec = { name: 'python3', display_name: 'Python 3', language: 'python' };
    await expect(run(nb)).rejects.toThrow(/"python3" kernel/);
  });

  it('reports a DuckDB error as the failing cell', async () => {
    const result = await run(notebookOf(['SELECT 1 AS a', '%%duckdb\nSELECT nope FROM _']));
    expect(result.failure).toMatchObject({ index: 1, executionCount: null, ename: 'DuckDBError' });
    expect(result.failure!.evalue).toContain('nope');
  });
});

describe('%%duckdb cells (DuckDB in Node)', () => {
  it('names results _N, _ and -- name:, and re-queries them without ClickHouse', async () => {
    const result = await run(
      notebookOf([
        'SELECT number AS n FROM numbers(10)',
        '-- name: evens\nSELECT number * 2 AS e FROM numbers(4)',
        'CREATE TABLE IF NOT EXISTS runner_no_result (x UInt8) ENGINE = Memory',
        '%%duckdb\nSELECT (SELECT sum(n) FROM _1) AS s1, (SELECT sum(e) FROM _2) AS s2, (SELECT sum(e) FROM evens) AS s3, (SELECT count(*) FROM _) AS latest',
        '%%duckdb\n-- name: doubled\nSELECT e * 2 AS d FROM evens ORDER BY d',
        '%%duckdb\nCREATE TABLE scratch AS SELECT 1 AS x;\nSELECT sum(d) AS total FROM doubled;',
      ]),
    );
    expect(result.ok, JSON.stringify(result.failure)).toBe(true);
    const cells = codeCells(result.notebook);
    expect(cells.map((c) => c.execution_count)).toEqual([1, 2, 3, null, null, null]);
    // sum() gives HUGEINT: Decimal(38, 0) in Arrow, as DuckDB exports it.
    expect(textOf(cells[3]!)).toMatch(/s1 \| s2 \| s3 \| latest\n.*\n45 \| 12 \| 12 \| 4 +\n/);
    expect(rowsOf(arrowOf(cells[4]!)[0]!).map((r) => r.d)).toEqual([0n, 4n, 8n, 12n]);
    expect(textOf(cells[5]!)).toMatch(/^CREATE: OK/);
    expect(textOf(cells[5]!)).toMatch(/total\n-+\n24 /);
    const meta = outputsOf(cells[3]!)[0]!.metadata[ARROW_MIME];
    expect(meta).toMatchObject({ rows: 1, engine: 'duckdb', columns: [{ name: 's1', type: 'HUGEINT' }, { name: 's2' }, { name: 's3' }, { name: 'latest', type: 'BIGINT' }] });
  });

  it('re-queries the whole result, not only the preview kept in the notebook', async () => {
    const small = { ...config, limits: { ...config.limits, previewRows: 10 } };
    const result = await run(notebookOf(['SELECT number AS n FROM numbers(50000)', '%%duckdb\nSELECT count(*) AS c, sum(n) AS s FROM _1']), { config: small });
    expect(result.ok, JSON.stringify(result.failure)).toBe(true);
    const cells = codeCells(result.notebook);
    expect(arrowOf(cells[0]!)[0]!.numRows).toBe(10);
    expect(textOf(cells[1]!)).toMatch(/c +\| s +\n.*\n50000 \| 1249975000\n/);
  });

  it('keeps ClickHouse types: time zones, exact decimals, wide integers, enums, UUIDs, nested types, NULLs', async () => {
    const result = await run(
      notebookOf([
        `-- name: typed
SELECT
  toInt64(-9007199254740993) AS i64, toUInt64(18446744073709551615) AS u64,
  toInt128('-170141183460469231731687303715884105728') AS i128, toUInt128('340282366920938463463374607431768211455') AS u128,
  toDecimal128('12345678901234567890.123456789', 9) AS dec, toFloat32(3.5) AS f32,
  toDateTime('2024-03-10 12:34:56', 'Europe/Berlin') AS dt, toDateTime64('2024-03-10 12:34:56.123456', 6, 'UTC') AS dt64,
  toDate('2024-02-29') AS d, toDate32('1950-01-01') AS d32,
  CAST('b' AS Enum8('a' = 1, 'b' = 2)) AS e, toUUID('123e4567-e89b-12d3-a456-426614174000') AS id, toIPv4('10.1.2.3') AS ip,
  [1, 2, 3] AS arr, ['x', NULL] AS arr_null, map('k', 1) AS m, tuple(1, 'a') AS tup,
  CAST(NULL AS Nullable(String)) AS nothing, toLowCardinality('lc') AS lc, true AS flag, 'héllo' AS s,
  [toDateTime('2024-01-02 03:04:05', 'UTC')] AS nested_dt, [CAST('y' AS Enum8('x' = 1, 'y' = 2))] AS nested_enum,
  [toUUID('123e4567-e89b-12d3-a456-426614174000')] AS nested_uuid, map('d', [toDate('2024-05-06')]) AS nested_map,
  CAST((toIPv4('1.2.3.4'), toInt128(-5)), 'Tuple(ip IPv4, big Int128)') AS nested_tuple, [toFixedString('ab', 3)] AS nested_fixed`,
        "%%duckdb\nSELECT column_name, column_type FROM (DESCRIBE typed) ORDER BY column_name",
        `%%duckdb
SELECT i64, u64, i128::VARCHAR AS i128, u128::VARCHAR AS u128, dec::VARCHAR AS dec, f32,
       epoch(dt) AS dt_epoch, epoch_us(dt64) AS dt64_us, d::VARCHAR AS d, d32::VARCHAR AS d32, e, id::VARCHAR AS id, ip,
       arr[2] AS arr2, len(arr_null) AS arr_len, arr_null[2] IS NULL AS arr_null2, m['k'] AS mk, tup AS tup, nothing IS NULL AS is_null, lc, flag, s,
       epoch(nested_dt[1]) AS nested_dt, nested_enum[1] AS nested_enum, nested_uuid[1] AS nested_uuid, nested_map['d'][1]::VARCHAR AS nested_date,
       nested_tuple.ip AS nested_ip, nested_tuple.big AS nested_big, nested_fixed[1] AS nested_fixed
FROM typed`,
      ]),
    );
    expect(result.ok, JSON.stringify(result.failure)).toBe(true);
    const cells = codeCells(result.notebook);
    const types = Object.fromEntries(rowsOf(arrowOf(cells[1]!)[0]!).map((r) => [r.column_name, r.column_type]));
    expect(types).toMatchObject({
      i64: 'BIGINT',
      u64: 'UBIGINT',
      i128: 'HUGEINT',
      u128: 'UHUGEINT',
      dec: 'DECIMAL(38,9)',
      f32: 'FLOAT',
      dt: 'TIMESTAMP WITH TIME ZONE',
      dt64: 'TIMESTAMP WITH TIME ZONE',
      d: 'DATE',
      d32: 'DATE',
      e: 'VARCHAR',
      id: 'VARCHAR',
      arr: 'UTINYINT[]',
      m: 'MAP(VARCHAR, UTINYINT)',
      flag: 'BOOLEAN',
      nested_dt: 'TIMESTAMP WITH TIME ZONE[]',
      nested_enum: 'VARCHAR[]',
      nested_map: 'MAP(VARCHAR, DATE[])',
    });
    const [row] = rowsOf(arrowOf(cells[2]!)[0]!);
    expect(row).toMatchObject({
      i64: -9007199254740993n,
      u64: 18446744073709551615n,
      i128: '-170141183460469231731687303715884105728',
      u128: '340282366920938463463374607431768211455',
      dec: '12345678901234567890.123456789',
      f32: 3.5,
      dt_epoch: 1710070496,
      dt64_us: 1710074096123456n,
      d: '2024-02-29',
      d32: '1950-01-01',
      e: 'b',
      id: '123e4567-e89b-12d3-a456-426614174000',
      ip: '10.1.2.3',
      arr2: 2,
      arr_len: 2n,
      arr_null2: true,
      mk: 1,
      is_null: true,
      lc: 'lc',
      flag: true,
      s: 'héllo',
      nested_dt: 1704164645,
      nested_enum: 'y',
      nested_uuid: '123e4567-e89b-12d3-a456-426614174000',
      nested_date: '2024-05-06',
      nested_ip: '1.2.3.4',
      nested_big: '-5',
      nested_fixed: 'ab\u0000', // FixedString keeps its padding, as in ClickHouse
    });
    expect(String(row!.tup)).toBe("{'1': 1, '2': 'a'}");
  });
});

describe('outputs', () => {
  it('scrubs secrets the proxy holds from the saved outputs', async () => {
    const result = await run(notebookOf(["SELECT throwIf(1, concat('leaked pg-', 'secret-8c1f2e here'))"]));
    expect(result.ok).toBe(false);
    const saved = JSON.stringify(result.notebook);
    expect(saved).not.toContain('pg-secret-8c1f2e');
    expect(saved).toContain('[HIDDEN]');
    expect(result.failure!.evalue).not.toContain('pg-secret-8c1f2e');
  });

  it('writes the executed notebook as the contents API saves it (sorted keys, split lines): a re-run diffs only where results changed', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chlab-runner-'));
    try {
      const nb = notebookOf(['SELECT 1 AS one', "SELECT 'two' AS two"]);
      const out = path.join(dir, 'out.ipynb');
      await run(nb, { output: out });
      const text = await readFile(out, 'utf8');
      expect(text.endsWith('}\n')).toBe(true);
      const keys = Object.keys(JSON.parse(text) as object);
      expect(keys).toEqual([...keys].sort());
      expect(text).toContain('"execution_count": 1');
      const reread = await readNotebookFile(out);
      expect(codeCells(reread)[1]!.outputs).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('clearing outputs', () => {
  it('removes outputs, counts and injected cells; keeps everything else', async () => {
    const nb = notebookOf([{ code: "SET param_a = '1'", tags: ['parameters'] }, 'SELECT {a:String} AS a']);
    const executed = (await run(nb, { parameters: new Map([['a', '2']]) })).notebook;
    expect(executed.cells).toHaveLength(3);
    const { notebook, cleared } = clearOutputs(executed);
    expect(cleared).toBe(3);
    expect(notebook.cells).toHaveLength(2);
    expect(notebook.cells.every((c) => Array.isArray(c.outputs) && c.outputs.length === 0 && c.execution_count === null)).toBe(true);
    expect(notebook.cells[0]!.metadata).toEqual({ tags: ['parameters'] });
    const dir = await mkdtemp(path.join(tmpdir(), 'chlab-clear-'));
    try {
      await writeNotebookFile(path.join(dir, 'n.ipynb'), notebook);
      const text = await readFile(path.join(dir, 'n.ipynb'), 'utf8');
      expect(parseNotebookText(text, 'n.ipynb').cells).toHaveLength(2);
      expect(text).not.toContain('"output_type"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('terminal progress', () => {
  const progress = { migration_id: 'm1', status: 'running', processed_records: 50_000, total_records: 200_000, percentage: 25, rows_per_second: 12_345.6, eta_seconds: 12.2 };

  it('renders a migration progress bundle as a bar', () => {
    expect(progressBar(progress, 8)).toBe('[##------]');
    expect(progressText(progress)).toBe(' 25% 50,000/200,000 rows · 12,346 rows/s · ETA 12s');
    expect(progressText({ ...progress, status: 'completed', percentage: 100, processed_records: 200_000 })).toBe('100% 200,000/200,000 rows · 12,346 rows/s · completed');
  });

  function fakeStream(isTTY: boolean) {
    let written = '';
    return { stream: { isTTY, columns: 100, write: (s: string) => ((written += s), true) } as unknown as NodeJS.WritableStream, text: () => written };
  }
  const cell = { index: 4, step: 2, steps: 3, kind: '%%migrate run', title: 'source: public.events' };

  it('redraws one line on a TTY', () => {
    const { stream, text } = fakeStream(true);
    const reporter = new TerminalReporter(stream, true);
    reporter.cellStart(cell);
    reporter.progress(cell, progress);
    reporter.progress(cell, { ...progress, percentage: 50, processed_records: 100_000 });
    reporter.cellEnd(cell, { status: 'ok', executionCount: 3, elapsedMs: 2000, outputs: [] });
    const out = text();
    expect(out).toContain('\r\x1b[2K  [######------------------]  25%');
    expect(out).toContain('\r\x1b[2K  [############------------]  50%');
    expect(out.trimEnd().split('\n').at(-1)).toContain('[2/3] cell 5 %%migrate run In [3]: ok (2.0 s)');
  });

  it('prints plain lines, one per 10 %, when not a TTY (CI logs)', () => {
    const { stream, text } = fakeStream(false);
    const reporter = new TerminalReporter(stream, false);
    reporter.cellStart(cell);
    for (let pct = 0; pct <= 100; pct += 2) reporter.progress(cell, { ...progress, percentage: pct, status: pct === 100 ? 'completed' : 'running' });
    const lines = text().trimEnd().split('\n');
    expect(text()).not.toContain('\r');
    expect(lines.filter((l) => /^\s+\d+% /.test(l))).toHaveLength(11);
  });

  it('summarises what a cell produced', () => {
    const outputs = [
      { output_type: 'display_data', data: { 'text/plain': 'CREATE: OK · 3 ms' }, metadata: {} },
      { output_type: 'display_data', data: { [ARROW_MIME]: 'x', 'text/plain': 't' }, metadata: { [ARROW_MIME]: { rows: 1234 } } },
    ];
    expect(outcomeSummary({ status: 'ok', executionCount: 1, elapsedMs: 1, outputs })).toBe('CREATE: OK; 1,234 rows');
    expect(outcomeSummary({ status: 'error', executionCount: 1, elapsedMs: 1, outputs: [], ename: 'SYNTAX_ERROR', evalue: 'Code: 62\nmore' })).toBe('SYNTAX_ERROR: Code: 62');
  });
});
