import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { errorBody } from './http.js';

export interface AuthenticatedUser {
  username: string;
}

export type AuthMethod = 'header' | 'query' | 'cookie';

declare module 'fastify' {
  interface FastifyRequest {
    user: AuthenticatedUser;
    authMethod: AuthMethod | null;
  }
}

export interface AuthPluginOptions {
  token: string;
  username?: string;
  cookieName?: string;
  sessionMaxAgeSeconds?: number;
  publicPaths?: string[];
  allowedOrigins?: string[];
}

export const XSRF_COOKIE = '_xsrf';
export const LOGIN_PATH = '/login';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const CLOCK_SKEW_SECONDS = 60;

const OptionsSchema = z.object({
  token: z.string().min(1, 'token must not be empty'),
  username: z.string().min(1).default('analyst'),
  cookieName: z.string().regex(/^[\w-]+$/).optional(),
  sessionMaxAgeSeconds: z.number().int().positive().default(30 * 24 * 3600),
  publicPaths: z.array(z.string()).default([]),
  allowedOrigins: z.array(z.string()).default([]),
});

export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|_xsrf)=)[^&#]*/gi, '$1[redacted]');
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const raw = part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    try {
      cookies.set(name, decodeURIComponent(raw));
    } catch {
      cookies.set(name, raw);
    }
  }
  return cookies;
}

export interface CookieOptions {
  httpOnly?: boolean;
  maxAgeSeconds?: number;
  secure?: boolean;
}

