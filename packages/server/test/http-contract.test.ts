// Black-box tests of the HTTP contract (/work/shared/spec/http-api.md) for the endpoints the
// server implements today: /auth/*, /healthz, /readyz, /.well-known/jwks.json and cookie mode.
// The OAuth endpoints and RFC 8414 metadata are not implemented yet and are not tested here.
import assert from 'node:assert/strict';
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { bearer, call, newEmail, PASSWORD, type Reply, startTestServer, type TestServer } from './helpers.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
const URL_SAFE = /^[A-Za-z0-9._~-]+$/;
const COOKIE = 'baton_refresh';
const COOKIE_MODE = { 'x-token-transport': 'cookie' } as const;
const JSON_TYPE = { 'content-type': 'application/json' } as const;
const FOREIGN_ORIGIN = 'https://evil.example.test';
const ALLOWED_ORIGIN = 'https://app.example.test';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An error reply: the status, exactly `{error, error_description}`, and (when given) the code. */
function assertError(r: Reply, status: number, code?: string): void {
  assert.equal(r.status, status, `expected ${status} ${code ?? ''}, got ${r.status} ${r.text}`);
  assertErrorBody(r, code);
}

/** A client error: 4xx (never 5xx) with the error body; the code, when listed, is one of them. */
function assertClientError(r: Reply, codes?: readonly string[]): void {
  assert.ok(r.status >= 400 && r.status < 500, `expected a 4xx, got ${r.status} ${r.text}`);
  assertErrorBody(r);
  if (codes)
    assert.ok(codes.includes(r.data.error), `error ${r.data.error} is not one of ${codes.join(', ')}`);
}

function assertErrorBody(r: Reply, code?: string): void {
  assert.match(r.headers.get('content-type') ?? '', /^application\/json\b/, `content-type of ${r.text}`);
  assert.ok(
    r.data !== null && typeof r.data === 'object' && !Array.isArray(r.data),
    `error body is not a JSON object: ${r.text}`,
  );
  assert.deepEqual(Object.keys(r.data).sort(), ['error', 'error_description'], r.text);
  assert.equal(typeof r.data.error, 'string');
  assert.ok(r.data.error.length > 0);
  if (code !== undefined) assert.equal(r.data.error, code, r.text);
  assert.equal(typeof r.data.error_description, 'string');
  assert.ok(r.data.error_description.length > 0);
}

/** 401 invalid_token with `WWW-Authenticate: Bearer ... error="invalid_token"`. */
function assertInvalidToken(r: Reply): void {
  assertError(r, 401, 'invalid_token');
  const challenge = r.headers.get('www-authenticate') ?? '';
  assert.match(challenge, /^Bearer\b/i, `WWW-Authenticate: ${challenge}`);
  assert.match(challenge, /\berror="invalid_token"/, `WWW-Authenticate: ${challenge}`);
}

function assertNoStore(r: Reply): void {
  assert.match(r.headers.get('cache-control') ?? '', /\bno-store\b/, 'Cache-Control: no-store');
}

function assertIso(value: unknown, label: string): number {
  assert.equal(typeof value, 'string', `${label} is not a string: ${String(value)}`);
  assert.match(value as string, ISO_8601, `${label} is not ISO-8601: ${String(value)}`);
  const ms = Date.parse(value as string);
  assert.ok(Number.isFinite(ms), `${label} does not parse: ${String(value)}`);
  return ms;
}

/** The token response of login and refresh (without refresh_token in cookie mode). */
function assertTokenResponse(
  r: Reply,
  { cookieMode = false, expiresIn = 900 }: { cookieMode?: boolean; expiresIn?: number } = {},
): void {
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json\b/);
  assertNoStore(r);
  const d = r.data;
  assert.ok(d && typeof d === 'object', r.text);
  assert.equal(typeof d.access_token, 'string');
  assert.match(d.access_token, JWS);
  assert.equal(d.token_type, 'Bearer');
  assert.equal(d.expires_in, expiresIn);
  assert.ok(Number.isInteger(d.refresh_token_expires_in) && d.refresh_token_expires_in > 0, r.text);
  assert.equal(typeof d.session_id, 'string');
  assert.ok(d.session_id.length > 0);
  if (cookieMode) {
    assert.equal('refresh_token' in d, false, `cookie mode must omit refresh_token: ${r.text}`);
  } else {
    assert.equal(typeof d.refresh_token, 'string');
    assert.match(d.refresh_token, URL_SAFE);
    // 256 bits are at least 43 base64url characters.
    assert.ok(d.refresh_token.length >= 43, 'refresh token too short for 256 bits');
  }
}

// biome-ignore lint/suspicious/noExplicitAny: decoded JWT parts are inspected field by field
function decodeJwt(token: string): { header: any; payload: any; input: string; signature: Buffer } {
  const [h, p, s] = token.split('.') as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString('utf8')),
    input: `${h}.${p}`,
    signature: Buffer.from(s, 'base64url'),
  };
}

interface Account {
  email: string;
  userId: string;
}

