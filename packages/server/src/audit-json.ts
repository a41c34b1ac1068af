import type { AuditRow } from './backend.js';

/**
 * An audit event as scripts see it, from `GET /admin/audit` and `baton audit tail --json`
 * alike: snake_case names and ISO 8601 times, as everywhere else in Baton's JSON.
 */
export function auditEventJson(row: AuditRow) {
  return {
    id: row.id,
    at: new Date(row.at).toISOString(),
    type: row.type,
    user_id: row.userId,
    session_id: row.sessionId,
    ip: row.ip,
    user_agent: row.userAgent,
    detail: row.detail,
  };
}
