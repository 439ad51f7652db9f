import { createWriteStream } from 'node:fs';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { BinaryCopyError, type RowBinaryEncoder } from './row-binary.js';

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

/** What the stream pushes at a time (the last piece of a COPY may be shorter). */
export const OUTPUT_BYTES = 1 << 20;

/** The parts of pg's connection a COPY OUT takes over while it runs (the same ones pg-copy-streams uses). */
interface PgConnection {
  stream: Readable;
  query(text: string): void;
}

/**
 * `COPY … TO STDOUT` as a Readable of the rows' bytes: a pg Submittable (client.query(new CopyOutStream(sql))).
 * Like pg-copy-streams' `to`, it reads the connection's socket itself while the COPY runs (pausing it while the
 * consumer is full) and gives the socket back to pg for the end of the command; unlike it, it makes no Buffer
 * object per row: it copies the rows' bytes, framing stripped, into output buffers of OUTPUT_BYTES and pushes
 * each when full (PostgreSQL sends 8 KiB at a time: pushed as they come, each would be one write of the
 * consumer). `rows` counts CopyData messages: one per row in COPY's text format (binary: see `encoder`).
 */
export class CopyOutStream extends Readable implements pg.Submittable {
  rows = 0;
  bytes = 0;
  /** The row count of PostgreSQL's CommandComplete tag (COPY n), once the command completes. */
  commandRows: number | undefined;
  /** What failed on PostgreSQL's side (an error it sent, or its connection lost), as opposed to the consumer's. */
  failure: Error | undefined;
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
  private output = Buffer.allocUnsafeSlow(OUTPUT_BYTES);
  private outputLength = 0;
  /** Rows and bytes of the last appendWholeRows run. */
  private runRows = 0;
  private runBytes = 0;
  private wantMore = false;
  private forwarding = false;
  private finished = false;
  /** Where the current CopyData message starts in the output (binary: it is re-encoded once whole). */
  private messageStart = 0;

