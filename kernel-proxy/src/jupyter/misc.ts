import { can, type Capability, type Role } from '../access/roles.js';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { KernelManager } from '../kernel/types.js';
import { ConfigSections } from './config-sections.js';
import { badRequest, parseInput, useJupyterApi } from './http.js';

export interface MiscPluginOptions {
  username?: string;
  serverVersion?: string;
  kernelManager?: KernelManager;
  configDir?: string;
}

export const JUPYTER_SERVER_VERSION = '2.17.0';

const MeQuery = z.object({ permissions: z.string().max(16 * 1024).optional() });
const Permissions = z.record(z.string(), z.array(z.string()));
const SectionParams = z.object({ section: z.string().regex(/^[\w.-]{1,128}$/, 'invalid config section name') });
const SectionBody = z.record(z.string(), z.unknown(), { error: 'must be a JSON object' });
const EventBody = z.object({
  schema_id: z.string().min(1),
  version: z.union([z.string(), z.number()]),
  data: z.record(z.string(), z.unknown()),
  timestamp: z.string().optional(),
});

export function identityOf(username: string) {
  const initials = username
    .split(/[\s._-]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase())
    .join('')
    .slice(0, 2);
  return { username, name: username, display_name: username, initials, color: null, avatar_url: null };
}

function parsePermissions(raw: string | undefined): Record<string, string[]> {
  if (raw === undefined || raw === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw badRequest('query.permissions: must be a JSON object like {"contents": ["read"]}');
  }
  return parseInput(Permissions, value, 'query.permissions');
}

/** chlab's own resources are granted by role (the frontend shows the audit log only to those who may read it). */
const CHLAB_RESOURCES: Record<string, Capability> = { 'chlab:audit': 'audit.read', 'chlab:migrations': 'migrate' };

function grantedPermissions(requested: Record<string, string[]>, role: Role | undefined): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(requested).map(([resource, actions]) => {
      const capability = CHLAB_RESOURCES[resource];
      return [resource, capability && role && !can(role, capability) ? [] : actions];
    }),
  );
}

export const miscPlugin: FastifyPluginAsync<MiscPluginOptions> = async (app, options) => {
  if (!app.hasDecorator('websocketServer')) {
    throw new Error('miscPlugin needs @fastify/websocket to be registered first');
  }
  useJupyterApi(app);
  const started = new Date().toISOString();
  const version = options.serverVersion ?? JUPYTER_SERVER_VERSION;

  app.get('/api', async () => ({ version }));

  app.get('/api/status', async () => {
    const kernels = options.kernelManager?.list() ?? [];
    const lastActivity = kernels.map((k) => k.last_activity).sort().at(-1) ?? started;
    return {
      started,
      last_activity: lastActivity,
      connections: kernels.reduce((sum, k) => sum + k.connections, 0),
      kernels: kernels.length,
    };
  });

  app.get('/api/me', async (request) => {
    const query = parseInput(MeQuery, request.query, 'query');
    const username = request.user?.username ?? options.username ?? 'analyst';
    return { identity: identityOf(username), permissions: grantedPermissions(parsePermissions(query.permissions), request.user?.role) };
  });

  const sections = new ConfigSections(options.configDir);

  app.get('/api/config/:section', async (request) => {
    const { section } = parseInput(SectionParams, request.params, 'params');
    return sections.get(section);
  });

  app.patch('/api/config/:section', async (request) => {
    const { section } = parseInput(SectionParams, request.params, 'params');
    return sections.update(section, parseInput(SectionBody, request.body, 'body'));
  });

  app.put('/api/config/:section', async (request, reply) => {
    const { section } = parseInput(SectionParams, request.params, 'params');
    await sections.replace(section, parseInput(SectionBody, request.body, 'body'));
    return reply.code(204).send();
  });

  app.get('/api/nbconvert', async () => ({}));
  app.post('/api/nbconvert', async () => ({}));
  app.get('/api/terminals', async () => []);

  app.post('/api/events', async (request, reply) => {
    parseInput(EventBody, request.body, 'body');
    return reply.code(204).send();
  });

  app.get('/api/events/subscribe', { websocket: true }, (socket) => {
    socket.on('message', () => undefined);
  });
};
