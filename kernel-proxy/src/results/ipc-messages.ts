import { CompressionType, Message, MessageHeader, RecordBatch, RecordBatchReader, Schema, Struct, Table, compressionRegistry, makeData, tableToIPC, type Data } from 'apache-arrow';
import { decompress } from 'fzstd';

// Arrow IPC record batches compressed by ClickHouse (`output_format_arrow_compression_method = 'zstd'`, asked for by
// browsers, see kernel/result-stream.ts) are decoded here only when their values are needed (see LazyRecordBatch).
// apache-arrow views each decoded buffer as a typed array: it must start at a multiple of 8 bytes.
compressionRegistry.set(CompressionType.ZSTD, { decode: (bytes: Uint8Array) => aligned(decompress(bytes)) });

function aligned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
}

/** The end-of-stream marker of the Arrow IPC stream format. */
export const IPC_END = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0);

export interface IpcMessage {
  header: MessageHeader;
  /** The decoded metadata (header flatbuffer; the body is not read). */
  metadata: Message;
  /** The whole message as it came: continuation marker, length, metadata and body. */
  bytes: Uint8Array;
}

export class IpcFormatError extends Error {}

/**
 * Cuts Arrow IPC stream bytes, arriving in pieces of any size, into whole messages without reading their bodies.
 * A message inside one piece is a view of it (no copy); only a message split across pieces is copied together.
 */
export async function* ipcMessages(pieces: AsyncIterable<Uint8Array>): AsyncGenerator<IpcMessage> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  // Bytes needed before the next message can be read or its size known: pieces are joined only then, so a message
  // arriving in many small pieces is copied a bounded number of times, not once per piece.
  let need = 8;
  for await (const piece of pieces) {
    pending.push(piece);
    pendingBytes += piece.length;
    if (pendingBytes < need) continue;
    let bytes = pending.length === 1 ? pending[0]! : concatBytes(pending);
    for (;;) {
      const next = nextMessage(bytes);
      if (next === 'end') return;
      if ('need' in next) {
        need = next.need;
        break;
      }
      yield next.message;
      bytes = bytes.subarray(next.size);
      need = 8;
    }
    // What is left is the start of the next message: kept apart from the piece, so the piece can be released.
    pending = bytes.length > 0 ? [bytes.slice()] : [];
    pendingBytes = bytes.length;
  }
  if (pendingBytes > 0) throw new IpcFormatError(`Arrow stream ended inside a message (${pendingBytes} bytes left)`);
}

/** The messages of one whole IPC stream held in memory (e.g. a chDB chunk: schema, record batch, end). */
export function* ipcMessagesOf(bytes: Uint8Array): Generator<IpcMessage> {
  let rest = bytes;
  while (rest.length > 0) {
    const next = nextMessage(rest);
    if (next === 'end') return;
    if ('need' in next) throw new IpcFormatError(`Arrow stream ended inside a message (${rest.length} bytes left)`);
    yield next.message;
    rest = rest.subarray(next.size);
  }
}

/** The next message, the end marker, or how many bytes are needed to read further. */
function nextMessage(bytes: Uint8Array): { message: IpcMessage; size: number } | { need: number } | 'end' {
  if (bytes.length < 8) return { need: 8 };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let prefix = 8;
  let metadataLength = view.getInt32(4, true);
  // Streams written before Arrow 0.15 have no continuation marker: the length comes first.
  if (view.getUint32(0, true) !== 0xffffffff) {
    metadataLength = view.getInt32(0, true);
    prefix = 4;
  }
  if (metadataLength === 0) return 'end';
  if (metadataLength < 0) throw new IpcFormatError(`Bad Arrow message length ${metadataLength}`);
  if (bytes.length < prefix + metadataLength) return { need: prefix + metadataLength };
  const message = Message.decode(bytes.subarray(prefix, prefix + metadataLength));
  const size = prefix + metadataLength + Number(message.bodyLength);
  if (bytes.length < size) return { need: size };
  return { message: { header: message.headerType, metadata: message, bytes: bytes.subarray(0, size) }, size };
}

const rawMessages = new WeakMap<RecordBatch, Uint8Array>();
/** Uncompressed sizes of batches whose values are not decoded yet (LazyRecordBatch). */
const knownSizes = new WeakMap<RecordBatch, number>();

/**
 * A record batch whose values are decoded on first use of `data`: its row count comes from the message header. A
 * ZSTD-compressed batch on its way to a browser is decoded only if something needs its values (the preview, a cut
 * at the row cap, a conversion that changes buffers); otherwise its compressed message goes on as it is.
 */
export class LazyRecordBatch extends RecordBatch {
  constructor(schema: Schema, private readonly rows: number, load: () => Data<Struct>) {
    super(schema, makeData({ type: new Struct(schema.fields), length: 0, nullCount: 0, children: schema.fields.map((f) => makeData({ type: f.type, length: 0, nullCount: 0 })) }));
    let data: Data<Struct> | undefined;
    // RecordBatch keeps `data` as a plain property: this instance gets an accessor in its place.
    Object.defineProperty(this, 'data', {
      configurable: true,
      enumerable: true,
      get: () => (data ??= load()),
    });
  }

