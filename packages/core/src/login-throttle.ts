import type { Clock } from './types.js';

/**
 * Slows password guessing without locking the owner out:
 * - per (account, IP) pair, after `freeFailures` failures each further attempt waits
 *   2^(n - freeFailures) seconds after the last failure, capped at `maxDelay`; so an attacker
 *   at one address is slowed while the owner signing in from elsewhere is not;
 * - per IP, more than `ipFailuresPerWindow` failures in `window` blocks that IP until the
 *   window ends, which bounds spraying across many accounts.
 * This adapter keeps state in memory, bounded (`maxEntries`, oldest dropped first); the Redis
 * adapter in the server shares it across instances. Both follow the contract in
 * `@baton/core/testing`.
 */
export interface LoginThrottleRules {
  freeFailures: number;
  maxDelay: number;
  ipFailuresPerWindow: number;
  window: number;
}

export const DEFAULT_LOGIN_THROTTLE: Readonly<LoginThrottleRules> = Object.freeze({
  freeFailures: 5,
  maxDelay: 15 * 60_000,
  ipFailuresPerWindow: 100,
  window: 15 * 60_000,
});

export interface LoginThrottleOptions extends Partial<LoginThrottleRules> {
  clock: Clock;
  maxEntries?: number;
}

export interface LoginThrottle {
  /**
   * Admits one login attempt or says how long to wait. An admitted attempt is counted as a
   * failure at once, before the password is checked, so that concurrent guesses cannot all
   * pass the check before any of them is counted; `succeeded` refunds it.
   * Returns 0 when admitted, else the seconds to wait.
   */
  admit(account: string, ip: string): Promise<number>;
  /** The admitted attempt succeeded: the pair starts afresh and the IP's count is refunded. */
  succeeded(account: string, ip: string): Promise<void>;
}

interface Counter {
  failures: number;
  lastAt: number;
  windowStart: number;
}

export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { clock } = options;
  const freeFailures = options.freeFailures ?? DEFAULT_LOGIN_THROTTLE.freeFailures;
  const maxDelay = options.maxDelay ?? DEFAULT_LOGIN_THROTTLE.maxDelay;
  const ipLimit = options.ipFailuresPerWindow ?? DEFAULT_LOGIN_THROTTLE.ipFailuresPerWindow;
  const window = options.window ?? DEFAULT_LOGIN_THROTTLE.window;
  const maxEntries = options.maxEntries ?? 100_000;
  const counters = new Map<string, Counter>();

  const pairKey = (account: string, ip: string): string => `p\0${ip}\0${account}`;
  const ipKey = (ip: string): string => `i\0${ip}`;

  function get(key: string, now: number): Counter | undefined {
    const c = counters.get(key);
    if (c && now - c.lastAt > window + maxDelay) {
      counters.delete(key);
      return undefined;
    }
    return c;
  }

  /** Counts a failure; a windowed counter starts afresh once its window has passed. */
  function bump(key: string, now: number, windowed: boolean): void {
    const c = get(key, now);
    if (c && (!windowed || now - c.windowStart < window)) {
      c.failures += 1;
      c.lastAt = now;
      counters.delete(key); // re-insert so that Map order stays least-recently-failed first
      counters.set(key, c);
    } else {
      counters.delete(key);
      counters.set(key, { failures: 1, lastAt: now, windowStart: now });
    }
    while (counters.size > maxEntries) counters.delete(counters.keys().next().value as string);
  }

  function retryAfter(account: string, ip: string, now: number): number {
    let waitMs = 0;
    const pair = get(pairKey(account, ip), now);
    if (pair && pair.failures >= freeFailures) {
      const delay = loginDelay(pair.failures - freeFailures, maxDelay);
      waitMs = Math.max(waitMs, pair.lastAt + delay - now);
    }
    const byIp = get(ipKey(ip), now);
    if (byIp && byIp.failures >= ipLimit && now - byIp.windowStart < window) {
      waitMs = Math.max(waitMs, byIp.windowStart + window - now);
    }
    return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0;
  }

  return {
    async admit(account, ip) {
      const now = clock.now();
      const wait = retryAfter(account, ip, now);
      if (wait > 0) return wait;
      // The pair count only resets after a quiet spell (see get) or a success, so waiting out
      // one delay never buys an attacker a fresh set of free attempts.
      bump(pairKey(account, ip), now, false);
      bump(ipKey(ip), now, true);
      return 0;
    },
    async succeeded(account, ip) {
      counters.delete(pairKey(account, ip));
      const byIp = counters.get(ipKey(ip));
      if (byIp && byIp.failures > 0) byIp.failures -= 1;
    },
  };
}

/** The wait after `excess` failures beyond the free ones: 1 s, 2 s, 4 s, … up to `maxDelay`. */
export function loginDelay(excess: number, maxDelay: number): number {
  return Math.min(maxDelay, 1000 * 2 ** excess);
}

/**
 * Runs the attempts that share a key (an account and IP pair) one after another, in this
 * process. Each then sees the outcome of the one before: ten tabs signing in at once all get
 * in, while thirty concurrent guesses still get the free failures and no more. (Across
 * instances, the throttle's count-before-check keeps the bound.)
 */
export function createAttemptQueue(): <T>(key: string, attempt: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<void>>();
  return async (key, attempt) => {
    const previous = tails.get(key);
    let release = (): void => {};
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous ? previous.then(() => done) : done;
    tails.set(key, tail);
    try {
      if (previous) await previous;
      return await attempt();
    } finally {
      release();
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
