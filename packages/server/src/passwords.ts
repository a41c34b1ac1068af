import type { PasswordHasher } from '@baton/core';
import { type Algorithm, hash, verify } from '@node-rs/argon2';

/**
 * Argon2id with OWASP's minimum (m = 19 MiB, t = 2, p = 1). @node-rs/argon2 runs on libuv's
 * thread pool, so hashing never blocks the event loop.
 */
// Algorithm.Argon2id; the enum is an ambient const enum, which isolatedModules cannot inline.
const ARGON2ID = 2 as Algorithm;

export const ARGON2_PARAMS = Object.freeze({ memoryCost: 19_456, timeCost: 2, parallelism: 1 });

export function createArgon2Hasher(params = ARGON2_PARAMS): PasswordHasher {
  return {
    hash: (password) => hash(password, { ...params, algorithm: ARGON2ID }),
    async verify(encoded, password) {
      try {
        return await verify(encoded, password);
      } catch {
        return false; // a malformed stored hash never authenticates
      }
    },
  };
}
