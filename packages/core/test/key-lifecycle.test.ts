import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signAccessToken, verifyAccessToken } from '../src/access-token.js';
import { createKeySet, generateSigningKey, keyStates, loadSigningKey } from '../src/keys.js';
import { createManualClock } from '../src/testing/manual-clock.js';
import { MINUTE } from './helpers.js';

const policy = { alg: 'EdDSA' as const, accessTokenTtl: 15 * MINUTE, leeway: MINUTE };
const claims = (now: number) => ({
  iss: 'i',
  sub: 's',
  aud: 'a',
  client_id: 'c',
  sid: 'x',
  jti: 'j',
  iat: Math.floor(now / 1000),
  exp: Math.floor(now / 1000) + 900,
});

describe('key lifecycle', () => {
  it('publishes a rotated key before it signs, then keeps the old key until its tokens expired', async () => {
    const clock = createManualClock(0);
    const old = loadSigningKey(await generateSigningKey('EdDSA', 0));
    const keys = createKeySet([old], policy, clock);
    assert.equal(keys.signer().kid, old.kid);

    clock.set(60 * MINUTE);
    const oldToken = signAccessToken(keys.signer(), claims(clock.now()));
    // keys rotate: the new key activates 10 minutes from now.
    const next = loadSigningKey(await generateSigningKey('EdDSA', clock.now(), clock.now() + 10 * MINUTE));
    keys.replace([old, next]);
    assert.deepEqual(
      keys.jwks().keys.map((k) => k.kid),
      [old.kid, next.kid],
      'pre-published',
    );
    assert.equal(keys.signer().kid, old.kid, 'not signing yet');

    clock.set(70 * MINUTE);
    assert.equal(keys.signer().kid, next.kid, 'signs once active');
    const opts = { keys, issuer: 'i', audience: 'a' };
    // The old key's last token (signed just before the switch) lives 15 minutes; with one
    // minute of leeway the old key stays published until 70 + 16 minutes.
    const lastOld = signAccessToken(old, claims(70 * MINUTE - 1000));
    clock.set(84 * MINUTE);
    assert.ok(verifyAccessToken(lastOld, { ...opts, now: clock.now() }));
    clock.set(86 * MINUTE - 1);
    assert.equal(keys.jwks().keys.length, 2);
    clock.set(86 * MINUTE);
    assert.deepEqual(
      keys.jwks().keys.map((k) => k.kid),
      [next.kid],
      'retired after its tokens expired',
    );
    assert.equal(keys.find(old.kid), undefined);
    assert.throws(() => verifyAccessToken(oldToken, { ...opts, now: clock.now() }), {
      code: 'invalid_token',
    });
  });

  it('names each state', async () => {
    const a = loadSigningKey(await generateSigningKey('EdDSA', 0));
    const b = loadSigningKey(await generateSigningKey('EdDSA', 10, 100));
    const at = (now: number) => keyStates([a, b], now, policy).views.map((v) => v.state);
    assert.deepEqual(at(50), ['active', 'pending']);
    assert.deepEqual(at(100), ['superseded', 'active']);
    assert.deepEqual(at(100 + 16 * MINUTE), ['expired', 'active']);
  });

  it('an operator-retired key stops signing at once and leaves after one token lifetime', async () => {
    const a = loadSigningKey(await generateSigningKey('EdDSA', 0));
    const b = loadSigningKey({ ...(await generateSigningKey('EdDSA', 10)), retiredAt: 1000 });
    const { signer, views } = keyStates([a, b], 2000, policy);
    assert.equal(signer?.kid, a.kid);
    assert.equal(views[1]?.state, 'superseded');
    assert.equal(views[1]?.endedAt, 1000);
    assert.equal(keyStates([a, b], 1000 + 16 * MINUTE, policy).views[1]?.state, 'expired');
  });

  it('switching algorithms: the old key stays published until it is retired, then one token lifetime', async () => {
    const ed = loadSigningKey(await generateSigningKey('EdDSA', 0));
    const es = loadSigningKey(await generateSigningKey('ES256', 10, 100));
    const later = 100 + 60 * MINUTE;
    // Servers still on EdDSA keep signing with it, whatever the ES256 key does.
    assert.equal(keyStates([ed, es], later, policy).signer?.kid, ed.kid);
    // Servers switched to ES256: the EdDSA key's end is unknown (some instance may still use it).
    const esPolicy = { ...policy, alg: 'ES256' as const };
    const switched = keyStates([ed, es], later, esPolicy);
    assert.equal(switched.signer?.kid, es.kid);
    assert.equal(switched.views[0]?.state, 'superseded');
    assert.equal(switched.views[0]?.endedAt, null);
    assert.equal(
      keyStates([ed, es], later * 10, esPolicy).views[0]?.state,
      'superseded',
      'never expires on its own',
    );
    const retired = { ...ed, retiredAt: later };
    assert.equal(keyStates([retired, es], later + 16 * MINUTE - 1, esPolicy).views[0]?.state, 'superseded');
    assert.equal(keyStates([retired, es], later + 16 * MINUTE, esPolicy).views[0]?.state, 'expired');
  });

  it('refuses to replace a key set with one that cannot sign, and keeps serving', async () => {
    const clock = createManualClock(0);
    const a = loadSigningKey(await generateSigningKey('EdDSA', 0));
    const keys = createKeySet([a], policy, clock);
    const pending = loadSigningKey(await generateSigningKey('EdDSA', 0, 100));
    assert.throws(() => keys.replace([]), /no active EdDSA/);
    assert.throws(() => keys.replace([pending]), /no active EdDSA/);
    assert.equal(keys.signer().kid, a.kid);
  });

  it('refuses a key set with no active key of the algorithm', async () => {
    const pending = loadSigningKey(await generateSigningKey('EdDSA', 0, 100));
    assert.throws(() => createKeySet([pending], policy, { now: () => 0 }), /no active EdDSA/);
  });
});
