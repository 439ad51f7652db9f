import { mkdirSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection, type ChdbConnection } from 'chdb/connection';
import type { RecordBatch } from 'apache-arrow';
import { batchesOf, ipcMessagesOf } from '../results/ipc-messages.js';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { profileSettings, type ClickHouseEngine, type CommandSummary, type ExportFormat, type PingResult, type QueryOptions, type Settings } from './engine.js';
import type { AccessProfile } from '../access/roles.js';
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
  /** The proxy's own connection, and every admin's. */
  private readonly main: Lane;
  /** One more connection per access profile (readonly, no DDL): ClickHouse holds it to that profile for good. */
  private readonly lanes = new Map<string, Lane>();
  /** Statements holding a turn. */
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
    this.main = openLane(dataDir);
    this.description = 'embedded chDB';
  }

  /**
   * chDB sessions keep `readonly` and `allow_ddl = 0` once set (ClickHouse refuses to lift them), so a restricted
   * profile gets its own connection to the same data, set up once; its statements run beside the main ones.
   */
  private laneFor(profile: AccessProfile | undefined): Lane {
    if (!profile || (!profile.readonly && profile.allowDdl)) return this.main;
    const key = JSON.stringify(profileSettings(profile));
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = openLane(this.dataDir);
      const restricted = lane;
      restricted.ready = restricted.connection.chdb
        .queryAsync(`${setStatements({ ...this.defaults, ...profileSettings(profile) })}SELECT 1`, { format: 'Null' })
        .then(
          () => undefined,
          (error: unknown) => {
            this.lanes.delete(key);
            throw error;
          },
        );
      restricted.ready.catch(() => undefined);
      this.lanes.set(key, restricted);
    }
    return lane;
  }

  private settingsFor(options: QueryOptions): Settings {
    return { ...this.defaults, ...options.settings, ...(options.profile?.settings ?? {}) };
  }

  /** Runs `body` in the lane's turn (see the class comment). */
  private async inTurn<T>(options: QueryOptions, body: (lane: Lane) => Promise<T>): Promise<T> {
    const lane = this.laneFor(options.profile);
    const release = await lane.turn.acquire(options.signal);
    this.busy++;
    try {
      await lane.ready;
      return await body(lane);
    } finally {
      this.busy--;
      release();
    }
  }

  async shapesStreams(): Promise<boolean> {
    return true;
  }

  async *arrowBatches(sql: string, options: QueryOptions = {}): AsyncGenerator<RecordBatch> {
    const queryId = options.queryId ?? randomUUID();
    const lane = this.laneFor(options.profile);
    const release = await lane.turn.acquire(options.signal);
    this.busy++;
    try {
      const prelude = `${setStatements(this.settingsFor(options))}${paramStatements(options.params)}`;
      let stream;
      try {
        await lane.ready;
        // chDB streams take one statement: settings and parameters go first, on the same session.
        await lane.connection.chdb.queryAsync(`${prelude}SELECT 1`, { format: 'Null' });
        stream = lane.connection.chdb.queryStream(sql, { format: 'ArrowStream', signal: options.signal });
      } catch (error) {
        throw toClickHouseError(error);
      }
      this.running.set(queryId, stream);
      // One chunk fetched ahead: chDB makes the next chunk (on a libuv thread) while this one is decoded,
      // converted and sent. At most one chunk waits, so memory stays bounded.
      const chunks = stream[Symbol.asyncIterator]();
      let next: ReturnType<typeof chunks.next> | undefined;
      // Each chunk is a whole IPC stream (schema, one record batch, end): its messages go on as they are.
      const messages = async function* () {
        next = chunks.next();
        for (;;) {
          const current = await next;
          next = undefined;
          if (current.done) break;
          next = chunks.next();
          const chunk = current.value;
          if (chunk.numRows === 0 && chunk.numBytes === 0) continue;
          yield* ipcMessagesOf(chunk.raw());
        }
      };
      try {
        yield* batchesOf(messages());
        if (options.signal?.aborted || this.killed.delete(queryId)) throw new QueryCancelledError();
      } catch (error) {
        if (error instanceof QueryCancelledError) throw error;
        if (options.signal?.aborted) throw new QueryCancelledError();
        throw toClickHouseError(error);
      } finally {
        stream.cancel();
        // A fetch still under way when the consumer stopped early: the session takes its next statement only
        // after it (cancel() destroys the stream once it is done); its chunk is not needed.
        if (next) await next.catch(() => undefined);
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
      await this.inTurn(options, async (lane) => {
        const prelude = `${setStatements(this.settingsFor(options))}${paramStatements(options.params)}`;
        await lane.connection.chdb.queryAsync(`${prelude}SELECT 1`, { format: 'Null' });
        await lane.connection.chdb.queryAsync(`${sql}\nINTO OUTFILE '${file}' TRUNCATE FORMAT ${format}`, { format: 'Null', signal: options.signal });
      });
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw toClickHouseError(error);
    }
    const stream = createReadStream(file);
    stream.once('close', () => void rm(dir, { recursive: true, force: true }));
    return stream;
  }

  async json<T>(sql: string, options: QueryOptions = {}): Promise<T[]> {
    try {
      return await this.inTurn(options, async (lane) => {
        const result = await lane.client.query({
          query: sql,
          format: 'JSONEachRow',
          query_params: options.params,
          clickhouse_settings: this.settingsFor(options),
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
      await this.inTurn(options, (lane) =>
        lane.client.command({
          query: sql,
          query_params: options.params,
          clickhouse_settings: this.settingsFor(options),
          abort_signal: options.signal,
        }),
      );
      return {};
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  async explainAst(sql: string, options: QueryOptions = {}): Promise<string> {
    try {
      return await this.inTurn(options, async (lane) => {
        const prelude = `${setStatements(this.settingsFor(options))}${paramStatements(options.params)}`;
        await lane.connection.chdb.queryAsync(`${prelude}SELECT 1`, { format: 'Null' });
        const result = await lane.connection.chdb.queryAsync(`EXPLAIN AST ${sql}`, { format: 'TSVRaw', signal: options.signal });
        return result.text();
      });
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  async insertJson(table: string, rows: readonly Record<string, unknown>[]): Promise<void> {
    try {
      await this.inTurn({}, (lane) => lane.client.insert({ table, values: rows as Record<string, unknown>[], format: 'JSONEachRow' }));
    } catch (error) {
      throw toClickHouseError(error);
    }
  }

  /**
   * One more connection to the same data (the proxy's own rights) for long bulk statements, such as a migration's
   * range loads: chDB runs statements of different connections side by side, so they neither wait for nor hold up
   * the main lane. One statement at a time on it; the caller closes it.
   */
  openSideConnection(): SideConnection {
    const lane = openLane(this.dataDir);
    return {
      command: async (sql, options = {}) => {
        const release = await lane.turn.acquire(options.signal);
        this.busy++;
        try {
          await lane.client.command({ query: sql, query_params: options.params, clickhouse_settings: this.settingsFor(options), abort_signal: options.signal });
        } catch (error) {
          throw toClickHouseError(error);
        } finally {
          this.busy--;
          release();
        }
      },
      close: () => lane.turn.acquire().then((release) => lane.client.close().finally(release)),
    };
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
    await Promise.all([this.main, ...this.lanes.values()].map((lane) => lane.client.close()));
  }
}

/** See EmbeddedEngine.openSideConnection. */
export interface SideConnection {
  command(sql: string, options?: QueryOptions): Promise<void>;
  close(): Promise<void>;
}

interface Lane {
  connection: ChdbConnection;
  client: ClickHouseClient;
  turn: Mutex;
  /** Settles once the lane's profile is set on its session. */
  ready: Promise<void>;
}

function openLane(dataDir: string): Lane {
  const connection = connectTo(dataDir);
  // chdb types its connection against its own copy of @clickhouse/client-common.
  type ClientConnection = NonNullable<Parameters<typeof createClient>[0]>['connection'];
  const client = createClient({ connection: connection as unknown as ClientConnection });
  return { connection, client, turn: new Mutex(), ready: Promise.resolve() };
}

/** chDB locks its data directory: a second process on it (`npm start` and `chlab run` at once) is refused. */
function connectTo(dataDir: string): ChdbConnection {
  try {
    return createChdbConnection({ path: dataDir });
  } catch (error) {
    if (isLocked(dataDir)) {
      throw new Error(
        `The ClickHouse data directory ${dataDir} is in use by another process (a running \`npm start\` or \`chlab run\`?): stop it, or set CHLAB_DATA_DIR to another directory`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** Whether another process holds chDB's lock on the directory's `status` file. */
function isLocked(dataDir: string): boolean {
  try {
    const status = readFileSync(path.join(dataDir, 'status'), 'utf8');
    const pid = Number(/^PID: (\d+)/m.exec(status)?.[1]);
    if (!pid || pid === process.pid) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
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
