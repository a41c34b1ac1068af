/** Security events, recorded without any token, secret or password text. */
export const AUDIT_EVENT_TYPES = [
  'user_registered',
  'login_succeeded',
  'login_failed',
  'session_started',
  'refresh_rotated',
  'refresh_grace_reused',
  'reuse_detected',
  'session_revoked',
  'access_token_revoked',
  'password_changed',
  'key_rotated',
  'key_retired',
  'keys_removed',
  'user_disabled',
  'user_enabled',
  'user_deleted',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/**
 * The rare events an investigation needs (theft, key and account changes). The audit trail's
 * row cap counts them apart from the routine ones (sign-ins, rotations, ordinary revocations),
 * so that a flood of routine events, which any signed-in user can cause, never pushes them
 * out; each of these costs an attacker a fresh session or an operator's hand.
 */
export const NOTABLE_AUDIT_EVENTS: readonly AuditEventType[] = Object.freeze([
  'reuse_detected',
  'password_changed',
  'key_rotated',
  'key_retired',
  'keys_removed',
  'user_disabled',
  'user_enabled',
  'user_deleted',
]);

export interface AuditEvent {
  type: AuditEventType;
  at: number;
  userId?: string | undefined;
  sessionId?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
  /** Small structured facts (a revoke reason, a generation number); never token text. */
  detail?: Record<string, string | number | boolean | null> | undefined;
}

/** Where audit events go. `record` must not throw and must not block the caller. */
export interface AuditSink {
  record(event: AuditEvent): void;
}

/** A sink that drops events, for callers that do not audit. */
export const noAudit: AuditSink = Object.freeze({ record: (): void => {} });
