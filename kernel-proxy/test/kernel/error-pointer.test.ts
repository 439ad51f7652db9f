import { describe, expect, it } from 'vitest';
import { pointAtError } from '../../src/kernel/error-pointer.js';

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
});
