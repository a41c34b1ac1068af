import { AUDIT_EVENT_TYPES, BatonError } from '@baton/core';
import type { FastifyInstance } from 'fastify';
import { auditEventJson } from '../audit-json.js';
import type { AuditFilter, AuditRow } from '../backend.js';
import { secretEquals } from './clients.js';
import { bearerToken, hasBearer } from './request.js';
import { adminAuditDocs } from './route-docs.js';

export interface AdminDeps {
  /** BATON_ADMIN_TOKEN: its own credential, unrelated to any user's session. */
  token: string;
  readAudit(limit: number, filter: AuditFilter): Promise<AuditRow[]>;
}

// Ids and event types are printable ASCII; anything else matches nothing and is refused.
const PRINTABLE = '^[\\x21-\\x7e]*$';

interface AuditQuery {
  limit?: string;
  type?: string;
  user_id?: string;
  session_id?: string;
  before?: string;
}

/** GET /admin/audit: the audit trail for operators' tools, newest first, paged by id. */
export function adminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  app.get<{ Querystring: AuditQuery }>(
    '/admin/audit',
    {
      schema: {
        ...adminAuditDocs,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            // Query values are strings (the app never coerces types).
            limit: { type: 'string', pattern: '^(1000|[1-9][0-9]{0,2})$' },
            type: { type: 'string', enum: [...AUDIT_EVENT_TYPES] },
            user_id: { type: 'string', maxLength: 128, pattern: PRINTABLE },
            session_id: { type: 'string', maxLength: 128, pattern: PRINTABLE },
            before: { type: 'string', pattern: '^[1-9][0-9]{0,15}$' },
          },
        },
      },
      // The credential is checked before the query string is even looked at.
      onRequest: async (request) => {
        const presented = hasBearer(request) ? bearerToken(request) : '';
        if (!secretEquals(presented, deps.token)) {
          throw new BatonError('invalid_token', 'wrong admin token', {
            description: 'This endpoint needs the admin token (BATON_ADMIN_TOKEN).',
          });
        }
      },
    },
    async (request, reply) => {
      const q = request.query;
      const limit = Number(q.limit ?? 100);
      const rows = await deps.readAudit(limit, {
        type: q.type,
        userId: q.user_id,
        sessionId: q.session_id,
        beforeId: q.before === undefined ? undefined : Number(q.before),
      });
      reply.header('cache-control', 'no-store');
      return {
        events: rows.map(auditEventJson),
        // Pass as ?before= for the next (older) page; null when this was the last one.
        next_before: rows.length === limit ? (rows.at(-1)?.id ?? null) : null,
      };
    },
  );
}