async function register(base: string, email = newEmail()): Promise<Account> {
  const r = await call(base, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
  assert.equal(r.status, 201, `register: ${r.status} ${r.text}`);
  return { email, userId: r.data.user.id };
}

async function login(base: string, email: string, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await call(base, 'POST', '/auth/login', { json: { email, password: PASSWORD }, headers });
  assert.equal(r.status, 200, `login: ${r.status} ${r.text}`);
  return r;
}

/** A fresh user with one session: the account and the login's token response body. */
// biome-ignore lint/suspicious/noExplicitAny: token response fields are inspected individually
async function newUser(base: string): Promise<{ account: Account; tokens: any }> {
  const account = await register(base);
  const tokens = (await login(base, account.email)).data;
  return { account, tokens };
}

const refresh = (base: string, refreshToken: unknown): Promise<Reply> =>
  call(base, 'POST', '/auth/refresh', { json: { refresh_token: refreshToken } });
const me = (base: string, accessToken: string): Promise<Reply> =>
  call(base, 'GET', '/auth/me', { headers: bearer(accessToken) });

/** Asserts that the session behind these tokens is dead for both refresh and /auth/me. */
async function assertSessionDead(base: string, accessToken: string, refreshToken?: string): Promise<void> {
  assertInvalidToken(await me(base, accessToken));
  if (refreshToken !== undefined) assertError(await refresh(base, refreshToken), 401, 'invalid_grant');
}

interface SetCookie {
  name: string;
  value: string;
  /** Attribute names in lower case; flags have the value ''. */
  attributes: Record<string, string>;
}

function parseSetCookie(line: string): SetCookie {
  const [pair = '', ...parts] = line.split(';');
  const eq = pair.indexOf('=');
  const attributes: Record<string, string> = {};
  for (const part of parts) {
    const i = part.indexOf('=');
    const key = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    attributes[key] = i < 0 ? '' : part.slice(i + 1).trim();
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes };
}

const refreshCookies = (r: Reply): SetCookie[] =>
  r.headers
    .getSetCookie()
    .map(parseSetCookie)
    .filter((c) => c.name === COOKIE);

function isCleared(c: SetCookie): boolean {
  const maxAge = c.attributes['max-age'];
  if (maxAge !== undefined && Number(maxAge) <= 0) return true;
  const expires = c.attributes.expires;
  return expires !== undefined && Date.parse(expires) <= Date.now();
}

/** The refresh cookie set twice (Path=/auth/refresh and /auth/logout) with the right flags; its value. */
function assertRefreshCookieSet(r: Reply): string {
  const cookies = refreshCookies(r);
  assert.deepEqual(
    cookies.map((c) => c.attributes.path).sort(),
    ['/auth/logout', '/auth/refresh'],
    `Set-Cookie: ${r.headers.getSetCookie().join(' | ')}`,
  );
  for (const c of cookies) {
    assert.ok('httponly' in c.attributes, `HttpOnly missing on Path=${c.attributes.path}`);
    assert.ok('secure' in c.attributes, `Secure missing on Path=${c.attributes.path}`);
    assert.equal(c.attributes.samesite?.toLowerCase(), 'strict', `SameSite on Path=${c.attributes.path}`);
    assert.equal(isCleared(c), false, 'a freshly set refresh cookie must not be expired');
    assert.match(c.value, URL_SAFE);
    assert.ok(c.value.length >= 43);
  }
  assert.equal(cookies[0]!.value, cookies[1]!.value, 'both refresh cookies carry the same token');
  return cookies[0]!.value;
}

function assertRefreshCookieCleared(r: Reply): void {
  const cookies = refreshCookies(r);
  assert.deepEqual(
    cookies.map((c) => c.attributes.path).sort(),
    ['/auth/logout', '/auth/refresh'],
    `Set-Cookie: ${r.headers.getSetCookie().join(' | ')}`,
  );
  for (const c of cookies) assert.ok(isCleared(c), `not cleared: ${JSON.stringify(c)}`);
}

const withCookie = (value: string, headers: Record<string, string> = {}): Record<string, string> => ({
  cookie: `${COOKIE}=${value}`,
  ...headers,
});

// ---------------------------------------------------------------------------------------------

describe('GET /healthz, /readyz and /.well-known/jwks.json', () => {
  const issuer = 'https://baton.example.test';
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ BATON_ISSUER: issuer });
  });
  after(() => server.close());

  it('/healthz answers 200 {"status": "ok"}', async () => {
    const r = await call(server.url, 'GET', '/healthz');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json\b/);
    assert.deepEqual(r.data, { status: 'ok' });
  });

  it('/readyz answers 200 while the store answers', async () => {
    const r = await call(server.url, 'GET', '/readyz');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('cache-control'), 'no-store', 'a probe answer is never cached');
  });

  it('the JWKS holds public keys only, and verifies the RFC 9068 access token of a login', async () => {
    const { account, tokens } = await newUser(server.url);
    const jwks = await call(server.url, 'GET', '/.well-known/jwks.json');
    assert.equal(jwks.status, 200);
    assert.match(jwks.headers.get('content-type') ?? '', /^application\/json\b/);
    assert.ok(Array.isArray(jwks.data.keys) && jwks.data.keys.length > 0, jwks.text);
    for (const key of jwks.data.keys) {
      assert.equal(typeof key.kid, 'string');
      assert.equal(typeof key.kty, 'string');
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
        assert.equal(key[secret], undefined, `JWKS leaks private member ${secret}`);
      }
    }

    const { header, payload, input, signature } = decodeJwt(tokens.access_token);
    assert.equal(header.alg, 'EdDSA');
    assert.equal(header.typ, 'at+jwt');
    const jwk = jwks.data.keys.find((k: { kid: string }) => k.kid === header.kid);
    assert.ok(jwk, `kid ${header.kid} is not in the JWKS`);
    assert.ok(
      verifySignature(null, Buffer.from(input), createPublicKey({ key: jwk, format: 'jwk' }), signature),
    );

    assert.equal(payload.iss, issuer);
    assert.equal(payload.sub, account.userId);
    assert.equal(payload.aud, 'baton');
    assert.equal(typeof payload.client_id, 'string');
    assert.equal(payload.sid, tokens.session_id);
    assert.equal(typeof payload.jti, 'string');
    assert.ok(payload.jti.length > 0);
    assert.ok(Number.isInteger(payload.iat) && Number.isInteger(payload.exp));
    assert.equal(payload.exp - payload.iat, tokens.expires_in);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 60);

    // The refreshed access token verifies too, and has its own jti.
    const next = await refresh(server.url, tokens.refresh_token);
    assertTokenResponse(next);
    const second = decodeJwt(next.data.access_token);
    const key2 = jwks.data.keys.find((k: { kid: string }) => k.kid === second.header.kid);
    assert.ok(key2);
    assert.ok(
      verifySignature(
        null,
        Buffer.from(second.input),
        createPublicKey({ key: key2, format: 'jwk' }),
        second.signature,
      ),
    );
    assert.notEqual(second.payload.jti, payload.jti);
    assert.equal(second.payload.sid, payload.sid);
  });

  for (const alg of ['ES256', 'RS256'] as const) {
    it(`BATON_SIGNING_ALG=${alg}: the access token verifies with the JWKS`, async () => {
      const other = await startTestServer({ BATON_SIGNING_ALG: alg });
      try {
        const { tokens } = await newUser(other.url);
        const jwks = await call(other.url, 'GET', '/.well-known/jwks.json');
        assert.equal(jwks.status, 200);
        const { header, input, signature } = decodeJwt(tokens.access_token);
        assert.equal(header.alg, alg);
        assert.equal(header.typ, 'at+jwt');
        const jwk = jwks.data.keys.find((k: { kid: string }) => k.kid === header.kid);
        assert.ok(jwk, `kid ${header.kid} is not in the JWKS`);
        const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
        const ok =
          alg === 'ES256'
            ? verifySignature(
                'sha256',
                Buffer.from(input),
                { key: publicKey, dsaEncoding: 'ieee-p1363' },
                signature,
              )
            : verifySignature('sha256', Buffer.from(input), publicKey, signature);
        assert.ok(ok, `${alg} signature does not verify with the JWKS key`);
        assert.equal(jwk.d, undefined);
      } finally {
        await other.close();
      }
    });
  }
});

