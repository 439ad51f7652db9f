import { RecordBatch, Schema, tableToIPC, Table } from 'apache-arrow';
import { byteLengthOf } from './ipc-messages.js';

export interface CollectedResult {
  schema: Schema | undefined;
  /** The first rows, kept for the cell output (bounded). */
  preview: RecordBatch[];
  previewRows: number;
  /** Rows received from ClickHouse (up to the cap). */
  rows: number;
  /** Arrow bytes received from ClickHouse. */
  bytes: number;
  /** True when the row or byte cap cut the result. */
  truncated: boolean;
}

export interface CollectLimits {
  previewRows: number;
  maxRows: number;
  maxBytes: number;
  /** Sees every batch as it arrives (within the caps); awaited, so a slow consumer slows the query. */
  onBatch?: (batch: RecordBatch) => Promise<void>;
}

/**
 * Reads batches until they end or a cap is reached, keeping only a bounded preview in memory.
 * Returns as soon as a cap is hit; the caller's abort then stops the query.
 */
export async function collect(batches: AsyncIterable<RecordBatch>, limits: CollectLimits): Promise<CollectedResult> {
  const result: CollectedResult = { schema: undefined, preview: [], previewRows: 0, rows: 0, bytes: 0, truncated: false };
  let atCap = false;
  for await (let batch of batches) {
    result.schema ??= batch.schema;
    if (atCap) {
      // A result of exactly the cap is whole: it is cut only when more rows come.
      if (batch.numRows === 0) continue;
      result.truncated = true;
      break;
    }
    if (result.rows + batch.numRows > limits.maxRows) {
      batch = batch.slice(0, limits.maxRows - result.rows);
      result.truncated = true;
    }
    result.rows += batch.numRows;
    // Uncompressed, without decoding a compressed batch (results/ipc-messages.ts LazyRecordBatch).
    result.bytes += byteLengthOf(batch);
    if (limits.onBatch && batch.numRows > 0) await limits.onBatch(batch);
    if (result.previewRows < limits.previewRows && batch.numRows > 0) {
      const keep = Math.min(batch.numRows, limits.previewRows - result.previewRows);
      result.preview.push(keep === batch.numRows ? batch : batch.slice(0, keep));
      result.previewRows += keep;
    }
    if (result.truncated) break;
    if (result.rows >= limits.maxRows || result.bytes >= limits.maxBytes) atCap = true;
  }
  return result;
}

export function previewTable(result: CollectedResult): Table {
  if (result.preview.length > 0) return new Table(result.preview);
  return new Table(result.schema ?? new Schema([]));
}

export function toIpcBytes(table: Table): Uint8Array {
  return tableToIPC(table, 'stream');
}
