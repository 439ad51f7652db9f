// ClickHouse names where parsing failed ("failed at position 7 (1)": a 1-based byte offset into the statement).
// The kernel shows that line of the cell's statement with a caret under the spot, as clickhouse-client does.

const CONTEXT = 60;

/** Traceback lines pointing at the failing spot of `statement`, or [] when `message` names none. */
export function pointAtError(statement: string, message: string): string[] {
  const match = /failed at position (\d+)/.exec(message);
  if (!match) return [];
  const bytes = Buffer.from(statement, 'utf8');
  const offset = Number(match[1]) - 1;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > bytes.length) return [];
  const before = bytes.subarray(0, offset).toString('utf8');
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = statement.indexOf('\n', before.length);
  const line = statement.slice(lineStart, lineEnd === -1 ? undefined : lineEnd).replace(/\r$/, '');
  const lineNumber = before.split('\n').length;
  let column = before.length - lineStart;
  let shown = line;
  if (column > CONTEXT) {
    shown = `…${shown.slice(column - CONTEXT)}`;
    column = CONTEXT + 1;
  }
  if (shown.length > column + CONTEXT) shown = `${shown.slice(0, column + CONTEXT)}…`;
  const label = statement.includes('\n') ? `line ${lineNumber} | ` : '  ';
  // (tabs kept as tabs, so the caret lines up under them)
  const indent = shown.slice(0, column).replace(/[^\t]/g, ' ');
  return ['', `${label}${shown}`, `${' '.repeat(label.length)}${indent}^`];
}
