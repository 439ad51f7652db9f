import { randomUUID } from 'node:crypto';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { RecordBatch } from 'apache-arrow';
import { batchesOf, ipcMessages } from '../results/ipc-messages.js';
import type { ClickHouseHttpConfig } from '../config.js';
import type { Readable } from 'node:stream';
import { profileSettings, type ClickHouseEngine, type CommandSummary, type ExportFormat, type PingResult, type QueryOptions, type Settings } from './engine.js';
import { toClickHouseError } from './errors.js';
import { QueryCancelledError } from './embedded.js';
import { tsvToArrowBatches } from './tsv-arrow.js';

const UNKNOWN_FORMAT = 73;

/** A ClickHouse server over HTTP(S) through @clickhouse/client. */
export class HttpEngine implements ClickHouseEngine {
  readonly kind = 'http' as const;
  readonly description: string;
  private readonly client: ClickHouseClient;
  private arrowSupported: boolean | undefined;

  constructor(
    config: ClickHouseHttpConfig,
    private readonly defaults: Settings,
  ) {
    this.client = createClient({
      url: config.url,
      username: config.username,
      password: config.password,
      database: config.database,
      request_timeout: 24 * 3600 * 1000,
      application: 'chlab',
      log: { level: ClickHouseLogLevel.OFF },
    });
    const url = new URL(config.url);
    this.description = `ClickHouse at ${url.protocol}//${url.host}`;
  }

  async *arrowBatches(sql: string, options: QueryOptions = {}): AsyncGenerator<RecordBatch> {
    if (await this.supportsArrow()) {
      yield* this.readStream(sql, 'ArrowStream', options, (stream) => batchesOf(ipcMessages(stream)));
    } else {
      yield* this.readStream(sql, 'TabSeparatedWithNamesAndTypes', options, (stream) => tsvToArrowBatches(stream));
    }
  }

  private async *readStream(
    sql: string,
    format: string,
    options: QueryOptions,
    decode: (stream: AsyncIterable<Uint8Array>) => AsyncIterable<RecordBatch> | Promise<AsyncIterable<RecordBatch>>,
  ): AsyncGenerator<RecordBatch> {
    const queryId = options.queryId ?? randomUUID();
    try {
      const result = await this.client.exec({
        query: `${sql}\nFORMAT ${format}`,
        query_id: queryId,
        query_params: options.params,
        session_id: options.sessionId,
        clickhouse_settings: this.settingsFor(format, options),
        abort_signal: options.signal,
      });
      const batches = await decode(result.stream as AsyncIterable<Uint8Array>);
      for await (const batch of batches) yield batch;
    } catch (error) {
      if (options.signal?.aborted) throw new QueryCancelledError();
      throw toClickHouseError(error);
    }
  }

  async exportStream(sql: string, format: ExportFormat, options: QueryOptions = {}): Promise<Readable> {
    try {
      const result = await this.client.exec({
        query: `${sql}\nFORMAT ${format}`,
        query_id: options.queryId,
        query_params: options.params,
        session_id: options.sessionId,
        clickhouse_settings: this.settingsFor(format, options),
        abort_signal: options.signal,
      });
      return result.stream as Readable;
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  private settingsFor(format: string, options: QueryOptions): Settings {
    const settings: Settings = { ...this.defaults, ...options.settings, ...profileSettings(options.profile) };
    if (format !== 'ArrowStream' || this.arrowSupported === false) {
      for (const key of Object.keys(settings)) if (key.startsWith('output_format_arrow')) delete settings[key];
    }
    return settings;
  }

  shapesStreams(): Promise<boolean> {
    return this.supportsArrow();
  }

  private async supportsArrow(): Promise<boolean> {
    if (this.arrowSupported !== undefined) return this.arrowSupported;
    try {
      const result = await this.client.exec({ query: 'SELECT 1 FORMAT ArrowStream', clickhouse_settings: this.defaults });
      result.stream.resume();
      this.arrowSupported = true;
    } catch (error) {
      const e = toClickHouseError(error);
      if (e.code === UNKNOWN_FORMAT || e.code === 115) this.arrowSupported = false;
      else throw e;
    }
    if (!this.arrowSupported) {
      for (const key of Object.keys(this.defaults)) if (key.startsWith('output_format_arrow')) delete this.defaults[key];
    }
    return this.arrowSupported;
  }

  async json<T>(sql: string, options: QueryOptions = {}): Promise<T[]> {
    await this.supportsArrow().catch(() => undefined);
    try {
      const result = await this.client.query({
        query: sql,
        format: 'JSONEachRow',
        query_id: options.queryId,
        query_params: options.params,
        session_id: options.sessionId,
        clickhouse_settings: this.settingsFor('JSONEachRow', options),
        abort_signal: options.signal,
      });
      return await result.json<T>();
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  async command(sql: string, options: QueryOptions = {}): Promise<CommandSummary> {
    await this.supportsArrow().catch(() => undefined);
    try {
      const result = await this.client.command({
        query: sql,
        query_id: options.queryId,
        query_params: options.params,
        session_id: options.sessionId,
        clickhouse_settings: this.settingsFor('command', options),
        abort_signal: options.signal,
      });
      const summary = result.summary;
      return {
        writtenRows: summary?.written_rows === undefined ? undefined : Number(summary.written_rows),
        readRows: summary?.read_rows === undefined ? undefined : Number(summary.read_rows),
      };
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  async explainAst(sql: string, options: QueryOptions = {}): Promise<string> {
    try {
      const result = await this.client.query({
        query: `EXPLAIN AST ${sql}`,
        format: 'TabSeparatedRaw',
        query_params: options.params,
        session_id: options.sessionId,
        clickhouse_settings: this.settingsFor('TabSeparatedRaw', options),
        abort_signal: options.signal,
      });
      return await result.text();
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  async insertJson(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    try {
      await this.client.insert({ table, values: rows as Record<string, unknown>[], format: 'JSONEachRow' });
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  async kill(queryId: string): Promise<void> {
    try {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(queryId)) throw new Error(`Invalid query id: ${queryId}`);
      await this.client.command({ query: `KILL QUERY WHERE query_id = '${queryId}' SYNC` });
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  async ping(): Promise<PingResult> {
    try {
      const [row] = await this.json<{ version: string }>('SELECT version() AS version');
      return { ok: true, version: row?.version };
    } catch (error) {
      return { ok: false, error: toClickHouseError(error).message };
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
