import { randomBytes } from 'node:crypto';
import type { Clock, Random } from './types.js';

/**
 * The only place Baton reads the wall clock or the CSPRNG. Everything else takes a Clock
 * and a Random as arguments, so tests can drive time and randomness by hand.
 */
export const systemClock: Clock = Object.freeze({ now: (): number => Date.now() });

export const systemRandom: Random = Object.freeze({
  bytes: (n: number): Uint8Array => randomBytes(n),
});
