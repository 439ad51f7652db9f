import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { DataType, type Vector, tableFromIPC, tableToIPC } from 'apache-arrow';

import { getDuckDB } from './duckdb/engine.js';
import type { GridColumn } from './grid/source.js';
import { ArrowPage } from './grid/source.js';

export type ExportFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';

export const EXPORT_FORMATS: { format: ExportFormat; label: string; extension: string; mime: string }[] = [
  { format: 'csv', label: 'CSV', extension: 'csv', mime: 'text/csv' },
  { format: 'tsv', label: 'TSV', extension: 'tsv', mime: 'text/tab-separated-values' },
  { format: 'jsonl', label: 'JSON Lines', extension: 'jsonl', mime: 'application/x-ndjson' },
  { format: 'parquet', label: 'Parquet', extension: 'parquet', mime: 'application/vnd.apache.parquet' }
];

/**
 * Formats written in the browser. Parquet: DuckDB-WASM's Parquet writer is an extension fetched from a CDN
 * (nothing is fetched here), so the rows DuckDB holds go as Arrow to parquet-wasm (served by the proxy too).
 */
export const BROWSER_FORMATS: ExportFormat[] = ['csv', 'tsv', 'jsonl', 'parquet'];

type ParquetWasm = typeof import('parquet-wasm/esm');

let parquetWasm: Promise<ParquetWasm> | undefined;

/** Where the proxy serves parquet-wasm's module (copied into the app build by rspack): no CDN. */
export function parquetWasmUrl(): string {
  return URLExt.join(PageConfig.getOption('fullStaticUrl') || '/static/lab', 'parquet', 'parquet_wasm_bg.wasm');
}

function loadParquetWasm(): Promise<ParquetWasm> {
  if (!parquetWasm) {
    parquetWasm = import('parquet-wasm/esm').then(
      async module => {
        await module.default({ module_or_path: parquetWasmUrl() });
        return module;
      },
      reason => {
        parquetWasm = undefined;
        throw reason;
      }
    );
  }
  return parquetWasm;
}

/** A file name the export endpoint accepts: letters, digits, `_ . -`. */
export function exportFileName(base: string): string {
  const cleaned = base.replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 80);
  return cleaned || 'result';
}

function download(href: string, fileName: string): void {
  const anchor = document.createElement('a');
  anchor.href = href;
  anchor.download = fileName;
  anchor.rel = 'noopener';
  anchor.style.display = 'none';
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
}

/** The URL of the whole result in a format, streamed by ClickHouse through `/api/query/export`. */
export function clickhouseExportUrl(query: string, format: ExportFormat, fileName: string): string {
  const base = URLExt.join(PageConfig.getBaseUrl(), 'api/query/export');
  return `${base}${URLExt.objectToQueryString({ query, format, filename: fileName })}`;
}

/**
 * Downloads the whole result: ClickHouse runs the query again and streams every row in the format
 * (not bounded by the result caps). The browser streams it to disk.
 */
export function exportFromClickHouse(query: string, format: ExportFormat, fileName: string): void {
  download(clickhouseExportUrl(query, format, fileName), `${fileName}.${format}`);
}

const PAGE_ROWS = 20_000;

/** A JSON value for an Arrow value: numbers and booleans kept, everything else as the grid shows it. */
function jsonValue(vector: Vector, index: number, page: ArrowPage, column: number): unknown {
  const type = vector.type as DataType;
  if (!vector.isValid(index)) {
    return null;
  }
  if (DataType.isInt(type) || DataType.isFloat(type)) {
    const value = vector.get(index) as number | bigint;
    if (typeof value === 'bigint') {
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
    }
    return Number.isFinite(value) ? value : String(value);
  }
  if (DataType.isBool(type)) {
    return vector.get(index) as boolean;
  }
  return page.text(index, column);
}

