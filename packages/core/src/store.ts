import type { RevocationEvent } from './revocation.js';
import type { RequestContext, RevokeReason, SessionRecord, UserRecord } from './types.js';

/**
 * Session persistence as named atomic operations. Each method is one transaction (or one
 * statement) in the backend; the race semantics are part of the contract and are tested by
 * the shared store contract suite (`@baton/core/testing`).
 */
export interface SessionStore {
  /** Inserts a new session. Ids are random, so a collision is a bug and may throw. */
  createSession(session: SessionRecord): Promise<void>;

  /** The session with this id, live or not, or null. */
  getSession(id: string): Promise<SessionRecord | null>;

  /**
   * Compare-and-set: moves the session from `fromGeneration` to `fromGeneration + 1`, sets
   * `rotatedAt` and `lastUsedAt` to `at` and records the caller's context, but only while the
   * session is unrevoked and still at `fromGeneration`. Of any number of concurrent callers
   * with the same `fromGeneration`, in this process or another, exactly one gets `true`.
   */
  rotateRefreshToken(
    id: string,
    fromGeneration: number,
    at: number,
    context: RequestContext,
  ): Promise<boolean>;

  /**
   * The fast path of a refresh, in one statement: the same compare-and-set as
   * `rotateRefreshToken`, further limited to a session whose absolute end is after
   * `expiresAfter` and whose live token was issued after `rotatedAfter` (not idle-expired).
   * Returns the session as updated, or null when any condition fails (nothing changes).
   */
  rotateIfCurrent(
    id: string,
    fromGeneration: number,
    at: number,
    context: RequestContext,
    bounds: { expiresAfter: number; rotatedAfter: number },
  ): Promise<SessionRecord | null>;

  /** Marks the session revoked. Idempotent: true only for the call that revoked it. */
  revokeSession(id: string, reason: RevokeReason, at: number): Promise<boolean>;

  /** Revokes every unrevoked session of the user; returns the ids it revoked (for fan-out). */
  revokeUserSessions(userId: string, reason: RevokeReason, at: number): Promise<string[]>;

  /** The user's sessions that are unrevoked and not past their absolute expiry, newest first. */
  listSessions(userId: string, now: number): Promise<SessionRecord[]>;

  /** Denies one access token (RFC 7009) until `expiresAt`, after which it is dead anyway. Idempotent. */
  revokeAccessToken(jti: string, expiresAt: number): Promise<void>;

  /** True when the access token with this `jti` was revoked on its own. */
  isAccessTokenRevoked(jti: string): Promise<boolean>;

  /**
   * Revocations whose tokens may still be alive: sessions revoked at or after `since`, and
   * access tokens denied until after `now`. Used to (re)fill an instance's deny-set.
   */
  listRecentRevocations(since: number, now: number): Promise<RevocationEvent[]>;

  /**
   * Deletes at most `limit` rows that can no longer matter: sessions past their absolute
   * expiry or revoked before `revokedBefore`, and denied access tokens past their expiry.
   * Returns how many rows it deleted; callers repeat while it returns `limit`.
   */
  deleteExpired(now: number, revokedBefore: number, limit: number): Promise<number>;

  /** Row counts, for pruning tests and metrics. */
  stats(): Promise<{ sessions: number; revokedAccessTokens: number }>;
}

/** User persistence. E-mail addresses arrive normalised. */
export interface UserStore {
  /** Inserts the user; false (and no change) when the e-mail address is taken. */
  createUser(user: UserRecord): Promise<boolean>;
  getUserByEmail(email: string): Promise<UserRecord | null>;
  getUserById(id: string): Promise<UserRecord | null>;
  /**
   * Replaces the user's password hash if it is still `expected` (the one the current password
   * was checked against): true when replaced. Of two concurrent changes only one wins.
   */
  setPasswordHash(id: string, passwordHash: string, expected: string): Promise<boolean>;
  /**
   * Sets `disabledAt` to `at` unless the user is disabled already. True only for the call
   * that disabled them; false for an unknown user.
   */
  disableUser(id: string, at: number): Promise<boolean>;
  /** Clears `disabledAt`. True only for the call that re-enabled them; false for an unknown user. */
  enableUser(id: string): Promise<boolean>;
  /**
   * Deletes the user and, atomically with it, finishes their sessions: each is revoked
   * (reason `user_deleted`, unless it was revoked already) and loses its IP address and user
   * agent. The anonymised rows stay until `deleteExpired` removes them like any revoked
   * session, because deny-set catch-up (`listRecentRevocations`) must still see recent
   * revocations. False when there was no such user.
   */
  deleteUser(id: string, at: number): Promise<boolean>;
}
