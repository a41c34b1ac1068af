import type { FastifyInstance } from 'fastify';

const ALLOWED_HEADERS = 'authorization, content-type, x-token-transport';
const ALLOWED_METHODS = 'GET, POST, DELETE, OPTIONS';

/**
 * CORS for the origins in BATON_ALLOWED_ORIGINS only, with credentials (cookie mode needs
 * them). Other origins get no CORS headers, so browsers keep them out. Preflights are
 * answered here for every path; a disallowed origin's preflight is a 204 without grants.
 */
export function registerCors(app: FastifyInstance, allowedOrigins: readonly string[]): void {
  const allowed = new Set(allowedOrigins);
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (typeof origin !== 'string' || !allowed.has(origin)) return;
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-allow-credentials', 'true');
    reply.header('vary', 'Origin');
  });
  // Not an API operation: left out of the OpenAPI document (which describes CORS in words).
  app.options('/*', { schema: { hide: true } }, async (request, reply) => {
    const origin = request.headers.origin;
    if (typeof origin === 'string' && allowed.has(origin)) {
      reply.header('access-control-allow-methods', ALLOWED_METHODS);
      reply.header('access-control-allow-headers', ALLOWED_HEADERS);
      reply.header('access-control-max-age', '600');
    }
    return reply.code(204).send();
  });
}
