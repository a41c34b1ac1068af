import {
  type Clock,
  createLoginThrottle,
  createMemoryRateLimiter,
  DEFAULT_LOGIN_THROTTLE,
  type LoginThrottle,
  type LoginThrottleRules,
  type RateLimiter,
} from '@baton/core';
import { Redis } from 'ioredis';

// A token bucket: fields t (tokens) and at (ms). Refills limit per window; a clock behind the
// stored time refills nothing. Returns 0 or the milliseconds until one request is allowed.
const TAKE = `
local limit, window, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(s[1]), tonumber(s[2])
if tokens == nil then tokens, at = limit, now end
if now > at then tokens = math.min(limit, tokens + (now - at) * limit / window); at = now end
if tokens < 1 then return math.ceil((1 - tokens) * window / limit) end
redis.call('HSET', KEYS[1], 't', tostring(tokens - 1), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], window)
return 0`;

// The same bucket, read only: the milliseconds until one request is allowed, or 0.
const PEEK = `
local limit, window, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(s[1]), tonumber(s[2])
if tokens == nil then return 0 end
if now > at then tokens = math.min(limit, tokens + (now - at) * limit / window) end
if tokens < 1 then return math.ceil((1 - tokens) * window / limit) end
return 0`;

// The login throttle of @baton/core, atomically: KEYS = pair, ip. Returns 0 (admitted and
// counted) or the milliseconds to wait. The IP hash holds failures f and pending p of the
// window that began at start.
const ADMIT = `
local free, maxDelay, ipLimit, window, now =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local pf, plast = unpack(redis.call('HMGET', KEYS[1], 'f', 'last'))
local ipf, ipp, ipstart = unpack(redis.call('HMGET', KEYS[2], 'f', 'p', 'start'))
pf, plast = tonumber(pf), tonumber(plast)
ipf, ipp, ipstart = tonumber(ipf) or 0, tonumber(ipp) or 0, tonumber(ipstart)
if not ipstart or now - ipstart >= window then ipf, ipp, ipstart = 0, 0, nil end
local wait = 0
if pf and pf >= free then
  wait = math.max(wait, plast + math.min(maxDelay, 1000 * 2 ^ (pf - free)) - now)
end
if ipf >= ipLimit then wait = math.max(wait, ipstart + window - now)
elseif ipf + ipp >= ipLimit then wait = math.max(wait, 1000) end
if wait > 0 then return math.ceil(wait) end
redis.call('HINCRBY', KEYS[1], 'f', 1)
redis.call('HSET', KEYS[1], 'last', now)
redis.call('PEXPIRE', KEYS[1], window + maxDelay)
if ipstart then
  redis.call('HINCRBY', KEYS[2], 'p', 1)
else
  redis.call('HSET', KEYS[2], 'f', 0, 'p', 1, 'start', now)
  redis.call('PEXPIRE', KEYS[2], window)
end
return 0`;

// The attempt's outcome: ARGV[1] = 1 when it failed. A success also clears the pair.
const SETTLE = `
if ARGV[1] == '0' then redis.call('DEL', KEYS[1]) end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if tonumber(redis.call('HGET', KEYS[2], 'p') or '0') > 0 then redis.call('HINCRBY', KEYS[2], 'p', -1) end
if ARGV[1] == '1' then redis.call('HINCRBY', KEYS[2], 'f', 1) end
return 0`;

type LimitCommands = Redis & {
  batonTake(key: string, limit: number, window: number, now: number): Promise<number>;
  batonPeek(key: string, limit: number, window: number, now: number): Promise<number>;
  batonAdmit(pair: string, ip: string, ...args: number[]): Promise<number>;
  batonSettle(pair: string, ip: string, failed: '0' | '1'): Promise<number>;
};

export interface RedisLimits {
  limiter: RateLimiter;
  throttle(rules?: Partial<LoginThrottleRules>): LoginThrottle;
  /** True while limits are shared (Redis answers); false while they are held per instance. */
  shared(): boolean;
  close(): Promise<void>;
}

/**
 * Rate limits and the login throttle held in Redis, so that they hold across a cluster. While
 * Redis does not answer, each instance falls back to its own memory (limits then hold per
 * instance) rather than refusing logins or letting everything through.
 */
export function createRedisLimits(options: {
  url: string;
  /** Prepended to every key (`BATON_REDIS_PREFIX`); `baton:` by default. */
  prefix?: string;
  clock: Clock;
  onError(error: unknown): void;
}): RedisLimits {
  const PREFIX = `${options.prefix ?? 'baton:'}limit:`;
  const redis = new Redis(options.url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    commandTimeout: 500,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 2000),
  }) as LimitCommands;
  redis.on('error', () => {}); // reported per failed command below
  redis.defineCommand('batonTake', { numberOfKeys: 1, lua: TAKE });
  redis.defineCommand('batonPeek', { numberOfKeys: 1, lua: PEEK });
  redis.defineCommand('batonAdmit', { numberOfKeys: 2, lua: ADMIT });
  redis.defineCommand('batonSettle', { numberOfKeys: 2, lua: SETTLE });
  const { clock } = options;
  const local = createMemoryRateLimiter({ clock });
  let reported = false;
  async function orLocal<T>(shared: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    if (redis.status !== 'ready') return fallback();
    try {
      const result = await shared();
      reported = false;
      return result;
    } catch (error) {
      if (!reported) options.onError(error); // once per outage, not once per request
      reported = true;
      return fallback();
    }
  }
  const seconds = (ms: number): number => (ms > 0 ? Math.ceil(ms / 1000) : 0);
  // Keys hold the normalised e-mail address, as the user table does; they expire on their own.
  const pairKey = (account: string, ip: string): string => `${PREFIX}login:${ip}:${account}`;
  const ipKey = (ip: string): string => `${PREFIX}login-ip:${ip}`;

  return {
    limiter: {
      take: (key, rule) =>
        orLocal(
          async () => seconds(await redis.batonTake(PREFIX + key, rule.limit, rule.window, clock.now())),
          () => local.take(key, rule),
        ),
      peek: (key, rule) =>
        orLocal(
          async () => seconds(await redis.batonPeek(PREFIX + key, rule.limit, rule.window, clock.now())),
          () => local.peek(key, rule),
        ),
    },
    throttle(partial = {}) {
      const rules = { ...DEFAULT_LOGIN_THROTTLE, ...partial };
      const fallback = createLoginThrottle({ clock, ...rules });
      return {
        admit: (account, ip) =>
          orLocal(
            async () =>
              seconds(
                await redis.batonAdmit(
                  pairKey(account, ip),
                  ipKey(ip),
                  rules.freeFailures,
                  rules.maxDelay,
                  rules.ipFailuresPerWindow,
                  rules.window,
                  clock.now(),
                ),
              ),
            () => fallback.admit(account, ip),
          ),
        succeeded: (account, ip) =>
          orLocal(
            async () => {
              await redis.batonSettle(pairKey(account, ip), ipKey(ip), '0');
            },
            () => fallback.succeeded(account, ip),
          ),
        failed: (account, ip) =>
          orLocal(
            async () => {
              await redis.batonSettle(pairKey(account, ip), ipKey(ip), '1');
            },
            () => fallback.failed(account, ip),
          ),
      };
    },
    shared: () => redis.status === 'ready' && !reported,
    async close() {
      redis.disconnect();
    },
  };
}
