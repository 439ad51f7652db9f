import { createHash } from 'node:crypto';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { notFound, parseInput, useJupyterApi } from './http.js';
import { KERNEL_LOGO_SVG } from './kernelspecs.js';
import { PluginId, SettingsStore, type SettingsOverrides } from './lab-settings.js';
import { WorkspaceSchema, WorkspaceStore } from './lab-workspaces.js';

export interface LabPluginOptions {
  staticDir: string;
  userSettingsDir: string;
  workspacesDir: string;
  /** With users: each keeps their own settings and workspaces (in `user-<name>/` under those folders). */
  perUser?: boolean;
  token: string;
  appName?: string;
  appVersion?: string;
  schemasDir?: string;
  themesDir?: string;
  bundleFile?: string;
  serverRoot?: string;
  settingsOverrides?: SettingsOverrides;
  pageConfig?: Record<string, unknown>;
}

export const LAB_URLS = {
  baseUrl: '/',
  appUrl: '/lab',
  docUrl: '/doc',
  staticUrl: '/static/lab',
  settingsUrl: '/lab/api/settings',
  themesUrl: '/lab/api/themes',
  translationsApiUrl: '/lab/api/translations',
  workspacesApiUrl: '/lab/api/workspaces',
  listingsUrl: '/lab/api/listings',
  licensesUrl: '/lab/api/licenses',
  labextensionsUrl: '/lab/extensions',
  treeUrl: '/lab/tree',
} as const;

export const DEFAULT_DISABLED_EXTENSIONS = ['@jupyterlab/apputils-extension:announcements'];

const HASHED_ASSET = /(?:\.[0-9a-f]{8,}\.(?:js|css)$)|(?:^|[\\/])assets[\\/]/;

const WorkspaceId = z
  .string()
  .min(1, 'workspace name is required')
  .max(1024)
  .regex(/^[^\0-\x1f]+$/, 'must not contain control characters');
