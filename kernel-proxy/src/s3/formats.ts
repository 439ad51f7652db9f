import type { Settings } from '../clickhouse/engine.js';
import { S3Error } from './errors.js';

export type HeaderMode = 'auto' | 'yes' | 'no';

/** How ClickHouse is to read a file: its format, compression and the settings that go with them. */
export interface ReadFormat {
  /** A ClickHouse input format, or undefined to let ClickHouse detect it. */
  format?: string;
  /** A ClickHouse compression method, or undefined for "from the name" (ClickHouse's `auto`). */
  compression?: string;
  settings: Settings;
  /** Whether the format came from the name (true) or the user (false). */
  inferred: boolean;
}

const COMPRESSION_BY_EXTENSION: Record<string, string> = {
  gz: 'gzip',
  gzip: 'gzip',
  zst: 'zstd',
  zstd: 'zstd',
  bz2: 'bz2',
  xz: 'xz',
  lz4: 'lz4',
  br: 'br',
  deflate: 'deflate',
  snappy: 'snappy',
};

const FORMAT_BY_EXTENSION: Record<string, string> = {
  parquet: 'Parquet',
  pq: 'Parquet',
  csv: 'CSV',
  tsv: 'TSV',
  tab: 'TSV',
  jsonl: 'JSONEachRow',
  ndjson: 'JSONEachRow',
  json: 'JSONEachRow',
  orc: 'ORC',
  avro: 'Avro',
  arrow: 'Arrow',
  feather: 'Arrow',
  txt: 'LineAsString',
  log: 'LineAsString',
};

/** Short names a cell or a script may use for a format; any other ClickHouse input format name is passed on. */
const FORMAT_ALIASES: Record<string, string> = {
  parquet: 'Parquet',
  csv: 'CSV',
  csvwithnames: 'CSVWithNames',
  tsv: 'TSV',
  tabseparated: 'TSV',
  tsvwithnames: 'TSVWithNames',
  tabseparatedwithnames: 'TSVWithNames',
  json: 'JSONEachRow',
  jsonl: 'JSONEachRow',
  ndjson: 'JSONEachRow',
  jsonlines: 'JSONEachRow',
  jsoneachrow: 'JSONEachRow',
  orc: 'ORC',
  avro: 'Avro',
  arrow: 'Arrow',
  lines: 'LineAsString',
  text: 'LineAsString',
};

const COMPRESSION_ALIASES: Record<string, string | undefined> = {
  auto: undefined,
  none: 'none',
  gzip: 'gzip',
  gz: 'gzip',
  zstd: 'zstd',
  zst: 'zstd',
  bz2: 'bz2',
  xz: 'xz',
  lz4: 'lz4',
  br: 'br',
  brotli: 'br',
  deflate: 'deflate',
  snappy: 'snappy',
};

/** The format and compression a file name (or a glob's name part) implies. */
export function inferFromName(key: string): { format?: string; compression?: string } {
  const name = key.slice(key.lastIndexOf('/') + 1).toLowerCase();
  const parts = name.split('.');
  let compression: string | undefined;
  if (parts.length > 1 && COMPRESSION_BY_EXTENSION[parts.at(-1)!]) {
    compression = COMPRESSION_BY_EXTENSION[parts.pop()!];
  }
  const format = parts.length > 1 ? FORMAT_BY_EXTENSION[parts.at(-1)!] : undefined;
  return { format, compression };
}

/**
 * The read format for a key: from its name unless `format` / `compression` say otherwise. `header` picks
 * between CSV/TSV with a header row (`yes`), without (`no`, columns c1, c2, …) and ClickHouse's detection (`auto`).
 */
export function resolveFormat(key: string, options: { format?: string; compression?: string; header?: HeaderMode } = {}): ReadFormat {
  const fromName = inferFromName(key);
  let format = fromName.format;
  let inferred = true;
  if (options.format !== undefined && options.format !== '' && options.format.toLowerCase() !== 'auto') {
    const alias = FORMAT_ALIASES[options.format.toLowerCase()];
    if (!alias && !/^[A-Za-z][A-Za-z0-9]{1,63}$/.test(options.format)) throw new S3Error(400, `format: "${options.format.slice(0, 64)}" is not a format name`);
    format = alias ?? options.format;
    inferred = false;
  }
  let compression = fromName.compression;
  if (options.compression !== undefined && options.compression !== '') {
    const key = options.compression.toLowerCase();
    if (!(key in COMPRESSION_ALIASES)) {
      throw new S3Error(400, `compression: "${options.compression.slice(0, 32)}" is not one of ${Object.keys(COMPRESSION_ALIASES).join(', ')}`);
    }
    compression = COMPRESSION_ALIASES[key];
  }
  const settings: Settings = {};
  const header = options.header ?? 'auto';
  if (format === 'CSV' || format === 'CSVWithNames') {
    if (header === 'yes') format = 'CSVWithNames';
    if (header === 'no') {
      format = 'CSV';
      settings.input_format_csv_detect_header = 0;
    }
  } else if (format === 'TSV' || format === 'TSVWithNames') {
    if (header === 'yes') format = 'TSVWithNames';
    if (header === 'no') {
      format = 'TSV';
      settings.input_format_tsv_detect_header = 0;
    }
  } else if (header !== 'auto' && format !== undefined) {
    throw new S3Error(400, `header: only CSV and TSV files have a header option (the format is ${format})`);
  }
  return { format, compression, settings, inferred };
}

export function parseHeader(value: string | boolean | undefined): HeaderMode {
  if (value === undefined || value === 'auto') return 'auto';
  if (value === true || value === 'yes' || value === 'true' || value === '1') return 'yes';
  if (value === false || value === 'no' || value === 'false' || value === '0') return 'no';
  throw new S3Error(400, `header: expected yes, no or auto, got "${String(value).slice(0, 20)}"`);
}