  override get numRows(): number {
    return this.rows;
  }
}

/** True for a batch read from a compressed message (its values are decoded only when used). */
export function isLazy(batch: RecordBatch): boolean {
  return knownSizes.has(batch);
}

/** The bytes a batch's values take uncompressed, without decoding a lazy batch. */
export function byteLengthOf(batch: RecordBatch): number {
  return knownSizes.get(batch) ?? batch.data.byteLength;
}

/** A lazy batch of `schema` from `data()`, holding the same rows and bytes as `like` (a conversion of it). */
export function lazyLike(like: RecordBatch, schema: Schema, data: () => Data<Struct>): RecordBatch {
  const batch = new LazyRecordBatch(schema, like.numRows, data);
  const size = knownSizes.get(like);
  if (size !== undefined) knownSizes.set(batch, size);
  return batch;
}

/**
 * The uncompressed size of a compressed record batch message: each buffer of the body starts with its uncompressed
 * length (int64, -1 when stored as it is). Empty validity bitmaps count nothing, as in a decoded batch.
 */
function uncompressedSize(message: IpcMessage): number {
  const header = message.metadata.header() as { buffers: { offset: number; length: number }[] };
  const bodyStart = message.bytes.byteLength - Number(message.metadata.bodyLength);
  const view = new DataView(message.bytes.buffer, message.bytes.byteOffset + bodyStart, Number(message.metadata.bodyLength));
  let size = 0;
  for (const { offset, length } of header.buffers) {
    if (Number(length) < 8) continue;
    const uncompressed = Number(view.getBigInt64(Number(offset), true));
    size += uncompressed === -1 ? Number(length) - 8 : uncompressed;
  }
  return size;
}

function isCompressed(message: IpcMessage): boolean {
  return (message.metadata.header() as { compression?: unknown }).compression != null;
}

/** The record batch message a batch was read from, when its bytes still say exactly what the batch holds. */
export function rawMessageOf(batch: RecordBatch): Uint8Array | undefined {
  return rawMessages.get(batch);
}

/** Marks `batch` as holding exactly what `message` (an IPC record batch message) holds. */
export function withRawMessage<T extends RecordBatch>(batch: T, message: Uint8Array | undefined): T {
  if (message) rawMessages.set(batch, message);
  return batch;
}

/**
 * Record batches from IPC messages, each remembering its own message bytes (see rawMessageOf), so it can be sent on
 * as ClickHouse wrote it. Dictionary-encoded streams are refused: chlab asks ClickHouse not to write dictionaries.
 */
export async function* batchesOf(messages: AsyncIterable<IpcMessage> | Iterable<IpcMessage>): AsyncGenerator<RecordBatch> {
  let schema: Uint8Array | undefined;
  let schemaOf: { bytes: Uint8Array; schema: Schema } | undefined;
  let yielded = false;
  for await (const message of messages) {
    if (message.header === MessageHeader.Schema) schema = message.bytes;
    else if (message.header === MessageHeader.RecordBatch) {
      if (!schema) throw new IpcFormatError('Arrow record batch before its schema');
      if (isCompressed(message)) {
        if (schemaOf?.bytes !== schema) schemaOf = { bytes: schema, schema: readSchema(schema) };
        const schemaBytes = schema;
        const bytes = message.bytes;
        const rows = Number((message.metadata.header() as { length: bigint | number }).length);
        const batch = new LazyRecordBatch(schemaOf.schema, rows, () => {
          // A copy: a message inside a bigger chunk may start anywhere, and typed arrays need aligned buffers.
          for (const decoded of RecordBatchReader.from([schemaBytes, bytes.slice()])) return decoded.data;
          throw new IpcFormatError('Arrow record batch message without a batch');
        });
        knownSizes.set(batch, uncompressedSize(message));
        yield withRawMessage(batch, bytes);
      } else {
        for (const batch of RecordBatchReader.from([schema, message.bytes])) yield withRawMessage(batch, message.bytes);
      }
      yielded = true;
    } else if (message.header === MessageHeader.DictionaryBatch) {
      throw new IpcFormatError('Dictionary-encoded Arrow columns are not supported here (set output_format_arrow_low_cardinality_as_dictionary = 0)');
    }
  }
  // A result without rows still has its columns: Arrow's reader gives an empty batch of the schema.
  if (schema && !yielded) yield* RecordBatchReader.from([schema, IPC_END]);
}

function readSchema(schemaMessage: Uint8Array): Schema {
  const reader = RecordBatchReader.from([schemaMessage, IPC_END]).open();
  return reader.schema;
}

/** The schema message of `schema` on its own (no end marker), to put in front of raw record batch messages. */
export function schemaMessage(schema: Schema): Uint8Array {
  const stream = tableToIPC(new Table(schema), 'stream');
  return stream.subarray(0, stream.length - IPC_END.length);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let position = 0;
  for (const part of parts) {
    out.set(part, position);
    position += part.length;
  }
  return out;
}
