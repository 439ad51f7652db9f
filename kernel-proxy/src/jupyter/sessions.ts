import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Principal } from '../access/roles.js';
import { z } from 'zod';
import { UnknownKernelError, type KernelManager, type KernelModel } from '../kernel/types.js';
import { badRequest, notFound, parseInput, useJupyterApi } from './http.js';
import { KernelId, startKernel } from './kernels.js';

export interface SessionsPluginOptions {
  kernelManager: KernelManager;
}

export interface SessionModel {
  id: string;
  path: string;
  name: string;
  type: string;
  kernel: KernelModel;
  notebook?: { path: string; name: string };
}

interface SessionRecord {
  id: string;
  path: string;
  name: string;
  type: string;
  kernelId: string;
}

const KernelRef = z.object({
  id: KernelId.nullable().optional(),
  name: z.string().min(1).max(128).nullable().optional(),
});

const LegacyNotebook = z.object({ path: z.string().max(4096).optional(), name: z.string().max(4096).optional() });

const CreateBody = z.object(
  {
    path: z.string({ error: 'Missing field in JSON data: path' }).max(4096),
    type: z.string({ error: 'Missing field in JSON data: type' }).min(1).max(64),
    name: z.string().max(4096).nullable().optional(),
    kernel: KernelRef.nullable().optional(),
  },
  { error: 'No JSON data provided' },
);

const UpdateBody = z.object(
  {
    path: z.string().max(4096).optional(),
    name: z.string().max(4096).optional(),
    type: z.string().min(1).max(64).optional(),
    kernel: KernelRef.optional(),
  },
  { error: 'No JSON data provided' },
);

const SessionParams = z.object({ session_id: z.string().regex(/^[\w-]{1,128}$/, 'invalid session id') });

function upgradeLegacy(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || !('notebook' in body)) return body;
  const notebook = LegacyNotebook.safeParse((body as { notebook: unknown }).notebook);
  if (!notebook.success) return body;
  const path = notebook.data.path ?? notebook.data.name;
  return path === undefined ? body : { ...body, path, type: 'notebook' };
}

export class SessionStore {
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly pending = new Map<string, Promise<SessionModel>>();

  constructor(
    private readonly kernels: KernelManager,
    private readonly log?: FastifyBaseLogger,
  ) {}

  /** With users, each sees only the sessions on their own kernels (JupyterLab reuses any session it is shown for a path). */
  private visible(record: SessionRecord, viewer: Principal | undefined): boolean {
    if (!viewer || !this.kernels.owner) return true;
    return this.kernels.owner(record.kernelId)?.username === viewer.username;
  }

  private toModel(record: SessionRecord, viewer?: Principal): SessionModel | undefined {
    if (!this.visible(record, viewer)) return undefined;
    const kernel = this.kernels.get(record.kernelId);
    if (!kernel) {
      this.sessions.delete(record.id);
      this.log?.info({ session: record.id, kernel: record.kernelId }, 'dropping session whose kernel is gone');
      return undefined;
    }
    const model: SessionModel = { id: record.id, path: record.path, name: record.name, type: record.type, kernel };
    if (record.type === 'notebook') model.notebook = { path: record.path, name: record.name };
    return model;
  }

  list(viewer?: Principal): SessionModel[] {
    return [...this.sessions.values()].flatMap((record) => this.toModel(record, viewer) ?? []);
  }

  get(id: string, viewer?: Principal): SessionModel {
    const record = this.sessions.get(id);
    const model = record && this.toModel(record, viewer);
    if (!model) throw notFound(`Session not found: ${id}`);
    return model;
  }

  private findByPath(path: string, viewer: Principal | undefined): SessionModel | undefined {
    for (const record of this.sessions.values()) {
      if (record.path === path) {
        const model = this.toModel(record, viewer);
        if (model) return model;
      }
    }
    return undefined;
  }

  private mayUseKernel(kernelId: string, viewer: Principal | undefined): boolean {
    if (!viewer || !this.kernels.owner) return true;
    return this.kernels.owner(kernelId)?.username === viewer.username;
  }

