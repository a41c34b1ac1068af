import { BatonError, isBatonError } from './errors.js';
import type { Clock } from './types.js';

/**
 * Slows password guessing without locking the owner out:
 * - per (account, IP) pair, after `freeFailures` failures each further attempt waits
 *   2^(n - freeFailures) seconds after the last failure, capped at `maxDelay`; so an attacker
 *   at one address is slowed while the owner signing in from elsewhere is not;
 * - per IP, `ipFailuresPerWindow` failures in `window` block that IP until the window ends,
 *   which bounds spraying across many accounts; attempts still being checked count too, but
 *   only for a second, so many concurrent correct logins from one address are not locked out;
 * - per account, `accountFailuresPerWindow` failures in `accountWindow`, from all addresses
 *   together, block the account until that window ends for every address that has not signed
 *   in to it successfully in the last `knownFor` (30 days): guessing spread over many
 *   addresses (a botnet, the /64s of an IPv6 /48) is bounded, and the owner, at an address
 *   they have signed in from before, is not locked out by it.
 * This adapter keeps state in memory, bounded (`maxEntries`, oldest dropped first); the Redis
 * adapter in the server shares it across instances. Both follow the contract in
 * `@baton/core/testing`.
 */
export interface LoginThrottleRules {
  freeFailures: number;
  maxDelay: number;
  ipFailuresPerWindow: number;
  window: number;
  accountFailuresPerWindow: number;
  accountWindow: number;
  /** How long an address that signed in successfully stays known to the account. */
  knownFor: number;
}

export const DEFAULT_LOGIN_THROTTLE: Readonly<LoginThrottleRules> = Object.freeze({
  freeFailures: 5,
  maxDelay: 15 * 60_000,
  ipFailuresPerWindow: 100,
  window: 15 * 60_000,
  accountFailuresPerWindow: 50,
  accountWindow: 15 * 60_000,
  knownFor: 30 * 86_400_000,
});

export interface LoginThrottleOptions extends Partial<LoginThrottleRules> {
  clock: Clock;
  maxEntries?: number;
}

export interface LoginThrottle {
  /**
   * Admits one login attempt or says how long to wait (0 when admitted, else seconds).
   * An admitted attempt counts against its (account, IP) pair at once, before the password is
   * checked, so that concurrent guesses cannot all pass the check before any is counted. For
   * the IP it is pending until its outcome: pending attempts hold a place (briefly: the wait
   * is a second), only failures block the IP for the rest of the window.
   */
  admit(account: string, ip: string): Promise<number>;
  /** The admitted attempt succeeded: the pair starts afresh and is known; the IP's and account's places are freed. */
  succeeded(account: string, ip: string): Promise<void>;
  /** The admitted attempt failed: the IP's and the account's places become failures. */
  failed(account: string, ip: string): Promise<void>;
}

interface PairCounter {
  failures: number;
  lastAt: number;
}

/** Failures in a fixed window, for an IP or an account. */
interface WindowCounter {
  failures: number;
  /** Admitted attempts whose outcome is not known yet (an attempt that errored stays until the window ends). */
  pending: number;
  windowStart: number;
  lastAt: number;
}

