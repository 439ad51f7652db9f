import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig, loadDotEnv } from '../config.js';
import { createLogger } from '../logger.js';
import { serializeNotebook } from '../jupyter/nbformat.js';
import { clearOutputs, NotebookFileError, readNotebookFile, writeNotebookFile } from './notebook-io.js';
import { ParameterError, parseAssignment } from './parameters.js';
import { TerminalReporter } from './reporter.js';
import { startDemoS3IfUnconfigured, type LocalS3 } from '../s3/local-server.js';

export const RUN_USAGE = `Usage: chlab run <notebook.ipynb> [--out <executed.ipynb>] [-p name=value …] [--rerun] [--quiet]

Runs every cell of a clickhouse notebook headless, through the same kernel as the browser (SQL,
%%migrate, %%s3; %%duckdb cells on DuckDB in Node), and writes the executed notebook (in place unless
--out is given). Stops at the first failing cell and exits 1, naming the cell.

  -o, --out FILE     write the executed notebook to FILE instead of over the input
  -p, --param N=V    set query parameter N (a {N:Type} placeholder) to V, overriding the
                     cell tagged "parameters"; repeatable
      --rerun        run %%migrate run cells again even if that migration already completed
  -q, --quiet        print only failures
      --no-write     do not write the executed notebook

Exit status: 0 all cells ran, 1 a cell failed, 2 bad usage or unreadable notebook, 130 interrupted.`;

export const CLEAR_USAGE = `Usage: chlab clear <notebook.ipynb> … [--check]

Removes outputs, execution counts and cells injected by \`chlab run -p\`, so a notebook diffs only
when its code does. With --check, changes nothing and exits 1 when a notebook has outputs (for CI or
a pre-commit hook).`;

function fail(message: string, usage: string): number {
  process.stderr.write(`${message}\n\n${usage}\n`);
  return 2;
}

export async function runCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        param: { type: 'string', short: 'p', multiple: true },
        rerun: { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        'no-write': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return fail((error as Error).message, RUN_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${RUN_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) return fail(positionals.length ? `chlab run takes one notebook, got ${positionals.length}` : 'chlab run needs a notebook', RUN_USAGE);
  const parameters = new Map<string, string>();
  try {
    for (const assignment of values.param ?? []) {
      const { name, value } = parseAssignment(assignment);
      parameters.set(name, value);
    }
  } catch (error) {
    if (error instanceof ParameterError) return fail(error.message, RUN_USAGE);
    throw error;
  }

  const input = path.resolve(positionals[0]!);
  const name = path.relative(process.cwd(), input) || input;
  let notebook;
  try {
    notebook = await readNotebookFile(input);
  } catch (error) {
    if (error instanceof NotebookFileError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }

  loadDotEnv();
  const config = loadConfig();
  const logger = createLogger(process.env.CHLAB_LOG_LEVEL ?? 'warn', pino.destination(2));
  const output = values['no-write'] ? undefined : path.resolve(values.out ?? input);
  const reporter = values.quiet ? undefined : new TerminalReporter(process.stdout);

  const interrupt = new AbortController();
  const onSigint = () => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write('\nInterrupting (Ctrl+C again to quit at once)…\n');
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let localS3: LocalS3 | undefined;
  try {
    let result;
    try {
      // S3 cells and no S3 configured: the same local demo server `chlab start` uses.
      if (/%%s3\b|\bs3_default\b/.test(JSON.stringify(notebook.cells))) localS3 = await startDemoS3IfUnconfigured(config);
      // The proxy's code (chDB, DuckDB, …) loads only for a run.
      const { runNotebook } = await import('./runner.js');
      result = await runNotebook({ notebook, name, output, parameters, rerunMigrations: values.rerun, config, logger, reporter, signal: interrupt.signal });
    } catch (error) {
      process.stderr.write(`chlab run ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
      return 2;
    }
    if (result.failure) {
      const f = result.failure;
      const count = f.executionCount === null ? '' : ` (In [${f.executionCount}])`;
      process.stderr.write(`${name}: cell ${f.index + 1}${count} failed: ${f.ename}: ${f.evalue}\n`);
      return result.interrupted ? 130 : 1;
    }
    if (result.interrupted) return 130;
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await localS3?.stop();
  }
}

export async function clearCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { check: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } });
  } catch (error) {
    return fail((error as Error).message, CLEAR_USAGE);
  }
  if (parsed.values.help) {
    process.stdout.write(`${CLEAR_USAGE}\n`);
    return 0;
  }
  if (parsed.positionals.length === 0) return fail('chlab clear needs at least one notebook', CLEAR_USAGE);
  let status = 0;
  for (const file of parsed.positionals) {
    const input = path.resolve(file);
    let notebook;
    try {
      notebook = await readNotebookFile(input);
    } catch (error) {
      if (!(error instanceof NotebookFileError)) throw error;
      process.stderr.write(`${error.message}\n`);
      status = 2;
      continue;
    }
    const { notebook: cleared, cleared: count } = clearOutputs(notebook);
    const unchanged = serializeNotebook(cleared) === serializeNotebook(notebook);
    if (parsed.values.check) {
      if (count > 0) {
        process.stdout.write(`${file}: ${count} cell${count === 1 ? '' : 's'} with outputs (run chlab clear ${file})\n`);
        if (status === 0) status = 1;
      }
      continue;
    }
    if (!unchanged) await writeNotebookFile(input, cleared);
    process.stdout.write(`${file}: ${count ? `cleared ${count} cell${count === 1 ? '' : 's'}` : 'already clear'}\n`);
  }
  return status;
}
