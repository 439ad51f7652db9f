/** `GET /api/audit` (admins only): who did what, from where, and how it ended. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { hasPermission } from '../permissions.js';

export const AUDIT_ACTIONS = ['query', 'ddl', 'migration', 'import', 'login', 'login_failed', 'logout', 'denied', 'limit'] as const;
export const AUDIT_OUTCOMES = ['ok', 'error', 'denied', 'cancelled'] as const;

export interface AuditEvent {
  time: string;
  user: string;
  role: string;
  address: string;
  action: string;
  target: string;
  outcome: string;
  detail: string;
}

export interface AuditQuery {
  user?: string;
  action?: string;
  outcome?: string;
  search?: string;
  limit: number;
  offset: number;
}

export class AuditError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

export async function fetchAudit(query: AuditQuery, settings = ServerConnection.makeSettings()): Promise<{ events: AuditEvent[]; total: number }> {
  const params = new URLSearchParams({ limit: String(query.limit), offset: String(query.offset) });
  for (const key of ['user', 'action', 'outcome', 'search'] as const) {
    const value = query[key];
    if (value) {
      params.set(key, value);
    }
  }
  const url = `${URLExt.join(settings.baseUrl, 'api', 'audit')}?${params.toString()}`;
  const response = await ServerConnection.makeRequest(url, { method: 'GET' }, settings);
  const body = (await response.json().catch(() => ({}))) as { events?: AuditEvent[]; total?: number; error?: { message?: string } };
  if (!response.ok) {
    throw new AuditError(response.status, body.error?.message ?? response.statusText);
  }
  return { events: body.events ?? [], total: body.total ?? 0 };
}

/** Whether the signed-in user may read the audit log (`/api/me` permissions, as Jupyter Server answers them). */
export function mayReadAudit(settings = ServerConnection.makeSettings()): Promise<boolean> {
  return hasPermission('chlab:audit', 'read', settings);
}
