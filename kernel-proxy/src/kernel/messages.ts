import { randomUUID } from 'node:crypto';
import { z } from 'zod';

export const ChannelSchema = z.enum(['shell', 'iopub', 'stdin', 'control']);
export type Channel = z.infer<typeof ChannelSchema>;

export const HeaderSchema = z.object({
  msg_id: z.string().min(1).max(256),
  msg_type: z.string().min(1).max(128),
  session: z.string().max(256).default(''),
  username: z.string().max(256).default(''),
  date: z.string().max(64).optional(),
  version: z.string().max(16).default('5.3'),
});
export type Header = z.infer<typeof HeaderSchema>;

/** Clients send on shell, control and stdin; iopub carries only the kernel's own messages. */
export const IncomingChannelSchema = z.enum(['shell', 'control', 'stdin'], { error: 'must be shell, control or stdin' });

export const IncomingMessageSchema = z.object({
  channel: IncomingChannelSchema,
  header: HeaderSchema,
  parent_header: z.union([HeaderSchema.partial(), z.object({}).loose()]).nullish().transform((v) => v ?? {}),
  metadata: z.record(z.string(), z.unknown()).nullish().transform((v) => v ?? {}),
  content: z.record(z.string(), z.unknown()).nullish().transform((v) => v ?? {}),
  buffers: z.array(z.instanceof(Buffer)).optional(),
});
export type IncomingMessage = z.infer<typeof IncomingMessageSchema>;

export interface JupyterMessage {
  channel: Channel;
  header: Header & { date: string };
  parent_header: Partial<Header> | Record<string, never>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
  buffers?: (ArrayBuffer | ArrayBufferView)[];
}

export const ExecuteRequestSchema = z.object({
  code: z.string().max(10 * 1024 * 1024),
  silent: z.boolean().default(false),
  store_history: z.boolean().default(true),
  user_expressions: z.record(z.string(), z.unknown()).default({}),
  allow_stdin: z.boolean().default(false),
  stop_on_error: z.boolean().default(true),
});

export const CompleteRequestSchema = z.object({
  code: z.string().max(1024 * 1024),
  cursor_pos: z.number().int().nonnegative(),
});

export const InspectRequestSchema = z.object({
  code: z.string().max(1024 * 1024),
  cursor_pos: z.number().int().nonnegative(),
  detail_level: z.number().int().min(0).max(1).default(0),
});

export const IsCompleteRequestSchema = z.object({ code: z.string().max(1024 * 1024) });

export const HistoryRequestSchema = z.object({
  output: z.boolean().default(false),
  raw: z.boolean().default(true),
  hist_access_type: z.enum(['range', 'tail', 'search']).default('tail'),
  n: z.number().int().positive().max(10_000).optional(),
  pattern: z.string().max(1000).optional(),
  unique: z.boolean().optional(),
});

export const CommInfoRequestSchema = z.object({ target_name: z.string().max(256).optional() });

export function makeMessage(
  channel: Channel,
  msgType: string,
  content: Record<string, unknown>,
  parent: IncomingMessage | JupyterMessage | undefined,
  session: string,
  metadata: Record<string, unknown> = {},
): JupyterMessage {
  return {
    channel,
    header: {
      msg_id: randomUUID(),
      msg_type: msgType,
      session,
      username: 'kernel',
      date: new Date().toISOString(),
      version: '5.3',
    },
    parent_header: parent ? parent.header : {},
    metadata,
    content,
  };
}
