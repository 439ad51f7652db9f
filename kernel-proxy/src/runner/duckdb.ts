import { DuckDBInstance, ResultReturnType, StatementType, type DuckDBConnection } from '@duckdb/node-api';
import type { Table } from 'apache-arrow';
import { duckdbToArrow, loadArrowTable } from './arrow-duckdb.js';

/** `-- name: trips` as the first line of a cell (after a `%%duckdb` line) names its result. */
export function resultName(code: string): string | undefined {
  const lines = code.split('\n');
  let i = 0;
  if (/^\s*%%/.test(lines[0] ?? '')) i = 1;
  for (; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    const match = /^--\s*name\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(line);
    return match?.[1];
  }
  return undefined;
}

export interface DuckDbStatementResult {
  kind: 'rows' | 'command';
  /** For `rows`: the whole result. */
  table?: Table;
  /** For `command`: what it was (CREATE, INSERT …) and the rows it changed. */
  keyword?: string;
  changedRows?: number;
  elapsedMs: number;
}

export class DuckDbCellError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DuckDbCellError';
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * DuckDB in Node for `%%duckdb` cells, with the naming contract of the browser (DuckDB-WASM):
 * the result of SQL cell N is table `_N`, the latest one also `_`, and a cell whose first line is
 * `-- name: trips` is also `trips`. Results are loaded lazily, when a `%%duckdb` cell runs.
 * Like DuckDB-WASM in a browser, it reads no local files and installs no extensions.
 */
export class DuckDbWorkspace {
  private instance: DuckDBInstance | undefined;
  private connection: DuckDBConnection | undefined;
  /** Tables to (re)load before the next cell, by name. */
  private readonly pending = new Map<string, Table>();
  /** Views over loaded tables: `_` and names. */
  private readonly views = new Map<string, string>();
  private named = 0;

  /** The result of SQL cell `executionCount` (its last statement returning rows). */
  registerResult(executionCount: number, table: Table, name?: string): void {
    const base = `_${executionCount}`;
    this.pending.set(base, table);
    this.views.set('_', base);
    if (name) this.views.set(name, base);
  }

  private async connect(): Promise<DuckDBConnection> {
    if (this.connection) return this.connection;
    this.instance = await DuckDBInstance.create(':memory:', {
      autoinstall_known_extensions: 'false',
      enable_external_access: 'false',
      threads: '2',
    });
    this.connection = await this.instance.connect();
    return this.connection;
  }

  private async sync(connection: DuckDBConnection): Promise<void> {
    for (const [name, table] of this.pending) await loadArrowTable(connection, name, table);
    this.pending.clear();
    for (const [view, target] of this.views) {
      if (!IDENT.test(view)) continue;
      await connection.run(`CREATE OR REPLACE VIEW ${quote(view)} AS SELECT * FROM ${quote(target)}`);
    }
  }

  /** Runs every statement of a `%%duckdb` cell body; the last result may be named. */
  async run(body: string, name?: string): Promise<DuckDbStatementResult[]> {
    const connection = await this.connect();
    try {
      await this.sync(connection);
    } catch (error) {
      throw new DuckDbCellError(`Loading earlier results into DuckDB failed: ${(error as Error).message}`);
    }
    const results: DuckDbStatementResult[] = [];
    try {
      const extracted = await connection.extractStatements(body);
      for (let i = 0; i < extracted.count; i++) {
        const started = performance.now();
        const statement = await extracted.prepare(i);
        const type = statement.statementType;
        const reader = await statement.runAndReadAll();
        const elapsedMs = performance.now() - started;
        if (reader.returnType === ResultReturnType.QUERY_RESULT && (type === StatementType.SELECT || type === StatementType.EXPLAIN || type === StatementType.PRAGMA || type === StatementType.CALL || reader.columnCount > 1)) {
          const table = duckdbToArrow(reader.columnNames(), reader.columnTypes(), reader.getColumns(), reader.currentRowCount);
          results.push({ kind: 'rows', table, elapsedMs });
        } else {
          results.push({ kind: 'command', keyword: StatementType[type] ?? 'STATEMENT', changedRows: reader.returnType === ResultReturnType.CHANGED_ROWS ? Number(reader.getColumns()[0]?.[0] ?? 0) : undefined, elapsedMs });
        }
      }
    } catch (error) {
      if (error instanceof DuckDbCellError) throw error;
      throw new DuckDbCellError((error as Error).message);
    }
    const last = results.at(-1);
    if (name && last?.kind === 'rows' && last.table) {
      const base = `_duckdb_${++this.named}`;
      this.pending.set(base, last.table);
      this.views.set(name, base);
    }
    return results;
  }

  close(): void {
    this.connection?.closeSync();
    this.instance?.closeSync();
    this.connection = undefined;
    this.instance = undefined;
  }
}
