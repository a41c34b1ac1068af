import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAttemptQueue, createLoginThrottle } from '../src/login-throttle.js';
import { addressBucket, createMemoryRateLimiter } from '../src/rate-limit.js';
import { runLimitsContract } from '../src/testing/limits-contract.js';
import { createManualClock } from '../src/testing/manual-clock.js';

runLimitsContract('memory', async (clock) => ({
  limiter: createMemoryRateLimiter({ clock }),
  throttle: (rules) => createLoginThrottle({ clock, ...rules }),
}));

describe('login throttle in memory', () => {
  async function underAttack(t: ReturnType<typeof createLoginThrottle>, account: string): Promise<void> {
    for (let bot = 0; bot < 5; bot++) {
      await t.admit(account, `bot-${bot}`);
      await t.failed(account, `bot-${bot}`);
    }
    assert.ok((await t.admit(account, 'bot-5')) > 0, 'the account is closed to new addresses');
  }

  it("one account signed in to from endless addresses never pushes another's known address out", async () => {
    const clock = createManualClock();
    const t = createLoginThrottle({ clock, maxEntries: 100, accountFailuresPerWindow: 5 });
    await t.admit('owner', 'home');
    await t.succeeded('owner', 'home');
    for (let i = 0; i < 5000; i++) {
      await t.admit('mine', `addr-${i}`);
      await t.succeeded('mine', `addr-${i}`);
    }
    await underAttack(t, 'owner');
    assert.equal(await t.admit('owner', 'home'), 0, 'the owner is still known at home');
  });

  it('a full table still learns new sign-ins, forgetting the accounts least recently signed in to', async () => {
    const clock = createManualClock();
    const t = createLoginThrottle({ clock, maxEntries: 100, accountFailuresPerWindow: 5 });
    for (let i = 0; i < 100; i++) {
      await t.admit(`user-${i % 50}`, `addr-${i}`);
      await t.succeeded(`user-${i % 50}`, `addr-${i}`);
    }
    clock.advance(3_600_000);
    await t.admit('alice', 'home');
    await t.succeeded('alice', 'home');
    clock.advance(86_400_000);
    await underAttack(t, 'alice');
    assert.equal(await t.admit('alice', 'home'), 0, 'alice, signed in yesterday, is known at home');
  });
});

describe('attempt queue', () => {
  it('runs attempts with one key one at a time, in arrival order, and others alongside', async () => {
    const inTurn = createAttemptQueue();
    const log: string[] = [];
    const step = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      if (name === 'a2') throw new Error('a2 failed');
      return name;
    };
    const results = await Promise.allSettled([
      inTurn('a', step('a1', 20)),
      inTurn('a', step('a2', 5)),
      inTurn('a', step('a3', 1)),
      inTurn('b', step('b1', 1)),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.deepEqual(
      log.filter((l) => l.endsWith('a1') || l.endsWith('a2') || l.endsWith('a3')),
      ['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3'],
    );
    assert.ok(log.indexOf('end b1') < log.indexOf('end a1'), 'another key does not wait');
  });
});

describe('addressBucket', () => {
  it('groups IPv6 by /64, unmaps IPv4-mapped addresses, leaves IPv4 alone', () => {
    const cases: Array<[string, string]> = [
      ['192.0.2.1', '192.0.2.1'],
      ['::ffff:192.0.2.1', '192.0.2.1'],
      ['::FFFF:192.0.2.1', '192.0.2.1'],
      ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
      ['2001:0DB8:0001:0002:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
      ['2001:db8::1', '2001:db8:0:0::/64'],
      ['2001:db8:1::', '2001:db8:1:0::/64'],
      ['::1', '0:0:0:0::/64'],
      ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ];
    for (const [ip, bucket] of cases) assert.equal(addressBucket(ip), bucket, ip);
    assert.notEqual(addressBucket('2001:db8:1:2::1'), addressBucket('2001:db8:1:3::1'));
  });
});
