import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AuditLog } from './audit.js';
import { can, type Capability } from './roles.js';

interface Rule {
  methods: ReadonlySet<string> | 'any';
  path: RegExp;
  capability: Capability;
  what: string;
}

/** REST routes a role must be able to use; everything else is open to every signed-in user. */
const RULES: readonly Rule[] = [
  { methods: new Set(['POST']), path: /^\/api\/migration\/(?:analyze-source|suggest-mapping|plan|execute|resume|cancel)(?:\/|$)/, capability: 'migrate', what: 'migrations' },
  { methods: new Set(['POST']), path: /^\/api\/s3\/import$/, capability: 's3.import', what: 'S3 imports' },
  { methods: 'any', path: /^\/api\/s3\//, capability: 's3.read', what: 'S3 browsing and previews' },
  { methods: 'any', path: /^\/api\/audit(?:\/|$)/, capability: 'audit.read', what: 'the audit log' },
];

export function requiredCapability(method: string, path: string): Rule | undefined {
  return RULES.find((rule) => (rule.methods === 'any' || rule.methods.has(method)) && rule.path.test(path));
}

/** Refuses (403) what the signed-in user's role may not do, and writes the refusal to the audit log. */
const policy: FastifyPluginAsync<{ audit?: AuditLog }> = async (app, { audit }) => {
  app.addHook('onRequest', async (request: FastifyRequest, reply) => {
    const user = request.user;
    if (!user) return;
    const path = request.url.split('?')[0] ?? request.url;
    const rule = requiredCapability(request.method, path);
    if (!rule || can(user.role, rule.capability)) return;
    const message = `Permission denied: ${rule.what} need a role above ${user.role} (you are ${user.username}, ${user.role})`;
    audit?.record({ user: user.username, role: user.role, address: request.ip, action: 'denied', target: `${request.method} ${path}`, outcome: 'denied', detail: message });
    return reply.code(403).send({ success: false, error: { message } });
  });
};

export const accessPolicyPlugin = fp(policy, { name: 'chlab-access-policy', dependencies: ['chlab-jupyter-auth'] });