  async create(input: z.output<typeof CreateBody>, viewer?: Principal): Promise<SessionModel> {
    const existing = this.findByPath(input.path, viewer);
    if (existing) return existing;
    const pendingKey = `${viewer?.username ?? ''}\n${input.path}`;
    const inFlight = this.pending.get(pendingKey);
    if (inFlight) return inFlight;
    const work = (async () => {
      const reuse = input.kernel?.id && this.mayUseKernel(input.kernel.id, viewer) ? this.kernels.get(input.kernel.id) : undefined;
      const kernel = reuse ?? (await startKernel(this.kernels, input.kernel?.name ?? undefined, viewer));
      const record: SessionRecord = {
        id: randomUUID(),
        path: input.path,
        name: input.name ?? '',
        type: input.type,
        kernelId: kernel.id,
      };
      this.sessions.set(record.id, record);
      return this.get(record.id, viewer);
    })();
    this.pending.set(pendingKey, work);
    try {
      return await work;
    } finally {
      this.pending.delete(pendingKey);
    }
  }

  async update(id: string, changes: z.output<typeof UpdateBody>, viewer?: Principal): Promise<SessionModel> {
    const before = this.get(id, viewer);
    const record = this.sessions.get(id)!;
    let kernelId = record.kernelId;
    if (changes.kernel?.id) {
      if (!this.kernels.get(changes.kernel.id) || !this.mayUseKernel(changes.kernel.id, viewer)) throw badRequest(`No such kernel: ${changes.kernel.id}`);
      kernelId = changes.kernel.id;
    } else if (changes.kernel?.name) {
      kernelId = (await startKernel(this.kernels, changes.kernel.name, viewer)).id;
    }
    const current = this.sessions.get(id);
    if (!current) throw notFound(`Session not found: ${id}`);
    if (changes.path !== undefined) current.path = changes.path;
    if (changes.name !== undefined) current.name = changes.name;
    if (changes.type !== undefined) current.type = changes.type;
    current.kernelId = kernelId;
    if (kernelId !== before.kernel.id) await this.releaseKernel(before.kernel.id);
    return this.get(id, viewer);
  }

  async delete(id: string, viewer?: Principal): Promise<void> {
    const record = this.sessions.get(id);
    if (!record || !this.visible(record, viewer)) throw notFound(`Session not found: ${id}`);
    this.sessions.delete(id);
    await this.releaseKernel(record.kernelId);
  }

  private async releaseKernel(kernelId: string): Promise<void> {
    for (const record of this.sessions.values()) if (record.kernelId === kernelId) return;
    try {
      await this.kernels.shutdown(kernelId);
    } catch (err) {
      if (!(err instanceof UnknownKernelError)) throw err;
    }
  }
}

export const sessionsPlugin: FastifyPluginAsync<SessionsPluginOptions> = async (app, options) => {
  useJupyterApi(app);
  const store = new SessionStore(options.kernelManager, app.log);

  const viewer = (request: FastifyRequest): Principal | undefined => request.user ?? undefined;

  app.get('/api/sessions', async (request) => store.list(viewer(request)));

  app.post('/api/sessions', async (request, reply) => {
    const body = parseInput(CreateBody, upgradeLegacy(request.body), 'body');
    const model = await store.create(body, viewer(request));
    return reply.code(201).header('location', `/api/sessions/${model.id}`).send(model);
  });

  app.get('/api/sessions/:session_id', async (request) => {
    const { session_id } = parseInput(SessionParams, request.params, 'params');
    return store.get(session_id, viewer(request));
  });

  app.patch('/api/sessions/:session_id', async (request) => {
    const { session_id } = parseInput(SessionParams, request.params, 'params');
    const body = parseInput(UpdateBody, upgradeLegacy(request.body), 'body');
    return store.update(session_id, body, viewer(request));
  });

  app.delete('/api/sessions/:session_id', async (request, reply) => {
    const { session_id } = parseInput(SessionParams, request.params, 'params');
    await store.delete(session_id, viewer(request));
    return reply.code(204).send();
  });
};