export function serializeCookie(name: string, value: string, options: CookieOptions = {}): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'SameSite=Lax'];
  if (options.httpOnly) parts.push('HttpOnly');
  if (options.secure) parts.push('Secure');
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${options.maxAgeSeconds}`);
  return parts.join('; ');
}

export function appendSetCookie(reply: FastifyReply, cookie: string): void {
  const existing = reply.getHeader('set-cookie');
  const list = existing === undefined ? [] : Array.isArray(existing) ? existing.map(String) : [String(existing)];
  reply.header('set-cookie', [...list, cookie]);
}

const digest = (value: string) => createHash('sha256').update(value).digest();

export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function queryParam(url: string, name: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get(name) ?? undefined;
}

const pathOf = (url: string) => url.split('?')[0] ?? url;

export function isApiPath(path: string): boolean {
  return /^\/(?:lab\/)?api(?:\/|$)/.test(path) || path.startsWith('/kernelspecs/');
}

function isUpgrade(request: FastifyRequest): boolean {
  return String(request.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

function wantsHtml(request: FastifyRequest): boolean {
  return String(request.headers.accept ?? '').includes('text/html');
}

function hostPort(request: FastifyRequest): string {
  const match = /:(\d+)$/.exec(String(request.headers.host ?? ''));
  return match?.[1] ?? (request.protocol === 'https' ? '443' : '80');
}

export function safeNext(next: string | undefined): string {
  if (!next || !next.startsWith('/')) return '/lab';
  try {
    const base = 'http://chlab.invalid';
    const url = new URL(next, base);
    if (url.origin !== base) return '/lab';
    url.searchParams.delete('token');
    return `${url.pathname}${url.search}${url.hash}`;
  } catch {
    return '/lab';
  }
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function loginPage(next: string, error?: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>chlab — log in</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}input{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}button{font:inherit;margin-top:.8rem;padding:.4rem 1rem}.error{color:#b00020}</style>
</head>
<body>
<h1>chlab</h1>
<p>Paste the token printed by <code>npm start</code> (the part after <code>?token=</code>).</p>
${error ? `<p class="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${LOGIN_PATH}">
<input type="password" name="token" autocomplete="current-password" autofocus aria-label="Token">
<input type="hidden" name="next" value="${escapeHtml(next)}">
<button type="submit">Log in</button>
</form>
</body>
</html>
`;
}

const LoginBody = z.object({
  token: z.string().max(4096).default(''),
  next: z.string().max(4096).optional(),
});

class SessionSigner {
  private readonly key: Buffer;

  constructor(
    token: string,
    private readonly maxAgeSeconds: number,
  ) {
    this.key = createHmac('sha256', token).update('chlab-session-cookie-v1').digest();
  }

  private mac(username: string, issuedAt: number): string {
    return createHmac('sha256', this.key).update(`${username}\n${issuedAt}`).digest('base64url');
  }

  issue(username: string): string {
    const issuedAt = Math.floor(Date.now() / 1000);
    return `${issuedAt}.${Buffer.from(username).toString('base64url')}.${this.mac(username, issuedAt)}`;
  }

  verify(value: string): AuthenticatedUser | undefined {
    const match = /^(\d{1,12})\.([\w-]{1,256})\.([\w-]{43})$/.exec(value);
    if (!match) return undefined;
    const issuedAt = Number(match[1]);
    const username = Buffer.from(match[2]!, 'base64url').toString('utf8');
    const now = Math.floor(Date.now() / 1000);
    if (issuedAt > now + CLOCK_SKEW_SECONDS || now - issuedAt > this.maxAgeSeconds) return undefined;
    const expected = Buffer.from(this.mac(username, issuedAt));
    const actual = Buffer.from(match[3]!);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
    return { username };
  }
}

const auth: FastifyPluginAsync<AuthPluginOptions> = async (app: FastifyInstance, rawOptions) => {
  const options = OptionsSchema.parse(rawOptions);
  const signer = new SessionSigner(options.token, options.sessionMaxAgeSeconds);
  const user: AuthenticatedUser = { username: options.username };
  const publicPaths = new Set([LOGIN_PATH, ...options.publicPaths]);

  const sessionCookieName = (request: FastifyRequest) => options.cookieName ?? `chlab-session-${hostPort(request)}`;
  const secure = (request: FastifyRequest) => request.protocol === 'https';

  const setSessionCookies = (request: FastifyRequest, reply: FastifyReply, cookies: Map<string, string>) => {
    appendSetCookie(
      reply,
      serializeCookie(sessionCookieName(request), signer.issue(user.username), {
        httpOnly: true,
        secure: secure(request),
        maxAgeSeconds: options.sessionMaxAgeSeconds,
      }),
    );
    ensureXsrfCookie(request, reply, cookies);
  };

  const ensureXsrfCookie = (request: FastifyRequest, reply: FastifyReply, cookies: Map<string, string>) => {
    const current = cookies.get(XSRF_COOKIE);
    if (current && current.length >= 16) return;
    appendSetCookie(reply, serializeCookie(XSRF_COOKIE, randomBytes(24).toString('hex'), { secure: secure(request) }));
  };

  const originAllowed = (request: FastifyRequest) => {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (options.allowedOrigins.includes(origin)) return true;
    try {
      return new URL(origin).host === request.headers.host;
    } catch {
      return false;
    }
  };

  const xsrfValid = (request: FastifyRequest, cookies: Map<string, string>) => {
    const cookie = cookies.get(XSRF_COOKIE);
    const header = request.headers['x-xsrftoken'] ?? request.headers['x-csrftoken'];
    const supplied = (Array.isArray(header) ? header[0] : header) ?? queryParam(request.url, XSRF_COOKIE);
    return !!cookie && !!supplied && safeEqual(cookie, supplied);
  };

  const authenticate = (request: FastifyRequest, cookies: Map<string, string>): AuthMethod | null => {
    const header = request.headers.authorization;
    if (header) {
      const match = /^(?:token|bearer)\s+(.+)$/i.exec(header.trim());
      if (match && safeEqual(match[1]!.trim(), options.token)) return 'header';
    }
    const queryToken = queryParam(request.url, 'token');
    if (queryToken && safeEqual(queryToken, options.token)) return 'query';
    const session = cookies.get(sessionCookieName(request));
    if (session && signer.verify(session)?.username === user.username) return 'cookie';
    return null;
  };

  const reject = (request: FastifyRequest, reply: FastifyReply, statusCode: number, message: string) => {
    const path = pathOf(request.url);
    if (statusCode === 401 && !isApiPath(path) && !isUpgrade(request) && request.method === 'GET' && wantsHtml(request)) {
      return reply.redirect(`${LOGIN_PATH}?next=${encodeURIComponent(safeNext(request.url))}`, 302);
    }
    return reply.code(statusCode).type('application/json; charset=utf-8').send(errorBody(statusCode, message));
  };

  app.decorateRequest('user', null as unknown as AuthenticatedUser);
  app.decorateRequest('authMethod', null);

  app.addHook('onRequest', async (request, reply) => {
    const path = pathOf(request.url);
    if (publicPaths.has(path)) return;
    const cookies = parseCookies(request.headers.cookie);
    const method = authenticate(request, cookies);
    if (method === null) return reject(request, reply, 401, 'Authentication required: use the token printed at startup');
    if (method === 'cookie') {
      if (isUpgrade(request) && !originAllowed(request)) {
        return reject(request, reply, 403, 'WebSocket origin does not match the server');
      }
      if (!SAFE_METHODS.has(request.method) && !xsrfValid(request, cookies)) {
        return reject(request, reply, 403, "XSRF cookie does not match the X-XSRFToken header or '_xsrf' argument");
      }
    }
    request.user = user;
    request.authMethod = method;
    if (request.method === 'GET' && !isApiPath(path) && !isUpgrade(request)) {
      if (method === 'query') setSessionCookies(request, reply, cookies);
      else ensureXsrfCookie(request, reply, cookies);
    }
  });

  await app.register(async (login) => {
    login.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16 * 1024 },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );

    login.get(LOGIN_PATH, async (request, reply) => {
      const next = safeNext(queryParam(request.url, 'next'));
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(loginPage(next));
    });

    login.post(LOGIN_PATH, async (request, reply) => {
      const parsed = LoginBody.safeParse(request.body ?? {});
      const body = parsed.success ? parsed.data : { token: '', next: undefined };
      const next = safeNext(body.next);
      if (!body.token || !safeEqual(body.token, options.token)) {
        request.log.warn('login with an invalid token');
        return reply.code(401).type('text/html; charset=utf-8').send(loginPage(next, 'Invalid token.'));
      }
      setSessionCookies(request, reply, parseCookies(request.headers.cookie));
      return reply.redirect(next, 302);
    });
  });
};

export const authPlugin = fp(auth, { name: 'chlab-jupyter-auth', fastify: '5.x' });
