import { ARROW_MIME } from './spec.js';
import type { StatementOutcome } from '../clickhouse/query-service.js';
import { renderHtml, renderText, type ResultSummary } from '../results/render.js';
import { toIpcBytes } from '../results/collect.js';

export interface DisplayBundle {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** The display_data bundle of one statement: Arrow + HTML + text for rows, a line for commands. */
export function outputFor(outcome: StatementOutcome, rowCap: number): DisplayBundle {
  const elapsedMs = Math.round(outcome.elapsedMs);
  if (outcome.kind === 'command') {
    const written = outcome.summary.writtenRows;
    const what = written ? `${outcome.keyword}: ${written.toLocaleString('en-US')} rows written` : `${outcome.keyword || 'Statement'}: OK`;
    return { data: { 'text/plain': `${what} · ${elapsedMs} ms` }, metadata: {} };
  }
  const summary: ResultSummary = {
    rows: outcome.result.rows,
    shownRows: outcome.table.numRows,
    truncated: outcome.result.truncated,
    elapsedMs,
    bytes: outcome.result.bytes,
    rowCap,
  };
  const ipc = toIpcBytes(outcome.table);
  return {
    data: {
      [ARROW_MIME]: Buffer.from(ipc).toString('base64'),
      'text/html': renderHtml(outcome.table, summary),
      'text/plain': renderText(outcome.table, summary),
    },
    metadata: {
      [ARROW_MIME]: {
        rows: outcome.result.rows,
        total_rows: outcome.result.rows,
        preview_rows: outcome.table.numRows,
        truncated: outcome.result.truncated,
        elapsed_ms: elapsedMs,
        bytes: outcome.result.bytes,
        bytes_read: outcome.result.bytes,
        columns: outcome.columns,
      },
    },
  };
}
