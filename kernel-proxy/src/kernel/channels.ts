import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import type {} from '@fastify/websocket';
import { z } from 'zod';
import type { ClickHouseKernelManager } from './manager.js';
import { IncomingMessageSchema } from './messages.js';
import { V1_PROTOCOL, WireFormatError, decodeFrame, encodeMessage, encodeMessageParts, type WireProtocol } from './wire.js';

export interface KernelChannelsOptions {
  kernels: ClickHouseKernelManager;
}

/** Result batches wait while more than this is queued for a slow client. */
const SEND_HIGH_WATER_BYTES = 8 * 1024 * 1024;

const ParamsSchema = z.object({ id: z.string().uuid() });

/** Chooses the v1 binary subprotocol when offered, else the default JSON framing. */
export function chooseProtocol(protocols: Set<string>): string | false {
  return protocols.has(V1_PROTOCOL) ? V1_PROTOCOL : false;
}

/** WebSocket /api/kernels/:id/channels — every Jupyter channel on one socket. */
export const kernelChannelsPlugin: FastifyPluginAsync<KernelChannelsOptions> = async (app, { kernels }) => {
  app.get('/api/kernels/:id/channels', { websocket: true }, (socket: WebSocket, request) => {
    const params = ParamsSchema.safeParse(request.params);
    const kernel = params.success ? kernels.kernel(params.data.id) : undefined;
    // With users, a kernel answers only the user who started it.
    if (!kernel || (request.user && kernel.principal.username !== request.user.username)) {
      socket.close(4004, 'Kernel does not exist');
      return;
    }
    const protocol: WireProtocol = socket.protocol === V1_PROTOCOL ? 'v1' : 'json';
    const client = {
      id: randomUUID(),
      address: request.ip,
      send(message: Parameters<typeof encodeMessage>[0]) {
        if (socket.readyState !== socket.OPEN) return;
        // A message with result buffers goes as fragments of one WebSocket message: no copy into one frame.
        const parts = encodeMessageParts(message, protocol);
        parts.forEach((part, i) => socket.send(part, { binary: typeof part !== 'string', fin: i === parts.length - 1 }));
      },
      async drain() {
        while (socket.readyState === socket.OPEN && socket.bufferedAmount > SEND_HIGH_WATER_BYTES) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      },
    };
    kernel.connect(client);
    request.log.info({ kernelId: kernel.id, protocol }, 'kernel channel connected');

    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      let raw: unknown;
      try {
        raw = decodeFrame(buffer, isBinary, protocol);
      } catch (error) {
        kernel.rejectMalformed(client, error instanceof WireFormatError ? error.message : 'Unreadable frame');
        return;
      }
      const parsed = IncomingMessageSchema.safeParse(raw);
      if (!parsed.success) {
        const reason = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ');
        request.log.warn({ kernelId: kernel.id, reason }, 'malformed kernel message');
        kernel.rejectMalformed(client, reason);
        return;
      }
      kernel.handle(parsed.data, client);
    });
    socket.on('close', () => kernel.disconnect(client.id));
    socket.on('error', () => kernel.disconnect(client.id));
  });
};
