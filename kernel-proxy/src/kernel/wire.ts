import type { JupyterMessage } from './messages.js';

export const V1_PROTOCOL = 'v1.kernel.websocket.jupyter.org';

export type WireProtocol = 'json' | 'v1';

export class WireFormatError extends Error {}

/** Frames a message for the client: JSON text (legacy framing) or v1 binary. */
export function encodeMessage(message: JupyterMessage, protocol: WireProtocol): string | Buffer {
  return protocol === 'v1' ? encodeV1(message) : encodeLegacy(message);
}

/** Reads a client frame into an untrusted object; messages.ts validates it. */
export function decodeFrame(data: Buffer, isBinary: boolean, protocol: WireProtocol): unknown {
  if (protocol === 'v1') {
    if (!isBinary) return parseJson(data.toString('utf8'));
    return decodeV1(data);
  }
  return isBinary ? decodeLegacyBinary(data) : parseJson(data.toString('utf8'));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new WireFormatError('Message is not valid JSON');
  }
}

function toBuffer(b: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(b) ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : Buffer.from(b);
}

function encodeV1(message: JupyterMessage): Buffer {
  return Buffer.concat(encodeV1Parts(message));
}

/**
 * A message as frame parts for the client: one part, or for a v1 message with buffers its head (offset table and
 * JSON parts) and then each buffer as it is. Sent as the fragments of one WebSocket message, large buffers (result
 * batches) go to the socket without being copied into a frame first.
 */
export function encodeMessageParts(message: JupyterMessage, protocol: WireProtocol): (string | Buffer)[] {
  if (protocol !== 'v1' || !message.buffers || message.buffers.length === 0) return [encodeMessage(message, protocol)];
  const [table, ...parts] = encodeV1Parts(message);
  const head = parts.slice(0, 5);
  return [Buffer.concat([table!, ...head]), ...parts.slice(5)];
}

function encodeV1Parts(message: JupyterMessage): Buffer[] {
  const parts = [
    Buffer.from(message.channel, 'utf8'),
    Buffer.from(JSON.stringify(message.header), 'utf8'),
    Buffer.from(JSON.stringify(message.parent_header ?? {}), 'utf8'),
    Buffer.from(JSON.stringify(message.metadata ?? {}), 'utf8'),
    Buffer.from(JSON.stringify(message.content ?? {}), 'utf8'),
    ...(message.buffers ?? []).map(toBuffer),
  ];
  const offsetCount = parts.length + 1;
  const table = Buffer.alloc(8 * (1 + offsetCount));
  table.writeBigUInt64LE(BigInt(offsetCount), 0);
  let position = table.length;
  parts.forEach((part, i) => {
    table.writeBigUInt64LE(BigInt(position), 8 * (i + 1));
    position += part.length;
  });
  table.writeBigUInt64LE(BigInt(position), 8 * offsetCount);
  return [table, ...parts];
}

function decodeV1(data: Buffer): unknown {
  if (data.length < 8) throw new WireFormatError('Binary frame too short');
  const count = Number(data.readBigUInt64LE(0));
  if (count < 6 || count > 1024 || data.length < 8 * (1 + count)) throw new WireFormatError('Bad v1 offset table');
  const offsets: number[] = [];
  for (let i = 0; i < count; i++) offsets.push(Number(data.readBigUInt64LE(8 * (i + 1))));
  for (let i = 0; i < count; i++) {
    const o = offsets[i]!;
    if (o > data.length || (i > 0 && o < offsets[i - 1]!)) throw new WireFormatError('Bad v1 offsets');
  }
  const part = (i: number) => data.subarray(offsets[i]!, i + 1 < count ? offsets[i + 1]! : data.length);
  const json = (i: number) => parseJson(part(i).toString('utf8'));
  const buffers: Buffer[] = [];
  for (let i = 5; i < count - 1; i++) buffers.push(Buffer.from(part(i)));
  return {
    channel: part(0).toString('utf8'),
    header: json(1),
    parent_header: json(2),
    metadata: json(3),
    content: json(4),
    buffers,
  };
}

function encodeLegacy(message: JupyterMessage): string | Buffer {
  const { buffers, ...rest } = message;
  if (!buffers || buffers.length === 0) return JSON.stringify(rest);
  const parts = [Buffer.from(JSON.stringify(rest), 'utf8'), ...buffers.map(toBuffer)];
  const table = Buffer.alloc(4 * (parts.length + 1));
  table.writeUInt32BE(parts.length, 0);
  let position = table.length;
  parts.forEach((p, i) => {
    table.writeUInt32BE(position, 4 * (i + 1));
    position += p.length;
  });
  return Buffer.concat([table, ...parts]);
}

function decodeLegacyBinary(data: Buffer): unknown {
  if (data.length < 4) throw new WireFormatError('Binary frame too short');
  const count = data.readUInt32BE(0);
  if (count < 1 || count > 1024 || data.length < 4 * (count + 1)) throw new WireFormatError('Bad binary offset table');
  const offsets: number[] = [];
  for (let i = 1; i <= count; i++) offsets.push(data.readUInt32BE(4 * i));
  const part = (i: number) => data.subarray(offsets[i]!, i + 1 < count ? offsets[i + 1]! : data.length);
  const message = parseJson(part(0).toString('utf8'));
  if (typeof message !== 'object' || message === null) throw new WireFormatError('Message is not an object');
  const buffers: Buffer[] = [];
  for (let i = 1; i < count; i++) buffers.push(Buffer.from(part(i)));
  return { ...message, buffers };
}
