/** What the kernel puts in the output metadata next to an Arrow result. */
export interface ResultMetadata {
  /** Rows in this Arrow stream. */
  rows?: number;
  /** Rows the query produced before the kernel's row cap. */
  totalRows?: number;
  truncated: boolean;
  elapsedMs?: number;
  bytesRead?: number;
  /** ClickHouse column types, by position. */
  columns: { name: string; type: string }[];
}

function finiteNumber(value: unknown): number | undefined {
  const number = typeof value === 'string' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : undefined;
}

/** Reads `{preview_rows, total_rows, truncated, elapsed_ms, bytes_read, columns}` defensively. */
export function readResultMetadata(raw: unknown): ResultMetadata {
  const source = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const columns = Array.isArray(source.columns)
    ? source.columns.flatMap(column => {
        const { name, type } = (column ?? {}) as Record<string, unknown>;
        return typeof name === 'string' && typeof type === 'string' ? [{ name, type }] : [];
      })
    : [];
  return {
    rows: finiteNumber(source.preview_rows ?? source.rows),
    totalRows: finiteNumber(source.total_rows ?? source.rows),
    truncated: source.truncated === true,
    elapsedMs: finiteNumber(source.elapsed_ms),
    bytesRead: finiteNumber(source.bytes_read),
    columns
  };
}

/** Output data may be a base64 string or, in a saved notebook, a list of lines. */
export function decodeBase64Payload(data: unknown): Uint8Array {
  const text = Array.isArray(data) ? data.join('') : data;
  if (typeof text !== 'string') {
    throw new Error('expected a base64 string');
  }
  const base64 = text.replace(/\s+/g, '');
  const native = Uint8Array as { fromBase64?: (input: string) => Uint8Array };
  if (typeof native.fromBase64 === 'function') {
    return native.fromBase64(base64);
  }
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}
