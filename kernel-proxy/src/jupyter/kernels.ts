import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Principal } from '../access/roles.js';
import { z } from 'zod';
import { UnknownKernelError, UnknownKernelSpecError, type KernelManager, type KernelModel } from '../kernel/types.js';
import { HttpError, notFound, parseInput, useJupyterApi } from './http.js';

export interface KernelsPluginOptions {
  kernelManager: KernelManager;
}

export const KernelId = z.string().regex(/^[\w-]{1,128}$/, 'invalid kernel id');
const KernelParams = z.object({ kernel_id: KernelId });

const StartBody = z
  .object({
    name: z.string().min(1).max(128).nullable().optional(),
    path: z.string().max(4096).nullable().optional(),
    env: z.record(z.string(), z.unknown()).optional(),
  })
  .optional();

export function kernelHttpError(err: unknown): unknown {
  if (err instanceof UnknownKernelError) return notFound(`Kernel does not exist: ${err.kernelId}`);
  if (err instanceof UnknownKernelSpecError) return notFound(`No such kernel spec: ${err.specName}`);
  return err;
}

export async function startKernel(kernels: KernelManager, name: string | undefined, owner?: Principal): Promise<KernelModel> {
  try {
    return await kernels.start(name, owner);
  } catch (err) {
    if (err instanceof UnknownKernelSpecError) {
      throw new HttpError(
        501,
        `The '${err.specName}' kernel is not available. Please pick another suitable kernel instead, or install that kernel.`,
        'Not Implemented',
        { short_message: `${err.specName} not found` },
      );
    }
    throw new HttpError(500, `The kernel could not be started: ${(err as Error).message}`, 'Kernel start failed');
  }
}

async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw kernelHttpError(err);
  }
}

export const kernelsPlugin: FastifyPluginAsync<KernelsPluginOptions> = async (app, options) => {
  useJupyterApi(app);
  const kernels = options.kernelManager;

  /** With users, each sees and drives only their own kernels (admins too: JupyterLab would attach to any it is shown). */
  const mine = (request: FastifyRequest, id: string) => !request.user || !kernels.owner || kernels.owner(id)?.username === request.user.username;

  app.addHook('preHandler', async (request) => {
    const id = (request.params as { kernel_id?: unknown } | undefined)?.kernel_id;
    if (typeof id === 'string' && !mine(request, id)) throw notFound(`Kernel does not exist: ${id}`);
  });

  app.get('/api/kernels', async (request) => kernels.list().filter((k) => mine(request, k.id)));

  app.post('/api/kernels', async (request, reply) => {
    const body = parseInput(StartBody, request.body, 'body');
    const model = await startKernel(kernels, body?.name ?? undefined, request.user ?? undefined);
    request.log.info({ kernel: model.id, name: model.name }, 'kernel started');
    return reply.code(201).header('location', `/api/kernels/${encodeURIComponent(model.id)}`).send(model);
  });

  app.get('/api/kernels/:kernel_id', async (request) => {
    const { kernel_id } = parseInput(KernelParams, request.params, 'params');
    const model = kernels.get(kernel_id);
    if (!model) throw notFound(`Kernel does not exist: ${kernel_id}`);
    return model;
  });

  app.delete('/api/kernels/:kernel_id', async (request, reply) => {
    const { kernel_id } = parseInput(KernelParams, request.params, 'params');
    await mapped(() => kernels.shutdown(kernel_id));
    request.log.info({ kernel: kernel_id }, 'kernel shut down');
    return reply.code(204).send();
  });

  app.post('/api/kernels/:kernel_id/interrupt', async (request, reply) => {
    const { kernel_id } = parseInput(KernelParams, request.params, 'params');
    await mapped(() => kernels.interrupt(kernel_id));
    return reply.code(204).send();
  });

  app.post('/api/kernels/:kernel_id/restart', async (request) => {
    const { kernel_id } = parseInput(KernelParams, request.params, 'params');
    return mapped(() => kernels.restart(kernel_id));
  });
};
