import type { Readable } from 'node:stream';
import type { RecordBatch } from 'apache-arrow';
import type { AccessProfile } from '../access/roles.js';

/** ClickHouse output formats a result can be exported in. */
export type ExportFormat = 'CSVWithNames' | 'TSVWithNames' | 'JSONEachRow' | 'Parquet';

export type Settings = Record<string, string | number | boolean>;

export interface QueryOptions {
  queryId?: string;
  /** Values bound server-side to `{name:Type}` placeholders. */
  params?: Record<string, unknown>;
  settings?: Settings;
  signal?: AbortSignal;
  /** Keeps SET / USE state across statements of one kernel (HTTP sessions). */
  sessionId?: string;
  /** Whose statement this is: ClickHouse holds it to that role (readonly / allow_ddl) and limits. None: the proxy's own. */
  profile?: AccessProfile;
}

export interface ColumnInfo {
  name: string;
  type: string;
}

export interface CommandSummary {
  writtenRows?: number;
  readRows?: number;
}

export interface PingResult {
  ok: boolean;
  version?: string;
  error?: string;
}

/**
 * One API over embedded chDB and ClickHouse servers over HTTP(S).
 * `arrowBatches` yields ClickHouse's own Arrow batches; `results/` makes them faithful.
 */
export interface ClickHouseEngine {
  readonly kind: 'embedded' | 'http';
  /** A description safe to show users: never includes credentials. */
  readonly description: string;
  arrowBatches(sql: string, options?: QueryOptions): AsyncIterable<RecordBatch>;
  /**
   * Whether ClickHouse can shape a streamed result itself: DateTime as DateTime64 (an Arrow timestamp) and a
   * `SETTINGS max_block_size` clause (servers too old for ArrowStream cannot).
   */
  shapesStreams(): Promise<boolean>;
  /** The whole result of a SELECT in a ClickHouse output format, as a byte stream (exports). */
  exportStream(sql: string, format: ExportFormat, options?: QueryOptions): Promise<Readable>;
  json<T = Record<string, unknown>>(sql: string, options?: QueryOptions): Promise<T[]>;
  command(sql: string, options?: QueryOptions): Promise<CommandSummary>;
  /** ClickHouse's parse of a statement (`EXPLAIN AST`), as text. */
  explainAst(sql: string, options?: QueryOptions): Promise<string>;
  insertJson(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
  /** Stops a running query on the server (KILL QUERY); resolves when it is gone or was never running. */
  kill(queryId: string): Promise<void>;
  ping(): Promise<PingResult>;
  close(): Promise<void>;
}

/** Server-enforced limits and the Arrow output settings every query runs with. */
export function baseSettings(maxExecutionTimeSeconds: number): Settings {
  return {
    max_execution_time: maxExecutionTimeSeconds,
    output_format_arrow_compression_method: 'none',
    output_format_arrow_string_as_string: 1,
    output_format_arrow_fixed_string_as_fixed_byte_array: 0,
    output_format_arrow_low_cardinality_as_dictionary: 0,
  };
}

/** The settings that hold a statement to its access profile, for engines that send settings per request. */
export function profileSettings(profile: AccessProfile | undefined): Settings {
  if (!profile) return {};
  // `readonly` last: a server checks each setting of a request against the ones before it.
  return { ...profile.settings, ...(profile.allowDdl ? {} : { allow_ddl: 0 }), ...(profile.readonly ? { readonly: 1 } : {}) };
}
