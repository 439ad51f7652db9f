import { DataType, type Field, type Table } from 'apache-arrow';

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

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function inZone(ms: number, timezone: string | null | undefined): string {
  const zone = timezone || 'UTC';
  let format = zoneFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('sv-SE', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    zoneFormats.set(zone, format);
  }
  const fraction = ms % 1000 === 0 ? '' : `.${String(Math.floor(((ms % 1000) + 1000) % 1000)).padStart(3, '0')}`;
  return `${format.format(new Date(ms))}${fraction}`;
}

/** An Arrow decimal (unscaled integer) as exact decimal text: -196440010 at scale 2 → "-1964400.10". */
export function decimalText(value: unknown, scale: number): string {
  const digits = String(value);
  if (scale <= 0) return digits;
  const negative = digits.startsWith('-');
  const unsigned = (negative ? digits.slice(1) : digits).padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${unsigned.slice(0, -scale)}.${unsigned.slice(-scale)}`;
}

/** Formats a column's values by its Arrow type: timestamps in their zone, dates as dates, decimals exact. */
export function columnFormatter(field: Field): (value: unknown) => string {
  if (DataType.isDecimal(field.type)) {
    const scale = (field.type as { scale: number }).scale;
    return (v) => (v === null || v === undefined ? 'NULL' : decimalText(v, scale));
  }
  if (DataType.isTimestamp(field.type)) {
    const timezone = (field.type as { timezone?: string | null }).timezone;
    return (v) => (v === null || v === undefined ? 'NULL' : inZone(Number(v), timezone));
  }
  if (DataType.isDate(field.type)) return (v) => (v === null || v === undefined ? 'NULL' : new Date(Number(v)).toISOString().slice(0, 10));
  return formatValue;
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
  const formatters = fields.map(columnFormatter);
  const shown = Math.min(table.numRows, HTML_ROWS);
  for (let r = 0; r < shown; r++) {
    const cells = columns.map((c, i) => {
      const v = c.get(r);
      return v === null || v === undefined ? '<td><i>NULL</i></td>' : `<td>${escapeHtml(clip(formatters[i]!(v)))}</td>`;
    });
    rows.push(`<tr>${cells.join('')}</tr>`);
  }
  const more = table.numRows > shown ? `<p>… ${(summary.rows - shown).toLocaleString('en-US')} more rows</p>` : '';
  return `<table class="chlab-result"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>${more}<p>${escapeHtml(summaryLine(summary))}</p>`;
}

export function renderText(table: Table, summary: ResultSummary): string {
  const fields = table.schema.fields;
  const columns = fields.map((_, i) => table.getChildAt(i)!);
  const formatters = fields.map(columnFormatter);
  const shown = Math.min(table.numRows, TEXT_ROWS);
  const grid: string[][] = [fields.map((f) => f.name)];
  for (let r = 0; r < shown; r++) grid.push(columns.map((c, i) => clip(formatters[i]!(c.get(r))).replace(/\n/g, '\\n')));
  const widths = fields.map((_, i) => Math.max(...grid.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ');
  const out = [line(grid[0]!), widths.map((w) => '-'.repeat(w)).join('-+-'), ...grid.slice(1).map(line)];
  if (table.numRows > shown) out.push(`… ${(summary.rows - shown).toLocaleString('en-US')} more rows`);
  out.push(summaryLine(summary));
  return out.join('\n');
}
