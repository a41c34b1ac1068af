import type { AuditEvent, AuditSink } from '@baton/core';
import type { SqliteDatabase } from './database.js';

export interface BufferedAuditSink extends AuditSink {
  /** Writes what is buffered now; called on shutdown. */
  flush(): void;
}

/**
 * Audit events are buffered and written in one transaction per event-loop turn, so the
 * audit trail adds no write of its own to a rotation's hot path. A crash can lose the events
 * of the last turn (milliseconds); the sessions table itself is never behind.
 */
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
  let buffer: AuditEvent[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    if (buffer.length === 0) return;
    const events = buffer;
    buffer = [];
    try {
      writeAll(events);
    } catch (error) {
      onError(error);
    }
  }

  return {
    record(event) {
      buffer.push(event);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
