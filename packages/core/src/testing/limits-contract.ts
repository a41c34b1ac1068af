import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { LoginThrottle, LoginThrottleRules } from '../login-throttle.js';
import type { RateLimiter } from '../rate-limit.js';
import { createManualClock, type ManualClock } from './manual-clock.js';

export interface LimitsUnderTest {
  limiter: RateLimiter;
  throttle(rules?: Partial<LoginThrottleRules>): LoginThrottle;
  close?: () => Promise<void> | void;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/**
 * The behaviour every rate-limit adapter (memory, Redis) must show, on a manual clock. Keys
 * are random per test so that a shared Redis holds no state from earlier runs.
 */
export function runLimitsContract(
  name: string,
  open: (clock: ManualClock) => Promise<LimitsUnderTest>,
): void {
  describe(`rate limits: ${name}`, () => {
    const opened: LimitsUnderTest[] = [];
    const setup = async (): Promise<{ clock: ManualClock; limits: LimitsUnderTest; key: string }> => {
      const clock = createManualClock();
      const limits = await open(clock);
      opened.push(limits);
      return { clock, limits, key: randomBytes(8).toString('hex') };
    };
    after(async () => {
      for (const l of opened) await l.close?.();
    });

    it('allows a burst of `limit`, then says how long to wait, then refills', async () => {
      const { clock, limits, key } = await setup();
      const rule = { limit: 3, window: 3 * MINUTE };
      for (let i = 0; i < 3; i++) assert.equal(await limits.limiter.take(key, rule), 0);
      assert.equal(await limits.limiter.take(key, rule), 60);
      clock.advance(30 * SECOND);
      assert.equal(await limits.limiter.take(key, rule), 30);
      clock.advance(30 * SECOND);
      assert.equal(await limits.limiter.take(key, rule), 0);
      assert.equal(await limits.limiter.take(`${key}-other`, rule), 0, 'keys are independent');
    });

    it('peek says what take would, and takes nothing', async () => {
      const { limits, key } = await setup();
      const rule = { limit: 2, window: MINUTE };
      assert.equal(await limits.limiter.peek(key, rule), 0);
      assert.equal(await limits.limiter.take(key, rule), 0);
      for (let i = 0; i < 5; i++) assert.equal(await limits.limiter.peek(key, rule), 0);
      assert.equal(await limits.limiter.take(key, rule), 0);
      assert.equal(await limits.limiter.peek(key, rule), 30);
      assert.equal(await limits.limiter.take(key, rule), 30);
    });

    it('admits exactly `limit` of many concurrent requests', async () => {
      const { limits, key } = await setup();
      const rule = { limit: 10, window: MINUTE };
      const waits = await Promise.all(Array.from({ length: 40 }, () => limits.limiter.take(key, rule)));
      assert.equal(waits.filter((w) => w === 0).length, 10);
    });

    it('a clock that goes back grants nothing extra', async () => {
      const { clock, limits, key } = await setup();
      const rule = { limit: 2, window: MINUTE };
      await limits.limiter.take(key, rule);
      await limits.limiter.take(key, rule);
      clock.advance(-10 * MINUTE);
      assert.ok((await limits.limiter.take(key, rule)) > 0);
    });

    it('login: backs off one account from one IP exponentially, not the owner elsewhere', async () => {
      const { clock, limits, key } = await setup();
      const t = limits.throttle();
      const a = `a-${key}`;
      // Addresses unique to the run too: a shared Redis keeps per-IP counts between runs.
      const [evil, home] = [`evil-${key}`, `home-${key}`];
      for (let i = 0; i < 5; i++) assert.equal(await t.admit(a, evil), 0);
      assert.equal(await t.admit(a, evil), 1);
      assert.equal(await t.admit(a, home), 0);
      clock.advance(SECOND);
      assert.equal(await t.admit(a, evil), 0);
      assert.equal(await t.admit(a, evil), 2);
      for (let i = 0; i < 20; i++) {
        clock.advance(15 * MINUTE);
        await t.admit(a, evil);
      }
      assert.equal(await t.admit(a, evil), 15 * 60);
      await t.succeeded(a, evil);
      assert.equal(await t.admit(a, evil), 0);
    });

    it('login: counts an attempt before its outcome, so concurrent guesses cannot slip through', async () => {
      const { limits, key } = await setup();
      const t = limits.throttle();
      const waits = await Promise.all(
        Array.from({ length: 60 }, () => t.admit(`victim-${key}`, `ip-${key}`)),
      );
      assert.equal(waits.filter((w) => w === 0).length, 5);
    });

    it('login: blocks an IP that fails across many accounts for the window, and refunds successes', async () => {
      const { clock, limits, key } = await setup();
      const t = limits.throttle({ ipFailuresPerWindow: 10, window: 10 * MINUTE });
      const spray = `spray-${key}`;
      for (let i = 0; i < 9; i++) {
        assert.equal(await t.admit(`user${i}-${key}`, spray), 0);
        await t.failed(`user${i}-${key}`, spray);
      }
      assert.equal(await t.admit(`owner-${key}`, spray), 0);
      await t.succeeded(`owner-${key}`, spray);
      assert.equal(await t.admit(`user9-${key}`, spray), 0);
      await t.failed(`user9-${key}`, spray);
      assert.equal(await t.admit(`fresh-${key}`, spray), 600);
      assert.equal(await t.admit(`fresh-${key}`, `other-${key}`), 0);
      clock.advance(10 * MINUTE);
      assert.equal(await t.admit(`fresh-${key}`, spray), 0);
    });

    it('login: guessing at one account from many addresses is bounded; the owner at a known address is not', async () => {
      const { clock, limits, key } = await setup();
      const t = limits.throttle({ accountFailuresPerWindow: 20, accountWindow: 10 * MINUTE });
      const victim = `victim-${key}`;
      const [home, newDevice] = [`home-${key}`, `new-device-${key}`];
      assert.equal(await t.admit(victim, home), 0);
      await t.succeeded(victim, home); // the owner signed in from home once
      // A botnet: every address stays within its own free failures.
      for (let bot = 0; bot < 20; bot++) {
        assert.equal(await t.admit(victim, `bot${bot}-${key}`), 0);
        await t.failed(victim, `bot${bot}-${key}`);
      }
      assert.equal(await t.admit(victim, `bot20-${key}`), 600, 'the account is closed to new addresses');
      assert.equal(await t.admit(victim, newDevice), 600, 'a new device of the owner waits too');
      assert.equal(await t.admit(`someone-else-${key}`, `bot20-${key}`), 0, 'other accounts are untouched');
      assert.equal(await t.admit(victim, home), 0, 'the owner signs in from where they did before');
      await t.succeeded(victim, home);
      clock.advance(10 * MINUTE);
      assert.equal(await t.admit(victim, `bot21-${key}`), 0, 'the next window opens again');
    });

    it('login: attempts still being checked hold an IP back for a second, not the window', async () => {
      const { limits, key } = await setup();
      const t = limits.throttle({ ipFailuresPerWindow: 10, window: 10 * MINUTE });
      const office = `office-${key}`;
      for (let i = 0; i < 10; i++) assert.equal(await t.admit(`colleague${i}-${key}`, office), 0);
      assert.equal(await t.admit(`late-${key}`, office), 1, 'ten checks in flight: wait a second');
      for (let i = 0; i < 10; i++) await t.succeeded(`colleague${i}-${key}`, office);
      assert.equal(await t.admit(`late-${key}`, office), 0, 'all right: nothing holds the IP back');
    });
  });
}
