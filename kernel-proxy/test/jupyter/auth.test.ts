import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { authPlugin, parseCookies, redactUrl, safeNext } from '../../src/jupyter/auth.js';

const TOKEN = 'secret-token-0123456789';

async function build(options: { username?: string } = {}): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(websocket);
  await app.register(authPlugin, { token: TOKEN, ...options });
  app.get('/api/thing', async (request) => ({ user: request.user, via: request.authMethod }));
  app.post('/api/thing', async () => ({ ok: true }));
  app.get('/lab', async (_request, reply) => reply.type('text/html').send('<html>lab</html>'));
  app.get('/api/events/subscribe', { websocket: true }, (socket) => {
    socket.send('hello');
  });
  await app.ready();
  return app;
}

function setCookies(response: LightMyRequestResponse): string[] {
  const header = response.headers['set-cookie'];
  return header === undefined ? [] : Array.isArray(header) ? header : [header];
}

function cookieHeader(response: LightMyRequestResponse): string {
  return setCookies(response)
    .map((c) => c.split(';')[0])
    .join('; ');
}

async function login(app: FastifyInstance) {
  const response = await app.inject({ method: 'GET', url: `/lab?token=${TOKEN}`, headers: { accept: 'text/html', host: 'localhost:8888' } });
  expect(response.statusCode).toBe(200);
  const cookie = cookieHeader(response);
  const xsrf = parseCookies(cookie).get('_xsrf')!;
  return { cookie, xsrf, response };
}