describe('POST /auth/register', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('201 {"user": {id, email, created_at}} with an ISO-8601 created_at, and no password', async () => {
    const email = newEmail();
    const startedAt = Date.now();
    const r = await call(server.url, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
    assert.equal(r.status, 201, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json\b/);
    assert.deepEqual(Object.keys(r.data), ['user']);
    assert.deepEqual(Object.keys(r.data.user).sort(), ['created_at', 'email', 'id']);
    assert.equal(typeof r.data.user.id, 'string');
    assert.ok(r.data.user.id.length > 0);
    assert.equal(r.data.user.email, email);
    const created = assertIso(r.data.user.created_at, 'created_at');
    assert.ok(
      created >= startedAt - 2000 && created <= Date.now() + 2000,
      `created_at ${r.data.user.created_at}`,
    );
    assert.equal(r.text.includes(PASSWORD), false);
  });

  it('two users get different ids', async () => {
    const a = await register(server.url);
    const b = await register(server.url);
    assert.notEqual(a.userId, b.userId);
  });

  it('409 email_taken for the same e-mail, also in another case or with surrounding spaces', async () => {
    const email = newEmail();
    await register(server.url, email);
    for (const variant of [
      email,
      email.toUpperCase(),
      `  ${email}  `,
      ` ${email.replace('user', 'USER')}\t`,
    ]) {
      const r = await call(server.url, 'POST', '/auth/register', {
        json: { email: variant, password: PASSWORD },
      });
      assertError(r, 409, 'email_taken');
    }
    // Also with a different password: the address alone decides.
    const r = await call(server.url, 'POST', '/auth/register', {
      json: { email: email.toUpperCase(), password: 'another long password' },
    });
    assertError(r, 409, 'email_taken');
  });

  it('concurrent registrations of one address: exactly one 201, the others 409 email_taken', async () => {
    const email = newEmail();
    const replies = await Promise.all(
      [email, email.toUpperCase(), ` ${email} `, email].map((variant) =>
        call(server.url, 'POST', '/auth/register', { json: { email: variant, password: PASSWORD } }),
      ),
    );
    assert.equal(replies.filter((r) => r.status === 201).length, 1, replies.map((r) => r.text).join('\n'));
    for (const r of replies.filter((x) => x.status !== 201)) assertError(r, 409, 'email_taken');
  });

  it('an address registered in mixed case with spaces logs in case-insensitively', async () => {
    const local = `Mixed-${Date.now()}`;
    const r = await call(server.url, 'POST', '/auth/register', {
      json: { email: `  ${local}@Example.TEST `, password: PASSWORD },
    });
    assert.equal(r.status, 201, r.text);
    for (const email of [`${local.toLowerCase()}@example.test`, `${local.toUpperCase()}@EXAMPLE.TEST`]) {
      const l = await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
      assertTokenResponse(l);
    }
  });

  const invalidBodies: Array<[string, unknown]> = [
    ['no email', { password: PASSWORD }],
    ['no password', { email: 'someone@example.test' }],
    ['an empty object', {}],
    ['an email that is not an address', { email: 'not-an-address', password: PASSWORD }],
    ['an empty email', { email: '', password: PASSWORD }],
    ['an email of spaces', { email: '   ', password: PASSWORD }],
    ['an empty password', { email: 'someone@example.test', password: '' }],
    ['a three-character password', { email: 'someone@example.test', password: 'abc' }],
    ['a number for email', { email: 12345, password: PASSWORD }],
    ['an object for password', { email: 'someone@example.test', password: { value: PASSWORD } }],
    ['null for email', { email: null, password: PASSWORD }],
    ['an array for email', { email: ['someone@example.test'], password: PASSWORD }],
    ['a number for password', { email: 'someone@example.test', password: 12345678 }],
    ['a boolean for password', { email: 'someone@example.test', password: true }],
    ['JSON that is an array', [{ email: 'someone@example.test', password: PASSWORD }]],
    ['JSON that is null', null],
    ['JSON that is a string', 'someone@example.test'],
    ['JSON that is a number', 42],
  ];
  for (const [label, body] of invalidBodies) {
    it(`400 invalid_request for ${label}`, async () => {
      const r = await call(server.url, 'POST', '/auth/register', {
        raw: JSON.stringify(body),
        headers: JSON_TYPE,
      });
      assertError(r, 400, 'invalid_request');
      assert.equal(r.text.includes(PASSWORD), false, 'the password must not be echoed');
    });
  }

  it('400 invalid_request for malformed JSON', async () => {
    for (const raw of [
      '{',
      '{"email": "a@example.test", "password": ',
      "{'email': 'x'}",
      'nonsense',
      '{"a":1}}',
    ]) {
      const r = await call(server.url, 'POST', '/auth/register', { raw, headers: JSON_TYPE });
      assertError(r, 400, 'invalid_request');
    }
  });

  it('400 invalid_request when there is no body at all', async () => {
    assertError(
      await call(server.url, 'POST', '/auth/register', { headers: JSON_TYPE }),
      400,
      'invalid_request',
    );
    assertError(await call(server.url, 'POST', '/auth/register'), 400, 'invalid_request');
  });

  it('a very long password (within 16 KiB) is a 4xx, never a 5xx', async () => {
    const r = await call(server.url, 'POST', '/auth/register', {
      json: { email: newEmail(), password: 'p'.repeat(15_000) },
    });
    assertClientError(r, ['invalid_request']);
  });

  it('accepts application/json with a charset parameter', async () => {
    const r = await call(server.url, 'POST', '/auth/register', {
      raw: JSON.stringify({ email: newEmail(), password: PASSWORD }),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    assert.equal(r.status, 201, r.text);
  });
});

describe('POST /auth/login', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('200 token response with Cache-Control: no-store and the default lifetimes', async () => {
    const { email } = await register(server.url);
    const r = await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
    assertTokenResponse(r, { expiresIn: 900 });
    // 14 days, give or take the second the request took.
    assert.ok(Math.abs(r.data.refresh_token_expires_in - 1_209_600) <= 1, r.text);
  });

  it('every login starts a new session with new tokens', async () => {
    const { email } = await register(server.url);
    const a = await login(server.url, email);
    const b = await login(server.url, email);
    assert.notEqual(a.data.session_id, b.data.session_id);
    assert.notEqual(a.data.refresh_token, b.data.refresh_token);
    assert.notEqual(a.data.access_token, b.data.access_token);
  });

  it('401 invalid_credentials, with an identical body, for an unknown e-mail and a wrong password', async () => {
    const { email } = await register(server.url);
    const wrong = await call(server.url, 'POST', '/auth/login', {
      json: { email, password: 'wrong password 123' },
    });
    const unknown = await call(server.url, 'POST', '/auth/login', {
      json: { email: newEmail(), password: 'wrong password 123' },
    });
    assertError(wrong, 401, 'invalid_credentials');
    assertError(unknown, 401, 'invalid_credentials');
    assert.equal(wrong.text, unknown.text);
    assert.equal(wrong.headers.get('content-type'), unknown.headers.get('content-type'));
    assert.equal(wrong.headers.get('www-authenticate'), unknown.headers.get('www-authenticate'));
    assert.equal(wrong.headers.get('set-cookie'), null);
  });

  it('401 invalid_credentials for the password of another account', async () => {
    const a = await register(server.url);
    const bEmail = newEmail();
    const bPassword = 'a different long password';
    const reg = await call(server.url, 'POST', '/auth/register', {
      json: { email: bEmail, password: bPassword },
    });
    assert.equal(reg.status, 201, reg.text);
    const r = await call(server.url, 'POST', '/auth/login', {
      json: { email: a.email, password: bPassword },
    });
    assertError(r, 401, 'invalid_credentials');
    assertTokenResponse(
      await call(server.url, 'POST', '/auth/login', { json: { email: bEmail, password: bPassword } }),
    );
  });

  const badBodies: Array<[string, unknown]> = [
    ['a number for email', { email: 42, password: PASSWORD }],
    ['an object for password', { email: 'someone@example.test', password: { p: PASSWORD } }],
    ['no password', { email: 'someone@example.test' }],
    ['no email', { password: PASSWORD }],
    ['JSON that is an array', []],
    ['JSON that is null', null],
    ['JSON that is a string', 'hello'],
  ];
  for (const [label, body] of badBodies) {
    it(`4xx with the error body for ${label}`, async () => {
      const r = await call(server.url, 'POST', '/auth/login', {
        raw: JSON.stringify(body),
        headers: JSON_TYPE,
      });
      assertClientError(r, ['invalid_request', 'invalid_credentials']);
      assert.equal(r.text.includes(PASSWORD), false);
    });
  }

  it('400 invalid_request for malformed JSON', async () => {
    const r = await call(server.url, 'POST', '/auth/login', {
      raw: '{"email": "x@example.test",',
      headers: JSON_TYPE,
    });
    assertError(r, 400, 'invalid_request');
  });

  it('429 rate_limited with Retry-After after repeated wrong passwords for one account, then backs off', async () => {
    const { email } = await register(server.url);
    const other = await register(server.url);
    const wrong = { email, password: 'not the password' };
    for (let i = 1; i <= 5; i++) {
      const r = await call(server.url, 'POST', '/auth/login', { json: wrong });
      assertError(r, 401, 'invalid_credentials');
    }
    const limited = await call(server.url, 'POST', '/auth/login', { json: wrong });
    assertError(limited, 429, 'rate_limited');
    const retryAfter = limited.headers.get('retry-after');
    assert.match(retryAfter ?? '', /^\d+$/, `Retry-After: ${retryAfter}`);
    assert.ok(Number(retryAfter) >= 1);

    // While throttled even the right password is refused (else the 429 would be an oracle),
    // also when the address is spelt in another case.
    assertError(
      await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } }),
      429,
      'rate_limited',
    );
    assertError(
      await call(server.url, 'POST', '/auth/login', {
        json: { email: email.toUpperCase(), password: PASSWORD },
      }),
      429,
      'rate_limited',
    );
    // Another account from the same address is not affected.
    assertTokenResponse(
      await call(server.url, 'POST', '/auth/login', { json: { email: other.email, password: PASSWORD } }),
    );

    // Exponential: after the wait one more attempt is allowed, and a further failure doubles it.
    await sleep(Number(retryAfter) * 1000 + 150);
    assertError(await call(server.url, 'POST', '/auth/login', { json: wrong }), 401, 'invalid_credentials');
    const longer = await call(server.url, 'POST', '/auth/login', { json: wrong });
    assertError(longer, 429, 'rate_limited');
    const retryAfter2 = Number(longer.headers.get('retry-after'));
    assert.ok(retryAfter2 > Number(retryAfter), `Retry-After ${retryAfter} then ${retryAfter2}`);

    // Back-off, not a lock-out: after Retry-After the owner gets in.
    await sleep(retryAfter2 * 1000 + 150);
    assertTokenResponse(
      await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } }),
    );
  });

  it('an unknown e-mail is throttled exactly like a known one', async () => {
    const known = await register(server.url);
    const unknown = newEmail();
    const replies: Reply[] = [];
    for (const email of [known.email, unknown]) {
      for (let i = 0; i < 5; i++) {
        const r = await call(server.url, 'POST', '/auth/login', {
          json: { email, password: 'not the password' },
        });
        assertError(r, 401, 'invalid_credentials');
      }
      replies.push(
        await call(server.url, 'POST', '/auth/login', { json: { email, password: 'not the password' } }),
      );
    }
    for (const r of replies) assertError(r, 429, 'rate_limited');
    assert.equal(replies[0]!.text, replies[1]!.text);
  });
});

