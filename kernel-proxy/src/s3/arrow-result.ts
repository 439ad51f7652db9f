import { Field, RecordBatch, Schema, Struct, Table, TimestampMillisecond, Uint64, Utf8, makeData, vectorFromArray, type Data, type DataType, type Vector } from 'apache-arrow';
import type { StatementOutcome } from '../clickhouse/query-service.js';

export type ResultColumn =
  | { name: string; kind: 'string'; values: (string | null)[] }
  | { name: string; kind: 'uint64'; values: (number | null)[] }
  | { name: string; kind: 'time'; values: (string | null)[] };

const CLICKHOUSE_TYPE: Record<ResultColumn['kind'], string> = {
  string: 'String',
  uint64: 'UInt64',
  time: "DateTime64(3, 'UTC')",
};

/**
 * A small result made in the proxy (a listing, a schema) as the same Arrow result a SQL cell shows: each
 * field carries its ClickHouse type, so it renders, and can be re-queried, like any other result.
 */
export function arrowOutcome(columns: ResultColumn[], elapsedMs: number): Extract<StatementOutcome, { kind: 'rows' }> {
  const children: Data[] = [];
  const fields: Field[] = [];
  let rows = 0;
  for (const column of columns) {
    let vector: Vector;
    const nullable = column.values.some((v) => v === null);
    if (column.kind === 'string') vector = vectorFromArray(column.values, new Utf8());
    else if (column.kind === 'uint64') vector = vectorFromArray(column.values.map((v) => (v === null ? null : BigInt(v))), new Uint64());
    else vector = vectorFromArray(column.values.map((v) => (v === null ? null : Date.parse(v))), new TimestampMillisecond('UTC'));
    children.push(vector.data[0]!);
    rows = column.values.length;
    const type = nullable ? `Nullable(${CLICKHOUSE_TYPE[column.kind]})` : CLICKHOUSE_TYPE[column.kind];
    fields.push(new Field(column.name, vector.type as DataType, nullable, new Map([['clickhouse.type', type]])));
  }
  const schema = new Schema(fields);
  const batch = new RecordBatch(schema, makeData({ type: new Struct(fields), length: rows, nullCount: 0, children }));
  const table = new Table(schema, [batch]);
  return {
    kind: 'rows',
    table,
    result: { schema: table.schema, preview: table.batches, previewRows: rows, rows, bytes: table.batches.reduce((s, b) => s + b.data.byteLength, 0), truncated: false },
    columns: fields.map((f) => ({ name: f.name, type: f.metadata.get('clickhouse.type')! })),
    elapsedMs,
  };
}
