import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { SessionStore, UserStore } from '../store.js';
import type { SessionRecord, UserRecord } from '../types.js';

export interface StoreUnderTest {
  sessions: SessionStore;
  users: UserStore;
  close?: () => Promise<void> | void;
}

const T0 = Date.UTC(2026, 0, 1);
const id = (): string => randomBytes(16).toString('base64url');

export function makeSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: id(),
    userId: `user-${id()}`,
    clientId: 'baton',
    createdAt: T0,
    expiresAt: T0 + 30 * 86_400_000,
    generation: 0,
    rotatedAt: T0,
    lastUsedAt: T0,
    salt: randomBytes(32),
    revokedAt: null,
    revokeReason: null,
    userAgent: 'test-agent',
    ip: '127.0.0.1',
    ...overrides,
  };
}

function makeUser(overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    id: `user-${id()}`,
    email: `${id().toLowerCase()}@example.test`,
    passwordHash: '$argon2id$fake',
    createdAt: T0,
    disabledAt: null,
    ...overrides,
  };
}

/**
 * The contract every SessionStore and UserStore must meet, run against each backend. The
 * concurrency cases matter most: they are what keeps a session from forking.
 */
export function runStoreContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`store contract: ${name}`, () => {
    let store: StoreUnderTest;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store?.close?.();
    });

    it('round-trips a session, salt and nulls included', async () => {
      const s = makeSession({ userAgent: null, ip: null });
      await store.sessions.createSession(s);
      const got = await store.sessions.getSession(s.id);
      assert.ok(got);
      assert.deepEqual({ ...got, salt: Buffer.from(got.salt) }, { ...s, salt: Buffer.from(s.salt) });
      assert.equal(await store.sessions.getSession(id()), null);
    });

    it('rotates only from the live generation', async () => {
      const s = makeSession();
      await store.sessions.createSession(s);
      assert.equal(await store.sessions.rotateRefreshToken(s.id, 1, T0 + 5, {}), false);
      assert.equal(
        await store.sessions.rotateRefreshToken(s.id, 0, T0 + 10, { ip: '10.0.0.9', userAgent: 'ua2' }),
        true,
      );
      assert.equal(await store.sessions.rotateRefreshToken(s.id, 0, T0 + 11, {}), false);
      const got = await store.sessions.getSession(s.id);
      assert.equal(got?.generation, 1);
      assert.equal(got?.rotatedAt, T0 + 10);
      assert.equal(got?.lastUsedAt, T0 + 10);
      assert.equal(got?.ip, '10.0.0.9');
      assert.equal(got?.userAgent, 'ua2');
      assert.equal(got?.createdAt, T0);
    });

    it('rotates in one step only while current, unrevoked and within both expiries', async () => {
      const s = makeSession({ expiresAt: T0 + 10_000, rotatedAt: T0 });
      await store.sessions.createSession(s);
      const bounds = { expiresAfter: T0 + 500, rotatedAfter: T0 - 1 };
      assert.equal(
        await store.sessions.rotateIfCurrent(s.id, 1, T0 + 1, {}, bounds),
        null,
        'wrong generation',
      );
      assert.equal(
        await store.sessions.rotateIfCurrent(s.id, 0, T0 + 1, {}, { ...bounds, expiresAfter: T0 + 10_000 }),
        null,
      );
      assert.equal(
        await store.sessions.rotateIfCurrent(s.id, 0, T0 + 1, {}, { ...bounds, rotatedAfter: T0 }),
        null,
      );
      assert.equal((await store.sessions.getSession(s.id))?.generation, 0, 'refusals change nothing');
      const rotated = await store.sessions.rotateIfCurrent(s.id, 0, T0 + 2, { ip: '10.9.9.9' }, bounds);
      assert.equal(rotated?.generation, 1);
      assert.equal(rotated?.rotatedAt, T0 + 2);
      assert.equal(rotated?.ip, '10.9.9.9');
      assert.deepEqual(Buffer.from(rotated!.salt), Buffer.from(s.salt));
      const results = await Promise.all(
        Array.from({ length: 20 }, () => store.sessions.rotateIfCurrent(s.id, 1, T0 + 3, {}, bounds)),
      );
      assert.equal(results.filter(Boolean).length, 1, 'exactly one concurrent winner');
      await store.sessions.revokeSession(s.id, 'logout', T0 + 4);
      assert.equal(await store.sessions.rotateIfCurrent(s.id, 2, T0 + 5, {}, bounds), null, 'revoked');
    });

    it('lets exactly one of 50 concurrent rotations of one generation win', async () => {
      const s = makeSession();
      await store.sessions.createSession(s);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.sessions.rotateRefreshToken(s.id, 0, T0 + i, {})),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await store.sessions.getSession(s.id))?.generation, 1);
    });

    it('never rotates a revoked session', async () => {
      const s = makeSession();
      await store.sessions.createSession(s);
      assert.equal(await store.sessions.revokeSession(s.id, 'logout', T0 + 1), true);
      assert.equal(await store.sessions.rotateRefreshToken(s.id, 0, T0 + 2, {}), false);
      assert.equal((await store.sessions.getSession(s.id))?.generation, 0);
    });

    it('revokes idempotently and keeps the first reason', async () => {
      const s = makeSession();
      await store.sessions.createSession(s);
      const results = await Promise.all([
        store.sessions.revokeSession(s.id, 'reuse_detected', T0 + 1),
        store.sessions.revokeSession(s.id, 'logout', T0 + 2),
      ]);
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await store.sessions.revokeSession(s.id, 'logout', T0 + 3), false);
      assert.equal(await store.sessions.revokeSession(id(), 'logout', T0 + 3), false);
      const got = await store.sessions.getSession(s.id);
      assert.ok(got?.revokedAt === T0 + 1 || got?.revokedAt === T0 + 2);
      assert.ok(got?.revokeReason === 'reuse_detected' || got?.revokeReason === 'logout');
    });

    it("revokes all of one user's sessions and nobody else's", async () => {
      const userId = `user-${id()}`;
      const mine = [makeSession({ userId }), makeSession({ userId }), makeSession({ userId })];
      const other = makeSession();
      for (const s of [...mine, other]) await store.sessions.createSession(s);
      await store.sessions.revokeSession(mine[0]!.id, 'logout', T0 + 1);
      const revoked = await store.sessions.revokeUserSessions(userId, 'logout_all', T0 + 2);
      assert.deepEqual(revoked.sort(), [mine[1]!.id, mine[2]!.id].sort());
      assert.deepEqual(await store.sessions.revokeUserSessions(userId, 'logout_all', T0 + 3), []);
      assert.equal((await store.sessions.getSession(other.id))?.revokedAt, null);
      assert.equal((await store.sessions.getSession(mine[0]!.id))?.revokeReason, 'logout');
      assert.equal((await store.sessions.getSession(mine[1]!.id))?.revokeReason, 'logout_all');
    });

    it('lists unrevoked, unexpired sessions of the user, newest first', async () => {
      const userId = `user-${id()}`;
      const older = makeSession({ userId, createdAt: T0 });
      const newer = makeSession({ userId, createdAt: T0 + 1000 });
      const revoked = makeSession({ userId, createdAt: T0 + 2000 });
      const expired = makeSession({ userId, createdAt: T0 - 100, expiresAt: T0 + 500 });
      for (const s of [older, newer, revoked, expired, makeSession()]) await store.sessions.createSession(s);
      await store.sessions.revokeSession(revoked.id, 'logout', T0 + 3000);
      const listed = await store.sessions.listSessions(userId, T0 + 600);
      assert.deepEqual(
        listed.map((s) => s.id),
        [newer.id, older.id],
      );
    });

    it('denies single access tokens idempotently', async () => {
      const jti = id();
      assert.equal(await store.sessions.isAccessTokenRevoked(jti), false);
      await store.sessions.revokeAccessToken(jti, T0 + 1000);
      await store.sessions.revokeAccessToken(jti, T0 + 1000);
      assert.equal(await store.sessions.isAccessTokenRevoked(jti), true);
      assert.equal(await store.sessions.isAccessTokenRevoked(id()), false);
    });

    it('lists recent revocations for catching up a deny-set', async () => {
      const a = makeSession();
      const b = makeSession();
      const old = makeSession();
      for (const s of [a, b, old]) await store.sessions.createSession(s);
      await store.sessions.revokeSession(old.id, 'logout', T0 - 60_000);
      await store.sessions.revokeSession(a.id, 'logout', T0 + 10);
      const jti = id();
      await store.sessions.revokeAccessToken(jti, T0 + 900_000);
      const events = await store.sessions.listRecentRevocations(T0, T0 + 20);
      assert.ok(events.some((e) => e.kind === 'session' && e.id === a.id && e.at === T0 + 10));
      assert.ok(!events.some((e) => e.kind === 'session' && (e.id === b.id || e.id === old.id)));
      assert.ok(events.some((e) => e.kind === 'access_token' && e.jti === jti && e.until === T0 + 900_000));
      const later = await store.sessions.listRecentRevocations(T0, T0 + 900_000);
      assert.ok(
        !later.some((e) => e.kind === 'access_token' && e.jti === jti),
        'expired denials are not listed',
      );
    });

    it('prunes in batches, keeps what still matters, and stays bounded under churn', async () => {
      const DAY = 86_400_000;
      const userId = `user-${id()}`;
      const live = makeSession({ userId, createdAt: T0, expiresAt: T0 + 30 * DAY });
      const recentRevoked = makeSession({ userId });
      await store.sessions.createSession(live);
      await store.sessions.createSession(recentRevoked);
      await store.sessions.revokeSession(recentRevoked.id, 'logout', T0 + 10 * DAY - 1000);
      // Churn: every "day" 20 sessions start (30-day max age), 10 are revoked; prune daily.
      let day = 0;
      const sizes: number[] = [];
      for (; day < 60; day++) {
        const now = T0 + day * DAY;
        for (let i = 0; i < 20; i++) {
          const s = makeSession({ userId: `churn-${id()}`, createdAt: now, expiresAt: now + 30 * DAY });
          await store.sessions.createSession(s);
          if (i % 2 === 0) await store.sessions.revokeSession(s.id, 'logout', now);
        }
        let deleted: number;
        do deleted = await store.sessions.deleteExpired(now, now - DAY, 7);
        while (deleted === 7);
        if (day === 10) {
          assert.ok(await store.sessions.getSession(live.id), 'a live session is kept');
          assert.ok(await store.sessions.getSession(recentRevoked.id), 'a recent revocation is kept');
        }
        if (day >= 40) sizes.push((await store.sessions.stats()).sessions);
      }
      // The live session expired at day 30 and is gone; the revoked one is long gone.
      assert.equal(await store.sessions.getSession(live.id), null);
      assert.equal(await store.sessions.getSession(recentRevoked.id), null);
      // At steady state: 30 days of unrevoked sessions (10 a day) plus at most two days of
      // revoked ones, whatever the number of days the churn runs. Other tests' rows are few.
      const churnCeiling = 30 * 10 + 2 * 10 + 200;
      assert.ok(Math.max(...sizes) <= churnCeiling, `rows held: ${sizes.join(',')}`);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 20, `not growing: ${sizes.join(',')}`);
    });

    it('creates users with unique e-mail addresses', async () => {
      const u = makeUser();
      assert.equal(await store.users.createUser(u), true);
      assert.equal(await store.users.createUser(makeUser({ email: u.email })), false);
      assert.deepEqual(await store.users.getUserByEmail(u.email), u);
      assert.deepEqual(await store.users.getUserById(u.id), u);
      assert.equal(await store.users.getUserByEmail('nobody@example.test'), null);
      assert.equal(await store.users.getUserById('nobody'), null);
    });

    it('replaces a password hash only from the expected one: one of two racing changes wins', async () => {
      const u = makeUser();
      await store.users.createUser(u);
      const results = await Promise.all(
        ['hash-a', 'hash-b'].map((h) => store.users.setPasswordHash(u.id, h, u.passwordHash)),
      );
      assert.deepEqual(results.filter(Boolean).length, 1);
      const now = (await store.users.getUserById(u.id))!.passwordHash;
      assert.ok(now === 'hash-a' || now === 'hash-b');
      assert.equal(await store.users.setPasswordHash(u.id, 'hash-c', u.passwordHash), false, 'stale');
      assert.equal(await store.users.setPasswordHash('nobody', 'hash-c', now), false, 'unknown user');
      assert.equal(await store.users.setPasswordHash(u.id, 'hash-c', now), true);
    });

    it('disables a user once, keeping the first time, and leaves others alone', async () => {
      const u = makeUser();
      const other = makeUser();
      await store.users.createUser(u);
      await store.users.createUser(other);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.users.disableUser(u.id, T0 + 100 + i)),
      );
      assert.equal(results.filter(Boolean).length, 1, 'exactly one call disables');
      const got = await store.users.getUserById(u.id);
      assert.ok(got?.disabledAt !== null && got!.disabledAt >= T0 + 100 && got!.disabledAt < T0 + 110);
      assert.equal(await store.users.disableUser(u.id, T0 + 999), false);
      assert.equal((await store.users.getUserById(u.id))?.disabledAt, got!.disabledAt);
      assert.equal((await store.users.getUserByEmail(u.email))?.disabledAt, got!.disabledAt);
      assert.equal(await store.users.disableUser(`user-${id()}`, T0), false, 'unknown user');
      assert.equal((await store.users.getUserById(other.id))?.disabledAt, null);
    });

    it('enables a disabled user once; an enabled or unknown user is left alone', async () => {
      const u = makeUser();
      await store.users.createUser(u);
      assert.equal(await store.users.enableUser(u.id), false, 'not disabled');
      await store.users.disableUser(u.id, T0 + 100);
      const results = await Promise.all(Array.from({ length: 5 }, () => store.users.enableUser(u.id)));
      assert.equal(results.filter(Boolean).length, 1, 'exactly one call enables');
      assert.equal((await store.users.getUserById(u.id))?.disabledAt, null);
      assert.equal(await store.users.enableUser(`user-${id()}`), false, 'unknown user');
    });

    it('deletes a user: the row goes, the address is free, their sessions end anonymised', async () => {
      const u = makeUser();
      const other = makeUser();
      await store.users.createUser(u);
      await store.users.createUser(other);
      const live = makeSession({ userId: u.id });
      const loggedOut = makeSession({ userId: u.id });
      const theirs = makeSession({ userId: other.id });
      for (const s of [live, loggedOut, theirs]) await store.sessions.createSession(s);
      await store.sessions.revokeSession(loggedOut.id, 'logout', T0 + 1);

      assert.equal(await store.users.deleteUser(u.id, T0 + 50), true);
      assert.equal(await store.users.getUserById(u.id), null);
      assert.equal(await store.users.getUserByEmail(u.email), null);
      assert.deepEqual(await store.sessions.listSessions(u.id, T0 + 60), []);
      const ended = await store.sessions.getSession(live.id);
      assert.equal(ended?.revokedAt, T0 + 50);
      assert.equal(ended?.revokeReason, 'user_deleted');
      assert.equal(ended?.ip, null);
      assert.equal(ended?.userAgent, null);
      const earlier = await store.sessions.getSession(loggedOut.id);
      assert.equal(earlier?.revokedAt, T0 + 1, 'an earlier revocation is kept');
      assert.equal(earlier?.revokeReason, 'logout');
      assert.equal(earlier?.ip, null);
      assert.equal(await store.sessions.rotateRefreshToken(live.id, 0, T0 + 70, {}), false);
      // Instances catching up their deny-set still learn of the revocation.
      const events = await store.sessions.listRecentRevocations(T0 + 50, T0 + 60);
      assert.ok(events.some((e) => e.kind === 'session' && e.id === live.id));

      const survivor = await store.sessions.getSession(theirs.id);
      assert.equal(survivor?.revokedAt, null);
      assert.equal(survivor?.ip, '127.0.0.1');
      assert.ok(await store.users.getUserById(other.id));
      assert.equal(await store.users.deleteUser(u.id, T0 + 80), false, 'already gone');
      assert.equal(await store.users.createUser(makeUser({ email: u.email })), true, 'address reusable');
    });

    it('lets exactly one of concurrent registrations of one e-mail win', async () => {
      const email = `${id().toLowerCase()}@example.test`;
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.users.createUser(makeUser({ email }))),
      );
      assert.equal(results.filter(Boolean).length, 1);
    });
  });
}
