import { createHmac, randomUUID } from 'node:crypto';
import type { AuditEvent } from '@baton/core';
import type { AuditFilter, AuditRow } from './backend.js';

export interface ReuseWebhookOptions {
  url: string;
  /** Shared with the receiver; signs every delivery (HMAC-SHA256). */
  secret: string;
  /** The session's recent audit events, newest first (its lineage). */
  readLineage(sessionId: string): Promise<AuditRow[]>;
  /** Writes buffered audit events, so the lineage includes the last rotation. */
  flushAudit(): Promise<void>;
  now(): number;
  onError(message: string, error?: unknown): void;
  /** Waits before each retry, in ms (default 1 s, 10 s, 60 s). */
  retryDelays?: readonly number[];
  /** Per-attempt timeout, in ms (default 5 s). */
  timeout?: number;
}

export interface ReuseWebhook {
  /** Sees every audit event; sends the reuse detections. Never throws, never blocks. */
  notify(event: AuditEvent): void;
  /** Stops retrying and waits (bounded) for deliveries in flight. */
  close(): Promise<void>;
}

const MAX_PENDING = 100;

/**
 * A session's lineage for a reuse report, newest first: its start, its newest rotations and
 * reuse detections. Only links of the chain count: grace re-issues and the like, which
 * whoever holds a consumed token can make by the hundred, cannot push the start out.
 */
export async function readSessionLineage(
  readAudit: (limit: number, filter: AuditFilter) => Promise<AuditRow[]>,
  sessionId: string,
): Promise<AuditRow[]> {
  const parts = await Promise.all([
    readAudit(1, { sessionId, type: 'session_started' }),
    readAudit(45, { sessionId, type: 'refresh_rotated' }),
    readAudit(4, { sessionId, type: 'reuse_detected' }),
  ]);
  return parts.flat().sort((a, b) => b.id - a.id);
}

/**
 * `Baton-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the receiver
 * recomputes it over the raw body and refuses stale timestamps (see docs/security.md).
 */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** Posts each reuse detection to the operator's endpoint, signed, with retries. */
export function createReuseWebhook(options: ReuseWebhookOptions): ReuseWebhook {
  const retryDelays = options.retryDelays ?? [1000, 10_000, 60_000];
  const timeout = options.timeout ?? 5000;
  const pending = new Set<Promise<void>>();
  const waits = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let closed = false;

  async function payload(event: AuditEvent): Promise<string> {
    const d = event.detail ?? {};
    let lineage: AuditRow[] = [];
    if (event.sessionId) {
      await options.flushAudit();
      lineage = (await options.readLineage(event.sessionId)).reverse();
    }
    return JSON.stringify({
      id: randomUUID(),
      type: 'reuse_detected',
      created_at: new Date(options.now()).toISOString(),
      data: {
        user_id: event.userId ?? null,
        session_id: event.sessionId ?? null,
        detected_at: new Date(event.at).toISOString(),
        // Whoever presented the consumed token, and whoever holds the live one: one is a thief.
        presenter: { ip: event.ip ?? null, user_agent: event.userAgent ?? null },
        holder: { ip: d.holderIp ?? null, user_agent: d.holderUserAgent ?? null },
        since_rotation_ms: d.sinceRotationMs ?? null,
        presented_generation: d.generation ?? null,
        current_generation: d.current ?? null,
        client_id: d.clientId ?? null,
        session_created_at:
          typeof d.sessionCreatedAt === 'number' ? new Date(d.sessionCreatedAt).toISOString() : null,
        detected_via: d.via ?? null,
        lineage: lineage.map((r) => ({
          at: new Date(r.at).toISOString(),
          type: r.type,
          ip: r.ip,
          user_agent: r.userAgent,
          generation: r.detail?.generation ?? null,
        })),
      },
    });
  }

  async function attempt(body: string, id: string): Promise<boolean> {
    const t = Math.floor(options.now() / 1000);
    try {
      const res = await fetch(options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Baton-Webhook/1',
          'baton-event-id': id,
          'baton-signature': signWebhook(options.secret, body, t),
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(timeout),
      });
      await res.body?.cancel();
      if (res.ok) return true;
      options.onError(`reuse webhook answered ${res.status}`);
    } catch (error) {
      options.onError('reuse webhook unreachable', error);
    }
    return false;
  }

  async function deliver(event: AuditEvent): Promise<void> {
    const body = await payload(event);
    const { id } = JSON.parse(body) as { id: string };
    for (let i = 0; !closed; i++) {
      if (await attempt(body, id)) return;
      if (i >= retryDelays.length) break;
      await new Promise<void>((resolve) => {
        const wait = {
          timer: setTimeout(() => {
            waits.delete(wait);
            resolve();
          }, retryDelays[i]),
          resolve,
        };
        waits.add(wait);
      });
    }
    options.onError(`reuse webhook gave up on event ${id} (it is in the audit trail)`);
  }

  return {
    notify(event) {
      if (event.type !== 'reuse_detected' || closed) return;
      if (pending.size >= MAX_PENDING) {
        options.onError('reuse webhook backlog full: event dropped (it is in the audit trail)');
        return;
      }
      const p = deliver(event).catch((error: unknown) => options.onError('reuse webhook failed', error));
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
    async close() {
      closed = true;
      // A delivery waiting to retry stops now (and logs that it gave up).
      for (const wait of waits) {
        clearTimeout(wait.timer);
        wait.resolve();
      }
      waits.clear();
      await Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, timeout).unref())]);
    },
  };
}
