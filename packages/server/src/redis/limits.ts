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

// The login throttle of @baton/core, atomically: KEYS = pair, ip, account, known. Returns 0
// (admitted and counted) or the milliseconds to wait. The IP and account hashes hold failures
// f and pending p of the window that began at start; known exists while the pair has signed
// in successfully within knownFor (it is exempt from the account's window).
const ADMIT = `
local free, maxDelay, ipLimit, window, now, accountLimit, accountWindow =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]),
  tonumber(ARGV[6]), tonumber(ARGV[7])
local function windowed(key, length)
  local f, p, start = unpack(redis.call('HMGET', key, 'f', 'p', 'start'))
  f, p, start = tonumber(f) or 0, tonumber(p) or 0, tonumber(start)
  if not start or now - start >= length then return 0, 0, nil end
  return f, p, start
end
local function windowWait(f, p, start, limit, length)
  if f >= limit then return start + length - now end
  if f + p >= limit then return 1000 end
  return 0
end
local function hold(key, start, length)
  if start then
    redis.call('HINCRBY', key, 'p', 1)
  else
    redis.call('HSET', key, 'f', 0, 'p', 1, 'start', now)
    redis.call('PEXPIRE', key, length)
  end
end
local pf, plast = unpack(redis.call('HMGET', KEYS[1], 'f', 'last'))
pf, plast = tonumber(pf), tonumber(plast)
local ipf, ipp, ipstart = windowed(KEYS[2], window)
local af, ap, astart = windowed(KEYS[3], accountWindow)
local wait = 0
if pf and pf >= free then
  wait = math.max(wait, plast + math.min(maxDelay, 1000 * 2 ^ (pf - free)) - now)
end
wait = math.max(wait, windowWait(ipf, ipp, ipstart, ipLimit, window))
if redis.call('EXISTS', KEYS[4]) == 0 then
  wait = math.max(wait, windowWait(af, ap, astart, accountLimit, accountWindow))
end
if wait > 0 then return math.ceil(wait) end
redis.call('HINCRBY', KEYS[1], 'f', 1)
redis.call('HSET', KEYS[1], 'last', now)
redis.call('PEXPIRE', KEYS[1], window + maxDelay)
hold(KEYS[2], ipstart, window)
hold(KEYS[3], astart, accountWindow)
return 0`;

// The attempt's outcome: ARGV[1] = 1 when it failed. A success also clears the pair and marks
// it known for ARGV[2] ms.
const SETTLE = `
if ARGV[1] == '0' then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[4], '1', 'PX', ARGV[2])
end
for i = 2, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    if tonumber(redis.call('HGET', KEYS[i], 'p') or '0') > 0 then redis.call('HINCRBY', KEYS[i], 'p', -1) end
    if ARGV[1] == '1' then redis.call('HINCRBY', KEYS[i], 'f', 1) end
  end
end
return 0`;

type LimitCommands = Redis & {
  batonTake(key: string, limit: number, window: number, now: number): Promise<number>;
  batonPeek(key: string, limit: number, window: number, now: number): Promise<number>;
  batonAdmit(pair: string, ip: string, account: string, known: string, ...args: number[]): Promise<number>;
  batonSettle(
    pair: string,
    ip: string,
    account: string,
    known: string,
    failed: '0' | '1',
    knownFor: number,
  ): Promise<number>;
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
  redis.defineCommand('batonAdmit', { numberOfKeys: 4, lua: ADMIT });
  redis.defineCommand('batonSettle', { numberOfKeys: 4, lua: SETTLE });
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
  const accountKey = (account: string): string => `${PREFIX}login-account:${account}`;
  const knownKey = (account: string, ip: string): string => `${PREFIX}login-known:${ip}:${account}`;
  const keys = (account: string, ip: string) =>
    [pairKey(account, ip), ipKey(ip), accountKey(account), knownKey(account, ip)] as const;

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
                  ...keys(account, ip),
                  rules.freeFailures,
                  rules.maxDelay,
                  rules.ipFailuresPerWindow,
                  rules.window,
                  clock.now(),
                  rules.accountFailuresPerWindow,
                  rules.accountWindow,
                ),
              ),
            () => fallback.admit(account, ip),
          ),
        succeeded: (account, ip) =>
          orLocal(
            async () => {
              await redis.batonSettle(...keys(account, ip), '0', rules.knownFor);
            },
            () => fallback.succeeded(account, ip),
          ),
        failed: (account, ip) =>
          orLocal(
            async () => {
              await redis.batonSettle(...keys(account, ip), '1', rules.knownFor);
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
