import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, type AuditLog } from '../access/audit.js';
import { useRestConventions } from './rest-conventions.js';
import { zodMessage } from './query.js';

const AuditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
  user: z.string().max(256).optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  search: z.string().max(1000).optional(),
});

/** GET /api/audit — the audit log for admins (the access policy refuses everyone else). */
export const auditApiPlugin: FastifyPluginAsync<{ audit: AuditLog }> = async (app, { audit }) => {
  useRestConventions(app, 'audit');
  app.get('/api/audit', async (request, reply) => {
    const query = AuditQuery.safeParse(request.query);
    if (!query.success) return reply.code(400).send({ success: false, error: { message: zodMessage(query.error) } });
    const { events, total } = await audit.list(query.data);
    return { success: true, events, total };
});
};
