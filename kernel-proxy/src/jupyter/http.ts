import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

export interface JupyterError {
  message: string;
  reason: string | null;
  [extra: string]: unknown;
}

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly reason?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, reason?: string) => new HttpError(400, message, reason);
export const notFound = (message: string) => new HttpError(404, message);
export const conflict = (message: string) => new HttpError(409, message);

export function errorBody(statusCode: number, message: string, reason?: string, extra: Record<string, unknown> = {}): JupyterError {
  return { ...extra, message, reason: reason ?? STATUS_CODES[statusCode] ?? null };
}

export function sendError(reply: FastifyReply, statusCode: number, message: string, reason?: string, extra?: Record<string, unknown>) {
  return reply.code(statusCode).type('application/json; charset=utf-8').send(errorBody(statusCode, message, reason, extra));
}

function describeIssue(where: string, issue: z.core.$ZodIssue): string {
  const field = [where, ...issue.path.map(String)].filter(Boolean).join('.');
  return field ? `${field}: ${issue.message}` : issue.message;
}

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw badRequest(result.error.issues.map((issue) => describeIssue(where, issue)).join('; '), 'Bad Request');
}

const FS_ERRORS: Record<string, [number, string]> = {
  ENOENT: [404, 'No such file or directory'],
  ENOTDIR: [404, 'Not a directory'],
  EEXIST: [409, 'File already exists'],
  EACCES: [403, 'Permission denied'],
  EPERM: [403, 'Operation not permitted'],
  ENOTEMPTY: [400, 'Directory not empty'],
  EISDIR: [400, 'Is a directory'],
  EINVAL: [400, 'Invalid operation'],
  ENAMETOOLONG: [400, 'File name too long'],
  EXDEV: [400, 'Cannot move across devices'],
  ENOSPC: [507, 'No space left on device'],
};

export function jupyterErrorHandler(error: FastifyError | HttpError | Error, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof HttpError) {
    if (error.statusCode >= 500) request.log.error({ err: error }, error.message);
    return sendError(reply, error.statusCode, error.message, error.reason, error.extra);
  }
  const fsError = FS_ERRORS[(error as NodeJS.ErrnoException).code ?? ''];
  if (fsError && (error as NodeJS.ErrnoException).syscall !== undefined) {
    request.log.warn({ code: (error as NodeJS.ErrnoException).code }, fsError[1]);
    return sendError(reply, fsError[0], fsError[1]);
  }
  const statusCode = (error as FastifyError).statusCode;
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    return sendError(reply, statusCode, error.message);
  }
  request.log.error({ err: error }, 'unhandled error');
  return sendError(reply, 500, 'Internal server error');
}

export function useJupyterApi(app: FastifyInstance, options: { bodyLimit?: number } = {}) {
  app.setErrorHandler(jupyterErrorHandler);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const parserOptions = { parseAs: 'string' as const, ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }) };
  const parseJsonBody = (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, done);
  };
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(['application/json', 'text/plain'], parserOptions, parseJsonBody);
  app.addContentTypeParser('*', parserOptions, parseJsonBody);
}

export const isoTime = (ms: number) => new Date(ms).toISOString();
