import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRefreshToken } from '../src/refresh-token.js';
import { CONFIG, codeOf, DAY, harness, MINUTE, SECOND } from './helpers.js';

const ctx = { ip: '127.0.0.1', userAgent: 'test' };

describe('rule 1: every refresh consumes the token and issues a successor', () => {
  it('rotates to a new refresh token and a new access token of the same session', async () => {
    const { sessions } = await harness();
    const first = await sessions.start('u1', ctx);
    const second = await sessions.refresh(first.refreshToken, ctx);
    assert.notEqual(second.refreshToken, first.refreshToken);
    assert.notEqual(second.accessToken, first.accessToken);
    assert.equal(second.sessionId, first.sessionId);
    const third = await sessions.refresh(second.refreshToken, ctx);
    assert.equal(parseRefreshToken(third.refreshToken)?.generation, 2);
    const { claims } = await sessions.authenticate(third.accessToken);
    assert.equal(claims.sid, first.sessionId);
    assert.equal(claims.sub, 'u1');
  });

  it('reports lifetimes in seconds: 900 for access, 14 days for refresh', async () => {
    const { sessions } = await harness();
    const t = await sessions.start('u1', ctx);
    assert.equal(t.expiresIn, 900);
    assert.equal(t.refreshTokenExpiresIn, 14 * 86_400);
  });

  it('refuses forged, truncated, case-changed and foreign-session tokens without side effects', async () => {
    const { sessions, store } = await harness();
    const a = await sessions.start('u1', ctx);
    const b = await sessions.start('u2', ctx);
    const [sidA, , secretA] = a.refreshToken.split('.') as [string, string, string];
    const [, , secretB] = b.refreshToken.split('.') as [string, string, string];
    const bad = [
      a.refreshToken.slice(0, -1),
      `${a.refreshToken}A`,
      a.refreshToken.toUpperCase(),
      `${sidA}.0.${secretB}`,
      `${sidA}.1.${secretA}`,
      `${sidA}.00.${secretA}`,
      '',
      'x',
      a.accessToken,
      42,
      null,
    ];
    for (const token of bad)
      assert.equal(await codeOf(sessions.refresh(token, ctx)), 'invalid_grant', String(token));
    const session = await store.getSession(a.sessionId);
    assert.equal(session?.revokedAt, null);
    assert.equal(session?.generation, 0);
    assert.ok(await sessions.refresh(a.refreshToken, ctx));
  });
});

describe('rule 2: the grace window', () => {
  it('returns the same successor to a retry within the window', async () => {
    const { sessions, clock } = await harness();
    const t0 = await sessions.start('u1', ctx);
    const t1 = await sessions.refresh(t0.refreshToken, ctx);
    clock.advance(9 * SECOND);
    const again = await sessions.refresh(t0.refreshToken, ctx);
    assert.equal(again.refreshToken, t1.refreshToken);
    assert.notEqual(again.accessToken, t1.accessToken);
    // The shared successor keeps working and the session was not forked.
    const t2 = await sessions.refresh(t1.refreshToken, ctx);
    assert.equal(parseRefreshToken(t2.refreshToken)?.generation, 2);
  });

  it('gives all 50 concurrent refreshes of one token the same successor', async () => {
    const { sessions, store } = await harness();
    const t0 = await sessions.start('u1', ctx);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => sessions.refresh(t0.refreshToken, ctx)),
    );
    assert.equal(new Set(results.map((r) => r.refreshToken)).size, 1);
    assert.equal((await store.getSession(t0.sessionId))?.generation, 1);
  });

  it('treats the consumed token as reuse once its successor was used, even within the window', async () => {
    const { sessions, clock } = await harness();
    const t0 = await sessions.start('u1', ctx);
    const t1 = await sessions.refresh(t0.refreshToken, ctx);
    const t2 = await sessions.refresh(t1.refreshToken, ctx);
    clock.advance(SECOND);
    assert.equal(await codeOf(sessions.refresh(t0.refreshToken, ctx)), 'invalid_grant');
    assert.equal(await codeOf(sessions.refresh(t2.refreshToken, ctx)), 'invalid_grant');
  });

  it('is off when the grace is 0: a second use at once is reuse', async () => {
    const { sessions } = await harness({ reuseGrace: 0 });
    const t0 = await sessions.start('u1', ctx);
    const t1 = await sessions.refresh(t0.refreshToken, ctx);
    assert.equal(await codeOf(sessions.refresh(t0.refreshToken, ctx)), 'invalid_grant');
    assert.equal(await codeOf(sessions.refresh(t1.refreshToken, ctx)), 'invalid_grant');
  });

  it('never forks under 50 concurrent refreshes with grace off: one wins, the session dies', async () => {
    const { sessions, store } = await harness({ reuseGrace: 0 });
    const t0 = await sessions.start('u1', ctx);
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => sessions.refresh(t0.refreshToken, ctx)),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.notEqual((await store.getSession(t0.sessionId))?.revokedAt, null);
  });
});

