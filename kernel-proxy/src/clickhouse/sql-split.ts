/**
 * Splits a cell into statements on `;`, leaving alone semicolons inside string literals,
 * quoted identifiers, comments and heredocs ($tag$ … $tag$). Statements that are only
 * whitespace and comments are dropped.
 */
export function splitStatements(source: string): string[] {
  return locateStatements(source).map((statement) => statement.text);
}

export interface LocatedStatement {
  text: string;
  /** The 1-based line of the source the statement starts on. */
  line: number;
}

/** splitStatements, with the line each statement starts on. */
export function locateStatements(source: string): LocatedStatement[] {
  const statements: LocatedStatement[] = [];
  let start = 0;
  let i = 0;
  let hasCode = false;
  const n = source.length;
  // (lines counted once, from the previous statement on)
  let counted = 0;
  let line = 1;

  const push = (end: number) => {
    const raw = source.slice(start, end);
    const text = raw.trim();
    if (hasCode && text) {
      const at = start + raw.length - raw.trimStart().length;
      for (; counted < at; counted++) if (source.charCodeAt(counted) === 10) line++;
      statements.push({ text, line });
    }
    hasCode = false;
  };

  while (i < n) {
    const ch = source[i]!;
    const next = source[i + 1];
    if (ch === '-' && next === '-') {
      i = skipLine(source, i);
    } else if (ch === '#' && (next === ' ' || next === '!')) {
      i = skipLine(source, i);
    } else if (ch === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
    } else if (ch === "'" || ch === '"' || ch === '`') {
      hasCode = true;
      i = skipQuoted(source, i, ch);
    } else if (ch === '$') {
      const tag = /^\$[A-Za-z0-9_]*\$/.exec(source.slice(i, i + 64));
      if (tag) {
        hasCode = true;
        const end = source.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? n : end + tag[0].length;
      } else {
        hasCode = true;
        i++;
      }
    } else if (ch === ';') {
      push(i);
      start = i + 1;
      i++;
    } else {
      if (!/\s/.test(ch)) hasCode = true;
      i++;
    }
  }
  push(n);
  return statements;
}

function skipLine(source: string, from: number): number {
  const end = source.indexOf('\n', from);
  return end === -1 ? source.length : end + 1;
}

function skipQuoted(source: string, from: number, quote: string): number {
  let i = from + 1;
  while (i < source.length) {
    const ch = source[i];
    if (ch === '\\') {
      i += 2;
    } else if (ch === quote) {
      if (source[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return source.length;
}

/** Removes leading comments and whitespace, so a statement's first keyword can be read. */
export function stripLeadingComments(statement: string): string {
  let s = statement;
  for (;;) {
    const trimmed = s.replace(/^\s+/, '');
    if (trimmed.startsWith('--') || trimmed.startsWith('# ') || trimmed.startsWith('#!')) {
      const nl = trimmed.indexOf('\n');
      s = nl === -1 ? '' : trimmed.slice(nl + 1);
    } else if (trimmed.startsWith('/*')) {
      const end = trimmed.indexOf('*/');
      s = end === -1 ? '' : trimmed.slice(end + 2);
    } else {
      return trimmed;
    }
  }
}

export type StatementKind = 'rows' | 'command';

const ROW_RETURNING = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'EXISTS', 'VALUES', 'CHECK', 'FROM']);

/** Whether a statement returns rows (shown as a result table) or is a command (DDL, INSERT, SET…). */
export function classifyStatement(statement: string): { kind: StatementKind; keyword: string } {
  const body = stripLeadingComments(statement).replace(/^\(+\s*/, '');
  const keyword = (/^[A-Za-z]+/.exec(body)?.[0] ?? '').toUpperCase();
  return { kind: ROW_RETURNING.has(keyword) ? 'rows' : 'command', keyword };
}

/** Statements that change schema (the audit files them as `ddl`). */
export const DDL_KEYWORDS: ReadonlySet<string> = new Set(['CREATE', 'ALTER', 'DROP', 'TRUNCATE', 'RENAME', 'ATTACH', 'DETACH', 'EXCHANGE', 'UNDROP', 'GRANT', 'REVOKE']);

/** Whether the statement can be wrapped as a subquery, `DESCRIBE (…)` (plain SELECT / WITH). */
export function isSubqueryable(statement: string): boolean {
  const { keyword } = classifyStatement(statement);
  if (keyword !== 'SELECT' && keyword !== 'WITH') return false;
  return !/\b(FORMAT|INTO\s+OUTFILE)\s+\w+\s*$/i.test(statement);
}
