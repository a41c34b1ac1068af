import { KeyObject } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import { AccessTokenError } from '../access-token.js';

/** Finds the public key for a token's header: `kid` and `alg` only (jku, x5u, jwk are never followed). */
export type KeySource = (header: {
  alg: string;
  kid: string;
}) => Promise<{ alg: string; publicKey: KeyObject }>;

export interface KeySourceOptions {
  /** Baton's JWKS URL; fetched once, cached, refetched on an unknown kid (with a cooldown, one fetch at a time). */
  jwksUrl?: string | URL;
  /** A fixed JWKS instead of a URL. */
  jwks?: JSONWebKeySet;
  /** Milliseconds between refetches triggered by unknown kids (default 30 s). */
  cooldown?: number;
  /** Milliseconds a fetched JWKS is trusted before the next lookup refreshes it (default 10 min). */
  cacheMaxAge?: number;
}

/**
 * jose's JWKS sets do the fetching, caching, cooldown and single in-flight request; each key
 * they return is turned into a node:crypto KeyObject once, so that every verification after
 * that is one synchronous `crypto.verify` with no thread-pool hop.
 */
export function createKeySource(options: KeySourceOptions): KeySource {
  const set = options.jwks
    ? createLocalJWKSet(options.jwks)
    : options.jwksUrl
      ? createRemoteJWKSet(new URL(options.jwksUrl), {
          cooldownDuration: options.cooldown ?? 30_000,
          cacheMaxAge: options.cacheMaxAge ?? 600_000,
        })
      : null;
  if (!set) throw new TypeError('createAccessTokenVerifier needs jwksUrl or jwks');
  const converted = new WeakMap<object, KeyObject>();
  return async (header) => {
    let key: unknown;
    try {
      // Only alg and kid reach jose's lookup: the token's other header fields are not passed on.
      key = await set({ alg: header.alg, kid: header.kid } as JWSHeaderParameters, {
        payload: '',
        signature: '',
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') {
        throw new AccessTokenError('unknown_key', 'The access token names no known key.');
      }
      throw new AccessTokenError('keys_unavailable', 'The signing keys could not be fetched.');
    }
    let keyObject = converted.get(key as object);
    if (!keyObject) {
      keyObject =
        key instanceof KeyObject ? key : KeyObject.from(key as Parameters<typeof KeyObject.from>[0]);
      converted.set(key as object, keyObject);
    }
    return { alg: header.alg, publicKey: keyObject };
  };
}