describe('rule 3: reuse revokes the whole session', () => {
  it('revokes on a replay after the window: newest refresh token and access tokens die', async () => {
    const { sessions, clock, events } = await harness();
    const t0 = await sessions.start('u1', ctx);
    const t1 = await sessions.refresh(t0.refreshToken, ctx);
    clock.advance(10 * SECOND);
    assert.equal(await codeOf(sessions.refresh(t0.refreshToken, ctx)), 'invalid_grant');
    assert.equal(await codeOf(sessions.refresh(t1.refreshToken, ctx)), 'invalid_grant');
    assert.equal(await codeOf(sessions.authenticate(t1.accessToken)), 'invalid_token');
    assert.equal(await codeOf(sessions.authenticate(t0.accessToken)), 'invalid_token');
    const reuse = events.find((e) => e.type === 'reuse_detected');
    assert.equal(reuse?.sessionId, t0.sessionId);
    assert.equal(reuse?.detail?.sinceRotationMs, 10 * SECOND);
    assert.ok(events.some((e) => e.type === 'session_revoked' && e.detail?.reason === 'reuse_detected'));
  });

  it('detects reuse of a token several generations old', async () => {
    const { sessions } = await harness();
    const t0 = await sessions.start('u1', ctx);
    let t = t0;
    for (let i = 0; i < 5; i++) t = await sessions.refresh(t.refreshToken, ctx);
    assert.equal(await codeOf(sessions.refresh(t0.refreshToken, ctx)), 'invalid_grant');
    assert.equal(await codeOf(sessions.refresh(t.refreshToken, ctx)), 'invalid_grant');
  });

  it('leaves other sessions of the same user alone', async () => {
    const { sessions, clock } = await harness();
    const a = await sessions.start('u1', ctx);
    const b = await sessions.start('u1', ctx);
    await sessions.refresh(a.refreshToken, ctx);
    clock.advance(11 * SECOND);
    await codeOf(sessions.refresh(a.refreshToken, ctx));
    assert.ok(await sessions.refresh(b.refreshToken, ctx));
  });
});

describe('rule 4: expiry', () => {
  it('kills a refresh token 14 days after issue', async () => {
    const { sessions, clock } = await harness();
    const t0 = await sessions.start('u1', ctx);
    clock.advance(14 * DAY - 1);
    const t1 = await sessions.refresh(t0.refreshToken, ctx);
    clock.advance(14 * DAY);
    assert.equal(await codeOf(sessions.refresh(t1.refreshToken, ctx)), 'invalid_grant');
  });

  it('kills the session 30 days after login whatever the rotations', async () => {
    const { sessions, clock } = await harness();
    let t = await sessions.start('u1', ctx);
    for (let day = 0; day < 29; day++) {
      clock.advance(DAY);
      t = await sessions.refresh(t.refreshToken, ctx);
    }
    assert.ok(t.refreshTokenExpiresIn <= DAY / 1000);
    assert.ok(t.expiresIn <= DAY / 1000);
    clock.advance(DAY);
    assert.equal(await codeOf(sessions.refresh(t.refreshToken, ctx)), 'invalid_grant');
    assert.equal(await codeOf(sessions.authenticate(t.accessToken)), 'invalid_token');
  });

  it('never issues an access token that outlives its session', async () => {
    const { sessions, clock } = await harness({ sessionMaxAge: 20 * MINUTE });
    const t = await sessions.start('u1', ctx);
    clock.advance(10 * MINUTE);
    const n = await sessions.refresh(t.refreshToken, ctx);
    assert.equal(n.expiresIn, 600);
    assert.equal(n.refreshTokenExpiresIn, 600);
  });

  it('refuses an expired access token', async () => {
    const { sessions, clock } = await harness();
    const t = await sessions.start('u1', ctx);
    clock.advance(15 * MINUTE);
    assert.equal(await codeOf(sessions.authenticate(t.accessToken)), 'invalid_token');
  });
});

describe('rule 5: revocation', () => {
  it('revokes by refresh token, then refuses both tokens; a second revoke is invalid_grant', async () => {
    const { sessions } = await harness();
    const t = await sessions.start('u1', ctx);
    assert.equal(await sessions.revokeByRefreshToken(t.refreshToken, 'logout'), t.sessionId);
    assert.equal(await codeOf(sessions.refresh(t.refreshToken, ctx)), 'invalid_grant');
    assert.equal(await codeOf(sessions.authenticate(t.accessToken)), 'invalid_token');
    assert.equal(await codeOf(sessions.revokeByRefreshToken(t.refreshToken, 'logout')), 'invalid_grant');
  });

  it('revokes every session of a user and lists none', async () => {
    const { sessions } = await harness();
    const a = await sessions.start('u1', ctx);
    const b = await sessions.start('u1', ctx);
    const other = await sessions.start('u2', ctx);
    assert.equal((await sessions.list('u1')).length, 2);
    assert.deepEqual(
      (await sessions.revokeUser('u1', 'logout_all')).sort(),
      [a.sessionId, b.sessionId].sort(),
    );
    assert.deepEqual(await sessions.list('u1'), []);
    assert.equal(await codeOf(sessions.authenticate(b.accessToken)), 'invalid_token');
    assert.ok(await sessions.authenticate(other.accessToken));
  });

  it('lists sessions with their idle-or-absolute end', async () => {
    const { sessions, clock } = await harness();
    const t = await sessions.start('u1', { ip: '10.1.2.3', userAgent: 'Firefox' });
    clock.advance(MINUTE);
    await sessions.refresh(t.refreshToken, { ip: '10.1.2.4', userAgent: 'Firefox 2' });
    const [view] = await sessions.list('u1');
    assert.equal(view?.id, t.sessionId);
    assert.equal(view?.lastUsedAt, clock.now());
    assert.equal(view?.expiresAt, clock.now() + CONFIG.refreshIdleTtl);
    assert.equal(view?.ip, '10.1.2.4');
    assert.equal(view?.userAgent, 'Firefox 2');
  });
});
