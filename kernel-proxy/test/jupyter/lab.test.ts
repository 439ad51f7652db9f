import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { labPlugin, type LabPluginOptions } from '../../src/jupyter/lab.js';
import { slugify } from '../../src/jupyter/lab-workspaces.js';

const REAL_BUILD = path.resolve(import.meta.dirname, '..', '..', '..', 'extension', 'app', 'build');
const HAVE_REAL_BUILD = existsSync(path.join(REAL_BUILD, 'bundle.js')) && existsSync(path.join(REAL_BUILD, 'schemas'));

const THEMES_ID = '@jupyterlab/apputils-extension:themes';
const THEMES_SCHEMA = {
  title: 'Theme',
  'jupyter.lab.setting-icon-label': 'Theme Manager',
  description: 'Theme manager settings.',
  type: 'object',
  additionalProperties: false,
  properties: {
    theme: { type: 'string', title: 'Theme', default: 'JupyterLab Light' },
    'theme-scrollbars': { type: 'boolean', title: 'Scrollbar Theming', default: false },
    overrides: { type: 'object', default: { 'code-font-size': null } },
  },
};

function pageConfigOf(html: string): Record<string, unknown> {
  const match = /<script id="jupyter-config-data" type="application\/json">(.*?)<\/script>/s.exec(html);
  expect(match).not.toBeNull();
  return JSON.parse(match![1]!) as Record<string, unknown>;
}

