import assert from 'node:assert/strict';
import { createHmac, createPublicKey, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { type AccessTokenClaims, signAccessToken, verifyAccessToken } from '../src/access-token.js';
import { createKeySet, generateSigningKey, loadSigningKey, type SigningAlgorithm } from '../src/keys.js';
import { b64, makeKeySet, NOW, testClaims } from './helpers.js';

const claims = (over: Partial<Record<keyof AccessTokenClaims, unknown>> = {}): AccessTokenClaims =>
  testClaims(over);
const opts = { issuer: 'https://baton.test', audience: 'baton', now: NOW };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'accepted';
}

describe('access tokens', () => {
  for (const alg of ['EdDSA', 'ES256', 'RS256'] as SigningAlgorithm[]) {
    it(`${alg}: signs an at+jwt that node:crypto verifies with the published JWK`, async () => {
      const keys = await makeKeySet(alg);
      const token = signAccessToken(keys.signer(), claims());
      const [h, p, s] = token.split('.') as [string, string, string];
      const header = JSON.parse(Buffer.from(h, 'base64url').toString());
      assert.deepEqual(header, { alg, typ: 'at+jwt', kid: keys.signer().kid });
      const jwk = keys.jwks().keys[0]!;
      assert.equal(jwk.kid, keys.signer().kid);
      assert.equal(jwk.d, undefined, 'no private part is published');
      const pub = createPublicKey({ key: jwk as never, format: 'jwk' });
      const digest = alg === 'EdDSA' ? null : 'sha256';
      const key = alg === 'ES256' ? { key: pub, dsaEncoding: 'ieee-p1363' as const } : pub;
      assert.ok(verify(digest, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')));
      assert.deepEqual(verifyAccessToken(token, { ...opts, keys }), claims());
    });
  }

  it('refuses tampering, alg none, HMAC confusion, wrong typ, crit, unknown kid and bad claims', async () => {
    const keys = await makeKeySet('EdDSA');
    const key = keys.signer();
    const good = signAccessToken(key, claims());
    const [h, p, s] = good.split('.') as [string, string, string];
    const forge = (header: object, payload: object): string => {
      const input = `${b64(header)}.${b64(payload)}`;
      return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
    };
    const hdr = { alg: 'EdDSA', typ: 'at+jwt', kid: key.kid };
    const pem = key.publicKey.export({ format: 'pem', type: 'spki' });
    const hmacInput = `${b64({ ...hdr, alg: 'HS256' })}.${p}`;
    const cases: Record<string, unknown> = {
      'payload swapped': `${h}.${b64(claims({ sub: 'admin' }))}.${s}`,
      'signature stripped': `${h}.${p}.`,
      'alg none': `${b64({ ...hdr, alg: 'none' })}.${p}.`,
      'alg NONE signed': forge({ ...hdr, alg: 'NONE' }, claims()),
      'HS256 with the public key': `${hmacInput}.${createHmac('sha256', pem).update(hmacInput).digest('base64url')}`,
      'wrong typ': forge({ ...hdr, typ: 'JWT' }, claims()),
      'no typ': forge({ alg: 'EdDSA', kid: key.kid }, claims()),
      crit: forge({ ...hdr, crit: ['b64'], b64: false }, claims()),
      'unknown kid': forge({ ...hdr, kid: '../../etc/passwd' }, claims()),
      'jwk header with unknown kid': forge({ ...hdr, kid: 'x', jwk: key.publicJwk }, claims()),
      expired: forge(hdr, claims({ exp: NOW / 1000 })),
      'exp as string': forge(hdr, claims({ exp: String(NOW / 1000 + 900) })),
      'exp as 1e400': `${b64(hdr)}.${b64('{"iss":"https://baton.test","sub":"u1","aud":"baton","client_id":"baton","sid":"s1","jti":"j","iat":1,"exp":1e400}')}.x`,
      'iat in the future': forge(hdr, claims({ iat: NOW / 1000 + 60 })),
      'nbf in the future': forge(hdr, { ...claims(), nbf: NOW / 1000 + 60 }),
      'wrong iss': forge(hdr, claims({ iss: 'https://evil.test' })),
      'wrong aud': forge(hdr, claims({ aud: 'other' })),
      'no sid': forge(hdr, claims({ sid: undefined })),
      padding: `${good}=`,
      whitespace: ` ${good}`,
      'JSON serialization': JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }] }),
      oversize: `${h}.${'A'.repeat(1_000_000)}.${s}`,
      'not a string': 42,
      'refresh-token shaped': 'abcdefghijklmnopqrstuv.0.abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq',
    };
    for (const [name, token] of Object.entries(cases)) {
      assert.equal(
        codeOf(() => verifyAccessToken(token, { ...opts, keys })),
        'invalid_token',
        name,
      );
    }
    assert.equal(
      codeOf(() => verifyAccessToken(forge(hdr, claims()), { ...opts, keys })),
      'accepted',
    );
  });

  it('refuses a token whose kid names a key of another algorithm', async () => {
    const ed = loadSigningKey(await generateSigningKey('EdDSA', 0));
    const es = loadSigningKey(await generateSigningKey('ES256', 1));
    const keys = createKeySet([ed, es], { alg: 'ES256', accessTokenTtl: 900_000 }, { now: () => 2 });
    assert.equal(keys.signer().kid, es.kid);
    const input = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: ed.kid })}.${b64(claims())}`;
    const token = `${input}.${sign(null, Buffer.from(input), ed.privateKey).toString('base64url')}`;
    assert.equal(
      codeOf(() => verifyAccessToken(token, { ...opts, keys })),
      'invalid_token',
    );
    // Both keys stay published, so tokens signed before an algorithm change still verify.
    assert.equal(keys.jwks().keys.length, 2);
    assert.ok(verifyAccessToken(signAccessToken(ed, claims()), { ...opts, keys }));
  });
});
