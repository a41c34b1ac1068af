import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '@baton/core/testing';
import { LOGGER_OPTIONS } from '../src/server.js';
import {
  bearer,
  call,
  newEmail,
  PASSWORD,
  rawExchange,
  signIn,
  startTestServer,
  type TestServer,
} from './helpers.js';

describe('hardening found by attacking the server', () => {
  let server: TestServer;
  let log = '';
  before(async () => {
    const stream = new Writable({
      write(chunk, _enc, done) {
        log += chunk;
        done();
      },
    });
    server = await startTestServer(
      { BATON_ACCESS_TOKEN_TTL: '1s' },
      { logger: { ...LOGGER_OPTIONS, level: 'info', stream } },
    );
  });
  after(() => server.close());

  it('concurrent wrong passwords cannot outrun the login throttle', async (t) => {
    // Time stands still, so the first back-off (1 s) cannot lapse however slow this machine is.
    const server = await startTestServer({}, { clock: createManualClock(Date.now()) });
    t.after(() => server.close());
    const { email } = await signIn(server.url);
    const guesses = Array.from({ length: 30 }, (_, i) => `wrong password ${i}`);
    const replies = await Promise.all(
      [...guesses, PASSWORD].map((password) =>
        call(server.url, 'POST', '/auth/login', { json: { email, password } }),
      ),
    );
    const statuses = replies.map((r) => r.status);
    // Each attempt is counted before its password is checked, so at most the 5 free ones get in.
    assert.ok(statuses.filter((s) => s !== 429).length <= 5, statuses.join(','));
    for (const r of replies.filter((x) => x.status === 429))
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
  });

  it('ten concurrent correct logins to one account from one address all get in', async () => {
    const { email } = await signIn(server.url);
    const replies = await Promise.all(
      Array.from({ length: 10 }, () =>
        call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } }),
      ),
    );
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(10).fill(200),
    );
    assert.equal(new Set(replies.map((r) => r.data.session_id)).size, 10);
  });

  it('a cookie-mode logout with an expired access token still revokes the session', async () => {
    const email = newEmail();
    await call(server.url, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
    const login = await call(server.url, 'POST', '/auth/login', {
      json: { email, password: PASSWORD },
      headers: { 'x-token-transport': 'cookie' },
    });
    assert.equal(login.status, 200);
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    await new Promise((r) => setTimeout(r, 1100));
    const out = await call(server.url, 'POST', '/auth/logout', {
      headers: { 'x-token-transport': 'cookie', cookie, ...bearer(login.data.access_token) },
    });
    assert.equal(out.status, 204);
    const again = await call(server.url, 'POST', '/auth/refresh', {
      headers: { 'x-token-transport': 'cookie', cookie },
    });
    assert.equal(again.status, 401);
  });

  it('logging out with a consumed refresh token is recorded as reuse', async () => {
    const { tokens } = await signIn(server.url);
    const next = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: tokens.data.refresh_token },
    });
    assert.equal(next.status, 200);
    // Grace is 10 s by default; a grace-window logout is an ordinary logout, so use a later generation.
    const third = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: next.data.refresh_token },
    });
    assert.equal(third.status, 200);
    const out = await call(server.url, 'POST', '/auth/logout', {
      json: { refresh_token: tokens.data.refresh_token },
    });
    assert.equal(out.status, 204);
    assert.equal(
      (await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: third.data.refresh_token } }))
        .status,
      401,
    );
  });

  it('refuses non-UTF-8 JSON and compressed bodies with 415', async () => {
    const body = JSON.stringify({ email: newEmail(), password: PASSWORD });
    const utf16 = await call(server.url, 'POST', '/auth/register', {
      raw: body,
      headers: { 'content-type': 'application/json; charset=utf-16' },
    });
    assert.equal(utf16.status, 415);
    assert.equal(utf16.data.error, 'unsupported_media_type');
    const gz = await call(server.url, 'POST', '/auth/register', {
      raw: body,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    assert.equal(gz.status, 415);
    const ok = await call(server.url, 'POST', '/auth/register', {
      raw: body,
      headers: { 'content-type': 'application/json; charset=UTF-8' },
    });
    assert.equal(ok.status, 201);
  });

  it('refuses deeply nested JSON with 400 before parsing it, and accepts ordinary nesting', async () => {
    const email = newEmail();
    const deep = `{"email":"${email}","password":"${PASSWORD}","x":${'['.repeat(33)}${']'.repeat(33)}}`;
    const refused = await call(server.url, 'POST', '/auth/register', {
      raw: deep,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.data.error, 'invalid_request');
    assert.match(refused.data.error_description, /deeper than 32/);
    // Brackets inside strings do not count; nothing was stored by the refused request.
    const shallow = `{"email":"${email}","password":"${PASSWORD}","x":{"a":[["${'['.repeat(40)}"]]}}`;
    const ok = await call(server.url, 'POST', '/auth/register', {
      raw: shallow,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(ok.status, 201, ok.text);
  });

  it('refuses a second spelling of a valid signature', async () => {
    const { tokens } = await signIn(server.url);
    const token: string = tokens.data.access_token;
    const last = token.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // Ed25519 signatures are 64 bytes: the last base64url character carries 2 spare bits.
    const sibling = alphabet[(alphabet.indexOf(last) & ~0b1111) | ((alphabet.indexOf(last) + 1) & 0b1111)]!;
    const respelled = token.slice(0, -1) + sibling;
    assert.notEqual(respelled, token);
    assert.equal(
      Buffer.from(respelled.split('.')[2]!, 'base64url').equals(
        Buffer.from(token.split('.')[2]!, 'base64url'),
      ),
      true,
    );
    assert.equal((await call(server.url, 'GET', '/auth/me', { headers: bearer(respelled) })).status, 401);
  });

  it('never writes a token, password or cookie into the log, not even from a query string', async () => {
    const { tokens } = await signIn(server.url);
    await call(server.url, 'GET', `/auth/me?access_token=${tokens.data.access_token}`);
    await call(server.url, 'GET', '/auth/me', { headers: bearer(tokens.data.access_token) });
    // A token where an id or a path belongs: logged as the route's pattern or by its length.
    await call(server.url, 'DELETE', `/auth/sessions/${tokens.data.refresh_token}`, {
      headers: bearer(tokens.data.access_token),
    });
    await call(server.url, 'GET', `/nowhere/${tokens.data.access_token}`);
    await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: tokens.data.refresh_token } });
    assert.ok(log.includes('/auth/me'), 'requests are logged');
    assert.ok(log.includes('/auth/sessions/:id'), 'by their route');
    assert.match(log, /\/nowhere\/\[\d+ chars\]/);
    for (const secret of [tokens.data.access_token, tokens.data.refresh_token, PASSWORD]) {
      assert.equal(log.includes(secret), false);
    }
  });

  it('every response, down to errors of the HTTP parser, has the security headers and a JSON body', async () => {
    const { hostname, port } = new URL(server.url);
    const raw = (request: string) => rawExchange(server.url, request);
    const host = `Host: ${hostname}:${port}\r\n`;
    const cases: Array<[string, string, number]> = [
      ['ok', `GET /healthz HTTP/1.1\r\n${host}Connection: close\r\n\r\n`, 200],
      ['404', `GET /nope HTTP/1.1\r\n${host}Connection: close\r\n\r\n`, 404],
      ['oversize header', `GET /healthz HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['garbage', 'GARBAGE\r\n\r\n', 400],
      ['control byte in a header', `GET /healthz HTTP/1.1\r\n${host}X-A: a\u0001b\r\n\r\n`, 400],
      [
        'Content-Length with Transfer-Encoding',
        `POST /auth/login HTTP/1.1\r\n${host}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}`,
        400,
      ],
      ['no Host', 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n', 400],
      ['CONNECT', `CONNECT ${hostname}:${port} HTTP/1.1\r\n${host}\r\n`, 405],
      [
        'two Host headers',
        `GET /healthz HTTP/1.1\r\n${host}Host: evil.example\r\nConnection: close\r\n\r\n`,
        400,
      ],
      ['an asterisk target', `GET * HTTP/1.1\r\n${host}Connection: close\r\n\r\n`, 400],
      ['OPTIONS *', `OPTIONS * HTTP/1.1\r\n${host}Connection: close\r\n\r\n`, 204],
      [
        'an Expect Node does not meet',
        `GET /healthz HTTP/1.1\r\n${host}Expect: foo\r\nConnection: close\r\n\r\n`,
        417,
      ],
    ];
    for (const [name, request, status] of cases) {
      const response = await raw(request);
      const [head = '', body = ''] = response.split('\r\n\r\n');
      assert.match(head, new RegExp(`^HTTP/1.1 ${status} `), `${name}: ${head.split('\r\n')[0]}`);
      for (const header of [
        'x-content-type-options: nosniff',
        'referrer-policy: no-referrer',
        'x-frame-options: DENY',
      ])
        assert.ok(head.toLowerCase().includes(header.toLowerCase()), `${name}: ${header}`);
      if (status >= 400) {
        assert.match(head, /content-type: application\/json/i, name);
        assert.match(body, /"error":"(invalid_request|not_found)"/, `${name}: ${body}`);
      }
    }
  });

  it('no cache keeps what a bearer token reads: /auth/me and /auth/sessions are no-store', async () => {
    // This server's access tokens live 1 s: sign in fresh and ask at once.
    const { tokens } = await signIn(server.url);
    for (const path of ['/auth/me', '/auth/sessions']) {
      const r = await call(server.url, 'GET', path, { headers: bearer(tokens.data.access_token) });
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('cache-control'), 'no-store', path);
    }
  });
});

it('a client trickling its request is answered 408 and cut off (slowloris)', async () => {
  const server = await startTestServer({}, { requestTimeout: 600 });
  try {
    const { hostname, port } = new URL(server.url);
    const started = Date.now();
    const response = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(Number(port), hostname, () => {
        socket.write(
          `POST /auth/login HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"em`,
        );
        // One byte now and then, never the whole body.
        const drip = setInterval(() => socket.writable && socket.write('a'), 100);
        socket.on('close', () => clearInterval(drip));
      });
      socket.on('data', (d) => {
        text += d;
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(response, /^HTTP\/1.1 408 /);
    assert.match(response, /"error":"invalid_request"/);
    assert.ok(Date.now() - started < 5000, `cut off near the timeout, not after ${Date.now() - started} ms`);
  } finally {
    await server.close();
  }
});
