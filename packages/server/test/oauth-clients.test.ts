// Baton through libraries nobody here wrote: oauth4webapi drives the OAuth endpoints,
// jose and jsonwebtoken verify access tokens from the published JWKS.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import jwt from 'jsonwebtoken';
import * as oauth from 'oauth4webapi';
import { bearer, call, signIn, startTestServer, type TestServer } from './helpers.js';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const API = { id: 'orders-api', secret: 'orders-api-secret-0123456789' };

async function discover(url: string): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(url);
  // Baton is an OAuth 2.0 server (RFC 8414), not an OpenID provider.
  return oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }),
  );
}

describe('oauth4webapi against Baton', () => {
  let server: TestServer;
  let as: oauth.AuthorizationServer;
  before(async () => {
    server = await startTestServer({
      BATON_REUSE_GRACE: '1s',
      BATON_RESOURCE_SERVERS: `${API.id}:${API.secret}`,
      BATON_CLIENTS: 'mobile,backend:backend-secret-0123456789',
    });
    as = await discover(server.url);
  });
  after(() => server.close());

  it('discovers exactly what is supported', () => {
    assert.equal(as.issuer, server.url);
    assert.equal(as.token_endpoint, `${server.url}/oauth/token`);
    assert.equal(as.jwks_uri, `${server.url}/.well-known/jwks.json`);
    assert.deepEqual(as.grant_types_supported, ['refresh_token']);
    assert.ok(as.introspection_endpoint && as.revocation_endpoint);
  });

  it('refreshes as the built-in public client, rotates, and a replay is refused', async () => {
    const { tokens } = await signIn(server.url);
    const client = { client_id: 'baton' };
    const first = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.data.refresh_token, insecure),
    );
    assert.equal(first.token_type, 'bearer');
    assert.notEqual(first.refresh_token, tokens.data.refresh_token);
    assert.equal(
      (await call(server.url, 'GET', '/auth/me', { headers: bearer(first.access_token) })).status,
      200,
    );
    const second = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), first.refresh_token!, insecure),
    );
    // The first token is two generations old now: reuse, the session dies.
    const replay = await oauth.refreshTokenGrantRequest(
      as,
      client,
      oauth.None(),
      tokens.data.refresh_token,
      insecure,
    );
    await assert.rejects(
      oauth.processRefreshTokenResponse(as, client, replay),
      (e: oauth.ResponseBodyError) => {
        assert.equal(e.error, 'invalid_grant');
        assert.equal(e.status, 400);
        return true;
      },
    );
    const dead = await oauth.refreshTokenGrantRequest(
      as,
      client,
      oauth.None(),
      second.refresh_token!,
      insecure,
    );
    assert.equal(dead.status, 400);
  });

  it('refreshes a confidential client with client_secret_basic and client_secret_post', async () => {
    const { email } = await signIn(server.url);
    const login = await call(server.url, 'POST', '/auth/login', {
      json: {
        email,
        password: 'correct horse battery staple',
        client_id: 'backend',
        client_secret: 'backend-secret-0123456789',
      },
    });
    assert.equal(login.status, 200);
    const client = { client_id: 'backend' };
    const viaBasic = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic('backend-secret-0123456789'),
        login.data.refresh_token,
        insecure,
      ),
    );
    const viaPost = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(
        as,
        client,
        oauth.ClientSecretPost('backend-secret-0123456789'),
        viaBasic.refresh_token!,
        insecure,
      ),
    );
    const claims = JSON.parse(Buffer.from(viaPost.access_token.split('.')[1]!, 'base64url').toString());
    assert.equal(claims.client_id, 'backend');
    // Without its secret, or through /auth/refresh, a confidential client's token is refused.
    const bare = await oauth.refreshTokenGrantRequest(
      as,
      client,
      oauth.None(),
      viaPost.refresh_token!,
      insecure,
    );
    assert.equal(bare.status, 401);
    const viaAuth = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: viaPost.refresh_token },
    });
    assert.equal(viaAuth.status, 401);
  });

  it('binds a refresh token to its client', async () => {
    const { tokens } = await signIn(server.url);
    const mobile = { client_id: 'mobile' };
    const res = await oauth.refreshTokenGrantRequest(
      as,
      mobile,
      oauth.None(),
      tokens.data.refresh_token,
      insecure,
    );
    await assert.rejects(oauth.processRefreshTokenResponse(as, mobile, res), { error: 'invalid_grant' });
    // Refused without side effects: the rightful client can still use it.
    const client = { client_id: 'baton' };
    const ok = await oauth.refreshTokenGrantRequest(
      as,
      client,
      oauth.None(),
      tokens.data.refresh_token,
      insecure,
    );
    assert.equal(ok.status, 200);
  });

  it('revokes a refresh token (its session dies) and an access token (only it dies)', async () => {
    const client = { client_id: 'baton' };
    const a = (await signIn(server.url)).tokens.data;
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, oauth.None(), a.refresh_token, insecure),
    );
    assert.equal(
      (await call(server.url, 'GET', '/auth/me', { headers: bearer(a.access_token) })).status,
      401,
    );
    assert.equal(
      (await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: a.refresh_token } })).status,
      401,
    );

    const b = (await signIn(server.url)).tokens.data;
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, oauth.None(), b.access_token, {
        ...insecure,
        additionalParameters: { token_type_hint: 'access_token' },
      }),
    );
    assert.equal(
      (await call(server.url, 'GET', '/auth/me', { headers: bearer(b.access_token) })).status,
      401,
    );
    const next = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: b.refresh_token },
    });
    assert.equal(next.status, 200, 'the session itself lives on');
    assert.equal(
      (await call(server.url, 'GET', '/auth/me', { headers: bearer(next.data.access_token) })).status,
      200,
    );

    // Unknown tokens are fine (RFC 7009 §2.2).
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, oauth.None(), 'nonsense', insecure),
    );
  });

  it('introspects access and refresh tokens in every state, in agreement with the token endpoint', async () => {
    const rs = { client_id: API.id };
    const auth = oauth.ClientSecretBasic(API.secret);
    const introspect = async (token: string) =>
      oauth.processIntrospectionResponse(
        as,
        rs,
        await oauth.introspectionRequest(as, rs, auth, token, insecure),
      );

    const { tokens } = await signIn(server.url);
    const live = await introspect(tokens.data.access_token);
    assert.equal(live.active, true);
    assert.equal(
      live.sub,
      JSON.parse(Buffer.from(tokens.data.access_token.split('.')[1], 'base64url').toString()).sub,
    );
    assert.equal(live.sid, tokens.data.session_id);
    assert.equal(live.client_id, 'baton');
    assert.equal(live.token_type, 'Bearer');
    assert.equal(typeof live.exp, 'number');
    const rt = await introspect(tokens.data.refresh_token);
    assert.equal(rt.active, true);
    assert.equal(rt.token_type, 'refresh_token');

    const next = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: tokens.data.refresh_token },
    });
    assert.equal(
      (await introspect(tokens.data.refresh_token)).active,
      true,
      'within the grace window it still works',
    );
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await introspect(tokens.data.refresh_token)).active, false, 'rotated');
    assert.equal((await introspect(next.data.refresh_token)).active, true, 'introspection changed nothing');

    // Reuse revokes the session: everything of it goes inactive.
    await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: tokens.data.refresh_token } });
    for (const t of [next.data.refresh_token, next.data.access_token, tokens.data.access_token]) {
      assert.equal((await introspect(t)).active, false);
    }
    assert.equal((await introspect('garbage')).active, false);
  });

  it('refuses introspection callers that are not configured resource servers', async () => {
    const { tokens } = await signIn(server.url);
    for (const [id, secret] of [
      [API.id, 'wrong-secret-0123456789'],
      ['baton', 'not-a-resource-server'],
    ] as const) {
      const res = await oauth.introspectionRequest(
        as,
        { client_id: id },
        oauth.ClientSecretBasic(secret),
        tokens.data.access_token,
        insecure,
      );
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/);
      assert.equal((await res.json()).error, 'invalid_client');
    }
  });
});