export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { clock } = options;
  const freeFailures = options.freeFailures ?? DEFAULT_LOGIN_THROTTLE.freeFailures;
  const maxDelay = options.maxDelay ?? DEFAULT_LOGIN_THROTTLE.maxDelay;
  const ipLimit = options.ipFailuresPerWindow ?? DEFAULT_LOGIN_THROTTLE.ipFailuresPerWindow;
  const window = options.window ?? DEFAULT_LOGIN_THROTTLE.window;
  const accountLimit = options.accountFailuresPerWindow ?? DEFAULT_LOGIN_THROTTLE.accountFailuresPerWindow;
  const accountWindow = options.accountWindow ?? DEFAULT_LOGIN_THROTTLE.accountWindow;
  const knownFor = options.knownFor ?? DEFAULT_LOGIN_THROTTLE.knownFor;
  const maxEntries = options.maxEntries ?? 100_000;
  const pairs = new Map<string, PairCounter>();
  const ips = new Map<string, WindowCounter>();
  const accounts = new Map<string, WindowCounter>();
  /**
   * Addresses with a successful sign-in, per account: when it was. Each account keeps its
   * newest `MAX_KNOWN_PER_ACCOUNT`, so one account signed in to from endless addresses pushes
   * out only its own. Past `maxEntries` in all, the accounts whose last sign-in is oldest are
   * forgotten first (never the newest: a full table still learns new sign-ins).
   */
  const known = new Map<string, Map<string, number>>();
  let knownEntries = 0;

  const pairKey = (account: string, ip: string): string => `${ip}\0${account}`;

  /** Map order is least recently touched first, so the bound drops the stalest entries. */
  function touch<T>(map: Map<string, T>, key: string, value: T): void {
    map.delete(key);
    map.set(key, value);
    while (map.size > maxEntries) map.delete(map.keys().next().value as string);
  }

  /** The pair's count; it resets only after a quiet spell, so waiting buys no free attempts. */
  function pair(key: string, now: number): PairCounter | undefined {
    const c = pairs.get(key);
    if (c && now - c.lastAt > window + maxDelay) pairs.delete(key);
    return pairs.get(key);
  }

  /** A counter for the current window; a new window starts from nothing. */
  function counter(map: Map<string, WindowCounter>, key: string, length: number, now: number): WindowCounter {
    const c = map.get(key);
    if (c && now - c.windowStart < length) return c;
    return { failures: 0, pending: 0, windowStart: now, lastAt: now };
  }
  const ipCounter = (ip: string, now: number) => counter(ips, ip, window, now);
  const accountCounter = (account: string, now: number) => counter(accounts, account, accountWindow, now);

  /** The wait a window counter imposes: to the window's end when full, a second when only pending attempts fill it. */
  function windowWait(c: WindowCounter, limit: number, length: number, now: number): number {
    if (c.failures >= limit) return c.windowStart + length - now;
    if (c.failures + c.pending >= limit) return 1000;
    return 0;
  }

  function isKnown(account: string, ip: string, now: number): boolean {
    const at = known.get(account)?.get(ip);
    return at !== undefined && now - at < knownFor;
  }

  function markKnown(account: string, ip: string, now: number): void {
    let addresses = known.get(account);
    if (addresses) {
      known.delete(account); // the account is now the most recent
      if (addresses.delete(ip)) knownEntries--;
    } else addresses = new Map();
    known.set(account, addresses);
    if (addresses.size >= MAX_KNOWN_PER_ACCOUNT) {
      addresses.delete(addresses.keys().next().value as string);
      knownEntries--;
    }
    addresses.set(ip, now);
    knownEntries++;
    for (const [oldest, entries] of known) {
      if (knownEntries <= maxEntries || oldest === account) break;
      known.delete(oldest);
      knownEntries -= entries.size;
    }
  }

  function wait(account: string, ip: string, now: number): number {
    let waitMs = 0;
    const p = pair(pairKey(account, ip), now);
    if (p && p.failures >= freeFailures) {
      waitMs = Math.max(waitMs, p.lastAt + loginDelay(p.failures - freeFailures, maxDelay) - now);
    }
    waitMs = Math.max(waitMs, windowWait(ipCounter(ip, now), ipLimit, window, now));
    if (!isKnown(account, ip, now))
      waitMs = Math.max(waitMs, windowWait(accountCounter(account, now), accountLimit, accountWindow, now));
    return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0;
  }

  function settle(account: string, ip: string, failed: boolean): void {
    const now = clock.now();
    const settled = (c: WindowCounter): WindowCounter => ({
      ...c,
      pending: Math.max(0, c.pending - 1),
      failures: c.failures + (failed ? 1 : 0),
      lastAt: now,
    });
    touch(ips, ip, settled(ipCounter(ip, now)));
    touch(accounts, account, settled(accountCounter(account, now)));
  }

  return {
    async admit(account, ip) {
      const now = clock.now();
      const w = wait(account, ip, now);
      if (w > 0) return w;
      const key = pairKey(account, ip);
      const p = pair(key, now);
      touch(pairs, key, { failures: (p?.failures ?? 0) + 1, lastAt: now });
      const i = ipCounter(ip, now);
      touch(ips, ip, { ...i, pending: i.pending + 1, lastAt: now });
      const a = accountCounter(account, now);
      touch(accounts, account, { ...a, pending: a.pending + 1, lastAt: now });
      return 0;
    },
    async succeeded(account, ip) {
      pairs.delete(pairKey(account, ip));
      markKnown(account, ip, clock.now());
      settle(account, ip, false);
    },
    async failed(account, ip) {
      settle(account, ip, true);
    },
  };
}

/** Addresses an account keeps as known (its newest sign-ins); older ones are forgotten. */
export const MAX_KNOWN_PER_ACCOUNT = 32;

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

/**
 * A password check under the throttle, the one way login and password change use it: queued
 * behind the pair's earlier attempts, admitted or refused with the wait, and its outcome
 * recorded (a wrong password is a failure; a right one starts the pair afresh).
 */
export function createGuardedPasswordCheck(
  throttle: LoginThrottle,
): <T>(account: string, ip: string, check: () => Promise<T>) => Promise<T> {
  const inTurn = createAttemptQueue();
  return (account, ip, check) =>
    inTurn(`${ip}\0${account}`, async () => {
      const wait = await throttle.admit(account, ip);
      if (wait > 0) throw new BatonError('rate_limited', 'password attempts throttled', { retryAfter: wait });
      const result = await check().catch(async (error: unknown) => {
        if (isBatonError(error) && error.code === 'invalid_credentials') await throttle.failed(account, ip);
        throw error;
      });
      await throttle.succeeded(account, ip);
      return result;
    });
}
