import { createWriteStream } from 'node:fs';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';

export interface CopyResult {
  rows: number;
  bytes: number;
}

/** Counts rows (COPY text ends every row with \n; embedded newlines are escaped) and bytes as they pass. */
export class RowCounter extends Transform {
  rows = 0;
  bytes = 0;
  constructor(private readonly onProgress?: (rows: number, bytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    let rows = 0;
    let at = chunk.indexOf(10);
    while (at !== -1) {
      rows++;
      at = chunk.indexOf(10, at + 1);
    }
    this.rows += rows;
    this.bytes += chunk.length;
    if (rows) this.onProgress?.(rows, chunk.length);
    callback(null, chunk);
  }
}

// Backend message types met during COPY OUT (protocol-message-formats).
const ERROR_RESPONSE = 0x45; // E
const COPY_OUT_RESPONSE = 0x48; // H
const COPY_DATA = 0x64; // d
const NOTICE_RESPONSE = 0x4e; // N
const NOTIFICATION_RESPONSE = 0x41; // A
const PARAMETER_STATUS = 0x53; // S

/** The parts of pg's connection a COPY OUT takes over while it runs (the same ones pg-copy-streams uses). */
interface PgConnection {
  stream: Readable;
  query(text: string): void;
}

/**
 * `COPY … TO STDOUT` as a Readable of the rows' bytes: a pg Submittable (client.query(new CopyOutStream(sql))).
 * Like pg-copy-streams' `to`, it reads the connection's socket itself while the COPY runs (pausing it while the
 * consumer is full) and gives the socket back to pg for the end of the command; unlike it, it strips the
 * protocol framing in place, one copyWithin per row into the socket chunk it arrived in, and pushes each chunk
 * once, with no Buffer object per row. `rows` counts CopyData messages: one per row in COPY's text format.
 */
export class CopyOutStream extends Readable implements pg.Submittable {
  rows = 0;
  bytes = 0;
  /** The row count of PostgreSQL's CommandComplete tag (COPY n), once the command completes. */
  commandRows: number | undefined;
  private connection: PgConnection | undefined;
  private pgDataHandler: ((chunk: Buffer) => void) | undefined;
  private readonly onReadableEvent = () => this.forward();
  /** Bytes of a message header (type + length) split across socket chunks. */
  private readonly header = Buffer.alloc(5);
  private headerHave = 0;
  /** Content bytes of the current message still to come, and whether it is CopyData. */
  private remaining = 0;
  private inMessage = false;
  private isData = false;
  private wantMore = false;
  private forwarding = false;
  private finished = false;

