import { createHmac, timingSafeEqual } from 'node:crypto';
import { base64url } from './encoding.js';

/**
 * Refresh tokens are `<session id>.<generation>.<secret>`.
 *
 * The secret is HMAC-SHA256(server key, label ‖ session id ‖ salt ‖ generation), where the
 * salt is 32 random bytes stored with the session and the key is a 256-bit random key kept
 * with the signing keys. Why derive rather than store a hash of a random secret:
 * - the database holds no token text and nothing from which a token can be computed
 *   without the key file, which satisfies "only a one-way hash, or nothing";
 * - the grace window can hand out *the same* successor again by recomputing it;
 * - every earlier generation of a chain can be recognised without a row per token, so
 *   reuse of any consumed token is detected while a rotation updates one row only.
 * See docs/decisions/0002-derived-refresh-tokens.md.
 */
export interface RefreshTokenParts {
  sessionId: string;
  generation: number;
  secret: string;
}

/** A server-held key for refresh-token derivation. Never published, never logged. */
export interface RefreshTokenKey {
  readonly key: Uint8Array;
}

const LABEL = 'baton/refresh-token/v1';
const TOKEN_PATTERN = /^([A-Za-z0-9_-]{22})\.(0|[1-9][0-9]{0,8})\.([A-Za-z0-9_-]{43})$/;

/** The secret of one generation of one session's chain. */
export function deriveRefreshSecret(
  key: RefreshTokenKey,
  sessionId: string,
  salt: Uint8Array,
  generation: number,
): string {
  const mac = createHmac('sha256', key.key)
    .update(`${LABEL}\0${sessionId}\0`)
    .update(salt)
    .update(`\0${generation}`)
    .digest();
  return base64url(mac);
}

export function formatRefreshToken(parts: RefreshTokenParts): string {
  return `${parts.sessionId}.${parts.generation}.${parts.secret}`;
}

/** Splits a presented token, or returns null when it is not of Baton's shape at all. */
export function parseRefreshToken(token: unknown): RefreshTokenParts | null {
  if (typeof token !== 'string' || token.length > 80) return null;
  const m = TOKEN_PATTERN.exec(token);
  if (!m) return null;
  return { sessionId: m[1]!, generation: Number(m[2]), secret: m[3]! };
}

/** Constant-time comparison of a presented secret with the derived one. */
export function secretsMatch(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
