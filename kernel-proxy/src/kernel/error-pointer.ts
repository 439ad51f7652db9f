// Where in a cell an error happened. ClickHouse names where parsing failed ("failed at position 7 (1)": a 1-based
// byte offset into the statement); the kernel shows that line of the cell with a caret under the spot, as
// clickhouse-client does. In a cell of several statements, it also says which one failed and what ran.

const CONTEXT = 60;

/** Traceback lines pointing at the failing spot of `statement` (starting on line `firstLine` of its cell), or [] when `message` names none. */
export function pointAtError(statement: string, message: string, firstLine = 1): string[] {
  const match = /failed at position (\d+)/.exec(message);
  if (!match) return [];
  const bytes = Buffer.from(statement, 'utf8');
  const offset = Number(match[1]) - 1;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > bytes.length) return [];
  const before = bytes.subarray(0, offset).toString('utf8');
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = statement.indexOf('\n', before.length);
  const line = statement.slice(lineStart, lineEnd === -1 ? undefined : lineEnd).replace(/\r$/, '');
  const lineNumber = firstLine + before.split('\n').length - 1;
  let column = before.length - lineStart;
  let shown = line;
  if (column > CONTEXT) {
    shown = `…${shown.slice(column - CONTEXT)}`;
    column = CONTEXT + 1;
  }
  if (shown.length > column + CONTEXT) shown = `${shown.slice(0, column + CONTEXT)}…`;
  const label = statement.includes('\n') || firstLine > 1 ? `line ${lineNumber} | ` : '  ';
  // (tabs kept as tabs, so the caret lines up under them)
  const indent = shown.slice(0, column).replace(/[^\t]/g, ' ');
  return ['', `${label}${shown}`, `${' '.repeat(label.length)}${indent}^`];
}

/** For statement `index` (0-based) of `total` in a cell: which one failed, and which ran or did not. */
export function statementContext(index: number, total: number, line: number): string[] {
  if (total < 2) return [];
  const range = (from: number, to: number) => (from === to ? `statement ${from}` : `statements ${from}–${to}`);
  const parts = [`in statement ${index + 1} of ${total} (line ${line} of the cell)`];
  if (index > 0) parts.push(`${range(1, index)} ran`);
  if (index + 1 < total) parts.push(`${range(index + 2, total)} ${index + 2 === total ? 'was' : 'were'} not run`);
  return [parts.join('; ')];
}