describe('POST /auth/refresh', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ BATON_REUSE_GRACE: '1s' });
  });
  after(() => server.close());

  it('200 token response: a new refresh token for the same session, and a working access token', async () => {
    const { account, tokens } = await newUser(server.url);
    const r = await refresh(server.url, tokens.refresh_token);
    assertTokenResponse(r);
    assert.notEqual(r.data.refresh_token, tokens.refresh_token);
    assert.equal(r.data.session_id, tokens.session_id);
    const who = await me(server.url, r.data.access_token);
    assert.equal(who.status, 200, who.text);
    assert.equal(who.data.sub, account.userId);
    // The chain continues.
    assertTokenResponse(await refresh(server.url, r.data.refresh_token));
  });

  it('the same token twice within the grace window returns the same successor', async () => {
    const { tokens } = await newUser(server.url);
    const [a, b] = await Promise.all([
      refresh(server.url, tokens.refresh_token),
      refresh(server.url, tokens.refresh_token),
    ]);
    assertTokenResponse(a);
    assertTokenResponse(b);
    assert.equal(a.data.refresh_token, b.data.refresh_token);
    const again = await refresh(server.url, tokens.refresh_token);
    assertTokenResponse(again);
    assert.equal(again.data.refresh_token, a.data.refresh_token);
  });

  it('reuse after the successor was used: 401 invalid_grant and the whole session is revoked', async () => {
    const { tokens } = await newUser(server.url);
    const second = await refresh(server.url, tokens.refresh_token);
    const third = await refresh(server.url, second.data.refresh_token);
    assertTokenResponse(third);
    assertError(await refresh(server.url, tokens.refresh_token), 401, 'invalid_grant');
    await assertSessionDead(server.url, third.data.access_token, third.data.refresh_token);
  });

  it('reuse outside the grace window: 401 invalid_grant and the whole session is revoked', async () => {
    const { tokens } = await newUser(server.url);
    const second = await refresh(server.url, tokens.refresh_token);
    assertTokenResponse(second);
    await sleep(1100);
    assertError(await refresh(server.url, tokens.refresh_token), 401, 'invalid_grant');
    await assertSessionDead(server.url, second.data.access_token, second.data.refresh_token);
  });

  it('401 invalid_grant for unknown, forged or malformed tokens, which leave the real session alone', async () => {
    const { tokens } = await newUser(server.url);
    const rt: string = tokens.refresh_token;
    const flipped = rt.slice(0, -1) + (rt.endsWith('A') ? 'B' : 'A');
    for (const presented of [flipped, 'garbage', '', 'x'.repeat(1000), `${rt}x`]) {
      const r = await refresh(server.url, presented);
      assertError(r, 401, 'invalid_grant');
      assert.equal(r.text.includes(rt), false, 'no token text in errors');
    }
    assertTokenResponse(await refresh(server.url, rt));
  });

  it('an access token sent as refresh_token is 401 invalid_grant', async () => {
    const { tokens } = await newUser(server.url);
    const r = await refresh(server.url, tokens.access_token);
    assertError(r, 401, 'invalid_grant');
    assert.equal(r.text.includes(tokens.access_token), false);
    assert.equal((await me(server.url, tokens.access_token)).status, 200);
  });

  it('wrong types are a 400 invalid_request', async () => {
    for (const body of [{ refresh_token: 12345 }, { refresh_token: { t: 'x' } }, { refresh_token: ['x'] }]) {
      assertError(await call(server.url, 'POST', '/auth/refresh', { json: body }), 400, 'invalid_request');
    }
  });

  it('missing refresh_token, null, array or string bodies are a 4xx with the error body', async () => {
    for (const raw of ['{}', 'null', '[]', '"a-refresh-token"', '{"refresh_token": null}', '']) {
      const r = await call(server.url, 'POST', '/auth/refresh', { raw, headers: JSON_TYPE });
      assertClientError(r, ['invalid_request', 'invalid_grant']);
    }
    assertClientError(await call(server.url, 'POST', '/auth/refresh'), ['invalid_request', 'invalid_grant']);
  });

  it('400 invalid_request for malformed JSON', async () => {
    const r = await call(server.url, 'POST', '/auth/refresh', {
      raw: '{"refresh_token": ',
      headers: JSON_TYPE,
    });
    assertError(r, 400, 'invalid_request');
  });
});