describe('authPlugin', () => {
  let app: FastifyInstance;
  afterEach(async () => {
    await app?.close();
  });

  it('answers 401 JSON for API requests without credentials', async () => {
    app = await build();
    const response = await app.inject({ method: 'GET', url: '/api/thing' });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual({ message: expect.stringContaining('token'), reason: 'Unauthorized' });
  });

  it('accepts the token in the Authorization header (token or bearer) and decorates the user', async () => {
    app = await build({ username: 'alice' });
    for (const scheme of ['token', 'Token', 'Bearer']) {
      const response = await app.inject({ method: 'GET', url: '/api/thing', headers: { authorization: `${scheme} ${TOKEN}` } });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ user: { username: 'alice', role: 'admin' }, via: 'header' });
    }
    const wrong = await app.inject({ method: 'GET', url: '/api/thing', headers: { authorization: 'token nope' } });
    expect(wrong.statusCode).toBe(401);
  });

  it('accepts ?token= and does not set cookies on API requests', async () => {
    app = await build();
    const response = await app.inject({ method: 'GET', url: `/api/thing?token=${TOKEN}` });
    expect(response.statusCode).toBe(200);
    expect(response.json().via).toBe('query');
    expect(setCookies(response)).toEqual([]);
    expect((await app.inject({ method: 'GET', url: '/api/thing?token=wrong' })).statusCode).toBe(401);
  });

  it('sets an HttpOnly SameSite=Lax session cookie and a readable _xsrf cookie after a ?token= page login', async () => {
    app = await build();
    const { response, cookie } = await login(app);
    const cookies = setCookies(response);
    const session = cookies.find((c) => c.startsWith('chlab-session-8888='))!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Lax/);
    expect(session).toMatch(/Path=\//);
    expect(session).not.toContain(TOKEN);
    const xsrf = cookies.find((c) => c.startsWith('_xsrf='))!;
    expect(xsrf).not.toMatch(/HttpOnly/);

    const api = await app.inject({ method: 'GET', url: '/api/thing', headers: { cookie, host: 'localhost:8888' } });
    expect(api.statusCode).toBe(200);
    expect(api.json().via).toBe('cookie');
  });

  it('rejects a tampered or foreign session cookie', async () => {
    app = await build();
    const { cookie } = await login(app);
    const tampered = cookie.replace(/(chlab-session-8888=[^;]*)./, '$1x');
    expect((await app.inject({ method: 'GET', url: '/api/thing', headers: { cookie: tampered, host: 'localhost:8888' } })).statusCode).toBe(401);

    const other = Fastify();
    await other.register(authPlugin, { token: 'a-different-token-xyz' });
    other.get('/lab', async () => 'lab');
    const foreign = await other.inject({ method: 'GET', url: '/lab?token=a-different-token-xyz', headers: { host: 'localhost:8888' } });
    await other.close();
    const response = await app.inject({ method: 'GET', url: '/api/thing', headers: { cookie: cookieHeader(foreign), host: 'localhost:8888' } });
    expect(response.statusCode).toBe(401);
  });

  it('requires a matching X-XSRFToken for non-GET requests authenticated only by cookie', async () => {
    app = await build();
    const { cookie, xsrf } = await login(app);
    const headers = { cookie, host: 'localhost:8888' };
    const missing = await app.inject({ method: 'POST', url: '/api/thing', headers });
    expect(missing.statusCode).toBe(403);
    expect(missing.json().message).toMatch(/XSRF/);
    const wrong = await app.inject({ method: 'POST', url: '/api/thing', headers: { ...headers, 'x-xsrftoken': 'x'.repeat(48) } });
    expect(wrong.statusCode).toBe(403);
    const right = await app.inject({ method: 'POST', url: '/api/thing', headers: { ...headers, 'x-xsrftoken': xsrf } });
    expect(right.statusCode).toBe(200);
    const param = await app.inject({ method: 'POST', url: `/api/thing?_xsrf=${xsrf}`, headers });
    expect(param.statusCode).toBe(200);
  });

  it('skips the XSRF check for token-authenticated requests', async () => {
    app = await build();
    const response = await app.inject({ method: 'POST', url: '/api/thing', headers: { authorization: `token ${TOKEN}` } });
    expect(response.statusCode).toBe(200);
  });

  it('redirects unauthenticated page requests to the login form, which logs in by POST', async () => {
    app = await build();
    const page = await app.inject({ method: 'GET', url: '/lab?foo=1', headers: { accept: 'text/html' } });
    expect(page.statusCode).toBe(302);
    expect(page.headers.location).toBe('/login?next=%2Flab%3Ffoo%3D1');

    const form = await app.inject({ method: 'GET', url: '/login?next=%2Flab' });
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('<form method="post" action="/login">');

    const bad = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'token=wrong&next=%2Flab',
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.body).toContain('Invalid token');

    const good = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded', host: 'localhost:8888' },
      payload: `token=${TOKEN}&next=%2Flab%2Ftree%2Fa.ipynb`,
    });
    expect(good.statusCode).toBe(302);
    expect(good.headers.location).toBe('/lab/tree/a.ipynb');
    const api = await app.inject({ method: 'GET', url: '/api/thing', headers: { cookie: cookieHeader(good), host: 'localhost:8888' } });
    expect(api.statusCode).toBe(200);
  });

  it('never redirects off-site after login', () => {
    expect(safeNext('//evil.example/x')).toBe('/lab');
    expect(safeNext('/\\evil.example')).toBe('/lab');
    expect(safeNext('https://evil.example')).toBe('/lab');
    expect(safeNext('/lab/tree/x?token=abc&y=1')).toBe('/lab/tree/x?y=1');
    expect(safeNext(undefined)).toBe('/lab');
  });

  it('authenticates WebSocket upgrades by token or by cookie from the same origin', async () => {
    app = await build();
    await expect(app.injectWS('/api/events/subscribe')).rejects.toThrow(/401/);

    const byToken = await app.injectWS(`/api/events/subscribe?token=${TOKEN}`);
    byToken.terminate();

    const { cookie } = await login(app);
    const sameOrigin = await app.injectWS('/api/events/subscribe', {
      headers: { cookie, host: 'localhost:8888', origin: 'http://localhost:8888' },
    });
    sameOrigin.terminate();

    await expect(
      app.injectWS('/api/events/subscribe', { headers: { cookie, host: 'localhost:8888', origin: 'http://evil.example' } }),
    ).rejects.toThrow(/403/);
  });

  it('redacts tokens from URLs for logs', () => {
    expect(redactUrl('/lab?token=abc&x=1')).toBe('/lab?token=[redacted]&x=1');
    expect(redactUrl('/api/kernels/1/channels?session_id=s&token=abc')).toBe('/api/kernels/1/channels?session_id=s&token=[redacted]');
    expect(redactUrl('/api/contents')).toBe('/api/contents');
  });

  it('refuses to start without a token', async () => {
    app = Fastify();
    await expect(app.register(authPlugin, { token: '' }).ready()).rejects.toThrow(/token/);
  });
});
