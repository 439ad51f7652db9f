import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection, type ChdbConnection } from 'chdb/connection';
import { RecordBatchReader, type RecordBatch } from 'apache-arrow';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ClickHouseEngine, CommandSummary, ExportFormat, PingResult, QueryOptions, Settings } from './engine.js';
import { toClickHouseError } from './errors.js';
import { Mutex } from '../util/mutex.js';

/**
 * Embedded ClickHouse (chDB). One engine per process: every kernel shares it.
 * chDB runs one statement per session at a time: a query sent while a stream is open ends that stream
 * ("No active streaming query"). So every statement takes its turn, streams and one-shot queries alike;
 * a stream is pulled chunk by chunk, and an interrupt cancels it between chunks.
 */
export class EmbeddedEngine implements ClickHouseEngine {
  readonly kind = 'embedded' as const;
  readonly description: string;
  private readonly connection: ChdbConnection;
  private readonly client: ClickHouseClient;
  private readonly turn = new Mutex();
  /** 1 while a statement holds the turn. */
  private busy = 0;
  /** From the last ping that ran a query. */
  private version: string | undefined;
  private readonly running = new Map<string, { cancel(): void }>();
  private readonly killed = new Set<string>();

  constructor(
    readonly dataDir: string,
    private readonly defaults: Settings,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.connection = createChdbConnection({ path: dataDir });
    // chdb types its connection against its own copy of @clickhouse/client-common.
    type ClientConnection = NonNullable<Parameters<typeof createClient>[0]>['connection'];
    this.client = createClient({ connection: this.connection as unknown as ClientConnection });
    this.description = 'embedded chDB';
  }

  async *arrowBatches(sql: string, options: QueryOptions = {}): AsyncGenerator<RecordBatch> {
    const queryId = options.queryId ?? randomUUID();
    const release = await this.turn.acquire(options.signal);
    this.busy++;
    try {
      const settings = { ...this.defaults, ...options.settings };
      const prelude = `${setStatements(settings)}${paramStatements(options.params)}`;
      let stream;
      try {
        // chDB streams take one statement: settings and parameters go first, on the same session.
        await this.connection.chdb.queryAsync(`${prelude}SELECT 1`, { format: 'Null' });
        stream = this.connection.chdb.queryStream(sql, { format: 'ArrowStream', signal: options.signal });
      } catch (error) {
        throw toClickHouseError(error);
      }
      this.running.set(queryId, stream);
      try {
        for await (const chunk of stream) {
          if (chunk.numRows === 0 && chunk.numBytes === 0) continue;
          const reader = RecordBatchReader.from(chunk.raw());
          for (const batch of reader) yield batch;
        }
        if (options.signal?.aborted || this.killed.delete(queryId)) throw new QueryCancelledError();
      } catch (error) {
        if (error instanceof QueryCancelledError) throw error;
        if (options.signal?.aborted) throw new QueryCancelledError();
        throw toClickHouseError(error);
      } finally {
        stream.cancel();
        this.running.delete(queryId);
        this.killed.delete(queryId);
      }
    } finally {
      this.busy--;
      release();
    }
  }

  /**
   * chDB streams format each chunk on its own (a CSV header per chunk, a Parquet file per chunk), so an
   * export is written whole to a temporary file by the engine (INTO OUTFILE) and streamed from disk.
   */
  async exportStream(sql: string, format: ExportFormat, options: QueryOptions = {}): Promise<Readable> {
    const dir = await mkdtemp(path.join(tmpdir(), 'chlab-export-'));
    const file = path.join(dir, 'result');
    try {
      await this.exclusive(options.signal, async () => {
        const prelude = `${setStatements({ ...this.defaults, ...options.settings })}${paramStatements(options.params)}`;
        await this.connection.chdb.queryAsync(`${prelude}SELECT 1`, { format: 'Null' });
        await this.connection.chdb.queryAsync(`${sql}\nINTO OUTFILE '${file}' TRUNCATE FORMAT ${format}`, { format: 'Null', signal: options.signal });
      });
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw toClickHouseError(error);
    }
    const stream = createReadStream(file);
    stream.once('close', () => void rm(dir, { recursive: true, force: true }));
    return stream;
  }

  /** Runs a one-shot statement in its turn (see the class comment). */
  private async exclusive<T>(signal: AbortSignal | undefined, body: () => Promise<T>): Promise<T> {
    const release = await this.turn.acquire(signal);
    this.busy++;
    try {
      return await body();
    } finally {
      this.busy--;
      release();
    }
  }

  async json<T>(sql: string, options: QueryOptions = {}): Promise<T[]> {
    try {
      return await this.exclusive(options.signal, async () => {
        const result = await this.client.query({
          query: sql,
          format: 'JSONEachRow',
          query_params: options.params,
          clickhouse_settings: { ...this.defaults, ...options.settings },
          abort_signal: options.signal,
        });
        return await result.json<T>();
      });
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  async command(sql: string, options: QueryOptions = {}): Promise<CommandSummary> {
    try {
      await this.exclusive(options.signal, () =>
        this.client.command({
          query: sql,
          query_params: options.params,
          clickhouse_settings: { ...this.defaults, ...options.settings },
          abort_signal: options.signal,
        }),
      );
      return {};
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  async insertJson(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    try {
      await this.exclusive(undefined, () => this.client.insert({ table, values: rows as Record<string, unknown>[], format: 'JSONEachRow' }));
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  async kill(queryId: string): Promise<void> {
    const stream = this.running.get(queryId);
    if (!stream) return;
    this.killed.add(queryId);
    stream.cancel();
  }

  async ping(): Promise<PingResult> {
    // A statement is running, so the engine is up; a health check should not wait for a long query.
    if (this.busy > 0) return { ok: true, version: this.version };
    try {
      const [row] = await this.json<{ version: string }>('SELECT version() AS version');
      this.version = row?.version;
      return { ok: true, version: row?.version };
    } catch (error) {
      return { ok: false, error: toClickHouseError(error).message };
    }
  }

  async close(): Promise<void> {
    for (const stream of this.running.values()) stream.cancel();
    await this.client.close();
  }
}

export class QueryCancelledError extends Error {
  constructor() {
    super('Query cancelled');
    this.name = 'QueryCancelledError';
  }
}

function setStatements(settings: Settings): string {
  return Object.entries(settings)
    .map(([name, value]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`Invalid setting name: ${name}`);
      const literal = typeof value === 'string' ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : Number(value);
      return `SET ${name} = ${literal}; `;
    })
    .join('');
}

/** chDB streams take no bound parameters: parameters become `SET param_name = 'value'`. */
function paramStatements(params: Record<string, unknown> | undefined): string {
  if (!params) return '';
  return Object.entries(params)
    .map(([name, value]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`Invalid parameter name: ${name}`);
      const text = String(value).replace(/\\/g, '\\\\').replace(/'/g, "\\'");
      return `SET param_${name} = '${text}'; `;
    })
    .join('');
}
