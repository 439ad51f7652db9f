import { CompressionType, Message, MessageHeader, compressionRegistry, tableFromIPC, tableToIPC } from 'apache-arrow';
import { decompress } from 'fzstd';

/**
 * Result batches come over the `chlab.results` comm with ZSTD-compressed buffers (Arrow IPC body compression, written
 * by ClickHouse itself) when the page asks for them: a browser takes WebSocket data slowly, so about a quarter of
 * the bytes arrive about four times sooner. apache-arrow reads them with the codec registered here; DuckDB-WASM is
 * built without ZSTD, so it is handed the batches decoded (uncompressedIpc).
 */
export const ARROW_COMPRESSION = 'zstd';

/** What the page received (tests and diagnostics read it as `window.__chlabResultsCompression`). */
export const compressionStats = {
  /** What the page asked for when it opened the results comm. */
  asked: ARROW_COMPRESSION as string,
  batches: 0,
  compressedBatches: 0,
  /** Bytes as they came over the comm. */
  receivedBytes: 0,
  /** The same batches uncompressed. */
  uncompressedBytes: 0
};

let registered = false;

/** Registers the ZSTD codec with apache-arrow (once). */
export function registerZstd(): void {
  if (registered) {
    return;
  }
  registered = true;
  compressionRegistry.set(CompressionType.ZSTD, {
    // apache-arrow views each buffer as a typed array: it must start at a multiple of 8 bytes.
    decode: (bytes: Uint8Array) => {
      const out = decompress(bytes);
      return out.byteOffset % 8 === 0 ? out : out.slice();
    }
  });
  (globalThis as { __chlabResultsCompression?: typeof compressionStats }).__chlabResultsCompression = compressionStats;
}

export interface IpcInfo {
  /** Some record batch has compressed buffers. */
  compressed: boolean;
  /** The stream's size with every buffer uncompressed. */
  uncompressedBytes: number;
}

/** Reads the message headers of an IPC stream (not the bodies): whether it is compressed, and its size uncompressed. */
export function inspectIpc(bytes: Uint8Array): IpcInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let position = 0;
  let compressed = false;
  let size = bytes.byteLength;
  while (position + 8 <= bytes.byteLength) {
    let prefix = 8;
    let metadataLength = view.getInt32(position + 4, true);
    if (view.getUint32(position, true) !== 0xffffffff) {
      metadataLength = view.getInt32(position, true);
      prefix = 4;
    }
    if (metadataLength <= 0 || position + prefix + metadataLength > bytes.byteLength) {
      break;
    }
    const message = Message.decode(bytes.subarray(position + prefix, position + prefix + metadataLength));
    const bodyStart = position + prefix + metadataLength;
    if (message.headerType === MessageHeader.RecordBatch) {
      const header = message.header() as unknown as { compression: unknown; buffers: { offset: number; length: number }[] };
      if (header.compression != null) {
        compressed = true;
        for (const { offset, length } of header.buffers) {
          if (Number(length) >= 8) {
            const uncompressed = Number(view.getBigInt64(bodyStart + Number(offset), true));
            if (uncompressed >= 0) {
              size += uncompressed - (Number(length) - 8);
            }
          }
        }
      }
    }
    position = bodyStart + Number(message.bodyLength);
  }
  return { compressed, uncompressedBytes: size };
}

/** The stream with its record batches uncompressed (as it is when none is compressed). */
export function uncompressedIpc(bytes: Uint8Array, info: IpcInfo = inspectIpc(bytes)): Uint8Array {
  if (!info.compressed) {
    return bytes;
  }
  registerZstd();
  return tableToIPC(tableFromIPC(bytes), 'stream');
}

/** Counts one batch received over the comm. */
export function countBatch(received: number, info: IpcInfo): void {
  compressionStats.batches++;
  if (info.compressed) {
    compressionStats.compressedBatches++;
  }
  compressionStats.receivedBytes += received;
  compressionStats.uncompressedBytes += info.uncompressedBytes;
}