  constructor(
    readonly text: string,
    private readonly onRows?: (rows: number, bytes: number) => void,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  submit(connection: unknown): void {
    const conn = connection as PgConnection;
    this.connection = conn;
    const listeners = conn.stream.listeners('data') as ((chunk: Buffer) => void)[];
    if (listeners.length !== 1) throw new Error(`COPY OUT: expected one data listener on the connection, found ${listeners.length}`);
    this.pgDataHandler = listeners[0];
    conn.stream.removeListener('data', this.pgDataHandler!);
    conn.stream.pause();
    conn.stream.on('readable', this.onReadableEvent);
    conn.query(this.text);
  }

  override _read(): void {
    this.wantMore = true;
    this.forward();
  }

  private forward(): void {
    if (this.forwarding || !this.wantMore || !this.connection || this.finished) return;
    this.forwarding = true;
    try {
      let chunk: Buffer | null;
      while (this.wantMore && !this.finished && (chunk = this.connection.stream.read() as Buffer | null) !== null) this.wantMore = this.parse(chunk);
    } finally {
      this.forwarding = false;
    }
  }

  /** Strips the framing of `chunk` in place and pushes its row bytes; false when the consumer is full. */
  private parse(chunk: Buffer): boolean {
    let read = 0;
    let write = 0;
    let rows = 0;
    const end = chunk.length;
    while (read < end) {
      if (this.inMessage) {
        const n = Math.min(this.remaining, end - read);
        if (this.isData) {
          if (write !== read) chunk.copyWithin(write, read, read + n);
          write += n;
        }
        read += n;
        this.remaining -= n;
        if (this.remaining === 0) this.inMessage = false;
        continue;
      }
      // A message header: type (1 byte) + length (4 bytes, itself included).
      let type: number;
      let length: number;
      if (this.headerHave === 0 && end - read >= 5) {
        type = chunk[read]!;
        if (type === ERROR_RESPONSE) return this.finish(chunk, read, write, rows, false);
        length = chunk.readUInt32BE(read + 1);
        read += 5;
      } else {
        if (this.headerHave === 0 && chunk[read] === ERROR_RESPONSE) return this.finish(chunk, read, write, rows, false);
        while (this.headerHave < 5 && read < end) this.header[this.headerHave++] = chunk[read++]!;
        if (this.headerHave < 5) break;
        this.headerHave = 0;
        type = this.header[0]!;
        length = this.header.readUInt32BE(1);
      }
      if (type === COPY_DATA) {
        rows++;
        this.isData = true;
      } else if (type === COPY_OUT_RESPONSE || type === NOTICE_RESPONSE || type === NOTIFICATION_RESPONSE || type === PARAMETER_STATUS) {
        this.isData = false;
      } else {
        // CopyDone, an ErrorResponse or anything else ends copy-out mode: what follows is pg's again, this header
        // included (an error reaches handleError through pg, so the stream does not end as if complete).
        const done = type !== ERROR_RESPONSE;
        const back = read - 5;
        if (back >= 0) return this.finish(chunk, back, write, rows, done);
        // The header straddled two chunks: hand pg the header bytes and the rest of this chunk.
        return this.finish(Buffer.concat([this.header, chunk.subarray(read)]), 0, 0, rows, done, chunk.subarray(0, write));
      }
      this.remaining = length - 4;
      this.inMessage = this.remaining > 0;
    }
    return this.emitRows(chunk.subarray(0, write), rows);
  }

  private emitRows(data: Buffer, rows: number): boolean {
    if (rows) {
      this.rows += rows;
      this.bytes += data.length;
      this.onRows?.(rows, data.length);
    }
    return data.length ? this.push(data) : true;
  }

  /** The COPY's data ended at `rest[from]` (CopyDone) or an error arrived there: give the socket back to pg. */
  private finish(rest: Buffer, from: number, write: number, rows: number, done: boolean, data?: Buffer): boolean {
    this.finished = true;
    this.emitRows(data ?? rest.subarray(0, write), rows);
    const conn = this.connection!;
    const unread = rest.subarray(from);
    conn.stream.removeListener('readable', this.onReadableEvent);
    conn.stream.on('data', this.pgDataHandler!);
    this.pgDataHandler!(unread);
    if (done) this.push(null);
    // The data listener resumes the socket; do it after pg's handler has run (as pg-copy-streams does).
    process.nextTick(() => conn.stream.resume());
    return false;
  }

  handleError(error: Error): void {
    this.destroy(error);
  }

  handleCommandComplete(message: { text?: string }): void {
    const match = /COPY (\d+)/.exec(message?.text ?? '');
    if (match) this.commandRows = Number(match[1]);
  }

  handleReadyForQuery(): void {}
}

/**
 * Streams `COPY (…) TO STDOUT` into a writable (a file, an HTTP request body) with backpressure:
 * the socket is paused whenever the destination is full, so memory stays bounded.
 */
export async function copyOut(client: pg.Client, copySql: string, destination: Writable, options: { signal?: AbortSignal; onRows?: (rows: number, bytes: number) => void } = {}): Promise<CopyResult> {
  const source = client.query(new CopyOutStream(copySql, options.onRows));
  await pipeline(source, destination, { signal: options.signal });
  return { rows: source.rows, bytes: source.bytes };
}

export async function copyToFile(client: pg.Client, copySql: string, path: string, options: { signal?: AbortSignal; onRows?: (rows: number, bytes: number) => void } = {}): Promise<CopyResult> {
  return copyOut(client, copySql, createWriteStream(path, { highWaterMark: 1 << 20 }), options);
}
