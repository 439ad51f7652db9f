import { DataType, type Table } from 'apache-arrow';
import { decimalText } from './render.js';

function jsonValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'object') {
    const v = value as { toJSON?: () => unknown };
    if (typeof v.toJSON === 'function') return jsonValue(v.toJSON());
    if (Array.isArray(value)) return value.map(jsonValue);
    return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, jsonValue(x)]));
  }
  return value;
}

/** Rows as JSON objects: 64-bit integers as numbers when exact, else strings; times as ISO text. */
export function tableRowsAsJson(table: Table): Record<string, unknown>[] {
  const fields = table.schema.fields;
  const columns = fields.map((_, i) => table.getChildAt(i)!);
  const convert = fields.map((f) => {
    if (DataType.isTimestamp(f.type)) return (v: unknown) => (v === null ? null : new Date(Number(v)).toISOString());
    if (DataType.isDate(f.type)) return (v: unknown) => (v === null ? null : new Date(Number(v)).toISOString().slice(0, 10));
    if (DataType.isDecimal(f.type)) {
      const scale = (f.type as { scale: number }).scale;
      return (v: unknown) => {
        if (v === null) return null;
        const text = decimalText(v, scale);
        return text.replace(/^-/, '').replace('.', '').replace(/^0+/, '').length <= 15 ? Number(text) : text;
      };
    }
    return jsonValue;
  });
  const rows: Record<string, unknown>[] = [];
  for (let r = 0; r < table.numRows; r++) {
    const row: Record<string, unknown> = {};
    fields.forEach((f, i) => (row[f.name] = convert[i]!(columns[i]!.get(r))));
    rows.push(row);
  }
  return rows;
}
