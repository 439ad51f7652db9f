import type * as nbformat from '@jupyterlab/nbformat';
import type { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';

import { ARROW_MIME } from './comm.js';
import { isDuckDBCell } from './duckdb/sql.js';
import { decodeBase64Payload } from './metadata.js';
import { type ResultRegistry, type SavedResult, resultName } from './registry.js';

function text(source: nbformat.MultilineString): string {
  return Array.isArray(source) ? source.join('') : source;
}

let savedCounter = 0;

/**
 * The results a saved notebook kept: the last Arrow output of each code cell, with the names it had when it
 * ran — `_N` (its execution count) for a SQL cell, and its `-- name:` (SQL and `%%duckdb` cells).
 */
export function savedResults(model: INotebookModel): SavedResult[] {
  const results: SavedResult[] = [];
  for (let index = 0; index < model.cells.length; index++) {
    const cell = model.cells.get(index);
    if (cell.type !== 'code') {
      continue;
    }
    const json = cell.toJSON() as nbformat.ICodeCell;
    const source = text(json.source);
    let last: SavedResult | undefined;
    for (const output of json.outputs ?? []) {
      if (output.output_type !== 'display_data' && output.output_type !== 'execute_result') {
        continue;
      }
      const data = (output as nbformat.IDisplayData).data?.[ARROW_MIME];
      const metadata = ((output as nbformat.IDisplayData).metadata?.[ARROW_MIME] ?? {}) as Record<string, unknown>;
      // No data, or the first rows of a result that never ended (saved while streaming, or interrupted).
      if (data === undefined || metadata.streaming === true) {
        continue;
      }
      let preview: Uint8Array;
      try {
        preview = decodeBase64Payload(data);
      } catch {
        continue;
      }
      const total = Number(metadata.total_rows ?? metadata.rows);
      last = {
        id: typeof metadata.result_id === 'string' ? metadata.result_id : `saved-${++savedCounter}`,
        engine: metadata.engine === 'duckdb' ? 'duckdb' : 'clickhouse',
        preview,
        totalRows: Number.isFinite(total) ? total : undefined,
        query: typeof metadata.query === 'string' ? metadata.query : undefined
      };
    }
    if (!last) {
      continue;
    }
    last.name = resultName(source);
    if (last.engine === 'clickhouse' && !isDuckDBCell(source) && typeof json.execution_count === 'number') {
      last.executionCount = json.execution_count;
    }
    if (last.executionCount !== undefined || last.name) {
      results.push(last);
    }
  }
  return results;
}

/** Loads the saved results of a notebook into DuckDB-WASM once it is opened (or restored on reload). */
export async function restoreSavedResults(panel: NotebookPanel, registry: ResultRegistry): Promise<void> {
  await panel.context.ready;
  const model = panel.content.model;
  if (!model || panel.isDisposed) {
    return;
  }
  const results = savedResults(model);
  if (results.length) {
    await registry.restoreSaved(results);
  }
}
