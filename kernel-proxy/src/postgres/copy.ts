import { createWriteStream } from 'node:fs';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

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

/**
 * Streams `COPY (…) TO STDOUT` into a writable (a file, an HTTP request body) with backpressure:
 * the socket is paused whenever the destination is full, so memory stays bounded.
 */
export async function copyOut(client: pg.Client, copySql: string, destination: Writable, options: { signal?: AbortSignal; onRows?: (rows: number, bytes: number) => void } = {}): Promise<CopyResult> {
  const source = client.query(copyTo(copySql));
  const counter = new RowCounter(options.onRows);
  await pipeline(source, counter, destination, { signal: options.signal });
  return { rows: counter.rows, bytes: counter.bytes };
}

export async function copyToFile(client: pg.Client, copySql: string, path: string, options: { signal?: AbortSignal; onRows?: (rows: number, bytes: number) => void } = {}): Promise<CopyResult> {
  return copyOut(client, copySql, createWriteStream(path, { highWaterMark: 1 << 20 }), options);
}
