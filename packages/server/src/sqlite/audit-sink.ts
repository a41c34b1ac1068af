import type { AuditEvent } from '@baton/core';
import { type BufferedAuditSink, createBufferedAuditSink } from '../audit-buffer.js';
import type { SqliteDatabase } from './database.js';

/** The audit trail in SQLite: each buffered batch is one transaction. */
export function createSqliteAuditSink(
  db: SqliteDatabase,
  onError: (error: unknown) => void,
): BufferedAuditSink {
  const insert = db.prepare(
    `INSERT INTO audit_events (at, type, user_id, session_id, ip, user_agent, detail)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const writeAll = db.transaction((events: AuditEvent[]) => {
    for (const e of events) {
      insert.run(
        e.at,
        e.type,
        e.userId ?? null,
        e.sessionId ?? null,
        e.ip ?? null,
        e.userAgent ?? null,
        e.detail ? JSON.stringify(e.detail) : null,
      );
    }
  });
  return createBufferedAuditSink((events) => writeAll(events), onError);
}
