import type { NotebookOwners } from '../access/notebook-owners.js';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ContentsManager, type ContentsModel } from './contents-manager.js';
import { badRequest, notFound, parseInput, useJupyterApi } from './http.js';
import { guessMimeType } from './mime.js';
import { Notary, type NotaryOptions } from './notary.js';
import { normalizeApiPath } from './safe-fs.js';

export interface ContentsPluginOptions {
  root: string;
  notary?: NotaryOptions;
  alwaysDeleteDir?: boolean;
  maxBodyBytes?: number;
  maxReadBytes?: number;
  maxCopyDirBytes?: number;
  /** With users: who may change which notebook. */
  owners?: NotebookOwners;
}

const ContentTypeSchema = z.enum(['notebook', 'file', 'directory']);
const optionalType = z
  .union([ContentTypeSchema, z.literal('')])
  .optional()
  .transform((value) => value || undefined);

const GetQuery = z.object({
  type: optionalType,
  format: z.enum(['text', 'base64']).optional(),
  content: z.enum(['0', '1']).default('1'),
  hash: z.enum(['0', '1']).default('0'),
});

const PostBody = z
  .object({
    copy_from: z.string().min(1).optional(),
    type: optionalType,
    ext: z
      .string()
      .max(64)
      .regex(/^[^/\\\0]*$/, 'must be a file extension such as .ipynb')
      .optional(),
  })
  .optional();

const PutBody = z.object(
  {
    type: ContentTypeSchema,
    format: z.enum(['json', 'text', 'base64']).nullable().optional(),
    content: z.unknown().optional(),
    chunk: z
      .number()
      .int()
      .refine((n) => n === -1 || n >= 1, 'must be a positive chunk number or -1 for the last chunk')
      .optional(),
    copy_from: z.undefined({ error: 'Cannot copy with PUT, only POST' }).optional(),
    path: z.string().optional(),
  },
  { error: 'JSON body missing' },
);

const PatchBody = z.object({ path: z.string({ error: 'new path is required' }) }, { error: 'JSON body missing' });

const CheckpointId = z.string().regex(/^[\w-]{1,64}$/, 'invalid checkpoint id');

const FilesQuery = z.object({ download: z.enum(['0', '1', 'true', 'false']).optional() });

type Target = { kind: 'contents'; path: string } | { kind: 'checkpoints'; path: string; id?: string };

function target(request: FastifyRequest): Target {
  const raw = (request.params as { '*'?: string })['*'] ?? '';
  const match = /^(.*)\/checkpoints(?:\/([^/]+))?\/?$/.exec(raw);
  if (match) {
    const id = match[2] === undefined ? undefined : parseInput(CheckpointId, match[2], 'checkpoint_id');
    return { kind: 'checkpoints', path: normalizeApiPath(match[1]!), id };
  }
  return { kind: 'contents', path: normalizeApiPath(raw) };
}

export const contentsLocation = (apiPath: string) =>
  `/api/contents/${apiPath.split('/').map(encodeURIComponent).join('/')}`;

function finishModel(reply: FastifyReply, model: ContentsModel, status = 200, location = status === 201) {
  if (location) reply.header('location', contentsLocation(model.path));
  reply.header('last-modified', new Date(model.last_modified).toUTCString());
  return reply.code(status).send(model);
}

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

