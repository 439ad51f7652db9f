import type { ResultMetadata } from './metadata.js';

const count = new Intl.NumberFormat('en-US');

export function formatCount(value: number): string {
  return count.format(value);
}

export function formatRowCount(rows: number): string {
  return `${formatCount(rows)} ${rows === 1 ? 'row' : 'rows'}`;
}

/** ClickHouse-style sizes: 1.50 KiB, 12.30 MiB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(2)} ${units[unit]}`;
}

export function formatElapsed(ms: number): string {
  if (ms < 1000) {
    return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  }
  return ms < 60_000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export interface ResultSummary {
  /** "1,000 rows · 12 ms · 1.20 MiB read" */
  line: string;
  /** Set when the kernel stopped at its row cap. */
  truncationNote?: string;
  /** Set when fewer rows are on screen than were received. */
  displayNote?: string;
}

export function summarizeResult(
  receivedRows: number,
  shownRows: number,
  metadata: ResultMetadata
): ResultSummary {
  const { totalRows, truncated, elapsedMs, bytesRead } = metadata;
  const parts = [
    totalRows !== undefined && totalRows > receivedRows
      ? `${formatCount(receivedRows)} of ${formatRowCount(totalRows)}`
      : formatRowCount(receivedRows)
  ];
  if (elapsedMs !== undefined) {
    parts.push(formatElapsed(elapsedMs));
  }
  if (bytesRead !== undefined) {
    parts.push(`${formatBytes(bytesRead)} read`);
  }
  const summary: ResultSummary = { line: parts.join(' · ') };
  if (truncated) {
    summary.truncationNote =
      totalRows !== undefined && totalRows > receivedRows
        ? `Result truncated: only the first ${formatRowCount(receivedRows)} of ${formatCount(totalRows)} were fetched. Add a LIMIT or aggregate to see the rest.`
        : `Result truncated after ${formatRowCount(receivedRows)}. Add a LIMIT or aggregate to see the rest.`;
  }
  if (shownRows < receivedRows) {
    summary.displayNote = `Showing the first ${formatRowCount(shownRows)} of ${formatCount(receivedRows)} received (setting “Rows shown in a result table”).`;
  }
  return summary;
}
