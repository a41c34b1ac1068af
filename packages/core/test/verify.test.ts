// The resource-server verifier against the attack cases of RFC 8725, with a local JWKS.
import assert from 'node:assert/strict';
import { createHmac, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { signAccessToken } from '../src/access-token.js';
import { createKeySet, generateSigningKey, loadSigningKey, type SigningAlgorithm } from '../src/keys.js';
import { createManualClock } from '../src/testing/manual-clock.js';
import { createAccessTokenVerifier } from '../src/verify/index.js';
import { b64, NOW, testClaims } from './helpers.js';

const claims = (over: Record<string, unknown> = {}) => testClaims({ aud: 'orders', ...over }) as never;

async function setup(alg: SigningAlgorithm = 'EdDSA') {
  const key = loadSigningKey(await generateSigningKey(alg, 0));
  const keys = createKeySet([key], { alg, accessTokenTtl: 900_000 });
  const clock = createManualClock(NOW);
  const verifier = createAccessTokenVerifier({
    issuer: 'https://baton.test',
    audience: 'orders',
    jwks: keys.jwks() as never,
    clock,
  });
  return { key, verifier, clock };
}

async function problem(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'invalid_token');
    return (e as { problem: string }).problem;
  }
}

describe('createAccessTokenVerifier', () => {
  for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
    it(`${alg}: accepts a genuine token and returns typed claims`, async () => {
      const { key, verifier } = await setup(alg);
      const c = await verifier.verify(signAccessToken(key, claims()));
      assert.equal(c.sid, 's1');
      assert.equal(c.client_id, 'baton');
    });
  }

  it('refuses every RFC 8725 attack case with a typed problem', async () => {
    const { key, verifier } = await setup();
    const hdr = { alg: 'EdDSA', typ: 'at+jwt', kid: key.kid };
    const forge = (header: object, payload: object | string): string => {
      const input = `${b64(header)}.${b64(payload)}`;
      return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
    };
    const good = signAccessToken(key, claims());
    const [h, p, s] = good.split('.') as [string, string, string];
    const spki = key.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const der = key.publicKey.export({ format: 'der', type: 'spki' });
    const jwkText = JSON.stringify(key.publicJwk);
    const hs = (secret: string | Buffer) => {
      const input = `${b64({ ...hdr, alg: 'HS256' })}.${p}`;
      return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    };
    const cases: Record<string, [unknown, string]> = {
      'alg none': [`${b64({ ...hdr, alg: 'none' })}.${p}.`, 'malformed'],
      'alg None signed': [forge({ ...hdr, alg: 'None' }, claims()), 'algorithm'],
      'alg NONE': [`${b64({ ...hdr, alg: 'NONE' })}.${p}.${s}`, 'algorithm'],
      'HS256 with the PEM public key': [hs(spki), 'algorithm'],
      'HS256 with the DER public key': [hs(der), 'algorithm'],
      'HS256 with the JWK text': [hs(jwkText), 'algorithm'],
      'unknown kid': [forge({ ...hdr, kid: 'nope' }, claims()), 'unknown_key'],
      'kid path trick': [forge({ ...hdr, kid: '../../../../dev/null' }, claims()), 'unknown_key'],
      'kid SQL trick': [forge({ ...hdr, kid: "' OR 1=1 --" }, claims()), 'unknown_key'],
      'jku header to another key set': [
        forge({ ...hdr, kid: 'x', jku: 'https://evil.test/jwks' }, claims()),
        'unknown_key',
      ],
      'x5u header': [forge({ ...hdr, kid: 'x', x5u: 'https://evil.test/cert' }, claims()), 'unknown_key'],
      'embedded jwk': [forge({ ...hdr, kid: 'x', jwk: key.publicJwk }, claims()), 'unknown_key'],
      crit: [forge({ ...hdr, crit: ['exp'] }, claims()), 'malformed'],
      'b64 false': [forge({ ...hdr, b64: false, crit: ['b64'] }, claims()), 'malformed'],
      'refresh-shaped typ (JWT)': [forge({ ...hdr, typ: 'JWT' }, claims()), 'type'],
      'ID-token shape (no typ)': [forge({ alg: 'EdDSA', kid: key.kid }, claims({ nonce: 'n' })), 'type'],
      expired: [forge(hdr, claims({ exp: NOW / 1000 - 31 })), 'expired'],
      'nbf in the future': [forge(hdr, claims({ nbf: NOW / 1000 + 120 })), 'not_yet_valid'],
      'iat in the future': [forge(hdr, claims({ iat: NOW / 1000 + 120 })), 'not_yet_valid'],
      'wrong iss': [forge(hdr, claims({ iss: 'https://evil.test' })), 'issuer'],
      'wrong aud': [forge(hdr, claims({ aud: 'billing' })), 'audience'],
      'signature stripped': [`${h}.${p}.`, 'malformed'],
      'signature of another payload': [`${h}.${b64(claims({ sub: 'admin' }))}.${s}`, 'signature'],
      padding: [`${good}==`, 'malformed'],
      'inner whitespace': [`${h}. ${p}.${s}`, 'malformed'],
      'leading whitespace': [` ${good}`, 'malformed'],
      'JSON serialization': [JSON.stringify({ protected: h, payload: p, signature: s }), 'malformed'],
      'exp 1e400': [
        forge(
          hdr,
          '{"iss":"https://baton.test","sub":"u1","aud":"orders","client_id":"baton","sid":"s","jti":"j","iat":1,"exp":1e400}',
        ),
        'claims',
      ],
      'exp in milliseconds': [forge(hdr, claims({ exp: NOW + 900_000, iat: NOW })), 'not_yet_valid'],
      'exp in milliseconds, iat in seconds': [forge(hdr, claims({ exp: NOW + 900_000 })), 'claims'],
      'exp 1e300': [forge(hdr, claims({ exp: 1e300 })), 'claims'],
      'a lifetime over a day': [forge(hdr, claims({ exp: NOW / 1000 + 86_401, iat: NOW / 1000 })), 'claims'],
      'exp before iat': [forge(hdr, claims({ exp: NOW / 1000 + 10, iat: NOW / 1000 + 20 })), 'claims'],
      'exp as string': [forge(hdr, claims({ exp: String(NOW / 1000 + 900) })), 'claims'],
      'duplicate keys (last wins: evil iss)': [
        forge(
          hdr,
          `{"iss":"https://baton.test","iss":"https://evil.test","sub":"u1","aud":"orders","client_id":"baton","sid":"s","jti":"j","iat":${NOW / 1000},"exp":${NOW / 1000 + 900}}`,
        ),
        'issuer',
      ],
      '1 MB token': [`${h}.${'A'.repeat(1_000_000)}.${s}`, 'malformed'],
      'not a string': [{ token: good }, 'malformed'],
    };
    for (const [name, [token, want]] of Object.entries(cases)) {
      assert.equal(await problem(verifier.verify(token)), want, name);
    }
    assert.equal(await problem(verifier.verify(good)), 'accepted');
  });

  it('allows a small leeway (default 30 s, at most 60 s) and refuses unsafe algorithm lists', async () => {
    const { key, verifier } = await setup();
    const slightlyExpired = signAccessToken(key, claims({ exp: NOW / 1000 - 20, iat: NOW / 1000 - 920 }));
    assert.equal(await problem(verifier.verify(slightlyExpired)), 'accepted');
    assert.throws(
      () =>
        createAccessTokenVerifier({
          issuer: 'i',
          audience: 'a',
          jwks: { keys: [] },
          algorithms: ['HS256' as never],
        }),
      /not allowed/,
    );
    assert.throws(
      () => createAccessTokenVerifier({ issuer: 'i', audience: 'a' } as never),
      /jwksUrl or jwks/,
    );
  });

  it('asks the revocation check and never caches a result', async () => {
    const { key } = await setup();
    const revoked = new Set<string>();
    const verifier = createAccessTokenVerifier({
      issuer: 'https://baton.test',
      audience: 'orders',
      jwks: createKeySet([key], { alg: 'EdDSA', accessTokenTtl: 900_000 }).jwks() as never,
      clock: { now: () => NOW },
      revocation: { isRevoked: (c) => revoked.has(c.sid) },
    });
    const token = signAccessToken(key, claims());
    assert.equal(await problem(verifier.verify(token)), 'accepted');
    revoked.add('s1');
    assert.equal(await problem(verifier.verify(token)), 'revoked');
  });
});