describe('standard JWT libraries verify Baton access tokens', () => {
  for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
    it(`${alg}: jose with a remote JWKS${alg === 'EdDSA' ? '' : ' and jsonwebtoken'}`, async () => {
      const server = await startTestServer({ BATON_SIGNING_ALG: alg, BATON_AUDIENCE: 'orders' });
      try {
        const { tokens } = await signIn(server.url);
        const token: string = tokens.data.access_token;
        const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
        const { payload, protectedHeader } = await jwtVerify(token, jwks, {
          issuer: server.url,
          audience: 'orders',
          algorithms: [alg],
          typ: 'at+jwt',
        });
        assert.equal(protectedHeader.alg, alg);
        assert.equal(payload.sid, tokens.data.session_id);
        // RFC 9068 §2.2 claims.
        for (const claim of ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'])
          assert.ok(claim in payload, claim);

        const published = (await call(server.url, 'GET', '/.well-known/jwks.json')).data.keys[0];
        const pem = createPublicKey({ key: published, format: 'jwk' }).export({
          format: 'pem',
          type: 'spki',
        });
        if (alg === 'EdDSA') {
          // jsonwebtoken 9 has no EdDSA; it must refuse rather than accept blindly.
          assert.throws(() => jwt.verify(token, pem, { algorithms: ['ES256', 'RS256'] }));
        } else {
          const decoded = jwt.verify(token, pem, {
            algorithms: [alg],
            issuer: server.url,
            audience: 'orders',
          });
          assert.equal((decoded as jwt.JwtPayload).sid, tokens.data.session_id);
        }
      } finally {
        await server.close();
      }
    });
  }
});