const SettingsQuery = z.object({ ids_only: z.string().optional() });
const SettingsBody = z.object({ raw: z.string({ error: "Invalid format for JSON payload. Must be in the form {'raw': ...}" }) }, {
  error: "Invalid format for JSON payload. Must be in the form {'raw': ...}",
});
const Locale = z.string().regex(/^[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*$|^default$/, 'invalid locale');

export interface PageState {
  mode: 'multiple-document' | 'single-document';
  workspace: string;
  treePath: string;
  notFoundUrl?: string;
}

function fullUrls(): Record<string, string> {
  const full: Record<string, string> = { fullAppUrl: LAB_URLS.appUrl, fullStaticUrl: LAB_URLS.staticUrl };
  for (const [key, value] of Object.entries(LAB_URLS)) {
    if (key === 'baseUrl' || key === 'appUrl' || key === 'staticUrl') continue;
    full[`full${key[0]!.toUpperCase()}${key.slice(1)}`] = value;
  }
  return full;
}

export function buildPageConfig(options: LabPluginOptions, state: PageState, storeId: number): Record<string, unknown> {
  return {
    appName: options.appName ?? 'chlab',
    appNamespace: 'chlab',
    appVersion: options.appVersion ?? '0.1.0',
    ...LAB_URLS,
    ...fullUrls(),
    wsUrl: '',
    token: options.token,
    terminalsAvailable: false,
    exposeAppInBrowser: true,
    notebookStartsKernel: true,
    cacheFiles: true,
    devMode: false,
    buildAvailable: false,
    buildCheck: false,
    quitButton: false,
    allow_hidden_files: false,
    delete_to_trash: false,
    copyAbsolutePath: false,
    disabledExtensions: DEFAULT_DISABLED_EXTENSIONS,
    deferredExtensions: [],
    federated_extensions: [],
    ignorePlugins: [],
    preferredPath: '/',
    serverRoot: options.serverRoot ?? '',
    defaultWorkspace: 'default',
    store_id: storeId,
    ...options.pageConfig,
    mode: state.mode,
    workspace: state.workspace,
    treePath: state.treePath,
    ...(state.notFoundUrl ? { notFoundUrl: state.notFoundUrl } : {}),
  };
}

const jsonForScript = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/** Drops `?token=` from the address bar once the session cookie is set (the only inline script; CSP names its hash). */
const STRIP_TOKEN_SCRIPT =
  "(function () { var url = new URL(window.location.href); if (url.searchParams.has('token')) { url.searchParams.delete('token'); window.history.replaceState({}, '', url.href); } })();";

/**
 * The lab page's Content-Security-Policy: code only from this server (JupyterLab compiles settings validators with
 * `new Function` and DuckDB-WASM compiles WebAssembly, hence the two eval sources), no plugins, not framed elsewhere.
 */
export const LAB_CSP = [
  "default-src 'self'",
  `script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval' blob: 'sha256-${createHash('sha256').update(STRIP_TOKEN_SCRIPT).digest('base64')}'`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self' ws: wss: blob: data:",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

export function renderPage(config: Record<string, unknown>, bundleFile: string): string {
  const title = String(config.appName ?? 'chlab');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title.replace(/[<&"]/g, '')}</title>
<link rel="icon" type="image/svg+xml" href="${LAB_URLS.appUrl}/favicon.svg">
<script id="jupyter-config-data" type="application/json">${jsonForScript(config)}</script>
<script src="${LAB_URLS.staticUrl}/${bundleFile}" main="index"></script>
</head>
<body>
<script>${STRIP_TOKEN_SCRIPT}</script>
</body>
</html>
`;
}

export function pageStateFor(mode: PageState['mode'], rest: string): PageState | 'api' {
  const state: PageState = { mode, workspace: 'default', treePath: '' };
  let remaining = rest.replace(/^\/+/, '');
  if (remaining.startsWith('api/') || remaining === 'api') return 'api';
  const workspace = /^workspaces\/([^/]+)\/?(.*)$/.exec(remaining);
  if (workspace) {
    state.workspace = workspace[1]!;
    remaining = workspace[2]!;
  }
  if (remaining === '' || remaining === 'tree' || remaining === 'tree/') return state;
  if (remaining.startsWith('tree/')) {
    state.treePath = remaining.slice('tree/'.length);
    return state;
  }
  return { ...state, notFoundUrl: `/${mode === 'single-document' ? 'doc' : 'lab'}/${rest.replace(/^\/+/, '')}` };
}

function queryString(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q);
}

export const labPlugin: FastifyPluginAsync<LabPluginOptions> = async (app: FastifyInstance, options) => {
  useJupyterApi(app);
  const staticDir = path.resolve(options.staticDir);
  const schemasDir = path.resolve(options.schemasDir ?? path.join(staticDir, 'schemas'));
  const themesDir = path.resolve(options.themesDir ?? path.join(staticDir, 'themes'));
  const bundleFile = options.bundleFile ?? 'bundle.js';
  const stores = new Map<string, { settings: SettingsStore; workspaces: WorkspaceStore }>();
  /** The signed-in user's settings and workspaces (everyone's when chlab has one user). */
  const storesOf = (request: FastifyRequest) => {
    const folder = options.perUser && request.user ? `user-${request.user.username}` : '';
    let found = stores.get(folder);
    if (!found) {
      found = {
        settings: new SettingsStore(schemasDir, path.resolve(options.userSettingsDir, folder), options.settingsOverrides, app.log),
        workspaces: new WorkspaceStore(path.resolve(options.workspacesDir, folder)),
      };
      stores.set(folder, found);
    }
    return found;
  };
  let storeId = 0;

  const sendPage = (reply: FastifyReply, state: PageState) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', LAB_CSP)
      .header('x-content-type-options', 'nosniff')
      .send(renderPage(buildPageConfig(options, state, storeId++), bundleFile));

  const page = (mode: PageState['mode']) => async (request: FastifyRequest, reply: FastifyReply) => {
    const rest = (request.params as { '*'?: string })['*'] ?? '';
    const state = pageStateFor(mode, rest);
    if (state === 'api') throw notFound(`No such API endpoint: ${request.url.split('?')[0]}`);
    return sendPage(reply, state);
  };

  app.get(`${LAB_URLS.appUrl}/favicon.svg`, async (_request, reply) =>
    reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(KERNEL_LOGO_SVG),
  );

  app.get('/', async (request, reply) => reply.redirect(`${LAB_URLS.appUrl}${queryString(request.url)}`, 302));
  for (const [prefix, mode] of [
    ['/lab', 'multiple-document'],
    ['/doc', 'single-document'],
  ] as const) {
    app.get(prefix, page(mode));
    app.get(`${prefix}/*`, page(mode));
  }

  await app.register(fastifyStatic, {
    root: staticDir,
    prefix: `${LAB_URLS.staticUrl}/`,
    decorateReply: false,
    index: false,
    list: false,
    dotfiles: 'deny',
    cacheControl: false,
    setHeaders: (reply, file) => {
      reply.header('cache-control', HASHED_ASSET.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache');
      reply.header('x-content-type-options', 'nosniff');
    },
  });

  await app.register(fastifyStatic, {
    root: themesDir,
    prefix: `${LAB_URLS.themesUrl}/`,
    decorateReply: false,
    index: false,
    list: false,
    dotfiles: 'deny',
    cacheControl: false,
    setHeaders: (reply) => {
      reply.header('cache-control', 'no-cache');
      reply.header('x-content-type-options', 'nosniff');
    },
  });

  app.get(LAB_URLS.settingsUrl, async (request) => {
    const query = parseInput(SettingsQuery, request.query, 'query');
    const { settings } = storesOf(request);
    if (query.ids_only === 'true') return { settings: (await settings.ids()).map((id) => ({ id })) };
    return { settings: await settings.list() };
  });

  app.get(`${LAB_URLS.settingsUrl}/*`, async (request) => {
    const id = parseInput(PluginId, (request.params as { '*': string })['*'], 'plugin id');
    return storesOf(request).settings.get(id);
  });

  app.put(`${LAB_URLS.settingsUrl}/*`, async (request, reply) => {
    const id = parseInput(PluginId, (request.params as { '*': string })['*'], 'plugin id');
    const body = parseInput(SettingsBody, request.body, 'body');
    await storesOf(request).settings.save(id, body.raw);
    return reply.code(204).send();
  });

  app.get(LAB_URLS.translationsApiUrl, async () => ({
    data: { en: { displayName: 'English', nativeName: 'English' } },
    message: '',
  }));

  app.get(`${LAB_URLS.translationsApiUrl}/:locale`, async (request) => {
    const { locale } = parseInput(z.object({ locale: Locale }), request.params, 'params');
    const english = locale === 'default' || locale === 'en' || locale.toLowerCase().startsWith('en_') || locale.toLowerCase().startsWith('en-');
    return { data: {}, message: english ? '' : `Language pack '${locale}' not installed!` };
  });

  app.get(LAB_URLS.workspacesApiUrl, async (request) => ({ workspaces: await storesOf(request).workspaces.list() }));

  app.get(`${LAB_URLS.workspacesApiUrl}/*`, async (request) => {
    const id = parseInput(WorkspaceId, (request.params as { '*': string })['*'], 'workspace');
    return storesOf(request).workspaces.get(id);
  });

  app.put(`${LAB_URLS.workspacesApiUrl}/*`, async (request, reply) => {
    const id = parseInput(WorkspaceId, (request.params as { '*': string })['*'], 'workspace');
    const body = parseInput(WorkspaceSchema, request.body, 'body');
    await storesOf(request).workspaces.save(id, body);
    return reply.code(204).send();
  });

  app.delete(`${LAB_URLS.workspacesApiUrl}/*`, async (request, reply) => {
    const id = parseInput(WorkspaceId, (request.params as { '*': string })['*'], 'workspace');
    await storesOf(request).workspaces.delete(id);
    return reply.code(204).send();
  });

  app.get(`${LAB_URLS.listingsUrl}/*`, async () => ({
    blocked_extensions_uris: [],
    allowed_extensions_uris: [],
    blocked_extensions: [],
    allowed_extensions: [],
  }));

  app.get(LAB_URLS.licensesUrl, async () => ({ bundles: {} }));
  app.get(`${LAB_URLS.licensesUrl}/`, async () => ({ bundles: {} }));
};
