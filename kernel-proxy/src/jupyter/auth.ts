import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { errorBody } from './http.js';
import type { Principal } from '../access/roles.js';
import { SingleTokenDirectory, type UserDirectory } from '../access/users.js';
import type { AuditEvent } from '../access/audit.js';

export type AuthenticatedUser = Principal;

export type AuthMethod = 'header' | 'query' | 'cookie';

declare module 'fastify' {
  interface FastifyRequest {
    user: AuthenticatedUser;
    authMethod: AuthMethod | null;
  }
}

export interface AuthPluginOptions {
  /** Single-token mode: whoever holds it is the one (admin) user. */
  token?: string;
  username?: string;
  /** Users mode (CHLAB_USERS_FILE); takes the place of `token`. */
  directory?: UserDirectory;
  /** Signs session cookies; defaults to one derived from the token. */
  sessionSecret?: string;
  /** Logins, failed logins and logouts are recorded here. */
  audit?: (event: AuditEvent) => void;
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
  token: z.string().min(1, 'token must not be empty').optional(),
  username: z.string().min(1).default('analyst'),
  sessionSecret: z.string().min(16).optional(),
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

function loginPage(next: string, mode: UserDirectory['mode'], error?: string): string {
  const fields =
    mode === 'users'
      ? `<label>User <input name="username" autocomplete="username" autofocus required></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>`
      : `<p>Paste the token printed by <code>npm start</code> (the part after <code>?token=</code>).</p>
<input type="password" name="token" autocomplete="current-password" autofocus aria-label="Token">`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>chlab — log in</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}label{display:block;margin-top:.6rem}input{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}button{font:inherit;margin-top:.8rem;padding:.4rem 1rem}.error{color:#b00020}</style>
</head>
<body>
<h1>chlab</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${LOGIN_PATH}">
${fields}
<input type="hidden" name="next" value="${escapeHtml(next)}">
<button type="submit">Log in</button>
</form>
</body>
</html>
`;
}

const LoginBody = z.object({
  token: z.string().max(4096).default(''),
  username: z.string().max(256).default(''),
  password: z.string().max(4096).default(''),
  next: z.string().max(4096).optional(),
});

/** Failed logins one address may make per minute before the login form answers 429. */
const FAILED_LOGINS_PER_MINUTE = 10;
export const LOGOUT_PATH = '/logout';
/** The login page runs no script and posts only to this server. */
const LOGIN_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

class SessionSigner {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly maxAgeSeconds: number,
  ) {
    this.key = createHmac('sha256', secret).update('chlab-session-cookie-v1').digest();
  }

  private mac(username: string, issuedAt: number): string {
    return createHmac('sha256', this.key).update(`${username}\n${issuedAt}`).digest('base64url');
  }

  issue(username: string): string {
    const issuedAt = Math.floor(Date.now() / 1000);
    return `${issuedAt}.${Buffer.from(username).toString('base64url')}.${this.mac(username, issuedAt)}`;
  }

  verify(value: string): { username: string } | undefined {
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
  if (!rawOptions.directory && !options.token) throw new Error('auth: a token or a users directory is required');
  const directory: UserDirectory = rawOptions.directory ?? new SingleTokenDirectory(options.token!, undefined, options.username);
  const secret = options.sessionSecret ?? options.token;
  if (!secret) throw new Error('auth: a session secret is required in users mode');
  const signer = new SessionSigner(secret, options.sessionMaxAgeSeconds);
  const audit = rawOptions.audit ?? (() => undefined);
  const publicPaths = new Set([LOGIN_PATH, LOGOUT_PATH, ...options.publicPaths]);
  const failedLogins = new Map<string, number[]>();

  const sessionCookieName = (request: FastifyRequest) => options.cookieName ?? `chlab-session-${hostPort(request)}`;
  const secure = (request: FastifyRequest) => request.protocol === 'https';

  const setSessionCookies = (request: FastifyRequest, reply: FastifyReply, cookies: Map<string, string>, user: Principal) => {
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

  const authenticate = (request: FastifyRequest, cookies: Map<string, string>): { method: AuthMethod; user: Principal } | null => {
    const header = request.headers.authorization;
    if (header) {
      const match = /^(?:token|bearer)\s+(.+)$/i.exec(header.trim());
      const user = match ? directory.byToken(match[1]!.trim()) : undefined;
      if (user) return { method: 'header', user };
    }
    const queryToken = queryParam(request.url, 'token');
    const queryUser = queryToken ? directory.byToken(queryToken) : undefined;
    if (queryUser) return { method: 'query', user: queryUser };
    const session = cookies.get(sessionCookieName(request));
    const sessionName = session ? signer.verify(session)?.username : undefined;
    const sessionUser = sessionName === undefined ? undefined : directory.byName(sessionName);
    if (sessionUser) return { method: 'cookie', user: sessionUser };
    return null;
  };

  const tooManyFailures = (address: string) => {
    const now = Date.now();
    const recent = (failedLogins.get(address) ?? []).filter((at) => now - at < 60_000);
    if (recent.length === 0) failedLogins.delete(address);
    else failedLogins.set(address, recent);
    return recent.length >= FAILED_LOGINS_PER_MINUTE;
  };

  const noteFailure = (address: string) => {
    const recent = failedLogins.get(address) ?? [];
    recent.push(Date.now());
    failedLogins.set(address, recent);
    if (failedLogins.size > 10_000) failedLogins.delete(failedLogins.keys().next().value!);
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
    const authenticated = authenticate(request, cookies);
    if (authenticated === null) {
      return reject(request, reply, 401, directory.mode === 'users' ? 'Authentication required: log in, or send your token' : 'Authentication required: use the token printed at startup');
    }
    const { method, user } = authenticated;
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
      if (method === 'query') {
        setSessionCookies(request, reply, cookies, user);
        audit({ user: user.username, role: user.role, address: request.ip, action: 'login', target: 'token link', outcome: 'ok' });
      } else ensureXsrfCookie(request, reply, cookies);
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
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', LOGIN_CSP).send(loginPage(next, directory.mode));
    });

    login.post(LOGIN_PATH, async (request, reply) => {
      const parsed = LoginBody.safeParse(request.body ?? {});
      const body = parsed.success ? parsed.data : { token: '', username: '', password: '', next: undefined };
      const next = safeNext(body.next);
      const page = (status: number, error: string) =>
        reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').header('content-security-policy', LOGIN_CSP).send(loginPage(next, directory.mode, error));
      if (tooManyFailures(request.ip)) {
        audit({ user: body.username, role: '', address: request.ip, action: 'login_failed', target: 'login form', outcome: 'denied', detail: 'too many failed logins' });
        return page(429, 'Too many failed logins from this address; wait a minute.');
      }
      const user = body.username ? await directory.byPassword(body.username, body.password) : body.token ? directory.byToken(body.token) : undefined;
      if (!user) {
        noteFailure(request.ip);
        request.log.warn({ username: body.username || undefined }, 'login failed');
        audit({ user: body.username, role: '', address: request.ip, action: 'login_failed', target: 'login form', outcome: 'denied', detail: body.username ? 'wrong user or password' : 'invalid token' });
        return page(401, directory.mode === 'users' ? 'Wrong user name or password.' : 'Invalid token.');
      }
      setSessionCookies(request, reply, parseCookies(request.headers.cookie), user);
      audit({ user: user.username, role: user.role, address: request.ip, action: 'login', target: 'login form', outcome: 'ok' });
      return reply.redirect(next, 302);
    });

    login.get(LOGOUT_PATH, async (request, reply) => {
      const cookies = parseCookies(request.headers.cookie);
      const name = signer.verify(cookies.get(sessionCookieName(request)) ?? '')?.username;
      const user = name === undefined ? undefined : directory.byName(name);
      if (user) audit({ user: user.username, role: user.role, address: request.ip, action: 'logout', target: 'session', outcome: 'ok' });
      appendSetCookie(reply, serializeCookie(sessionCookieName(request), '', { httpOnly: true, secure: secure(request), maxAgeSeconds: 0 }));
      return reply.redirect(LOGIN_PATH, 302);
    });
  });
};

export const authPlugin = fp(auth, { name: 'chlab-jupyter-auth', fastify: '5.x' });
