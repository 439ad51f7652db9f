import {
  Bool,
  DateDay,
  Field,
  Float64,
  Int32,
  Int64,
  Schema,
  TimestampSecond,
  Uint64,
  Utf8,
  makeBuilder,
  RecordBatch,
  Struct,
  makeData,
  type Builder,
  type DataType,
} from 'apache-arrow';

const BATCH_ROWS = 65_536;

/**
 * Encodes ClickHouse `TabSeparatedWithNamesAndTypes` output as Arrow batches,
 * for servers that cannot produce Arrow themselves.
 */
export async function* tsvToArrowBatches(stream: AsyncIterable<Uint8Array>): AsyncGenerator<RecordBatch> {
  const decoder = new TextDecoder();
  let names: string[] | undefined;
  let schema: Schema | undefined;
  let parsers: ((text: string) => unknown)[] = [];
  let builders: Builder[] = [];
  let rows = 0;
  let pending = '';

  const flush = (): RecordBatch | undefined => {
    if (!schema || rows === 0) return undefined;
    const children = builders.map((b) => b.finish().flush());
    const data = makeData({ type: new Struct(schema.fields), length: rows, nullCount: 0, children });
    builders = schema.fields.map((f) => makeBuilder({ type: f.type, nullValues: [null] }));
    rows = 0;
    return new RecordBatch(schema, data);
  };

  const takeLine = (line: string): RecordBatch | undefined => {
    if (!names) {
      names = line.split('\t').map(unescapeTsv);
      return undefined;
    }
    if (!schema) {
      const types = line.split('\t').map(unescapeTsv);
      const fields = names.map((name, i) => {
        const type = arrowTypeFor(types[i] ?? 'String');
        return new Field(name, type, true, new Map([['clickhouse.type', types[i] ?? 'String']]));
      });
      schema = new Schema(fields);
      parsers = types.map((t) => parserFor(t));
      builders = fields.map((f) => makeBuilder({ type: f.type, nullValues: [null] }));
      return undefined;
    }
    const cells = line.split('\t');
    for (let i = 0; i < builders.length; i++) {
      const cell = cells[i] ?? '\\N';
      builders[i]!.append(cell === '\\N' ? null : parsers[i]!(unescapeTsv(cell)));
    }
    rows++;
    return rows >= BATCH_ROWS ? flush() : undefined;
  };

  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      const batch = takeLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      if (batch) yield batch;
      newline = pending.indexOf('\n');
    }
  }
  pending += decoder.decode();
  if (pending) {
    const batch = takeLine(pending);
    if (batch) yield batch;
  }
  const last = flush();
  if (last) yield last;
}

function unwrap(type: string): string {
  const m = /^(?:Nullable|LowCardinality)\((.*)\)$/.exec(type);
  return m ? unwrap(m[1]!) : type;
}

function arrowTypeFor(clickhouseType: string): DataType {
  const t = unwrap(clickhouseType);
  if (/^(U?Int(8|16)|Int32)$/.test(t)) return new Int32();
  if (t === 'UInt32') return new Int64();
  if (t === 'Int64') return new Int64();
  if (t === 'UInt64') return new Uint64();
  if (/^Float(32|64)$/.test(t)) return new Float64();
  if (t === 'Bool') return new Bool();
  if (t === 'Date') return new DateDay();
  if (/^DateTime(\(.*\))?$/.test(t)) return new TimestampSecond(/'([^']+)'/.exec(t)?.[1] ?? null);
  return new Utf8();
}

function parserFor(clickhouseType: string): (text: string) => unknown {
  const type = arrowTypeFor(clickhouseType);
  if (type instanceof Int32 || type instanceof Float64) return Number;
  if (type instanceof Int64 || type instanceof Uint64) return (s) => BigInt(s);
  if (type instanceof Bool) return (s) => s === 'true' || s === '1';
  if (type instanceof DateDay) return (s) => new Date(`${s}T00:00:00Z`);
  if (type instanceof TimestampSecond) return (s) => new Date(`${s.replace(' ', 'T')}Z`);
  return (s) => s;
}

const ESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', '0': '\0', '\\': '\\', "'": "'" };

export function unescapeTsv(text: string): string {
  if (!text.includes('\\')) return text;
  return text.replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c);
}