export const contentsPlugin: FastifyPluginAsync<ContentsPluginOptions> = async (app, options) => {
  const manager = await ContentsManager.open(options.root, {
    notary: options.notary ? await Notary.open(options.notary) : undefined,
    alwaysDeleteDir: options.alwaysDeleteDir,
    maxReadBytes: options.maxReadBytes,
    maxCopyDirBytes: options.maxCopyDirBytes,
  });
  const bodyLimit = options.maxBodyBytes ?? 64 * 1024 * 1024;
  useJupyterApi(app, { bodyLimit });

  const owners = options.owners;
  const user = (request: FastifyRequest) => request.user ?? undefined;
  const exists = (path: string) => manager.get(path, { content: false, hash: false }).then(() => true, () => false);
  /** Refuses a change the user's role does not allow (403) before anything is touched. */
  const guard = async (request: FastifyRequest, path: string, existing?: boolean) =>
    owners?.check(user(request), path, existing ?? (await exists(path)));

  const get = async (request: FastifyRequest, reply: FastifyReply) => {
    const t = target(request);
    if (t.kind === 'checkpoints') {
      if (t.id !== undefined) throw notFound('Use POST to restore or DELETE to remove a checkpoint');
      return reply.send(await manager.listCheckpoints(t.path));
    }
    const query = parseInput(GetQuery, request.query, 'query');
    const model = await manager.get(t.path, {
      type: query.type,
      format: query.format,
      content: query.content === '1',
      hash: query.hash === '1',
    });
    return finishModel(reply, model);
  };

  const post = async (request: FastifyRequest, reply: FastifyReply) => {
    const t = target(request);
    await guard(request, t.path, t.kind === 'checkpoints');
    if (t.kind === 'checkpoints') {
      if (t.id === undefined) {
        const checkpoint = await manager.createCheckpoint(t.path);
        reply.header('location', `${contentsLocation(t.path)}/checkpoints/${checkpoint.id}`);
        return reply.code(201).send(checkpoint);
      }
      await manager.restoreCheckpoint(t.path, t.id);
      return reply.code(204).send();
    }
    if (await manager.isFile(t.path)) throw badRequest('Cannot POST to files, use PUT instead.');
    const body = parseInput(PostBody, request.body, 'body');
    if (body?.copy_from !== undefined) {
      const from = normalizeApiPath(body.copy_from);
      request.log.info({ from, to: t.path }, 'copying');
      const copy = await manager.copy(from, t.path);
      await owners?.created(user(request), copy.path);
      return finishModel(reply, copy, 201);
    }
    const created = await manager.newUntitled(t.path, body?.type, body?.ext ?? '');
    await owners?.created(user(request), created.path);
    return finishModel(reply, created, 201);
  };

  const put = async (request: FastifyRequest, reply: FastifyReply) => {
    const t = target(request);
    if (t.kind === 'checkpoints') throw badRequest('Cannot PUT a checkpoint; use POST');
    const body = parseInput(PutBody, request.body, 'body');
    await guard(request, t.path);
    const { model, created } = await manager.save(t.path, body);
    if (created) await owners?.created(user(request), model.path);
    return finishModel(reply, model, created ? 201 : 200, true);
  };

  const patch = async (request: FastifyRequest, reply: FastifyReply) => {
    const t = target(request);
    if (t.kind === 'checkpoints') throw badRequest('Cannot PATCH a checkpoint');
    const body = parseInput(PatchBody, request.body, 'body');
    await guard(request, t.path, true);
    const renamed = await manager.rename(t.path, normalizeApiPath(body.path));
    await owners?.moved(t.path, renamed.path);
    return finishModel(reply, renamed, 200, true);
  };

  const remove = async (request: FastifyRequest, reply: FastifyReply) => {
    const t = target(request);
    await guard(request, t.path, true);
    if (t.kind === 'checkpoints') {
      if (t.id === undefined) throw badRequest('checkpoint_id: required');
      await manager.deleteCheckpoint(t.path, t.id);
    } else {
      request.log.info({ path: t.path }, 'deleting');
      await manager.delete(t.path);
      await owners?.removed(t.path);
    }
    return reply.code(204).send();
  };

  for (const url of ['/api/contents', '/api/contents/*']) {
    app.get(url, get);
    app.post(url, post);
    app.put(url, { bodyLimit }, put);
    app.patch(url, patch);
    app.delete(url, remove);
  }

  app.get('/files/*', async (request, reply) => {
    const apiPath = normalizeApiPath((request.params as { '*': string })['*']);
    const query = parseInput(FilesQuery, request.query, 'query');
    const { bytes, name } = await manager.readRaw(apiPath);
    if (query.download === '1' || query.download === 'true') reply.header('content-disposition', contentDisposition(name));
    return reply
      .header('content-type', guessMimeType(name) ?? 'application/octet-stream')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "sandbox allow-scripts; frame-ancestors 'self'")
      .header('cache-control', 'no-cache')
      .send(bytes);
  });
};
