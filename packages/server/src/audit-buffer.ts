import type { AuditEvent, AuditSink } from '@baton/core';
import type { AuditFilter, AuditRow } from './backend.js';

/** An audit row as both stores return it. */
export interface AuditRecord {
  id: number | string;
  at: number | string;
  type: string;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  detail: string | Record<string, unknown> | null;
}

export function auditRow(r: AuditRecord): AuditRow {
  return {
    id: Number(r.id),
    at: Number(r.at),
    type: r.type,
    userId: r.user_id,
    sessionId: r.session_id,
    ip: r.ip,
    userAgent: r.user_agent,
    detail: typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail,
  };
}

/** A filter as query parameters, absent fields as null (both stores' queries test for null). */
export function auditParams(
  f: AuditFilter,
): Record<'type' | 'userId' | 'sessionId' | 'beforeId', string | number | null> {
  return {
    type: f.type ?? null,
    userId: f.userId ?? null,
    sessionId: f.sessionId ?? null,
    beforeId: f.beforeId ?? null,
  };
}

export interface BufferedAuditSink extends AuditSink {
  /** Writes what is buffered now; called on shutdown. */
  flush(): Promise<void>;
}

/**
 * Audit events are buffered and written in one batch per event-loop turn, so the audit trail
 * adds no write of its own to a rotation's hot path. A crash can lose the events of the last
 * turn (milliseconds); the sessions table itself is never behind. A failed batch is reported
 * to `onError` and dropped: auditing never fails a request.
 */
export function createBufferedAuditSink(
  write: (events: AuditEvent[]) => Promise<void> | void,
  onError: (error: unknown) => void,
): BufferedAuditSink {
  let buffer: AuditEvent[] = [];
  let scheduled = false;
  let inFlight: Promise<void> = Promise.resolve();

  function flush(): Promise<void> {
    scheduled = false;
    if (buffer.length === 0) return inFlight;
    const events = buffer;
    buffer = [];
    inFlight = inFlight.then(async () => {
      try {
        await write(events);
      } catch (error) {
        onError(error);
      }
    });
    return inFlight;
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
