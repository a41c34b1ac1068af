import assert from 'node:assert/strict';
import { randomBytes, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { type AccessTokenClaims, signAccessToken, verifyAccessToken } from '../src/access-token.js';
import { diagnoseAccessToken, diagnoseSession } from '../src/diagnose.js';
import { formatRefreshToken } from '../src/refresh-token.js';
import { makeSession } from '../src/testing/store-contract.js';
import { b64, makeKeySet, NOW, testClaims } from './helpers.js';

// Issued a minute ago, so that `iat` and `exp` differ from the defaults the checks compare with.
const claims = (over: Record<string, unknown> = {}): AccessTokenClaims =>
  testClaims({ iat: NOW / 1000 - 60, exp: NOW / 1000 + 840, ...over });
const rules = { issuer: 'https://baton.test', audience: 'baton', now: NOW };

describe('diagnoseAccessToken', async () => {
  const keys = await makeKeySet('EdDSA');
  const key = keys.signer();
  const foreign = (await makeKeySet('EdDSA')).signer();
  const forge = (header: object, payload: object, signer = key): string => {
    const input = `${b64(header)}.${b64(payload)}`;
    return `${input}.${sign(null, Buffer.from(input), signer.privateKey).toString('base64url')}`;
  };
  const problems = (token: unknown): string[] =>
    diagnoseAccessToken(token, { ...rules, keys }).problems.map((p) => p.problem);

  it('finds nothing wrong with a good token, and shows what it decoded', () => {
    const d = diagnoseAccessToken(signAccessToken(key, claims()), { ...rules, keys });
    assert.deepEqual(d.problems, []);
    assert.equal(d.form, 'jws');
    assert.deepEqual(d.header, { alg: 'EdDSA', typ: 'at+jwt', kid: key.kid });
    assert.deepEqual(d.claims, claims());
    assert.deepEqual(d.key, { kid: key.kid, alg: 'EdDSA' });
  });

  it('gives every reason at once, with the particulars', () => {
    const token = signAccessToken(
      key,
      claims({ aud: 'orders', iss: 'https://evil.test', exp: NOW / 1000 - 180, iat: NOW / 1000 - 1080 }),
    );
    const d = diagnoseAccessToken(token, { ...rules, keys });
    assert.deepEqual(
      d.problems.map((p) => p.problem),
      ['issuer', 'audience', 'expired'],
    );
    assert.equal(d.problems[0]!.detail, 'iss is "https://evil.test"; this server is "https://baton.test"');
    assert.equal(d.problems[1]!.detail, 'aud is "orders"; this server expects "baton"');
    assert.equal(d.problems[2]!.at, NOW - 180_000);
  });

  it('names the instant a token becomes valid', () => {
    const d = diagnoseAccessToken(
      signAccessToken(key, { ...claims(), nbf: NOW / 1000 + 300 } as AccessTokenClaims),
      {
        ...rules,
        keys,
      },
    );
    assert.deepEqual(
      d.problems.map((p) => [p.problem, p.at, p.detail]),
      [['not_yet_valid', NOW + 300_000, 'nbf']],
    );
  });

  it('tells a token issued in the future from one not valid yet, once each', () => {
    const token = signAccessToken(key, {
      ...claims({ iat: NOW / 1000 + 600 }),
      nbf: NOW / 1000 + 300,
    } as AccessTokenClaims);
    assert.deepEqual(
      diagnoseAccessToken(token, { ...rules, keys }).problems.map((p) => [p.problem, p.at, p.detail]),
      [
        ['not_yet_valid', NOW + 600_000, 'iat'],
        ['not_yet_valid', NOW + 300_000, 'nbf'],
      ],
    );
  });

  it('names the claims that are missing or of the wrong type, and a lifetime Baton never issues', () => {
    const detail = (over: Record<string, unknown>) =>
      diagnoseAccessToken(forge({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid }, claims(over)), {
        ...rules,
        keys,
      })
        .problems.filter((p) => p.problem === 'claims')
        .map((p) => p.detail);
    assert.deepEqual(detail({ exp: -1, client_id: 5 }), [
      'exp is -1, not a time in seconds',
      'client_id is 5, not a non-empty string',
    ]);
    assert.deepEqual(detail({ sid: undefined, jti: '' }), [
      'sid is missing; jti is "", not a non-empty string',
    ]);
    assert.deepEqual(detail({ exp: 1e300 }), [
      `exp - iat is ${1e300 - (NOW / 1000 - 60)} s; Baton issues lifetimes from 1 s to 24 h`,
    ]);
  });

  it('calls a token with an empty signature unsigned, not merely malformed', () => {
    const [h, p] = signAccessToken(key, claims()).split('.');
    const d = diagnoseAccessToken(`${h}.${p}.`, { ...rules, keys });
    assert.match(
      d.problems.find((f) => f.problem === 'malformed')?.detail ?? '',
      /^unsigned: the signature part is empty/,
    );
  });

  it('tells an unknown key, a tampered token, a wrong algorithm and a wrong type apart', () => {
    assert.deepEqual(problems(signAccessToken(foreign, claims())), ['unknown_key']);
    const good = signAccessToken(key, claims());
    const [h, , s] = good.split('.');
    assert.deepEqual(problems(`${h}.${b64(claims({ sub: 'admin' }))}.${s}`), ['signature']);
    assert.deepEqual(problems(forge({ alg: 'none', typ: 'at+jwt', kid: key.kid }, claims())), ['algorithm']);
    assert.deepEqual(problems(forge({ alg: 'HS256', typ: 'at+jwt', kid: key.kid }, claims())), ['algorithm']);
    const mismatch = diagnoseAccessToken(forge({ alg: 'RS256', typ: 'at+jwt', kid: key.kid }, claims()), {
      ...rules,
      keys,
    });
    assert.deepEqual(
      mismatch.problems.map((p) => [p.problem, p.detail]),
      [['algorithm', `the header says RS256 but key ${key.kid} is an EdDSA key`]],
    );
    assert.deepEqual(problems(forge({ alg: 'EdDSA', typ: 'JWT', kid: key.kid }, claims())), ['type']);
    assert.deepEqual(problems(forge({ alg: 'EdDSA', typ: 'at+jwt' }, claims())), ['unknown_key']);
    assert.deepEqual(
      problems(forge({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid }, claims({ sid: undefined }))),
      ['claims'],
    );
  });

  it('says when a token is not a JWT at all', () => {
    for (const text of ['', 'hello', 'a.b.c', 'eyJhbGciOiJub25lIn0', '{"alg":"EdDSA"}', 42, null]) {
      const d = diagnoseAccessToken(text, { ...rules, keys });
      assert.equal(d.form, 'unknown', String(text));
      assert.deepEqual(
        d.problems.map((p) => p.problem),
        ['malformed'],
      );
    }
    const refresh = formatRefreshToken({
      sessionId: randomBytes(16).toString('base64url'),
      generation: 3,
      secret: randomBytes(32).toString('base64url'),
    });
    const d = diagnoseAccessToken(refresh, { ...rules, keys });
    assert.equal(d.form, 'refresh_token');
    assert.match(d.problems[0]!.detail!, /refresh token, not a JWT/);
    assert.equal(
      diagnoseAccessToken(`${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`, { ...rules, keys }).form,
      'jwe',
    );
  });

  it('agrees with verifyAccessToken: no problems exactly when it accepts, and its reason is among them', () => {
    const good = signAccessToken(key, claims());
    const [h, p, s] = good.split('.') as [string, string, string];
    const variants = [
      good,
      `${good}=`,
      `${h}.${p}.${s.slice(0, -1)}`,
      `${h}.${b64(claims({ exp: NOW / 1000 }))}.${s}`,
      signAccessToken(key, claims({ exp: NOW / 1000 - 1 })),
      signAccessToken(key, claims({ exp: NOW / 1000 + 1 })),
      signAccessToken(key, claims({ iat: NOW / 1000 + 5 })),
      signAccessToken(key, claims({ aud: ['x', 'baton'] })),
      signAccessToken(key, claims({ aud: ['x'] })),
      signAccessToken(key, claims({ exp: '9999999999' })),
      signAccessToken(key, claims({ jti: '' })),
      signAccessToken(foreign, claims()),
      forge({ alg: 'EdDSA', typ: 'application/at+jwt', kid: key.kid }, claims()),
      forge({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid, crit: ['b64'] }, claims()),
      forge({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid }, claims(), foreign),
      `${h}.${p}`,
      'x'.repeat(5000),
    ];
    for (const token of variants) {
      const found = problems(token);
      let refused: string | null = null;
      try {
        verifyAccessToken(token, { ...rules, keys });
      } catch (error) {
        refused = (error as { problem: string }).problem;
      }
      if (refused === null) assert.deepEqual(found, [], token.slice(0, 80));
      else
        assert.ok(found.includes(refused), `${refused} not in ${found.join(',')} for ${token.slice(0, 80)}`);
    }
  });
});

describe('diagnoseSession', () => {
  const facts = { now: NOW, refreshIdleTtl: 14 * 86_400_000, accessTokenRevoked: false };
  const ids = { sub: 'u1', sid: 's1', jti: 'j1' };

  it('explains why the session no longer vouches for the token', () => {
    const live = makeSession({ id: 's1', userId: 'u1', createdAt: NOW - 1000, rotatedAt: NOW - 1000 });
    assert.deepEqual(diagnoseSession(ids, { ...facts, session: live }), []);
    assert.match(diagnoseSession(ids, { ...facts, session: null })[0]!.detail!, /not in the store/);
    assert.match(
      diagnoseSession(ids, { ...facts, session: { ...live, userId: 'u2' } })[0]!.detail!,
      /belongs to another user/,
    );
    const [revoked] = diagnoseSession(ids, {
      ...facts,
      session: { ...live, revokedAt: NOW - 500, revokeReason: 'admin' },
    });
    assert.deepEqual([revoked!.detail, revoked!.at], ['session s1 was revoked (admin)', NOW - 500]);
    const idle = { ...live, rotatedAt: NOW - 15 * 86_400_000 };
    assert.equal(diagnoseSession(ids, { ...facts, session: idle })[0]!.at, NOW - 86_400_000);
    const both = diagnoseSession(ids, { ...facts, session: live, accessTokenRevoked: true });
    assert.deepEqual(
      both.map((f) => f.description),
      ['The access token was revoked.'],
    );
  });
});
