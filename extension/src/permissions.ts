/** What the signed-in user may do, as `GET /api/me?permissions=…` answers (Jupyter Server's identity API). */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Whether the user may take `action` on `resource` (e.g. `chlab:audit` / `read`); false when the server cannot say. */
export async function hasPermission(resource: string, action: string, settings = ServerConnection.makeSettings()): Promise<boolean> {
  const permissions = encodeURIComponent(JSON.stringify({ [resource]: [action] }));
  const response = await ServerConnection.makeRequest(`${URLExt.join(settings.baseUrl, 'api', 'me')}?permissions=${permissions}`, { method: 'GET' }, settings);
  if (!response.ok) {
    return false;
  }
  const body = (await response.json().catch(() => ({}))) as { permissions?: Record<string, string[]> };
  return body.permissions?.[resource]?.includes(action) ?? false;
}
