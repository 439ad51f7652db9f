import { quoteIdent, quoteLiteral } from './engine.js';

/** How a column may be filtered, from its DuckDB type. */
export type FilterKind = 'number' | 'temporal' | 'text' | 'boolean' | 'nested';

export function filterKind(duckdbType: string): FilterKind {
  const type = duckdbType.toUpperCase();
  if (/\[\]$|^(STRUCT|MAP|UNION|LIST)\b|\[\d+\]$/.test(type)) {
    return 'nested';
  }
  if (/^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL)/.test(type)) {
    return 'number';
  }
  if (/^(DATE|TIME|TIMESTAMP|INTERVAL)/.test(type)) {
    return 'temporal';
  }
  if (type === 'BOOLEAN') {
    return 'boolean';
  }
  return 'text';
}

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function literal(value: string, kind: FilterKind): string {
  const text = value.trim();
  if (kind === 'number') {
    if (!NUMBER.test(text)) {
      throw new Error(`not a number: ${text}`);
    }
    return text;
  }
  if (kind === 'boolean') {
    if (!/^(true|false)$/i.test(text)) {
      throw new Error(`not true or false: ${text}`);
    }
    return text.toLowerCase();
  }
  return quoteLiteral(text.replace(/^'(.*)'$/s, '$1'));
}

/**
 * A column filter typed under a column name, as a DuckDB predicate:
 *
 * - `NULL`, `NOT NULL` (also `!NULL`);
 * - `> 5`, `>= 5`, `< 5`, `<= 5`, `= 5`, `!= 5` (also for dates and times: `>= 2024-01-01`);
 * - `1..10` (between, inclusive);
 * - anything else: equality for numbers and booleans, a case-insensitive "contains" for text, dates
 *   and nested values (`=text` for exact text).
 */
export function filterPredicate(column: string, duckdbType: string, input: string): string {
  const text = input.trim();
  const ident = quoteIdent(column);
  if (/^null$/i.test(text)) {
    return `${ident} IS NULL`;
  }
  if (/^(not\s+null|!\s*null)$/i.test(text)) {
    return `${ident} IS NOT NULL`;
  }
  const kind = filterKind(duckdbType);
  const comparable = kind === 'number' || kind === 'temporal' || kind === 'text' || kind === 'boolean';
  const range = /^(.+?)\s*\.\.\s*(.+)$/.exec(text);
  if (range && (kind === 'number' || kind === 'temporal')) {
    return `${ident} BETWEEN ${cast(literal(range[1], kind), duckdbType, kind)} AND ${cast(literal(range[2], kind), duckdbType, kind)}`;
  }
  const comparison = /^(>=|<=|!=|<>|=|>|<)\s*(.*)$/s.exec(text);
  if (comparison && comparable) {
    const operator = comparison[1] === '<>' ? '!=' : comparison[1];
    return `${ident} ${operator} ${cast(literal(comparison[2], kind), duckdbType, kind)}`;
  }
  if (kind === 'number' || kind === 'boolean') {
    return `${ident} = ${literal(text, kind)}`;
  }
  // Text search: on the value as text (dates, nested values too).
  const pattern = `%${text.replace(/[\\%_]/g, m => `\\${m}`)}%`;
  const subject = kind === 'text' ? ident : `CAST(${ident} AS VARCHAR)`;
  return `${subject} ILIKE ${quoteLiteral(pattern)} ESCAPE '\\'`;
}

function cast(value: string, duckdbType: string, kind: FilterKind): string {
  // A timestamp with a time zone compares with a text literal read as UTC (DuckDB-WASM has no ICU here).
  if (kind === 'temporal') {
    const type = /WITH TIME ZONE/i.test(duckdbType) ? 'TIMESTAMP' : duckdbType;
    return `CAST(${value} AS ${type})`;
  }
  return value;
}

/** `ORDER BY` for a sort on one column; NULLs last either way, as in ClickHouse. */
export function orderBy(column: string, descending: boolean): string {
  return `ORDER BY ${quoteIdent(column)} ${descending ? 'DESC' : 'ASC'} NULLS LAST`;
}

/**
 * Splits DuckDB SQL into statements on `;` outside strings, quoted identifiers, comments and
 * dollar-quoted strings. Empty statements (and comment-only ones) are left out.
 */
export function splitDuckDBStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number) => {
    const statement = sql.slice(start, end).trim();
    if (stripComments(statement).trim()) {
      statements.push(statement);
    }
  };
  while (i < sql.length) {
    const ch = sql[i];
    const next = sql[i + 1];
    if (ch === "'" || ch === '"') {
      i++;
      while (i < sql.length) {
        if (sql[i] === ch && sql[i + 1] === ch) {
          i += 2;
        } else if (sql[i] === ch) {
          break;
        } else {
          i++;
        }
      }
      i++;
    } else if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (ch === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (ch === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? sql.length : end + tag.length;
      } else {
        i++;
      }
    } else if (ch === ';') {
      push(i);
      start = i + 1;
      i++;
    } else {
      i++;
    }
  }
  push(sql.length);
  return statements;
}

export function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
}

/** The statement's first keyword, upper-cased (after comments and opening parentheses). */
export function firstKeyword(statement: string): string {
  return /^[\s(]*([A-Za-z]+)/.exec(stripComments(statement))?.[1]?.toUpperCase() ?? '';
}

/** Statements whose rows are kept as a table (CREATE TABLE … AS): the grid pages them from DuckDB. */
const QUERY_KEYWORDS = new Set(['SELECT', 'WITH', 'FROM', 'VALUES', 'TABLE', 'PIVOT', 'UNPIVOT']);
/** Statements that change something and report no rows worth a grid. */
const COMMAND_KEYWORDS = new Set([
  'CREATE', 'INSERT', 'UPDATE', 'DELETE', 'DROP', 'ALTER', 'SET', 'RESET', 'COPY', 'ATTACH', 'DETACH', 'USE',
  'LOAD', 'INSTALL', 'CHECKPOINT', 'BEGIN', 'COMMIT', 'ROLLBACK', 'TRUNCATE', 'VACUUM', 'ANALYZE', 'PREPARE',
  'EXECUTE', 'DEALLOCATE', 'EXPORT', 'IMPORT', 'COMMENT', 'MERGE', 'UPSERT', 'REPLACE'
]);

export type StatementKind = 'query' | 'command' | 'other';

export function statementKind(statement: string): StatementKind {
  const keyword = firstKeyword(statement);
  if (QUERY_KEYWORDS.has(keyword)) {
    return 'query';
  }
  return COMMAND_KEYWORDS.has(keyword) ? 'command' : 'other';
}

/** `CREATE TABLE … AS` for a query statement (the newline keeps a trailing line comment harmless). */
export function createTableAs(tableRef: string, statement: string): string {
  return `CREATE TABLE ${tableRef} AS\n${statement.replace(/;\s*$/, '')}\n`;
}

const MAGIC = /^\s*%%duckdb\b[^\n]*(\n|$)/;

/** A cell that runs in DuckDB-WASM in the browser: `%%duckdb` on its first line. */
export function isDuckDBCell(source: string): boolean {
  return MAGIC.test(source);
}

export function duckdbCellBody(source: string): string {
  return source.replace(MAGIC, '');
}
