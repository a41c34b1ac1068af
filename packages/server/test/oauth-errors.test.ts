// Every RFC error case of the OAuth endpoints: status and error code (RFC 6749 §5.2,
// RFC 7009 §2.2.1, RFC 7662 §2.3).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Reply, signIn, startTestServer, type TestServer } from './helpers.js';

const basic = (id: string, secret: string): string =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const SECRET = 'backend-secret-0123456789';
const API_SECRET = 'api-secret-0123456789abc';

async function post(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, data: text ? JSON.parse(text) : undefined };
}

function expectError(r: Reply, status: number, error: string): void {
  assert.equal(r.status, status, r.text);
  assert.deepEqual(Object.keys(r.data).sort(), ['error', 'error_description']);
  assert.equal(r.data.error, error);
  assert.match(r.headers.get('cache-control') ?? '', /no-store/);
}

describe('OAuth endpoint errors', () => {
  let server: TestServer;
  let rt: string;
  before(async () => {
    server = await startTestServer({
      BATON_CLIENTS: `backend:${SECRET},mobile`,
      BATON_RESOURCE_SERVERS: `api:${API_SECRET}`,
    });
  });
  before(async () => {
    rt = (await signIn(server.url)).tokens.data.refresh_token;
  });
  after(() => server.close());

  const token = (body: string, headers?: Record<string, string>) =>
    post(server.url, '/oauth/token', body, headers);

  it('token: missing grant_type or refresh_token is invalid_request', async () => {
    expectError(await token(''), 400, 'invalid_request');
    expectError(await token(`refresh_token=${rt}`), 400, 'invalid_request');
    expectError(await token('grant_type=refresh_token'), 400, 'invalid_request');
  });

  it('token: a repeated parameter is invalid_request', async () => {
    expectError(
      await token(`grant_type=refresh_token&refresh_token=${rt}&refresh_token=${rt}`),
      400,
      'invalid_request',
    );
    expectError(
      await token(`grant_type=refresh_token&grant_type=refresh_token&refresh_token=${rt}`),
      400,
      'invalid_request',
    );
  });

  it('token: password and other grants are unsupported_grant_type', async () => {
    for (const grant of ['password', 'authorization_code', 'client_credentials', 'urn:x']) {
      expectError(
        await token(`grant_type=${encodeURIComponent(grant)}&username=a&password=b`),
        400,
        'unsupported_grant_type',
      );
    }
  });

  it('token: a bad, forged or foreign refresh token is invalid_grant (400)', async () => {
    expectError(await token('grant_type=refresh_token&refresh_token=nonsense'), 400, 'invalid_grant');
    const forged = `${rt.slice(0, -2)}AA`;
    expectError(await token(`grant_type=refresh_token&refresh_token=${forged}`), 400, 'invalid_grant');
    expectError(
      await token(`grant_type=refresh_token&refresh_token=${rt}&client_id=mobile`),
      400,
      'invalid_grant',
    );
  });

  it('token: client authentication failures are invalid_client (401)', async () => {
    const cases: Array<[string, Record<string, string>?]> = [
      [`grant_type=refresh_token&refresh_token=${rt}&client_id=nobody`],
      [`grant_type=refresh_token&refresh_token=${rt}&client_id=backend`],
      [`grant_type=refresh_token&refresh_token=${rt}&client_id=backend&client_secret=wrong-secret-000000`],
      [
        `grant_type=refresh_token&refresh_token=${rt}`,
        { authorization: basic('backend', 'wrong-secret-000000') },
      ],
      [`grant_type=refresh_token&refresh_token=${rt}`, { authorization: 'Basic !!!' }],
      [`grant_type=refresh_token&refresh_token=${rt}&client_id=mobile&client_secret=unexpected-secret`],
    ];
    for (const [body, headers] of cases) {
      const r = await token(body, headers);
      expectError(r, 401, 'invalid_client');
      assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm="baton"/);
    }
  });

  it('token: two authentication methods, or a client_id that differs from Basic, are invalid_request', async () => {
    expectError(
      await token(`grant_type=refresh_token&refresh_token=${rt}&client_secret=${SECRET}`, {
        authorization: basic('backend', SECRET),
      }),
      400,
      'invalid_request',
    );
    expectError(
      await token(`grant_type=refresh_token&refresh_token=${rt}&client_id=mobile`, {
        authorization: basic('backend', SECRET),
      }),
      400,
      'invalid_request',
    );
  });

  it('token: JSON is 415 on /oauth routes, and forms are 415 on /auth routes', async () => {
    const r = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: rt }),
    });
    assert.equal(r.status, 415);
    const f = await post(server.url, '/auth/refresh', `refresh_token=${rt}`);
    expectError(f, 415, 'unsupported_media_type');
  });

  it('token: success is an RFC 6749 §5.1 response with no-store, and the token still rotates', async () => {
    const r = await token(`grant_type=refresh_token&refresh_token=${rt}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('pragma'), 'no-cache');
    assert.equal(r.data.token_type, 'Bearer');
    assert.equal(typeof r.data.expires_in, 'number');
    assert.notEqual(r.data.refresh_token, rt);
    rt = r.data.refresh_token;
  });

  it('revoke: missing token is invalid_request, unknown token is 200, another client’s token is refused', async () => {
    expectError(await post(server.url, '/oauth/revoke', ''), 400, 'invalid_request');
    expectError(await post(server.url, '/oauth/revoke', 'token=a&token=b'), 400, 'invalid_request');
    const unknown = await post(server.url, '/oauth/revoke', 'token=unknown&token_type_hint=refresh_token');
    assert.equal(unknown.status, 200);
    expectError(
      await post(server.url, '/oauth/revoke', `token=${rt}&client_id=mobile`),
      400,
      'unauthorized_client',
    );
    expectError(
      await post(server.url, '/oauth/revoke', `token=${rt}&client_id=backend`),
      401,
      'invalid_client',
    );
    // The refused attempts left the token alive.
    const ok = await post(server.url, '/oauth/token', `grant_type=refresh_token&refresh_token=${rt}`);
    assert.equal(ok.status, 200);
    rt = ok.data.refresh_token;
  });

  it('introspect: no or wrong credentials are invalid_client, missing token is invalid_request', async () => {
    expectError(await post(server.url, '/oauth/introspect', `token=${rt}`), 401, 'invalid_client');
    expectError(
      await post(server.url, '/oauth/introspect', `token=${rt}`, {
        authorization: basic('api', 'nope-nope-nope-nope'),
      }),
      401,
      'invalid_client',
    );
    expectError(
      await post(server.url, '/oauth/introspect', '', { authorization: basic('api', API_SECRET) }),
      400,
      'invalid_request',
    );
    const ok = await post(server.url, '/oauth/introspect', `token=${rt}`, {
      authorization: basic('api', API_SECRET),
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.data.active, true);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
  });

  it('metadata describes the endpoints and nothing more', async () => {
    const r = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    const m = await r.json();
    assert.equal(m.issuer, server.url);
    assert.deepEqual(m.grant_types_supported, ['refresh_token']);
    assert.deepEqual(m.token_endpoint_auth_methods_supported, [
      'none',
      'client_secret_basic',
      'client_secret_post',
    ]);
    assert.deepEqual(m.introspection_endpoint_auth_methods_supported, ['client_secret_basic']);
    assert.equal(m.authorization_endpoint, undefined);
  });
});
