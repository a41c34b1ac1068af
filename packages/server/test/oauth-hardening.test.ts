// Cases found by attacking the OAuth surface; each would fail if its protection were removed.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ConfigError, loadConfig } from '../src/config.js';
import { describeFailure } from '../src/http/errors.js';
import { call, PASSWORD, signIn, startTestServer, type TestServer } from './helpers.js';

const SECRET = 'backend-secret-0123456789';
const form = (base: string, path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  });

/** Sends a request whose target is exactly `target` (percent-encoded or absolute form). */
function raw(
  url: string,
  target: string,
  body: string,
  contentType: string,
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { hostname, port, method: 'POST', path: target, headers: { 'content-type': contentType } },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('OAuth hardening', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ BATON_CLIENTS: `backend:${SECRET}` }, { keepDataDir: true });
  });
  after(() => server.close());

  it('decides body types by the matched route, not the raw URL', async () => {
    const { tokens } = await signIn(server.url);
    const json = JSON.stringify({ grant_type: { x: 1 }, refresh_token: tokens.data.refresh_token });
    for (const target of ['/%6Fauth/token', `${server.url}/oauth/token`]) {
      const r = await raw(server.url, target, json, 'application/json');
      assert.equal(r.status, 415, `${target}: ${r.body}`);
    }
    const ok = await raw(
      server.url,
      '/%6Fauth/token',
      `grant_type=refresh_token&refresh_token=${tokens.data.refresh_token}`,
      'application/x-www-form-urlencoded',
    );
    assert.equal(ok.status, 200, ok.body);
  });

  it('refuses empty parameter names, non-UTF-8 forms and a bare Basic header', async () => {
    const empty = await form(server.url, '/oauth/token', '=x&grant_type=refresh_token&refresh_token=y');
    assert.equal(empty.status, 400);
    assert.equal((await empty.json()).error, 'invalid_request');
    const latin1 = await form(server.url, '/oauth/token', 'grant_type=refresh_token&refresh_token=y', {
      'content-type': 'application/x-www-form-urlencoded; charset=iso-8859-1',
    });
    assert.equal(latin1.status, 415);
    const bare = await form(server.url, '/oauth/token', 'grant_type=refresh_token&refresh_token=y', {
      authorization: 'Basic',
    });
    assert.equal(bare.status, 401);
    assert.equal((await bare.json()).error, 'invalid_client');
  });

  it("/auth/logout cannot end a confidential client's session without the client's secret", async () => {
    const { email } = await signIn(server.url);
    const login = await call(server.url, 'POST', '/auth/login', {
      json: { email, password: PASSWORD, client_id: 'backend', client_secret: SECRET },
    });
    const out = await call(server.url, 'POST', '/auth/logout', {
      json: { refresh_token: login.data.refresh_token },
    });
    assert.equal(out.status, 401);
    assert.equal(out.data.error, 'invalid_grant');
    const still = await form(
      server.url,
      '/oauth/token',
      `grant_type=refresh_token&refresh_token=${login.data.refresh_token}`,
      {
        authorization: `Basic ${Buffer.from(`backend:${SECRET}`).toString('base64')}`,
      },
    );
    assert.equal(still.status, 200, 'the session is untouched');
  });

  it('a consumed refresh token sent to RFC 7009 revocation is recorded as reuse', async () => {
    const { tokens } = await signIn(server.url);
    const sid = tokens.data.session_id;
    const one = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: tokens.data.refresh_token },
    });
    await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: one.data.refresh_token } });
    const revoked = await form(server.url, '/oauth/revoke', `token=${tokens.data.refresh_token}`);
    assert.equal(revoked.status, 200);
    await new Promise((r) => setTimeout(r, 50)); // the audit trail is written in batches
    const db = new Database(join(server.dataDir, 'baton.db'), { readonly: true });
    try {
      const row = db
        .prepare("SELECT detail FROM audit_events WHERE type = 'reuse_detected' AND session_id = ?")
        .get(sid) as { detail: string } | undefined;
      assert.match(row?.detail ?? '', /"via":"token_revoked"/);
    } finally {
      db.close();
    }
  });

  it('refuses an issuer with a query or fragment', () => {
    assert.throws(() => loadConfig({ BATON_ISSUER: 'https://example.com/?q=1' }), ConfigError);
    assert.throws(() => loadConfig({ BATON_ISSUER: 'https://example.com/#f' }), ConfigError);
    assert.equal(
      loadConfig({ BATON_ISSUER: 'https://example.com/tenant' }).issuer,
      'https://example.com/tenant',
    );
  });

  it('describes a server failure without its message or stack', () => {
    const failure = describeFailure(new TypeError('Received type number (98765432123456780)'));
    assert.equal(failure.type, 'TypeError');
    assert.doesNotMatch(JSON.stringify(failure), /98765432123456780|\n/);
  });
});
