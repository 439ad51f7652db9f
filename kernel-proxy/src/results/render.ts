import type { Table } from 'apache-arrow';

const HTML_ROWS = 100;
const TEXT_ROWS = 50;
const CELL_CHARS = 200;

export interface ResultSummary {
  rows: number;
  shownRows: number;
  truncated: boolean;
  elapsedMs: number;
  bytes: number;
  rowCap: number;
}

export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (value instanceof Date) return value.toISOString().replace('T', ' ').replace('Z', '');
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'object') {
    const json = (value as { toJSON?: () => unknown }).toJSON ? (value as { toJSON: () => unknown }).toJSON() : value;
    return JSON.stringify(json, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  }
  return String(value);
}

function clip(text: string): string {
  return text.length > CELL_CHARS ? `${text.slice(0, CELL_CHARS - 1)}…` : text;
}

export function summaryLine(s: ResultSummary): string {
  const parts = [`${s.rows.toLocaleString('en-US')} row${s.rows === 1 ? '' : 's'}`, `${s.elapsedMs.toLocaleString('en-US')} ms`, formatBytes(s.bytes)];
  let line = parts.join(' · ');
  if (s.truncated) line += ` · result cut at the cap (${s.rowCap.toLocaleString('en-US')} rows or size limit); add a LIMIT or raise CHLAB_MAX_RESULT_ROWS`;
  if (s.shownRows < s.rows) line += ` · first ${s.shownRows.toLocaleString('en-US')} rows kept in the notebook`;
  return line;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function typeOf(table: Table, index: number): string {
  const field = table.schema.fields[index]!;
  return field.metadata.get('clickhouse.type') ?? String(field.type);
}

export function renderHtml(table: Table, summary: ResultSummary): string {
  const fields = table.schema.fields;
  const head = fields
    .map((f, i) => `<th>${escapeHtml(f.name)}<br><small>${escapeHtml(typeOf(table, i))}</small></th>`)
    .join('');
  const rows: string[] = [];
  const columns = fields.map((_, i) => table.getChildAt(i)!);
  const shown = Math.min(table.numRows, HTML_ROWS);
  for (let r = 0; r < shown; r++) {
    const cells = columns.map((c) => {
      const v = c.get(r);
      return v === null || v === undefined ? '<td><i>NULL</i></td>' : `<td>${escapeHtml(clip(formatValue(v)))}</td>`;
    });
    rows.push(`<tr>${cells.join('')}</tr>`);
  }
  const more = table.numRows > shown ? `<p>… ${(summary.rows - shown).toLocaleString('en-US')} more rows</p>` : '';
  return `<table class="chlab-result"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>${more}<p>${escapeHtml(summaryLine(summary))}</p>`;
}

export function renderText(table: Table, summary: ResultSummary): string {
  const fields = table.schema.fields;
  const columns = fields.map((_, i) => table.getChildAt(i)!);
  const shown = Math.min(table.numRows, TEXT_ROWS);
  const grid: string[][] = [fields.map((f) => f.name)];
  for (let r = 0; r < shown; r++) grid.push(columns.map((c) => clip(formatValue(c.get(r))).replace(/\n/g, '\\n')));
  const widths = fields.map((_, i) => Math.max(...grid.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ');
  const out = [line(grid[0]!), widths.map((w) => '-'.repeat(w)).join('-+-'), ...grid.slice(1).map(line)];
  if (table.numRows > shown) out.push(`… ${(summary.rows - shown).toLocaleString('en-US')} more rows`);
  out.push(summaryLine(summary));
  return out.join('\n');
}
