import type { KeyObject } from 'node:crypto';
import {
  type AccessTokenClaims,
  AccessTokenError,
  checkClaims,
  checkSignature,
  decodeAccessToken,
} from '../access-token.js';
import type { SigningAlgorithm } from '../keys.js';
import type { Clock } from '../types.js';
import { createKeySource, type KeySourceOptions } from './key-source.js';
import type { RevocationCheck } from './revocation-feed.js';

export interface VerifierOptions extends KeySourceOptions {
  /** Baton's `BATON_ISSUER`, compared exactly. */
  issuer: string;
  /** Your API's audience (`BATON_AUDIENCE`), compared exactly. */
  audience: string;
  /** The algorithms you accept: a subset of EdDSA, ES256, RS256 (default: all three). */
  algorithms?: readonly SigningAlgorithm[];
  /** Clock skew tolerated on exp/nbf/iat, in seconds (default 30, at most 60). */
  leewaySeconds?: number;
  /** Revocation awareness: `createRevocationFeed` (no per-request I/O) or `createIntrospectionCheck`. */
  revocation?: RevocationCheck;
  clock?: Clock;
}

export interface AccessTokenVerifier {
  /** The token's claims, or an `AccessTokenError` (always `code: 'invalid_token'`, with a `problem`). */
  verify(token: unknown): Promise<AccessTokenClaims>;
}

const SAFE_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256'];

/**
 * Verifies Baton access tokens on a resource server, without a round trip to Baton. Checks
 * run cheapest first: size and compact form before any parsing, the header's algorithm
 * against a fixed allow-list (never `none`, never HMAC: there is no shared secret to confuse a
 * public key with), `typ` at+jwt, the key by `kid` from the JWKS, the signature, then the
 * claims. Results are never cached: revocation must be able to take effect at once.
 */
export function createAccessTokenVerifier(options: VerifierOptions): AccessTokenVerifier {
  const algorithms = options.algorithms ?? SAFE_ALGORITHMS;
  for (const alg of algorithms) {
    if (!SAFE_ALGORITHMS.includes(alg)) throw new TypeError(`algorithm ${String(alg)} is not allowed`);
  }
  if (!options.issuer || !options.audience) throw new TypeError('issuer and audience are required');
  const leewaySeconds = Math.min(options.leewaySeconds ?? 30, 60);
  const keys = createKeySource(options);
  const now = (): number => (options.clock ? options.clock.now() : Date.now());
  // Resolved keys by kid and alg, kept as long as a fetched JWKS is trusted, so that the hot
  // path is synchronous; an unknown kid still goes to the key source (refetch, cooldown).
  const keyTtl = options.jwks ? Number.POSITIVE_INFINITY : (options.cacheMaxAge ?? 600_000);
  const resolved = new Map<string, { key: { alg: string; publicKey: KeyObject }; until: number }>();
  return {
    async verify(token) {
      const decoded = decodeAccessToken(token, algorithms);
      const id = `${decoded.header.alg} ${decoded.header.kid}`;
      let hit = resolved.get(id);
      if (!hit || hit.until <= now()) {
        hit = { key: await keys(decoded.header), until: now() + keyTtl };
        if (resolved.size > 64) resolved.clear();
        resolved.set(id, hit);
      }
      checkSignature(decoded, hit.key);
      const at = now();
      const claims = checkClaims(decoded, {
        issuer: options.issuer,
        audience: options.audience,
        now: at,
        leewaySeconds,
      });
      if (options.revocation && (await options.revocation.isRevoked(claims, token as string, at))) {
        throw new AccessTokenError('revoked', 'The session of this access token has ended.');
      }
      return claims;
    },
  };
}
