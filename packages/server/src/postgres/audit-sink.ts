import type { Pool } from 'pg';
import { type BufferedAuditSink, createBufferedAuditSink } from '../audit-buffer.js';

/** The audit trail in PostgreSQL: each buffered batch is one multi-row INSERT. */
export function createPostgresAuditSink(pool: Pool, onError: (error: unknown) => void): BufferedAuditSink {
  return createBufferedAuditSink(async (events) => {
    await pool.query(
      `INSERT INTO baton_audit_events (at, type, user_id, session_id, ip, user_agent, detail)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[])`,
      [
        events.map((e) => e.at),
        events.map((e) => e.type),
        events.map((e) => e.userId ?? null),
        events.map((e) => e.sessionId ?? null),
        events.map((e) => e.ip ?? null),
        events.map((e) => e.userAgent ?? null),
        events.map((e) => (e.detail ? JSON.stringify(e.detail) : null)),
      ],
    );
  }, onError);
}
