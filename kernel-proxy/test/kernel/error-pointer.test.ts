import { describe, expect, it } from 'vitest';
import { locateStatements } from '../../src/clickhouse/sql-split.js';
import { pointAtError, statementContext } from '../../src/kernel/error-pointer.js';

describe('pointAtError', () => {
  it('cuts a long line around the spot and keeps tabs under tabs', () => {
    const statement = `SELECT ${'a, '.repeat(60)}\tFROM x WHERE ${'b AND '.repeat(30)}`;
    const offset = Buffer.byteLength(statement.slice(0, statement.indexOf('FROM'))) + 1;
    const [, line, caret] = pointAtError(statement, `Syntax error: failed at position ${offset} (FROM)`);
    expect(line!.startsWith('  …')).toBe(true);
    expect(line!.endsWith('…')).toBe(true);
    expect(line!.slice(caret!.indexOf('^'))).toMatch(/^FROM x WHERE/);
    expect(caret!.trimEnd().endsWith('\t^')).toBe(true);
  });

  it('points past the end for an unfinished statement, and names nothing without a position', () => {
    expect(pointAtError('SELECT (', 'Syntax error: failed at position 9 (end of query)')).toEqual(['', '  SELECT (', '          ^']);
    expect(pointAtError('SELECT 1', 'Unknown table')).toEqual([]);
    expect(pointAtError('SELECT 1', 'failed at position 99 (x)')).toEqual([]);
  });

  it('numbers lines as the cell does when the statement starts further down', () => {
    expect(pointAtError('SELEC 1', 'Syntax error: failed at position 7 (1)', 4)).toEqual(['', 'line 4 | SELEC 1', '               ^']);
    expect(pointAtError('SELECT 1,\n  (', 'Syntax error: failed at position 14 (end of query)', 3)).toEqual(['', 'line 4 |   (', '            ^']);
  });
});

describe('statementContext', () => {
  it('says which statement of a cell failed, which ran and which did not', () => {
    expect(statementContext(0, 1, 1)).toEqual([]);
    expect(statementContext(0, 2, 1)).toEqual(['in statement 1 of 2 (line 1 of the cell); statement 2 was not run']);
    expect(statementContext(1, 3, 2)).toEqual(['in statement 2 of 3 (line 2 of the cell); statement 1 ran; statement 3 was not run']);
    expect(statementContext(3, 6, 9)).toEqual(['in statement 4 of 6 (line 9 of the cell); statements 1–3 ran; statements 5–6 were not run']);
    expect(statementContext(4, 5, 7)).toEqual(['in statement 5 of 5 (line 7 of the cell); statements 1–4 ran']);
  });
});

describe('locateStatements', () => {
  it('gives the line each statement starts on, past comments, blank lines and newlines inside strings', () => {
    const cell = ["-- setup", "", "CREATE TABLE t (s String) ENGINE = Memory;", "INSERT INTO t VALUES ('a;", "b');  SELECT", "  1;", "/* done; */", "SELECT 2"].join('\n');
    expect(locateStatements(cell)).toEqual([
      { text: "-- setup\n\nCREATE TABLE t (s String) ENGINE = Memory", line: 1 },
      { text: "INSERT INTO t VALUES ('a;\nb')", line: 4 },
      { text: 'SELECT\n  1', line: 5 },
      { text: '/* done; */\nSELECT 2', line: 7 },
    ]);
  });
});
