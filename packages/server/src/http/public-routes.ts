import { BatonError } from '@baton/core';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.js';
import { healthzDocs, jwksDocs, readyzDocs } from './route-docs.js';

/** JWKS and health checks. */
export function publicRoutes(app: FastifyInstance, { sessions, ready, revocationMode }: AppDeps): void {
  app.get('/.well-known/jwks.json', { schema: jwksDocs }, async (_request, reply) => {
    // Short enough that a rotation's pre-published key is picked up long before it signs.
    reply.header('cache-control', 'public, max-age=300');
    return sessions.jwks();
  });

  app.get('/healthz', { schema: healthzDocs }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: readyzDocs }, async (_request, reply) => {
    let ok = false;
    try {
      ok = await ready();
    } catch {
      ok = false;
    }
    // A probe's answer is about this moment: never cached, the failure least of all.
    reply.header('cache-control', 'no-store');
    if (!ok) {
      throw new BatonError('temporarily_unavailable', 'readiness: store not answering', {
        retryAfter: 5,
        description: 'The store is not answering.',
      });
    }
    // `fan-out`: access tokens are checked against the local deny-set fed by Redis;
    // `store`: against the store (no Redis configured, or Redis away).
    return { status: 'ok', revocation_checks: revocationMode?.() ?? 'store' };
  });
}
