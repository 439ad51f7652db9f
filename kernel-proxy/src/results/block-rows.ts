import type { ColumnInfo } from '../clickhouse/engine.js';
import { typeArgs, typeName } from './clickhouse-type.js';

/**
 * Largest Arrow payload per comm message, roughly: bigger batches are sent in slices. Chromium takes WebSocket
 * messages of up to 256 KiB fastest (measured here: ~20 MiB/s; 128 KiB ~10, 512 KiB ~8, 8 MiB ~3 MiB/s).
 */
export const COMM_MESSAGE_BYTES = 240 * 1024;

/** ClickHouse's default `max_block_size`. */
const DEFAULT_BLOCK_ROWS = 65_409;
/** Below this, ClickHouse spends more time per block than it saves (measured: 2,048-row blocks cost +25 %). */
const MIN_BLOCK_ROWS = 4_096;
/** A guess for values whose size the type does not tell (String, JSON, …). */
const VARIABLE_BYTES = 24;

/**
 * Rows per ClickHouse block so that one block's Arrow record batch comes to about `targetBytes`, estimated from the
 * column types (Arrow's layout of what ClickHouse sends, text for UUID / IPs / wide integers). Within
 * [4,096, 65,409]: a wrong guess only makes messages larger or smaller, never wrong.
 */
export function blockRowsFor(columns: readonly ColumnInfo[], targetBytes: number): number {
  const rowBytes = columns.reduce((sum, column) => sum + arrowBytes(column.type), 0);
  const rows = Math.floor(targetBytes / Math.max(1, rowBytes));
  return Math.min(DEFAULT_BLOCK_ROWS, Math.max(MIN_BLOCK_ROWS, rows));
}

function arrowBytes(type: string): number {
  const args = typeArgs(type);
  switch (typeName(type)) {
    case 'Array':
      return 4 + 4 * arrowBytes(args[0] ?? '');
    case 'Map':
      return 4 + 4 * (arrowBytes(args[0] ?? '') + arrowBytes(args[1] ?? ''));
    case 'Tuple':
      return args.reduce((sum, arg) => sum + arrowBytes(arg), 0);
    case 'FixedString':
      return Number(args[0]) || VARIABLE_BYTES;
    case 'Decimal':
    case 'Decimal32':
    case 'Decimal64':
    case 'Decimal128':
      return 16;
    case 'Decimal256':
      return 32;
    default:
      return FIXED_BYTES[typeName(type)] ?? VARIABLE_BYTES;
  }
}

const FIXED_BYTES: Record<string, number> = {
  Bool: 1,
  Int8: 1,
  UInt8: 1,
  Enum8: 1,
  Int16: 2,
  UInt16: 2,
  Enum16: 2,
  Int32: 4,
  UInt32: 4,
  Float32: 4,
  Date: 4,
  Date32: 4,
  IPv4: 4 + 15,
  Int64: 8,
  UInt64: 8,
  Float64: 8,
  DateTime: 8,
  DateTime64: 8,
  UUID: 4 + 36,
  IPv6: 4 + 39,
  Int128: 4 + 40,
  UInt128: 4 + 39,
  Int256: 4 + 78,
  UInt256: 4 + 78,
};