  /**
   * `encoder`: the COPY is binary (FORMAT binary) and each CopyData message is re-encoded as it is taken out (a row
   * of RowBinary); `rows` then counts the rows the encoder wrote.
   */
  constructor(
    readonly text: string,
    private readonly onRows?: (rows: number, bytes: number) => void,
    private readonly encoder?: RowBinaryEncoder,
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
    } catch (error) {
      // (the encoder refused the data: the consumer sees this error, and pg's connection is left mid-COPY)
      this.finished = true;
      this.destroy(error as Error);
    } finally {
      this.forwarding = false;
    }
  }

  /** Copies the rows' bytes of `chunk` into the output; false when the consumer is full. */
  private parse(chunk: Buffer): boolean {
    let read = 0;
    let rows = 0;
    let bytes = 0;
    let wantMore = true;
    const end = chunk.length;
    while (read < end) {
      if (this.inMessage) {
        const n = Math.min(this.remaining, end - read);
        if (this.isData) {
          if (this.encoder) {
            chunk.copy(this.output, this.outputLength, read, read + n);
            this.outputLength += n;
          } else {
            wantMore = this.append(chunk, read, read + n) && wantMore;
          }
          bytes += n;
        }
        read += n;
        this.remaining -= n;
        if (this.remaining === 0) {
          this.inMessage = false;
          if (this.isData && this.encoder) {
            const before = this.encoder.rows;
            this.outputLength = this.encoder.encode(this.output, this.messageStart, this.outputLength, this.output, this.messageStart);
            rows += this.encoder.rows - before;
            if (this.outputLength >= OUTPUT_BYTES) wantMore = this.flush() && wantMore;
          }
        }
        continue;
      }
      if (this.headerHave === 0) {
        const next = this.appendWholeRows(chunk, read, end);
        if (next > read) {
          rows += this.runRows;
          bytes += this.runBytes;
          read = next;
          continue;
        }
      }
      // A message header: type (1 byte) + length (4 bytes, itself included).
      let type: number;
      let length: number;
      if (this.headerHave === 0 && end - read >= 5) {
        type = chunk[read]!;
        if (type === ERROR_RESPONSE) return this.finish(chunk, read, rows, bytes, false);
        length = chunk.readUInt32BE(read + 1);
        read += 5;
      } else {
        if (this.headerHave === 0 && chunk[read] === ERROR_RESPONSE) return this.finish(chunk, read, rows, bytes, false);
        while (this.headerHave < 5 && read < end) this.header[this.headerHave++] = chunk[read++]!;
        if (this.headerHave < 5) break;
        this.headerHave = 0;
        type = this.header[0]!;
        length = this.header.readUInt32BE(1);
      }
      if (type === COPY_DATA) {
        this.isData = true;
        if (this.encoder) {
          // The message is re-encoded once whole, in one piece of the output.
          const room = this.encoder.room(length - 4);
          if (this.output.length - this.outputLength < room) {
            wantMore = this.flush() && wantMore;
            if (this.output.length < room) this.output = Buffer.allocUnsafeSlow(room);
          }
          this.messageStart = this.outputLength;
          if (length === 4) this.encoder.encode(this.output, this.outputLength, this.outputLength, this.output, this.outputLength);
        } else {
          rows++;
        }
      } else if (type === COPY_OUT_RESPONSE || type === NOTICE_RESPONSE || type === NOTIFICATION_RESPONSE || type === PARAMETER_STATUS) {
        this.isData = false;
      } else {
        // CopyDone, an ErrorResponse or anything else ends copy-out mode: what follows is pg's again, this header
        // included (an error reaches handleError through pg, so the stream does not end as if complete).
        const done = type !== ERROR_RESPONSE;
        const back = read - 5;
        if (back >= 0) return this.finish(chunk, back, rows, bytes, done);
        // The header straddled two chunks: hand pg the header bytes and the rest of this chunk.
        return this.finish(Buffer.concat([this.header, chunk.subarray(read)]), 0, rows, bytes, done);
      }
      this.remaining = length - 4;
      this.inMessage = this.remaining > 0;
    }
    this.count(rows, bytes);
    return wantMore;
  }

  /**
   * The run of whole CopyData messages at chunk[from…] that fits the output as it is (framing included): copied in
   * with one copy, then the framing squeezed out in place, so no row makes a Buffer of its own (Buffer#copy makes
   * one per call: 3-4× the CPU for 150-byte rows). Returns where the run ends (`from` when there is none); its rows
   * and bytes are left in runRows and runBytes. A message that is cut by the chunk's end or does not fit is left
   * to the general path.
   */
  private appendWholeRows(chunk: Buffer, from: number, end: number): number {
    const room = OUTPUT_BYTES - this.outputLength;
    let at = from;
    while (end - at >= 5 && chunk[at] === COPY_DATA) {
      const length = chunk.readUInt32BE(at + 1);
      const next = at + 1 + length;
      if (length < 4 || next > end || next - from > room) break;
      at = next;
    }
    if (at === from) return from;
    const output = this.output;
    const encoder = this.encoder;
    if (encoder) {
      // Each row is re-encoded from the chunk straight into the output (never longer than its message).
      const before = encoder.rows;
      let write = this.outputLength;
      let messages = 0;
      for (let message = from; message < at; messages++) {
        const next = message + 1 + chunk.readUInt32BE(message + 1);
        write = encoder.encode(chunk, message + 5, next, output, write);
        message = next;
      }
      this.runRows = encoder.rows - before;
      this.runBytes = at - from - 5 * messages;
      this.outputLength = write;
      return at;
    }
    const stop = this.outputLength + (at - from);
    chunk.copy(output, this.outputLength, from, at);
    let write = this.outputLength;
    let rows = 0;
    for (let message = this.outputLength; message < stop; rows++) {
      const next = message + 1 + output.readUInt32BE(message + 1);
      output.copyWithin(write, message + 5, next);
      write += next - message - 5;
      message = next;
    }
    this.runRows = rows;
    this.runBytes = write - this.outputLength;
    this.outputLength = write;
    return at;
  }

  /** Copies chunk[from, to) into the output buffer, pushing each buffer that fills; false when the consumer is full. */
  private append(chunk: Buffer, from: number, to: number): boolean {
    let wantMore = true;
    while (from < to) {
      const n = Math.min(to - from, OUTPUT_BYTES - this.outputLength);
      chunk.copy(this.output, this.outputLength, from, from + n);
      this.outputLength += n;
      from += n;
      if (this.outputLength === OUTPUT_BYTES) wantMore = this.flush() && wantMore;
    }
    return wantMore;
  }

  private flush(): boolean {
    if (this.outputLength === 0) return true;
    const full = this.output.subarray(0, this.outputLength);
    this.output = Buffer.allocUnsafeSlow(OUTPUT_BYTES);
    this.outputLength = 0;
    return this.push(full);
  }

  private count(rows: number, bytes: number): void {
    if (!rows && !bytes) return;
    this.rows += rows;
    this.bytes += bytes;
    this.onRows?.(rows, bytes);
  }

  /** The COPY's data ended at `rest[from]` (CopyDone) or an error arrived there: give the socket back to pg. */
  private finish(rest: Buffer, from: number, rows: number, bytes: number, done: boolean): boolean {
    this.finished = true;
    this.count(rows, bytes);
    this.flush();
    if (done && this.encoder && !this.encoder.complete) {
      done = false;
      this.destroy(new BinaryCopyError('the data ended without its trailer'));
    }
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
    this.failure ??= error;
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