describe('token expiry', () => {
  let shortAccess: TestServer;
  let shortIdle: TestServer;
  let shortSession: TestServer;
  before(async () => {
    [shortAccess, shortIdle, shortSession] = await Promise.all([
      startTestServer({ BATON_ACCESS_TOKEN_TTL: '1' }),
      startTestServer({ BATON_REFRESH_IDLE_TTL: '1s' }),
      startTestServer({ BATON_SESSION_MAX_AGE: '1s' }),
    ]);
  });
  after(() => Promise.all([shortAccess.close(), shortIdle.close(), shortSession.close()]));

  it('expired access tokens are 401 invalid_token; expired refresh tokens and sessions are 401 invalid_grant', async () => {
    const a = await newUser(shortAccess.url);
    assert.equal(a.tokens.expires_in, 1);
    const i = await newUser(shortIdle.url);
    const s = await newUser(shortSession.url);
    assert.ok(s.tokens.refresh_token_expires_in <= 1, 'a refresh token never outlives its session');
    assert.ok(s.tokens.expires_in <= 1, 'an access token never outlives its session');
    await sleep(1200);
    // The access token expired; the session did not.
    assertInvalidToken(await me(shortAccess.url, a.tokens.access_token));
    const renewed = await refresh(shortAccess.url, a.tokens.refresh_token);
    assertTokenResponse(renewed, { expiresIn: 1 });
    assert.equal((await me(shortAccess.url, renewed.data.access_token)).status, 200);
    // Idle expiry and absolute expiry.
    assertError(await refresh(shortIdle.url, i.tokens.refresh_token), 401, 'invalid_grant');
    assertError(await refresh(shortSession.url, s.tokens.refresh_token), 401, 'invalid_grant');
  });
});

describe('GET /auth/me', () => {
  let server: TestServer;
  let stranger: TestServer;
  before(async () => {
    [server, stranger] = await Promise.all([startTestServer(), startTestServer()]);
  });
  after(() => Promise.all([server.close(), stranger.close()]));

  it('200 {sub, email, session_id} for the caller', async () => {
    const { account, tokens } = await newUser(server.url);
    const r = await me(server.url, tokens.access_token);
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json\b/);
    assert.deepEqual(Object.keys(r.data).sort(), ['email', 'session_id', 'sub']);
    assert.equal(r.data.sub, account.userId);
    assert.equal(r.data.email, account.email);
    assert.equal(r.data.session_id, tokens.session_id);
  });

  it('the "Bearer" scheme name is case-insensitive (RFC 7235)', async () => {
    const { tokens } = await newUser(server.url);
    const r = await call(server.url, 'GET', '/auth/me', {
      headers: { authorization: `bearer ${tokens.access_token}` },
    });
    assert.equal(r.status, 200, r.text);
  });

  it('401 invalid_token with WWW-Authenticate for a missing or malformed Authorization header', async () => {
    assertInvalidToken(await call(server.url, 'GET', '/auth/me'));
    for (const authorization of [
      'Bearer',
      'Bearer ',
      'Bearer not-a-jwt',
      'Basic dXNlcjpwYXNz',
      'a.b.c',
      'Bearer a.b.c',
    ]) {
      assertInvalidToken(await call(server.url, 'GET', '/auth/me', { headers: { authorization } }));
    }
  });

  it('401 invalid_token for a tampered, unsigned or foreign access token', async () => {
    const { tokens } = await newUser(server.url);
    const { header, payload } = decodeJwt(tokens.access_token);
    const [h, p, s] = tokens.access_token.split('.');
    const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const forged = [
      // Payload changed (another sub), signature kept.
      `${h}.${enc({ ...payload, sub: 'someone-else' })}.${s}`,
      // Signature of another token.
      `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`,
      // alg none.
      `${enc({ ...header, alg: 'none' })}.${p}.`,
      `${enc({ ...header, alg: 'none' })}.${p}.${s}`,
    ];
    for (const token of forged) assertInvalidToken(await me(server.url, token));
    // A genuine token of another Baton (other keys).
    const elsewhere = await newUser(stranger.url);
    assertInvalidToken(await me(server.url, elsewhere.tokens.access_token));
  });

  it('a refresh token used as Bearer is 401 invalid_token', async () => {
    const { tokens } = await newUser(server.url);
    const r = await me(server.url, tokens.refresh_token);
    assertInvalidToken(r);
    assert.equal(r.text.includes(tokens.refresh_token), false);
    assert.equal((r.headers.get('www-authenticate') ?? '').includes(tokens.refresh_token), false);
  });
});

describe('POST /auth/logout and /auth/logout-all', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('with the Bearer access token: 204, and the session is dead for refresh and /auth/me', async () => {
    const { account, tokens } = await newUser(server.url);
    const keep = (await login(server.url, account.email)).data;
    const r = await call(server.url, 'POST', '/auth/logout', { headers: bearer(tokens.access_token) });
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    await assertSessionDead(server.url, tokens.access_token, tokens.refresh_token);
    // Only that session: the user's other one lives, and no longer lists the dead one.
    const list = await call(server.url, 'GET', '/auth/sessions', { headers: bearer(keep.access_token) });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      list.data.sessions.map((s: { id: string }) => s.id),
      [keep.session_id],
    );
  });

  it('with a JSON content type and an empty body plus Bearer: 204', async () => {
    const { tokens } = await newUser(server.url);
    const r = await call(server.url, 'POST', '/auth/logout', {
      headers: { ...bearer(tokens.access_token), ...JSON_TYPE },
    });
    assert.equal(r.status, 204, r.text);
    await assertSessionDead(server.url, tokens.access_token, tokens.refresh_token);
  });

  it('with {refresh_token}: 204, and the session is dead for refresh and /auth/me', async () => {
    const { account, tokens } = await newUser(server.url);
    const keep = (await login(server.url, account.email)).data;
    const r = await call(server.url, 'POST', '/auth/logout', {
      json: { refresh_token: tokens.refresh_token },
    });
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    await assertSessionDead(server.url, tokens.access_token, tokens.refresh_token);
    assert.equal((await me(server.url, keep.access_token)).status, 200);
  });

  it('a second logout with the same credentials is a 401', async () => {
    const a = await newUser(server.url);
    assert.equal(
      (await call(server.url, 'POST', '/auth/logout', { headers: bearer(a.tokens.access_token) })).status,
      204,
    );
    const again = await call(server.url, 'POST', '/auth/logout', { headers: bearer(a.tokens.access_token) });
    assertInvalidToken(again);
    const b = await newUser(server.url);
    const json = { refresh_token: b.tokens.refresh_token };
    assert.equal((await call(server.url, 'POST', '/auth/logout', { json })).status, 204);
    assertError(await call(server.url, 'POST', '/auth/logout', { json }), 401);
  });

  it('401 without any credential, or with an invalid one', async () => {
    assertError(await call(server.url, 'POST', '/auth/logout'), 401);
    assertError(await call(server.url, 'POST', '/auth/logout', { json: {} }), 401);
    assertInvalidToken(await call(server.url, 'POST', '/auth/logout', { headers: bearer('not-a-token') }));
    assertError(await call(server.url, 'POST', '/auth/logout', { json: { refresh_token: 'garbage' } }), 401);
  });

  it('a refresh token as Bearer, or an access token as refresh_token, is a 401 and revokes nothing', async () => {
    const { tokens } = await newUser(server.url);
    assertInvalidToken(
      await call(server.url, 'POST', '/auth/logout', { headers: bearer(tokens.refresh_token) }),
    );
    assertError(
      await call(server.url, 'POST', '/auth/logout', { json: { refresh_token: tokens.access_token } }),
      401,
    );
    assert.equal((await me(server.url, tokens.access_token)).status, 200);
  });

  it('wrong types, malformed JSON and non-object JSON are a 4xx with the error body', async () => {
    assertError(
      await call(server.url, 'POST', '/auth/logout', { json: { refresh_token: 42 } }),
      400,
      'invalid_request',
    );
    assertError(
      await call(server.url, 'POST', '/auth/logout', { raw: '{"refresh_token"', headers: JSON_TYPE }),
      400,
      'invalid_request',
    );
    for (const raw of ['[]', '"token"', '7']) {
      assertClientError(await call(server.url, 'POST', '/auth/logout', { raw, headers: JSON_TYPE }));
    }
  });

  it('logout-all: 204; every session of the user is dead, another user is untouched', async () => {
    const { account, tokens: first } = await newUser(server.url);
    const second = (await login(server.url, account.email)).data;
    const third = (await login(server.url, account.email)).data;
    const other = await newUser(server.url);

    const r = await call(server.url, 'POST', '/auth/logout-all', { headers: bearer(second.access_token) });
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    for (const t of [first, second, third])
      await assertSessionDead(server.url, t.access_token, t.refresh_token);

    assert.equal((await me(server.url, other.tokens.access_token)).status, 200);
    assertTokenResponse(await refresh(server.url, other.tokens.refresh_token));
    // The user can sign in again.
    const fresh = await login(server.url, account.email);
    assert.equal((await me(server.url, fresh.data.access_token)).status, 200);
  });

  it('logout-all: 401 invalid_token without a valid Bearer access token', async () => {
    const { tokens } = await newUser(server.url);
    assertInvalidToken(await call(server.url, 'POST', '/auth/logout-all'));
    assertInvalidToken(
      await call(server.url, 'POST', '/auth/logout-all', { headers: bearer(tokens.refresh_token) }),
    );
    // A refresh token in the body is not enough.
    const r = await call(server.url, 'POST', '/auth/logout-all', {
      json: { refresh_token: tokens.refresh_token },
    });
    assertError(r, 401, 'invalid_token');
    assert.equal((await me(server.url, tokens.access_token)).status, 200);
  });
});

