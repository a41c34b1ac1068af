// The rate-limit contract against Redis, and what "shared" means: two instances, one allowance.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createManualClock, runLimitsContract } from '@baton/core/testing';
import { Redis } from 'ioredis';
import { createRedisLimits, type RedisLimits } from '../src/redis/limits.js';
import { freePort } from './processes.js';
import { REDIS_URL, redisMissing } from './services.js';

const missing = await redisMissing();

async function open(
  url: string,
  clock = createManualClock(),
  onError = (_: unknown) => {},
  prefix?: string,
): Promise<RedisLimits> {
  const limits = createRedisLimits({ url, clock, onError, ...(prefix ? { prefix } : {}) });
  const started = Date.now();
  while (!limits.shared() && Date.now() - started < 3000) await new Promise((r) => setTimeout(r, 10));
  return limits;
}

describe('Redis rate limits', { skip: missing || false }, () => {
  runLimitsContract('redis', async (clock) => {
    const limits = await open(REDIS_URL, clock);
    assert.ok(limits.shared(), 'connected to Redis, not falling back to memory');
    return {
      limiter: limits.limiter,
      throttle: (rules) => limits.throttle(rules),
      close: () => limits.close(),
    };
  });

  const opened: RedisLimits[] = [];
  after(async () => {
    for (const l of opened) await l.close();
  });

  it('two instances share one allowance, kept in Redis', async () => {
    const clock = createManualClock(Date.now());
    const a = await open(REDIS_URL, clock);
    const b = await open(REDIS_URL, clock);
    opened.push(a, b);
    const key = `shared-${Math.random().toString(36).slice(2)}`;
    const rule = { limit: 4, window: 60_000 };
    assert.equal(await a.limiter.take(key, rule), 0);
    assert.equal(await b.limiter.take(key, rule), 0);
    assert.equal(await a.limiter.take(key, rule), 0);
    assert.equal(await b.limiter.take(key, rule), 0);
    assert.equal(await a.limiter.take(key, rule), 15);
    assert.equal(await b.limiter.take(key, rule), 15);
    const direct = new Redis(REDIS_URL);
    try {
      assert.ok((await direct.pttl(`baton:limit:${key}`)) > 0, 'the bucket is in Redis and expires');
    } finally {
      direct.disconnect();
    }
    // The login throttle too: five free failures in all, not five per instance.
    const ta = a.throttle();
    const tb = b.throttle();
    const account = `${key}@example.test`;
    for (let i = 0; i < 5; i++) assert.equal(await (i % 2 ? ta : tb).admit(account, '192.0.2.7'), 0);
    assert.ok((await ta.admit(account, '192.0.2.7')) > 0);
    assert.ok((await tb.admit(account, '192.0.2.7')) > 0);
  });

  it('deployments with different BATON_REDIS_PREFIX values share nothing', async () => {
    const clock = createManualClock(Date.now());
    const tag = Math.random().toString(36).slice(2);
    const a = await open(REDIS_URL, clock, undefined, `a-${tag}:`);
    const b = await open(REDIS_URL, clock, undefined, `b-${tag}:`);
    opened.push(a, b);
    const rule = { limit: 1, window: 60_000 };
    assert.equal(await a.limiter.take('same-key', rule), 0);
    assert.equal(await b.limiter.take('same-key', rule), 0, 'b has its own bucket');
    assert.ok((await a.limiter.take('same-key', rule)) > 0);
    const direct = new Redis(REDIS_URL);
    try {
      assert.ok((await direct.pttl(`a-${tag}:limit:same-key`)) > 0);
      assert.ok((await direct.pttl(`b-${tag}:limit:same-key`)) > 0);
    } finally {
      direct.disconnect();
    }
  });
});

describe('rate limits without Redis', () => {
  it('fall back to per-instance memory, reporting the outage once', async () => {
    const errors: unknown[] = [];
    const limits = createRedisLimits({
      url: `redis://127.0.0.1:${await freePort()}`,
      clock: createManualClock(),
      onError: (e) => errors.push(e),
    });
    try {
      const rule = { limit: 2, window: 60_000 };
      assert.equal(await limits.limiter.take('k', rule), 0);
      assert.equal(await limits.limiter.take('k', rule), 0);
      assert.equal(await limits.limiter.take('k', rule), 30, 'still limited, in memory');
      const t = limits.throttle();
      for (let i = 0; i < 5; i++) assert.equal(await t.admit('a', 'ip'), 0);
      assert.equal(await t.admit('a', 'ip'), 1);
      assert.equal(limits.shared(), false);
    } finally {
      await limits.close();
    }
  });
});
