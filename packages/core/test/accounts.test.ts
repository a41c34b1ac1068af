import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAccounts, normalizeEmail, type PasswordHasher } from '../src/accounts.js';
import type { AuditEvent } from '../src/audit.js';
import { systemRandom } from '../src/runtime.js';
import { createManualClock } from '../src/testing/manual-clock.js';
import { createMemoryStores } from '../src/testing/memory-store.js';
import { codeOf } from './helpers.js';

function countingHasher(): PasswordHasher & { verifies: number } {
  const h = {
    verifies: 0,
    hash: async (pw: string) => `hashed:${pw}`,
    verify: async (hash: string, pw: string) => {
      h.verifies++;
      return hash === `hashed:${pw}`;
    },
  };
  return h;
}

describe('accounts', () => {
  it('finds, disables and deletes accounts for operators, with audit events', async () => {
    const { users } = createMemoryStores();
    const events: AuditEvent[] = [];
    const clock = createManualClock();
    const accounts = createAccounts({
      users,
      hasher: countingHasher(),
      clock,
      random: systemRandom,
      audit: { record: (e) => events.push(e) },
    });
    const u = await accounts.register('ops@example.test', 'long enough pw');
    assert.deepEqual(await accounts.findByEmail(' OPS@example.test'), { ...u, disabledAt: null });
    assert.equal(await accounts.findByEmail('nobody@example.test'), null);
    assert.equal(await codeOf(accounts.findByEmail('not an address')), 'invalid_request');

    assert.equal(await accounts.disable(u.id), true);
    assert.equal(await accounts.disable(u.id), false, 'once');
    assert.equal((await accounts.findByEmail(u.email))?.disabledAt, clock.now());
    assert.equal(await accounts.getUser(u.id), null);
    assert.equal(await codeOf(accounts.authenticate(u.email, 'long enough pw')), 'invalid_credentials');

    assert.equal(await accounts.remove(u.id), true);
    assert.equal(await accounts.remove(u.id), false);
    assert.equal(await accounts.findByEmail(u.email), null);
    assert.deepEqual(
      events.filter((e) => e.type.startsWith('user_')).map((e) => [e.type, e.userId]),
      [
        ['user_registered', u.id],
        ['user_disabled', u.id],
        ['user_deleted', u.id],
      ],
    );
  });

  it('recheckSignIn says whether a sign-in still stands once its session is written', async () => {
    const { users } = createMemoryStores();
    const accounts = createAccounts({
      users,
      hasher: countingHasher(),
      clock: createManualClock(),
      random: systemRandom,
    });
    const u = await accounts.register('a@example.test', 'long enough pw');
    const signIn = () => accounts.authenticate(u.email, 'long enough pw');

    const untouched = await signIn();
    assert.equal(await accounts.recheckSignIn(untouched), null);

    const beforeChange = await signIn();
    await accounts.changePassword(u.id, 'long enough pw', 'another long pw');
    assert.equal(await accounts.recheckSignIn(beforeChange), 'password_changed');
    assert.equal(await accounts.recheckSignIn(await accounts.authenticate(u.email, 'another long pw')), null);

    const beforeDisable = await accounts.authenticate(u.email, 'another long pw');
    await accounts.disable(u.id);
    assert.equal(await accounts.recheckSignIn(beforeDisable), 'user_disabled');
    await accounts.enable(u.id);
    const beforeDelete = await accounts.authenticate(u.email, 'another long pw');
    await accounts.remove(u.id);
    assert.equal(await accounts.recheckSignIn(beforeDelete), 'user_deleted');
    // Only what authenticate returned: a look-alike object proves nothing.
    await assert.rejects(accounts.recheckSignIn({ ...untouched }));
  });

  it('normalises e-mail addresses before uniqueness', async () => {
    const users = createMemoryStores().users;
    const accounts = createAccounts({
      users,
      hasher: countingHasher(),
      clock: createManualClock(),
      random: systemRandom,
    });
    const u = await accounts.register('  Alice@Example.TEST ', 'long enough pw');
    assert.equal(u.email, 'alice@example.test');
    assert.match(u.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(await codeOf(accounts.register('ALICE@example.test', 'long enough pw')), 'email_taken');
    assert.equal((await accounts.authenticate('alice@EXAMPLE.test', 'long enough pw')).id, u.id);
  });

  it('refuses malformed e-mail addresses and passwords outside the policy', async () => {
    for (const bad of [
      '',
      'no-at',
      '@x.test',
      'a@',
      'a b@x.test',
      'a@b@c',
      'a@.x',
      'a@x.',
      `${'a'.repeat(250)}@x.test`,
      'a@1.2.3.4',
      'a@xn--.test',
      5,
    ]) {
      assert.throws(() => normalizeEmail(bad), { code: 'invalid_request' }, String(bad));
    }
    const accounts = createAccounts({
      users: createMemoryStores().users,
      hasher: countingHasher(),
      clock: createManualClock(),
      random: systemRandom,
    });
    assert.equal(await codeOf(accounts.register('a@x.test', 'short')), 'invalid_request');
    assert.equal(await codeOf(accounts.register('a@x.test', 'x'.repeat(257))), 'invalid_request');
    assert.equal(await codeOf(accounts.register('a@x.test', 12345678)), 'invalid_request');
    assert.equal(await codeOf(accounts.register('a@x.test', '\ud800'.repeat(8))), 'invalid_request');
    assert.equal(await codeOf(accounts.register('a@x.test', '\0'.repeat(8))), 'invalid_request');
    assert.equal(await codeOf(accounts.register('a@x.test', 'tab\there ok')), 'invalid_request');
  });

  it('folds compatibility look-alikes into one account', async () => {
    const accounts = createAccounts({
      users: createMemoryStores().users,
      hasher: countingHasher(),
      clock: createManualClock(),
      random: systemRandom,
    });
    await accounts.register('ada@example.com', 'long enough pw');
    assert.equal(await codeOf(accounts.register('\uff41da@example.com', 'long enough pw')), 'email_taken');
    assert.equal(normalizeEmail('Ünïcødé@bücher.example'), 'ünïcødé@bücher.example');
    // An internationalised domain in punycode is the same domain.
    assert.equal(normalizeEmail('Ada@XN--BCHER-KVA.example'), 'ada@bücher.example');
    await accounts.register('x@bücher.example', 'long enough pw');
    assert.equal(await codeOf(accounts.register('x@xn--bcher-kva.example', 'long enough pw')), 'email_taken');
    // Login folds the same way: the full-width spelling signs in to the account.
    assert.equal(
      (await accounts.authenticate('\uff41da@example.com', 'long enough pw')).email,
      'ada@example.com',
    );
  });

  it('fails a login with an address registration would refuse like any other, after one hash', async () => {
    const hasher = countingHasher();
    const users = createMemoryStores().users;
    const accounts = createAccounts({ users, hasher, clock: createManualClock(), random: systemRandom });
    for (const bad of ['a\u0000@b.co', 'no-at-sign', '"quoted"@example.com', 42]) {
      hasher.verifies = 0;
      assert.equal(await codeOf(accounts.authenticate(bad, 'long enough pw')), 'invalid_credentials');
      assert.equal(hasher.verifies, 1, String(bad));
    }
  });

  it('fails unknown e-mail and wrong password alike, each after one hash verification', async () => {
    const hasher = countingHasher();
    const accounts = createAccounts({
      users: createMemoryStores().users,
      hasher,
      clock: createManualClock(),
      random: systemRandom,
    });
    await accounts.register('bob@example.test', 'right password');
    hasher.verifies = 0;
    assert.equal(
      await codeOf(accounts.authenticate('bob@example.test', 'wrong password')),
      'invalid_credentials',
    );
    assert.equal(hasher.verifies, 1);
    assert.equal(
      await codeOf(accounts.authenticate('nobody@example.test', 'wrong password')),
      'invalid_credentials',
    );
    assert.equal(hasher.verifies, 2);
  });
});