describe('GET /auth/sessions and DELETE /auth/sessions/:id', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('lists the live sessions with ISO-8601 times and `current` on the calling one', async () => {
    const account = await register(server.url);
    const start = Date.now();
    const laptop = (await login(server.url, account.email, { 'user-agent': 'Laptop/1.0' })).data;
    const phone = (await login(server.url, account.email, { 'user-agent': 'Phone/2.0' })).data;

    const r = await call(server.url, 'GET', '/auth/sessions', { headers: bearer(laptop.access_token) });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json\b/);
    assert.deepEqual(Object.keys(r.data), ['sessions']);
    assert.equal(r.data.sessions.length, 2);
    const byId = new Map(r.data.sessions.map((s: { id: string }) => [s.id, s]));
    assert.deepEqual([...byId.keys()].sort(), [laptop.session_id, phone.session_id].sort());
    for (const s of r.data.sessions) {
      assert.deepEqual(Object.keys(s).sort(), [
        'created_at',
        'current',
        'expires_at',
        'id',
        'ip',
        'last_used_at',
        'user_agent',
      ]);
      const created = assertIso(s.created_at, 'created_at');
      const used = assertIso(s.last_used_at, 'last_used_at');
      const expires = assertIso(s.expires_at, 'expires_at');
      assert.ok(created >= start - 2000 && created <= Date.now() + 2000, s.created_at);
      assert.ok(used >= created, 'last_used_at before created_at');
      assert.ok(expires > Date.now(), 'a live session expires in the future');
      assert.ok(expires <= created + 30 * 86_400_000 + 1000, 'beyond the 30 d session maximum');
      assert.equal(typeof s.ip, 'string');
      assert.match(s.ip, /127\.0\.0\.1/);
      assert.equal(typeof s.current, 'boolean');
    }
    // biome-ignore lint/suspicious/noExplicitAny: list entries
    const get = (id: string): any => byId.get(id);
    assert.equal(get(laptop.session_id).current, true);
    assert.equal(get(phone.session_id).current, false);
    assert.equal(get(laptop.session_id).user_agent, 'Laptop/1.0');
    assert.equal(get(phone.session_id).user_agent, 'Phone/2.0');

    // The flag follows the caller.
    const fromPhone = await call(server.url, 'GET', '/auth/sessions', {
      headers: bearer(phone.access_token),
    });
    assert.equal(fromPhone.status, 200);
    const flags = Object.fromEntries(
      fromPhone.data.sessions.map((s: { id: string; current: boolean }) => [s.id, s.current]),
    );
    assert.deepEqual(flags, { [laptop.session_id]: false, [phone.session_id]: true });
  });

  it('last_used_at moves forward when the session is refreshed', async () => {
    const { tokens } = await newUser(server.url);
    const list1 = await call(server.url, 'GET', '/auth/sessions', { headers: bearer(tokens.access_token) });
    const used1 = Date.parse(list1.data.sessions[0].last_used_at);
    await sleep(20);
    const beforeRefresh = Date.now();
    const next = await refresh(server.url, tokens.refresh_token);
    assertTokenResponse(next);
    const list2 = await call(server.url, 'GET', '/auth/sessions', {
      headers: bearer(next.data.access_token),
    });
    const used2 = Date.parse(list2.data.sessions[0].last_used_at);
    assert.ok(
      used2 > used1,
      `last_used_at ${list1.data.sessions[0].last_used_at} → ${list2.data.sessions[0].last_used_at}`,
    );
    assert.ok(used2 >= beforeRefresh - 5);
  });

  it('shows only the caller’s own sessions', async () => {
    const a = await newUser(server.url);
    const b = await newUser(server.url);
    const r = await call(server.url, 'GET', '/auth/sessions', { headers: bearer(a.tokens.access_token) });
    assert.deepEqual(
      r.data.sessions.map((s: { id: string }) => s.id),
      [a.tokens.session_id],
    );
    assert.ok(!r.text.includes(b.tokens.session_id));
  });

  it('401 invalid_token without a valid Bearer access token', async () => {
    const { tokens } = await newUser(server.url);
    assertInvalidToken(await call(server.url, 'GET', '/auth/sessions'));
    assertInvalidToken(
      await call(server.url, 'GET', '/auth/sessions', { headers: bearer(tokens.refresh_token) }),
    );
    assertInvalidToken(await call(server.url, 'DELETE', `/auth/sessions/${tokens.session_id}`));
    assertInvalidToken(
      await call(server.url, 'DELETE', `/auth/sessions/${tokens.session_id}`, { headers: bearer('nope') }),
    );
    assert.equal((await me(server.url, tokens.access_token)).status, 200, 'nothing was revoked');
  });

  it('DELETE of another of one’s own sessions: 204, it vanishes from the list and its tokens die', async () => {
    const { account, tokens: keep } = await newUser(server.url);
    const gone = (await login(server.url, account.email)).data;
    const r = await call(server.url, 'DELETE', `/auth/sessions/${gone.session_id}`, {
      headers: bearer(keep.access_token),
    });
    assert.equal(r.status, 204, r.text);
    assert.equal(r.text, '');
    const list = await call(server.url, 'GET', '/auth/sessions', { headers: bearer(keep.access_token) });
    assert.deepEqual(
      list.data.sessions.map((s: { id: string }) => s.id),
      [keep.session_id],
    );
    await assertSessionDead(server.url, gone.access_token, gone.refresh_token);
    assertTokenResponse(await refresh(server.url, keep.refresh_token));
    // Deleting it again: it no longer exists.
    assertError(
      await call(server.url, 'DELETE', `/auth/sessions/${gone.session_id}`, {
        headers: bearer(keep.access_token),
      }),
      404,
      'not_found',
    );
  });

  it('DELETE of the calling session: 204 and the caller’s own tokens die', async () => {
    const { tokens } = await newUser(server.url);
    const r = await call(server.url, 'DELETE', `/auth/sessions/${tokens.session_id}`, {
      headers: bearer(tokens.access_token),
    });
    assert.equal(r.status, 204, r.text);
    await assertSessionDead(server.url, tokens.access_token, tokens.refresh_token);
  });

  it('404 not_found for another user’s session id and for an unknown id, with identical bodies', async () => {
    const a = await newUser(server.url);
    const b = await newUser(server.url);
    const foreign = await call(server.url, 'DELETE', `/auth/sessions/${b.tokens.session_id}`, {
      headers: bearer(a.tokens.access_token),
    });
    assertError(foreign, 404, 'not_found');
    const unknown = await call(server.url, 'DELETE', '/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA', {
      headers: bearer(a.tokens.access_token),
    });
    assertError(unknown, 404, 'not_found');
    assert.equal(foreign.text, unknown.text);
    for (const id of ['x', 'no-such-session', encodeURIComponent("' OR 1=1 --")]) {
      assertError(
        await call(server.url, 'DELETE', `/auth/sessions/${id}`, { headers: bearer(a.tokens.access_token) }),
        404,
        'not_found',
      );
    }
    // The other user's session is untouched.
    assert.equal((await me(server.url, b.tokens.access_token)).status, 200);
    assertTokenResponse(await refresh(server.url, b.tokens.refresh_token));
  });

  it('a long unknown id is 404 not_found too, and without a Bearer token it is 401 first', async () => {
    const { tokens } = await newUser(server.url);
    for (const id of ['A'.repeat(65), 'B'.repeat(200)]) {
      assertInvalidToken(await call(server.url, 'DELETE', `/auth/sessions/${id}`));
      assertError(
        await call(server.url, 'DELETE', `/auth/sessions/${id}`, { headers: bearer(tokens.access_token) }),
        404,
        'not_found',
      );
    }
  });
});