function csvField(text: string | null): string {
  if (text === null) {
    return '';
  }
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** TSV as ClickHouse writes it: `\N` for NULL, tabs, newlines and backslashes escaped. */
function tsvField(text: string | null): string {
  if (text === null) {
    return '\\N';
  }
  return text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

/**
 * Writes a DuckDB table (a result, or its sorted and filtered view) to a file in the browser, page by page,
 * with each value as the grid shows it (times in their column's zone, exact decimals): CSV, TSV or JSON Lines.
 */
export async function exportFromDuckDB(
  tableRef: string,
  columns: GridColumn[],
  format: ExportFormat,
  fileName: string
): Promise<Blob> {
  if (!BROWSER_FORMATS.includes(format)) {
    throw new Error(`${format} is not written in the browser: export the whole result instead`);
  }
  if (format === 'parquet') {
    return exportParquet(tableRef, fileName);
  }
  const db = await getDuckDB();
  const parts: string[] = [];
  if (format === 'csv') {
    parts.push(columns.map(column => csvField(column.name)).join(',') + '\n');
  } else if (format === 'tsv') {
    parts.push(columns.map(column => tsvField(column.name)).join('\t') + '\n');
  }
  const total = Number((await db.query(`SELECT count(*) AS n FROM ${tableRef}`)).getChildAt(0)?.get(0) ?? 0);
  for (let start = 0; start < total; start += PAGE_ROWS) {
    const table = await db.query(`SELECT * FROM ${tableRef} WHERE rowid >= ${start} AND rowid < ${start + PAGE_ROWS} ORDER BY rowid`);
    const page = new ArrowPage(start, table, columns);
    const lines: string[] = [];
    if (format === 'jsonl') {
      const vectors = columns.map((_, i) => table.getChildAt(i)!);
      for (let row = 0; row < table.numRows; row++) {
        const object: Record<string, unknown> = {};
        columns.forEach((column, i) => {
          object[column.name] = jsonValue(vectors[i], row, page, i);
        });
        lines.push(JSON.stringify(object));
      }
    } else {
      const field = format === 'csv' ? csvField : tsvField;
      const separator = format === 'csv' ? ',' : '\t';
      for (let row = 0; row < table.numRows; row++) {
        lines.push(columns.map((_, i) => field(page.text(row, i))).join(separator));
      }
    }
    parts.push(lines.join('\n') + '\n');
  }
  const mime = EXPORT_FORMATS.find(f => f.format === format)!.mime;
  const blob = new Blob(parts, { type: mime });
  const url = URL.createObjectURL(blob);
  download(url, `${fileName}.${format}`);
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return blob;
}

/** DuckDB-WASM answers with Arrow IPC files; parquet-wasm reads IPC streams. */
function asIPCStream(bytes: Uint8Array): Uint8Array {
  return tableToIPC(tableFromIPC(bytes), 'stream');
}

/**
 * Writes a DuckDB table to Parquet in the browser with its types (DuckDB's Arrow of each page of rows, written
 * by parquet-wasm as it comes, Snappy-compressed): what DuckDB holds, not the text the grid shows.
 */
export async function exportParquet(tableRef: string, fileName: string): Promise<Blob> {
  const [db, parquet] = await Promise.all([getDuckDB(), loadParquetWasm()]);
  const total = Number((await db.query(`SELECT count(*) AS n FROM ${tableRef}`)).getChildAt(0)?.get(0) ?? 0);
  const properties = () =>
    new parquet.WriterPropertiesBuilder().setCompression(parquet.Compression.SNAPPY).setCreatedBy('chlab (parquet-wasm)').build();
  let blob: Blob;
  if (total === 0) {
    // No batch to stream: the schema alone.
    const empty = parquet.Table.fromIPCStream(asIPCStream(await db.queryIPC(`SELECT * FROM ${tableRef} LIMIT 0`)));
    blob = new Blob([parquet.writeParquet(empty, properties()) as Uint8Array<ArrayBuffer>], { type: 'application/vnd.apache.parquet' });
  } else {
    let start = 0;
    const batches = new ReadableStream({
      async pull(controller) {
        if (start >= total) {
          controller.close();
          return;
        }
        const ipc = await db.queryIPC(`SELECT * FROM ${tableRef} WHERE rowid >= ${start} AND rowid < ${start + PAGE_ROWS} ORDER BY rowid`);
        start += PAGE_ROWS;
        for (const batch of parquet.Table.fromIPCStream(asIPCStream(ipc)).recordBatches()) {
          controller.enqueue(batch);
        }
      }
    });
    const bytes = await parquet.transformParquetStream(batches, properties());
    blob = new Blob([await new Response(bytes).arrayBuffer()], { type: 'application/vnd.apache.parquet' });
  }
  const url = URL.createObjectURL(blob);
  download(url, `${fileName}.parquet`);
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return blob;
}