describe('labPlugin', () => {
  let base: string;
  let staticDir: string;
  let options: LabPluginOptions;
  let app: FastifyInstance;

  async function build(extra: Partial<LabPluginOptions> = {}) {
    app = Fastify();
    await app.register(labPlugin, { ...options, ...extra });
    await app.ready();
    return app;
  }

  beforeEach(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'chlab-lab-'));
    staticDir = path.join(base, 'build');
    const schemaDir = path.join(staticDir, 'schemas', '@jupyterlab', 'apputils-extension');
    await mkdir(schemaDir, { recursive: true });
    await writeFile(path.join(schemaDir, 'themes.json'), JSON.stringify(THEMES_SCHEMA));
    await writeFile(path.join(schemaDir, 'package.json.orig'), JSON.stringify({ name: '@jupyterlab/apputils-extension', version: '4.6.4' }));
    await mkdir(path.join(staticDir, 'schemas', 'chlab-extension'), { recursive: true });
    await writeFile(path.join(staticDir, 'schemas', 'chlab-extension', 'plugin.json'), JSON.stringify({ type: 'object', properties: {} }));
    await mkdir(path.join(staticDir, 'themes', '@jupyterlab', 'theme-light-extension'), { recursive: true });
    await writeFile(path.join(staticDir, 'themes', '@jupyterlab', 'theme-light-extension', 'index.css'), ':root { --jp-x: 1; }');
    await writeFile(path.join(staticDir, 'bundle.js'), 'console.log("lab")');
    await writeFile(path.join(staticDir, '1017.1e53228a.js'), 'chunk');
    await writeFile(path.join(staticDir, '.env'), 'SECRET=1');
    await writeFile(path.join(base, 'outside.txt'), 'outside');
    options = {
      staticDir,
      userSettingsDir: path.join(base, 'user-settings'),
      workspacesDir: path.join(base, 'workspaces'),
      token: 'lab-token-123',
    };
  });

  afterEach(async () => {
    await app?.close();
    await rm(base, { recursive: true, force: true });
  });

  describe('pages', () => {
    it('serves /lab with the page config and the bundle', async () => {
      await build();
      const response = await app.inject({ method: 'GET', url: '/lab' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.body).toContain('<script src="/static/lab/bundle.js" main="index"></script>');
      const config = pageConfigOf(response.body);
      expect(config).toMatchObject({
        baseUrl: '/',
        wsUrl: '',
        appUrl: '/lab',
        fullStaticUrl: '/static/lab',
        staticUrl: '/static/lab',
        settingsUrl: '/lab/api/settings',
        themesUrl: '/lab/api/themes',
        translationsApiUrl: '/lab/api/translations',
        workspacesApiUrl: '/lab/api/workspaces',
        treeUrl: '/lab/tree',
        fullLabextensionsUrl: '/lab/extensions',
        listingsUrl: '/lab/api/listings',
        fullListingsUrl: '/lab/api/listings',
        appName: 'chlab',
        appVersion: expect.any(String),
        token: 'lab-token-123',
        terminalsAvailable: false,
        exposeAppInBrowser: true,
        notebookStartsKernel: true,
        defaultWorkspace: 'default',
        workspace: 'default',
        mode: 'multiple-document',
        treePath: '',
        cacheFiles: true,
        quitButton: false,
      });
      expect(config.notFoundUrl).toBeUndefined();
      expect(config.disabledExtensions).toEqual(['@jupyterlab/apputils-extension:announcements']);
      expect((await app.inject({ method: 'GET', url: '/lab/' })).statusCode).toBe(200);
    });

    it('understands tree paths, workspaces, single-document mode and unknown pages', async () => {
      await build({ appName: 'My Lab', pageConfig: { extra: 'x' } });
      const tree = pageConfigOf((await app.inject({ method: 'GET', url: '/lab/tree/my%20dir/a.ipynb' })).body);
      expect(tree).toMatchObject({ treePath: 'my dir/a.ipynb', workspace: 'default', appName: 'My Lab', extra: 'x' });
      const ws = pageConfigOf((await app.inject({ method: 'GET', url: '/lab/workspaces/team/tree/b.ipynb' })).body);
      expect(ws).toMatchObject({ workspace: 'team', treePath: 'b.ipynb' });
      const doc = pageConfigOf((await app.inject({ method: 'GET', url: '/doc/tree/c.ipynb' })).body);
      expect(doc).toMatchObject({ mode: 'single-document', treePath: 'c.ipynb' });
      const unknown = pageConfigOf((await app.inject({ method: 'GET', url: '/lab/nowhere' })).body);
      expect(unknown.notFoundUrl).toBe('/lab/nowhere');
      const api = await app.inject({ method: 'GET', url: '/lab/api/nothing' });
      expect(api.statusCode).toBe(404);
      expect(api.json()).toEqual({ message: 'No such API endpoint: /lab/api/nothing', reason: 'Not Found' });
    });

    it('cannot be broken out of the config script by the URL', async () => {
      await build();
      const evil = encodeURIComponent('</script><script>alert(1)</script>');
      const response = await app.inject({ method: 'GET', url: `/lab/tree/${evil}` });
      expect(response.body).not.toContain('<script>alert(1)');
      expect(pageConfigOf(response.body).treePath).toBe('</script><script>alert(1)</script>');
    });

    it('redirects / to /lab keeping the token', async () => {
      await build();
      const response = await app.inject({ method: 'GET', url: '/?token=lab-token-123' });
      expect(response.statusCode).toBe(302);
      expect(response.headers.location).toBe('/lab?token=lab-token-123');
      expect((await app.inject({ method: 'GET', url: '/' })).headers.location).toBe('/lab');
    });
  });

  describe('static files and themes', () => {
    it('serves the bundle uncached and hashed chunks as immutable', async () => {
      await build();
      const bundle = await app.inject({ method: 'GET', url: '/static/lab/bundle.js' });
      expect(bundle.statusCode).toBe(200);
      expect(bundle.body).toBe('console.log("lab")');
      expect(bundle.headers['cache-control']).toBe('no-cache');
      const chunk = await app.inject({ method: 'GET', url: '/static/lab/1017.1e53228a.js' });
      expect(chunk.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect((await app.inject({ method: 'GET', url: '/static/lab/missing.js' })).statusCode).toBe(404);
    });

    it('refuses dotfiles and paths outside the build', async () => {
      await build();
      for (const url of ['/static/lab/.env', '/static/lab/../outside.txt', '/static/lab/..%2Foutside.txt', '/lab/api/themes/..%2F..%2Foutside.txt']) {
        const response = await app.inject({ method: 'GET', url });
        expect(response.statusCode, url).toBeGreaterThanOrEqual(400);
        expect(response.body, url).not.toContain('SECRET');
        expect(response.body, url).not.toBe('outside');
      }
    });

    it('serves theme CSS', async () => {
      await build();
      const css = await app.inject({ method: 'GET', url: '/lab/api/themes/@jupyterlab/theme-light-extension/index.css' });
      expect(css.statusCode).toBe(200);
      expect(css.headers['content-type']).toMatch(/^text\/css/);
      expect(css.body).toContain('--jp-x');
    });
  });

  describe('settings', () => {
    it('lists settings with schemas, versions and empty user settings', async () => {
      await build();
      const response = await app.inject({ method: 'GET', url: '/lab/api/settings' });
      expect(response.statusCode).toBe(200);
      const { settings } = response.json();
      expect(settings.map((s: { id: string }) => s.id)).toEqual(['chlab-extension:plugin', THEMES_ID]);
      const themes = settings[1];
      expect(themes).toEqual({
        id: THEMES_ID,
        raw: '{}',
        schema: THEMES_SCHEMA,
        settings: {},
        version: '4.6.4',
        last_modified: null,
        created: null,
      });
      expect(settings[0].version).toBe('N/A');
      const ids = (await app.inject({ method: 'GET', url: '/lab/api/settings?ids_only=true' })).json();
      expect(ids).toEqual({ settings: [{ id: 'chlab-extension:plugin' }, { id: THEMES_ID }] });
    });

    it('answers one plugin, 404 for unknown plugins and 400 for malformed ids', async () => {
      await build();
      const one = await app.inject({ method: 'GET', url: `/lab/api/settings/${THEMES_ID}` });
      expect(one.statusCode).toBe(200);
      expect(one.json()).toMatchObject({ id: THEMES_ID, raw: '{}', settings: {} });
      const missing = await app.inject({ method: 'GET', url: '/lab/api/settings/@jupyterlab/nope-extension:plugin' });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().message).toMatch(/Schema not found/);
      const bad = await app.inject({ method: 'GET', url: '/lab/api/settings/..%2F..%2Fetc:passwd' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toMatch(/^plugin id: /);
    });

    it('saves raw JSON5 user settings verbatim, validated against the schema', async () => {
      await build();
      const raw = '{\n  // my theme\n  "theme": "JupyterLab Dark",\n}';
      const put = await app.inject({ method: 'PUT', url: `/lab/api/settings/${THEMES_ID}`, payload: { raw } });
      expect(put.statusCode).toBe(204);
      const file = path.join(options.userSettingsDir, '@jupyterlab', 'apputils-extension', 'themes.jupyterlab-settings');
      expect(await readFile(file, 'utf8')).toBe(raw);
      const got = (await app.inject({ method: 'GET', url: `/lab/api/settings/${THEMES_ID}` })).json();
      expect(got.raw).toBe(raw);
      expect(got.settings).toEqual({ theme: 'JupyterLab Dark' });
      expect(Date.parse(got.last_modified)).not.toBeNaN();
      expect(Date.parse(got.created)).not.toBeNaN();

      const invalid = await app.inject({ method: 'PUT', url: `/lab/api/settings/${THEMES_ID}`, payload: { raw: '{"theme": 42}' } });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json().message).toMatch(/^Failed validating input: /);
      const unparsable = await app.inject({ method: 'PUT', url: `/lab/api/settings/${THEMES_ID}`, payload: { raw: '{theme: ' } });
      expect(unparsable.statusCode).toBe(400);
      expect(unparsable.json().message).toMatch(/^body\.raw: /);
      const noRaw = await app.inject({ method: 'PUT', url: `/lab/api/settings/${THEMES_ID}`, payload: { settings: {} } });
      expect(noRaw.statusCode).toBe(400);
      expect(noRaw.json().message).toMatch(/^body\.raw: /);
      const unknown = await app.inject({ method: 'PUT', url: '/lab/api/settings/@x/y:z', payload: { raw: '{}' } });
      expect(unknown.statusCode).toBe(404);
      expect(await readFile(file, 'utf8')).toBe(raw);
    });

    it('ignores user settings that no longer match the schema', async () => {
      await build();
      const file = path.join(options.userSettingsDir, '@jupyterlab', 'apputils-extension', 'themes.jupyterlab-settings');
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, '{"theme": 1}');
      const got = (await app.inject({ method: 'GET', url: `/lab/api/settings/${THEMES_ID}` })).json();
      expect(got).toMatchObject({ raw: '{}', settings: {} });
    });

    it('applies default overrides to schemas', async () => {
      await build({ settingsOverrides: { [THEMES_ID]: { theme: 'JupyterLab Dark', overrides: { 'ui-font-size': '14px' } } } });
      const got = (await app.inject({ method: 'GET', url: `/lab/api/settings/${THEMES_ID}` })).json();
      expect(got.schema.properties.theme.default).toBe('JupyterLab Dark');
      expect(got.schema.properties.overrides.default).toEqual({ 'code-font-size': null, 'ui-font-size': '14px' });
    });
  });

  describe('translations, workspaces, listings', () => {
    it('answers translations without language packs', async () => {
      await build();
      const list = await app.inject({ method: 'GET', url: '/lab/api/translations' });
      expect(list.json()).toEqual({ data: { en: { displayName: 'English', nativeName: 'English' } }, message: '' });
      for (const locale of ['default', 'en']) {
        const one = await app.inject({ method: 'GET', url: `/lab/api/translations/${locale}` });
        expect(one.statusCode).toBe(200);
        expect(one.json()).toEqual({ data: {}, message: '' });
      }
      expect((await app.inject({ method: 'GET', url: '/lab/api/translations/fr_FR' })).json()).toEqual({
        data: {},
        message: "Language pack 'fr_FR' not installed!",
      });
      expect((await app.inject({ method: 'GET', url: '/lab/api/translations/..%2Fx' })).statusCode).toBe(400);
    });

    it('stores workspaces as JSON files and answers an empty one for unknown ids', async () => {
      await build();
      const plain = await app.inject({
        method: 'PUT',
        url: '/lab/api/workspaces/textplain',
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        payload: JSON.stringify({ data: {}, metadata: { id: 'textplain' } }),
      });
      expect(plain.statusCode).toBe(204);
      expect((await app.inject({ method: 'GET', url: '/lab/api/workspaces/default' })).json()).toEqual({ data: {}, metadata: { id: 'default' } });
      const workspace = { data: { 'layout-restorer:data': { main: { current: 'notebook:a.ipynb' } } }, metadata: { id: 'default' } };
      const put = await app.inject({ method: 'PUT', url: '/lab/api/workspaces/default', payload: workspace });
      expect(put.statusCode).toBe(204);
      expect(existsSync(path.join(options.workspacesDir, `${slugify('default')}.jupyterlab-workspace`))).toBe(true);
      const got = (await app.inject({ method: 'GET', url: '/lab/api/workspaces/default' })).json();
      expect(got.data).toEqual(workspace.data);
      expect(got.metadata).toMatchObject({ id: 'default', last_modified: expect.any(String), created: expect.any(String) });
      const list = (await app.inject({ method: 'GET', url: '/lab/api/workspaces' })).json();
      expect(list.workspaces.ids).toEqual(['default', 'textplain']);
      expect(list.workspaces.values[0].data).toEqual(workspace.data);

      const mismatch = await app.inject({ method: 'PUT', url: '/lab/api/workspaces/other', payload: workspace });
      expect(mismatch.statusCode).toBe(400);
      expect(mismatch.json().message).toMatch(/mismatch/);
      const bad = await app.inject({ method: 'PUT', url: '/lab/api/workspaces/default', payload: { data: [] } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toMatch(/^body\.(data|metadata)/);

      expect((await app.inject({ method: 'DELETE', url: '/lab/api/workspaces/default' })).statusCode).toBe(204);
      expect((await app.inject({ method: 'DELETE', url: '/lab/api/workspaces/default' })).statusCode).toBe(404);
    });

    it('names workspace files like jupyterlab_server', () => {
      expect(slugify('default')).toBe('default-' + '37a8');
      expect(slugify('My Space/äx')).toMatch(/^my-spacex-[0-9a-f]{4}$/);
    });

    it('answers harmless extension listings and licenses', async () => {
      await build();
      const listings = await app.inject({ method: 'GET', url: '/lab/api/listings/@jupyterlab/extensionmanager-extension/listings.json' });
      expect(listings.json()).toMatchObject({ blocked_extensions: [], allowed_extensions: [] });
      expect((await app.inject({ method: 'GET', url: '/lab/api/licenses/' })).json()).toEqual({ bundles: {} });
    });
  });

  describe.skipIf(!HAVE_REAL_BUILD)('against the real JupyterLab build', () => {
    it('loads every schema, compiles it, and round-trips the theme setting', async () => {
      const warnings: string[] = [];
      app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => warnings.push(line) } } });
      await app.register(labPlugin, { ...options, staticDir: REAL_BUILD });
      await app.ready();
      const { settings } = (await app.inject({ method: 'GET', url: '/lab/api/settings' })).json();
      const ids = settings.map((s: { id: string }) => s.id);
      expect(ids).toContain(THEMES_ID);
      expect(ids).toContain('@jupyterlab/notebook-extension:tracker');
      for (const model of settings) {
        expect(Object.keys(model).sort()).toEqual(['created', 'id', 'last_modified', 'raw', 'schema', 'settings', 'version']);
        const put = await app.inject({ method: 'PUT', url: `/lab/api/settings/${model.id}`, payload: { raw: '{}' } });
        expect(put.statusCode, model.id).toBe(204);
      }
      expect(settings.find((s: { id: string }) => s.id === THEMES_ID).version).toMatch(/^4\.\d+\.\d+/);
      const raw = '{ "theme": "JupyterLab Dark" }';
      expect((await app.inject({ method: 'PUT', url: `/lab/api/settings/${THEMES_ID}`, payload: { raw } })).statusCode).toBe(204);
      expect((await app.inject({ method: 'GET', url: `/lab/api/settings/${THEMES_ID}` })).json().settings).toEqual({ theme: 'JupyterLab Dark' });
      const wrong = await app.inject({ method: 'PUT', url: `/lab/api/settings/${THEMES_ID}`, payload: { raw: '{ "theme-scrollbars": "yes" }' } });
      expect(wrong.statusCode).toBe(400);
      expect(warnings).toEqual([]);
      const css = await app.inject({ method: 'GET', url: '/lab/api/themes/@jupyterlab/theme-light-extension/index.css' });
      expect(css.statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/static/lab/bundle.js' })).statusCode).toBe(200);
    });
  });
});