describe('request hygiene: bodies, content types, sizes, URLs, headers', () => {
  let server: TestServer;
  let tokens: { access_token: string; refresh_token: string };
  before(async () => {
    server = await startTestServer();
    tokens = (await newUser(server.url)).tokens;
  });
  after(() => server.close());

  const routes = ['/auth/register', '/auth/login', '/auth/refresh', '/auth/logout', '/auth/logout-all'];

  for (const path of routes) {
    it(`${path}: 413 for a body over 16 KiB`, async () => {
      const raw = JSON.stringify({
        email: newEmail(),
        password: PASSWORD,
        refresh_token: 'x',
        pad: 'x'.repeat(17_000),
      });
      const r = await call(server.url, 'POST', path, {
        raw,
        headers: { ...JSON_TYPE, ...bearer(tokens.access_token) },
      });
      assertError(r, 413);
    });

    for (const type of [
      'text/plain',
      'application/xml',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      it(`${path}: 415 for ${type}`, async () => {
        const r = await call(server.url, 'POST', path, {
          raw:
            type === 'application/xml'
              ? '<login><email>a@example.test</email></login>'
              : 'email=a%40example.test',
          headers: { 'content-type': type, ...bearer(tokens.access_token) },
        });
        assertError(r, 415);
      });
    }
  }

  it('a string body without a content type (fetch sends text/plain) is a 415', async () => {
    const r = await call(server.url, 'POST', '/auth/login', {
      raw: JSON.stringify({ email: 'a@example.test' }),
    });
    assertError(r, 415);
  });

  it('exactly 16 KiB is accepted; one byte more is a 413', async () => {
    const { email } = await register(server.url);
    const body = JSON.stringify({ email, password: PASSWORD });
    const exact = body + ' '.repeat(16 * 1024 - Buffer.byteLength(body));
    assert.equal(Buffer.byteLength(exact), 16 * 1024);
    assertTokenResponse(await call(server.url, 'POST', '/auth/login', { raw: exact, headers: JSON_TYPE }));
    assertError(await call(server.url, 'POST', '/auth/login', { raw: `${exact} `, headers: JSON_TYPE }), 413);
  });

  it('a chunked body (no Content-Length) over 16 KiB is a 413', async () => {
    const body = new TextEncoder().encode(
      JSON.stringify({ email: newEmail(), password: 'x'.repeat(20_000) }),
    );
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(body);
        controller.close();
      },
    });
    const res = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      body: stream,
      headers: JSON_TYPE,
      duplex: 'half',
    } as RequestInit);
    const text = await res.text();
    assertError({ status: res.status, headers: res.headers, text, data: JSON.parse(text) }, 413);
  });

  it('a malformed percent-encoding in the path is a 4xx with the error body', async () => {
    const r = await call(server.url, 'DELETE', '/auth/sessions/%E0%A4%A', {
      headers: bearer(tokens.access_token),
    });
    assertClientError(r);
    assertClientError(await call(server.url, 'GET', '/auth/me%ZZ', { headers: bearer(tokens.access_token) }));
  });

  it('an oversized header (20 KB Authorization) is a 4xx with the error body', async () => {
    const r = await call(server.url, 'GET', '/auth/me', { headers: bearer('x'.repeat(20_000)) });
    assertClientError(r);
  });

  it('a __proto__ key is a 4xx, never a 5xx', async () => {
    for (const path of ['/auth/register', '/auth/login', '/auth/refresh']) {
      const raw = `{"email": "${newEmail()}", "password": "${PASSWORD}", "__proto__": {"admin": true}}`;
      const r = await call(server.url, 'POST', path, { raw, headers: JSON_TYPE });
      assertClientError(r);
    }
  });

  it('an unknown route is a 404 with the error body', async () => {
    assertError(await call(server.url, 'GET', '/auth/nothing-here'), 404, 'not_found');
  });
});

