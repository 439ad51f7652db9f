import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { DataType, type Vector } from 'apache-arrow';

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

/** Formats written in the browser (DuckDB-WASM has no Parquet writer without its extension, which is not served). */
export const BROWSER_FORMATS: ExportFormat[] = ['csv', 'tsv', 'jsonl'];

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
    throw new Error('Parquet is written by ClickHouse: export the whole result instead');
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
