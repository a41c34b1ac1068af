/** Milliseconds since the epoch, from an injected source. */
export interface Clock {
  now(): number;
}

/** Cryptographically secure random bytes, from an injected source. */
export interface Random {
  bytes(n: number): Uint8Array;
}

/** Where a request came from; kept with the session for the user's device list. */
export interface RequestContext {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export interface UserRecord {
  id: string;
  /** Normalised (trimmed, NFC, lower case): the uniqueness key. */
  email: string;
  passwordHash: string;
  createdAt: number;
  disabledAt: number | null;
}

/**
 * One row per session. The refresh-token chain lives in the row itself: `generation` is the
 * number of the live refresh token and every token's secret is derived from
 * (secret key, session id, salt, generation), so a rotation is one compare-and-set update
 * of this row and no token text is ever stored.
 */
export interface SessionRecord {
  id: string;
  userId: string;
  clientId: string;
  createdAt: number;
  /** Absolute end of the session (login + max age); no rotation moves it. */
  expiresAt: number;
  /** Generation of the live refresh token; 0 after login. */
  generation: number;
  /** When the live refresh token was issued (login or last rotation). */
  rotatedAt: number;
  lastUsedAt: number;
  /** 32 random bytes mixed into every refresh secret of this session. */
  salt: Uint8Array;
  revokedAt: number | null;
  revokeReason: string | null;
  userAgent: string | null;
  ip: string | null;
}

export type RevokeReason =
  | 'logout'
  | 'logout_all'
  | 'session_deleted'
  | 'reuse_detected'
  | 'token_revoked'
  | 'admin'
  | 'password_changed'
  | 'user_disabled'
  | 'user_deleted';