describe('cookie mode (X-Token-Transport: cookie)', () => {
  let plain: TestServer;
  let allowing: TestServer;
  before(async () => {
    [plain, allowing] = await Promise.all([
      startTestServer(),
      startTestServer({ BATON_ALLOWED_ORIGINS: `${ALLOWED_ORIGIN},https://second.example.test` }),
    ]);
  });
  after(() => Promise.all([plain.close(), allowing.close()]));

  /** Registers and logs in in cookie mode; the token response and the cookie's value. */
  async function cookieLogin(
    server: TestServer,
    headers: Record<string, string> = {},
    // biome-ignore lint/suspicious/noExplicitAny: token response fields are inspected individually
  ): Promise<{ account: Account; body: any; cookie: string }> {
    const account = await register(server.url);
    const r = await login(server.url, account.email, { ...COOKIE_MODE, ...headers });
    assertTokenResponse(r, { cookieMode: true });
    return { account, body: r.data, cookie: assertRefreshCookieSet(r) };
  }

  const cookieRefresh = (
    server: TestServer,
    cookie: string,
    headers: Record<string, string> = {},
  ): Promise<Reply> =>
    call(server.url, 'POST', '/auth/refresh', {
      headers: withCookie(cookie, { ...COOKIE_MODE, ...headers }),
    });

  it('login: no refresh_token in the body; the cookie is set for /auth/refresh and /auth/logout, HttpOnly, Secure, SameSite=Strict', async () => {
    const { account, body, cookie } = await cookieLogin(plain);
    assert.equal(body.refresh_token, undefined);
    const who = await me(plain.url, body.access_token);
    assert.equal(who.status, 200);
    assert.equal(who.data.sub, account.userId);
    assert.equal(who.data.session_id, body.session_id);
    // The cookie's value is the session's refresh token.
    const r = await cookieRefresh(plain, cookie);
    assertTokenResponse(r, { cookieMode: true });
    assert.equal(r.data.session_id, body.session_id);
  });

  it('a login without the header is ordinary: refresh_token in the body, no cookie', async () => {
    const account = await register(plain.url);
    const r = await login(plain.url, account.email);
    assertTokenResponse(r);
    assert.deepEqual(refreshCookies(r), []);
  });

  it('refresh with the cookie and the header: 200, no refresh_token in the body, the cookie rotates', async () => {
    const { body, cookie } = await cookieLogin(plain);
    const r = await cookieRefresh(plain, cookie);
    assertTokenResponse(r, { cookieMode: true });
    assert.equal(r.data.session_id, body.session_id);
    const rotated = assertRefreshCookieSet(r);
    assert.notEqual(rotated, cookie);
    assert.equal((await me(plain.url, r.data.access_token)).status, 200);
    // The rotated cookie works; the old one, after its successor was used, is reuse.
    const third = await cookieRefresh(plain, rotated);
    assertTokenResponse(third, { cookieMode: true });
    const third_cookie = assertRefreshCookieSet(third);
    assertError(await cookieRefresh(plain, cookie), 401, 'invalid_grant');
    assertError(await cookieRefresh(plain, third_cookie), 401, 'invalid_grant');
  });

  it('refresh with the header but no cookie: 401 invalid_grant', async () => {
    const r = await call(plain.url, 'POST', '/auth/refresh', { headers: COOKIE_MODE });
    assertError(r, 401, 'invalid_grant');
  });

  it('refresh or logout carrying the cookie without the header: 403 csrf_rejected, and nothing happens', async () => {
    const { body, cookie } = await cookieLogin(plain);
    const noHeader = [
      call(plain.url, 'POST', '/auth/refresh', { headers: withCookie(cookie) }),
      call(plain.url, 'POST', '/auth/refresh', { headers: withCookie(cookie), json: {} }),
      call(plain.url, 'POST', '/auth/logout', { headers: withCookie(cookie) }),
      call(plain.url, 'POST', '/auth/logout', { headers: withCookie(cookie, JSON_TYPE) }),
    ];
    for (const r of await Promise.all(noHeader)) {
      assertError(r, 403, 'csrf_rejected');
      assert.equal(refreshCookies(r).filter((c) => !isCleared(c)).length, 0, 'no new cookie on a refusal');
    }
    // The session is alive and its cookie was not consumed.
    assert.equal((await me(plain.url, body.access_token)).status, 200);
    const r = await cookieRefresh(plain, cookie);
    assertTokenResponse(r, { cookieMode: true });
  });

  it('a foreign Origin: 403 csrf_rejected on login, refresh and logout', async () => {
    const account = await register(plain.url);
    const login403 = await call(plain.url, 'POST', '/auth/login', {
      json: { email: account.email, password: PASSWORD },
      headers: { ...COOKIE_MODE, origin: FOREIGN_ORIGIN },
    });
    assertError(login403, 403, 'csrf_rejected');
    assert.deepEqual(refreshCookies(login403), [], 'no cookie for a refused origin');

    const { body, cookie } = await cookieLogin(plain);
    for (const origin of [FOREIGN_ORIGIN, ALLOWED_ORIGIN, 'null']) {
      assertError(await cookieRefresh(plain, cookie, { origin }), 403, 'csrf_rejected');
      const out = await call(plain.url, 'POST', '/auth/logout', {
        headers: withCookie(cookie, { ...COOKIE_MODE, origin }),
      });
      assertError(out, 403, 'csrf_rejected');
    }
    assert.equal((await me(plain.url, body.access_token)).status, 200, 'the session survived');
    assertTokenResponse(await cookieRefresh(plain, cookie), { cookieMode: true });
  });

  it('the server’s own origin is allowed', async () => {
    const own = new URL(plain.url).origin;
    const { cookie } = await cookieLogin(plain, { origin: own });
    const r = await cookieRefresh(plain, cookie, { origin: own });
    assertTokenResponse(r, { cookieMode: true });
    const out = await call(plain.url, 'POST', '/auth/logout', {
      headers: withCookie(assertRefreshCookieSet(r), { ...COOKIE_MODE, origin: own }),
    });
    assert.equal(out.status, 204, out.text);
  });

  it('an Origin listed in BATON_ALLOWED_ORIGINS works for login, refresh and logout', async () => {
    for (const origin of [ALLOWED_ORIGIN, 'https://second.example.test']) {
      const { body, cookie } = await cookieLogin(allowing, { origin });
      const r = await cookieRefresh(allowing, cookie, { origin });
      assertTokenResponse(r, { cookieMode: true });
      const out = await call(allowing.url, 'POST', '/auth/logout', {
        headers: withCookie(assertRefreshCookieSet(r), { ...COOKIE_MODE, origin }),
      });
      assert.equal(out.status, 204, out.text);
      assertRefreshCookieCleared(out);
      await assertSessionDead(allowing.url, body.access_token);
    }
  });

  it('origins that merely resemble an allowed one are refused', async () => {
    const account = await register(allowing.url);
    for (const origin of [
      FOREIGN_ORIGIN,
      'http://app.example.test',
      'https://app.example.test:8443',
      'https://app.example.test.evil.example',
      'https://evilapp.example.test',
      `${ALLOWED_ORIGIN}/`,
      'HTTPS://APP.EXAMPLE.TEST.evil',
    ]) {
      const r = await call(allowing.url, 'POST', '/auth/login', {
        json: { email: account.email, password: PASSWORD },
        headers: { ...COOKIE_MODE, origin },
      });
      assertError(r, 403, 'csrf_rejected');
    }
  });

  it('logout with the cookie: 204, the cookie is cleared on both paths, and the session is dead', async () => {
    const { body, cookie } = await cookieLogin(plain);
    const r = await call(plain.url, 'POST', '/auth/logout', { headers: withCookie(cookie, COOKIE_MODE) });
    assert.equal(r.status, 204, r.text);
    assertRefreshCookieCleared(r);
    await assertSessionDead(plain.url, body.access_token);
    assertError(await cookieRefresh(plain, cookie), 401, 'invalid_grant');
  });

  it('CORS: a preflight from an allowed origin may send X-Token-Transport with credentials', async () => {
    const preflight = await call(allowing.url, 'OPTIONS', '/auth/refresh', {
      headers: {
        origin: ALLOWED_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-token-transport',
      },
    });
    assert.ok(
      preflight.status >= 200 && preflight.status < 300,
      `preflight: ${preflight.status} ${preflight.text}`,
    );
    assert.equal(preflight.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /x-token-transport/i);

    const { cookie } = await cookieLogin(allowing, { origin: ALLOWED_ORIGIN });
    const r = await cookieRefresh(allowing, cookie, { origin: ALLOWED_ORIGIN });
    assertTokenResponse(r, { cookieMode: true });
    assert.equal(r.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.equal(r.headers.get('access-control-allow-credentials'), 'true');

    // A foreign origin gets no CORS grant.
    const foreign = await call(allowing.url, 'OPTIONS', '/auth/refresh', {
      headers: { origin: FOREIGN_ORIGIN, 'access-control-request-method': 'POST' },
    });
    assert.notEqual(foreign.headers.get('access-control-allow-origin'), FOREIGN_ORIGIN);
    assert.notEqual(foreign.headers.get('access-control-allow-origin'), '*');
  });
});
