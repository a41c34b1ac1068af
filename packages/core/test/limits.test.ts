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
  it("an attacker's own sign-ins from endless addresses never push the owner's known address out", async () => {
    const clock = createManualClock();
    const t = createLoginThrottle({ clock, maxEntries: 100, accountFailuresPerWindow: 5 });
    await t.admit('owner', 'home');
    await t.succeeded('owner', 'home');
    // The attacker's own account, signed in to from thousands of addresses (bounded per account),
    // and many accounts of theirs (bounded overall: new entries wait, old ones stay).
    for (let i = 0; i < 5000; i++) {
      const account = `mine-${i % 200}`;
      await t.admit(account, `addr-${i}`);
      await t.succeeded(account, `addr-${i}`);
    }
    for (let bot = 0; bot < 5; bot++) {
      await t.admit('owner', `bot-${bot}`);
      await t.failed('owner', `bot-${bot}`);
    }
    assert.ok((await t.admit('owner', 'bot-5')) > 0, 'the account is closed to new addresses');
    assert.equal(await t.admit('owner', 'home'), 0, 'the owner is still known at home');
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
