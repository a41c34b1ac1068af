import { type AuditEvent, type AuditSink, NOTABLE_AUDIT_EVENTS } from '@baton/core';
import type { AuditFilter, AuditRow } from './backend.js';

/**
 * The two tiers the row cap counts apart (`NOTABLE_AUDIT_EVENTS`), as SQL conditions on
 * `type`. The names are this module's constants (checked to be plain words), never input.
 */
const notableList = NOTABLE_AUDIT_EVENTS.map((t) => {
  if (!/^[a-z_]+$/.test(t)) throw new Error(`unexpected audit event type ${t}`);
  return `'${t}'`;
}).join(', ');
export const AUDIT_TIERS = [`type NOT IN (${notableList})`, `type IN (${notableList})`] as const;

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

const FILTER_COLUMNS = [
  ['type', 'type = '],
  ['userId', 'user_id = '],
  ['sessionId', 'session_id = '],
  ['beforeId', 'id < '],
] as const;

/**
 * The WHERE clause of an audit query, naming only the filters given, so that each store's
 * planner sees `session_id = ?` (and uses its index) rather than `? IS NULL OR …`.
 * `placeholder(i)` spells the i-th parameter (1-based) in the store's dialect.
 */
export function auditWhere(
  filter: AuditFilter,
  placeholder: (index: number) => string,
): { where: string; values: Array<string | number> } {
  const clauses: string[] = [];
  const values: Array<string | number> = [];
  for (const [field, column] of FILTER_COLUMNS) {
    const value = filter[field];
    if (value === undefined) continue;
    values.push(value);
    clauses.push(column + placeholder(values.length));
  }
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', values };
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
