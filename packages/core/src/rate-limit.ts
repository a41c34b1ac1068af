import { BatonError } from './errors.js';
import type { Clock } from './types.js';

/** At most `limit` requests in a burst, refilled at `limit` per `window` ms (a token bucket). */
export interface RateRule {
  limit: number;
  window: number;
}

/**
 * Counts requests per key. Adapters keep the buckets in memory (one instance) or in Redis
 * (shared by a cluster); both follow the contract in `@baton/core/testing`.
 */
export interface RateLimiter {
  /** Takes one request from the bucket `key`: 0 when allowed, else the seconds to wait. */
  take(key: string, rule: RateRule): Promise<number>;
  /** What `take` would answer now, taking nothing. */
  peek(key: string, rule: RateRule): Promise<number>;
}

/** A bucket's level after refilling from `at` to `now`; a clock going back refills nothing. */
export function refill(tokens: number, at: number, now: number, rule: RateRule): number {
  return Math.min(rule.limit, tokens + (Math.max(0, now - at) * rule.limit) / rule.window);
}

/** Seconds until a bucket at `tokens` holds one whole request again. */
export function secondsUntilOne(tokens: number, rule: RateRule): number {
  return Math.max(1, Math.ceil(((1 - tokens) * rule.window) / rule.limit / 1000));
}

export interface MemoryRateLimiterOptions {
  clock: Clock;
  /** Buckets kept at most; the least recently used go first (a full bucket is as good as none). */
  maxEntries?: number;
}

export function createMemoryRateLimiter(options: MemoryRateLimiterOptions): RateLimiter {
  const maxEntries = options.maxEntries ?? 100_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const level = (key: string, rule: RateRule, now: number): number => {
    const bucket = buckets.get(key);
    return bucket ? refill(bucket.tokens, bucket.at, now, rule) : rule.limit;
  };
  return {
    async peek(key, rule) {
      const tokens = level(key, rule, options.clock.now());
      return tokens < 1 ? secondsUntilOne(tokens, rule) : 0;
    },
    async take(key, rule) {
      const now = options.clock.now();
      const bucket = buckets.get(key);
      const tokens = level(key, rule, now);
      if (tokens < 1) return secondsUntilOne(tokens, rule);
      buckets.delete(key); // re-insert: Map order stays least recently used first
      buckets.set(key, { tokens: tokens - 1, at: Math.max(now, bucket?.at ?? now) });
      while (buckets.size > maxEntries) buckets.delete(buckets.keys().next().value as string);
      return 0;
    },
  };
}

/**
 * Takes one request from `key` or throws `rate_limited` with the wait; a null rule means the
 * limit is switched off. `what` names the limit in logs (never in the response body).
 */
export async function enforceRateLimit(
  limiter: RateLimiter,
  key: string,
  rule: RateRule | null,
  what: string,
): Promise<void> {
  if (!rule) return;
  const wait = await limiter.take(key, rule);
  if (wait > 0) throw new BatonError('rate_limited', `${what} rate limit`, { retryAfter: wait });
}

const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The client a rate limit counts for a request address: an IPv4 address as it is (also when
 * written IPv4-mapped, `::ffff:a.b.c.d`), an IPv6 address as its /64, because one subscriber
 * commonly holds a whole /64 and could otherwise take a fresh address per guess.
 */
export function addressBucket(ip: string): string {
  const mapped = MAPPED_IPV4.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.split('%')[0]!.toLowerCase().split('::', 2) as [string, string?];
  const left = head === '' ? [] : head.split(':');
  const right = ip.includes('::') && tail !== '' ? tail.split(':') : [];
  // An embedded IPv4 tail (::a.b.c.d forms) lies in the interface half: it does not matter here.
  const groups = ip.includes('::')
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  const prefix = groups.slice(0, 4).map((g) => (g === '' ? '0' : g.replace(/^0+(?=.)/, '')));
  return `${prefix.join(':')}::/64`;
}
