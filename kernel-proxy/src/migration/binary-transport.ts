// Which migrations travel as binary: COPY … (FORMAT binary) re-encoded as RowBinary (postgres/row-binary.ts)
// instead of COPY text parsed as TSV. Derived from the stored plan alone (a resumed run decides as the first did),
// for the common built-in types whose binary value ClickHouse reads as the very type the text path reads, so the
// conversions, transforms, NULL guards and final CASTs of the insert are the same. Any other column keeps the
// whole range on the text path.
import type { FieldCodec, FieldEncoding } from '../postgres/row-binary.js';
import { activeColumns, type ColumnPlan } from './plan.js';
import { pgIdent } from './sql.js';
import { unwrapNullable } from './type-mapping.js';

export interface BinaryTransport {
  /** The plans with the binary COPY expression, read type and conversion of each column. */
  plans: ColumnPlan[];
  /** One per COPY field: the active columns, then the check column when there is one. */
  fields: FieldEncoding[];
}

const INT_BYTES: Record<string, { type: string; bytes: 2 | 4 | 8 }> = {
  int2: { type: 'Int16', bytes: 2 },
  int4: { type: 'Int32', bytes: 4 },
  int8: { type: 'Int64', bytes: 8 },
};
const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'json']);
const TEXT_ARRAYS: Record<string, string> = { _text: 'text', _varchar: 'varchar' };
const STRING_ARRAY_READ = 'Array(Nullable(String))';

/**
 * Codecs whose value can be one ClickHouse would refuse as text (NaN in a Decimal, ±infinity dates, NULL array
 * elements, nested arrays): binary only when the copy-time value check refuses those rows (`check`), so nothing
 * reaches the table in their place. A transformed column is not checked (ClickHouse checks it as it loads), so it
 * keeps the text path.
 */
const NEEDS_CHECK = new Set<FieldCodec['kind']>(['decimal', 'timestamptz', 'date', 'string_array']);

interface Reading {
  codec: FieldCodec;
  pg_expr?: string;
  read_type?: string;
  convert?: string;
}

function readingOf(p: ColumnPlan): Reading | null {
  const plain = p.pg_expr === pgIdent(p.source_field);
  const { base: read } = unwrapNullable(p.read_type);
  const asRead = p.convert === '{r}';
  if (p.dims > 0) {
    const element = TEXT_ARRAYS[p.udt_name];
    if (!element || p.dims !== 1 || p.category !== 'array' || p.element_category !== 'string' || p.source_nullable) return null;
    if (p.pg_expr !== `array_to_json(${pgIdent(p.source_field)})` || p.convert !== `JSONExtract(ifNull({r}, ''), '${STRING_ARRAY_READ}')`) return null;
    return { codec: { kind: 'string_array' }, pg_expr: pgIdent(p.source_field), read_type: STRING_ARRAY_READ, convert: '{r}' };
  }
  if (!plain || !asRead) return null;
  const int = INT_BYTES[p.udt_name];
  if (int) return p.category === 'int' && read === int.type ? { codec: { kind: 'int', bytes: int.bytes } } : null;
  switch (p.udt_name) {
    case 'float4':
      return read === 'Float32' ? { codec: { kind: 'float', bytes: 4 } } : null;
    case 'float8':
      return read === 'Float64' ? { codec: { kind: 'float', bytes: 8 } } : null;
    case 'bool':
      return read === 'Bool' ? { codec: { kind: 'bool' } } : null;
    case 'jsonb':
      return read === 'String' ? { codec: { kind: 'jsonb' } } : null;
    case 'uuid':
      return read === 'UUID' ? { codec: { kind: 'uuid' } } : null;
    case 'timestamptz':
      return read === "DateTime64(6, 'UTC')" ? { codec: { kind: 'timestamptz' } } : null;
    case 'date':
      return read === 'Date32' ? { codec: { kind: 'date' } } : null;
    case 'numeric': {
      const decimal = /^Decimal\((\d+), (\d+)\)$/.exec(read);
      if (p.category !== 'decimal' || !decimal || Number(decimal[1]) > 18) return null;
      return { codec: { kind: 'decimal', precision: Number(decimal[1]), scale: Number(decimal[2]) } };
    }
    default:
      return TEXT_TYPES.has(p.udt_name) && read === 'String' ? { codec: { kind: 'string' } } : null;
  }
}

/** The binary transport of a migration, or null when a column needs the text path. */
export function binaryTransport(plans: readonly ColumnPlan[], check: string | null | undefined): BinaryTransport | null {
  const out: ColumnPlan[] = [];
  const fields: FieldEncoding[] = [];
  for (const p of plans) {
    if (p.skip) {
      out.push(p);
      continue;
    }
    const reading = readingOf(p);
    if (!reading) return null;
    if (NEEDS_CHECK.has(reading.codec.kind) && (!check || p.transformation)) return null;
    const plan = { ...p, pg_expr: reading.pg_expr ?? p.pg_expr, read_type: reading.read_type ?? p.read_type, convert: reading.convert ?? p.convert };
    out.push(plan);
    fields.push({ codec: reading.codec, nullable: unwrapNullable(plan.read_type).nullable, name: p.source_field });
  }
  if (!activeColumns(out).length) return null;
  if (check) fields.push({ codec: { kind: 'bool' }, nullable: false, name: 'value check' });
  return { plans: out, fields };
}
