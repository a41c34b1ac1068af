import { BatonError } from '@baton/core';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.js';
import { docOnly } from './openapi.js';
import { bearerToken, isoTime } from './request.js';
import { deleteSessionDocs, listSessionsDocs, sessionIdParams } from './route-docs.js';

/** The signed-in user's own sessions: list and revoke one. */
export function sessionRoutes(app: FastifyInstance, { sessions }: AppDeps): void {
  app.get('/auth/sessions', { schema: listSessionsDocs }, async (request, reply) => {
    const { claims } = await sessions.authenticate(bearerToken(request));
    const list = await sessions.list(claims.sub);
    reply.header('cache-control', 'no-store');
    return {
      sessions: list.map((s) => ({
        id: s.id,
        created_at: isoTime(s.createdAt),
        last_used_at: isoTime(s.lastUsedAt),
        expires_at: isoTime(s.expiresAt),
        user_agent: s.userAgent,
        ip: s.ip,
        current: s.id === claims.sid,
      })),
    };
  });

  const deleteOptions = { schema: deleteSessionDocs, config: docOnly({ params: sessionIdParams }) };
  app.delete<{ Params: { id: string } }>('/auth/sessions/:id', deleteOptions, async (request, reply) => {
    const { claims } = await sessions.authenticate(bearerToken(request));
    // Another user's session answers exactly like a missing one: ids are not an oracle.
    const mine = (await sessions.list(claims.sub)).some((s) => s.id === request.params.id);
    if (!mine)
      throw new BatonError('not_found', 'no such live session of this user', {
        description: 'No such session.',
      });
    await sessions.revoke(request.params.id, 'session_deleted');
    return reply.code(204).send();
  });
}
