import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * The REST plugins' shared conventions: every body is read as JSON whatever its content type
 * (scripts send `curl -d`, JupyterLab sends text/plain), and errors answer
 * `{success: false, error: {message}}` — a 4xx names what was wrong, a 5xx says no more than that.
 */
export function useRestConventions(app: FastifyInstance, area: string): void {
  readBodiesAsJson(app);
  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) app.log.error({ err: error }, `${area} API failed`);
    return reply.code(status).send({ success: false, error: { message: status === 500 ? 'Internal error' : error.message } });
  });
}

/** Every request body is read as JSON whatever its content type; an empty body is `undefined`, bad JSON a 400. */
export function readBodiesAsJson(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    if (typeof body !== 'string' || body.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body));
    } catch {
      done(Object.assign(new Error('body: not valid JSON'), { statusCode: 400 }), undefined);
    }
  });
}

/** The authenticated user's name (the auth plugin sets `request.user`). */
export function requestUser(request: FastifyRequest): string {
  return (request as FastifyRequest & { user?: { username?: string } }).user?.username ?? 'analyst';
}
