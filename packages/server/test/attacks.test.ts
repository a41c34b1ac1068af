// The attack catalogue over HTTP: every token-accepting path refuses every forged or mangled
// token with the right status and code, leaks nothing, and leaves the store as it was.
import assert from 'node:assert/strict';
import { createHmac, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSigningKey, type SigningKey } from '@baton/core';
import { createManualClock } from '@baton/core/testing';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { bearer, call, PASSWORD, type Reply, signIn, startTestServer, type TestServer } from './helpers.js';

const b64 = (v: unknown): string =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const RUNS = Number(process.env.BATON_FUZZ_RUNS ?? 200);

describe('attack catalogue over HTTP', () => {
  let server: TestServer;
  let key: SigningKey;
  let victim: { access: string; refresh: string; sid: string; sub: string };
  let other: { refresh: string };

  /** Everything but the audit trail: users, sessions, denied tokens. */
  function snapshot(): string {
    const db = new Database(join(server.dataDir, 'baton.db'), { readonly: true });
    try {
      return JSON.stringify([
        db.prepare('SELECT id, email, password_hash, disabled_at FROM users ORDER BY id').all(),
        db
          .prepare('SELECT id, generation, rotated_at, revoked_at, revoke_reason FROM sessions ORDER BY id')
          .all(),
        db.prepare('SELECT * FROM revoked_access_tokens ORDER BY jti').all(),
      ]);
    } finally {
      db.close();
    }
  }

  function leaksNothing(r: Reply, secrets: string[]): void {
    assert.ok(r.status < 500, `no 5xx: ${r.status} ${r.text}`);
    assert.doesNotMatch(r.text, /\n\s+at |SELECT|INSERT|UPDATE|sqlite|stack/i);
    for (const s of secrets) if (s.length > 8) assert.equal(r.text.includes(s), false, 'no token text');
  }

  before(async () => {
    server = await startTestServer(
      { BATON_RESOURCE_SERVERS: 'api:api-secret-0123456789abc' },
      { keepDataDir: true },
    );
    const stored = JSON.parse(readFileSync(join(server.dataDir, 'keys.json'), 'utf8')).signingKeys[0];
    key = loadSigningKey(stored);
    const a = (await signIn(server.url)).tokens.data;
    const claims = JSON.parse(Buffer.from(a.access_token.split('.')[1], 'base64url').toString());
    victim = { access: a.access_token, refresh: a.refresh_token, sid: a.session_id, sub: claims.sub };
    other = { refresh: (await signIn(server.url)).tokens.data.refresh_token };
  });
  after(() => server.close());

  function forgedAccessTokens(): Record<string, string> {
    const now = Math.floor(Date.now() / 1000);
    const good = {
      iss: server.url,
      sub: victim.sub,
      aud: 'baton',
      client_id: 'baton',
      sid: victim.sid,
      jti: 'attack',
      iat: now,
      exp: now + 900,
    };
    const hdr = { alg: 'EdDSA', typ: 'at+jwt', kid: key.kid };
    const forge = (header: object, payload: object | string) => {
      const input = `${b64(header)}.${b64(payload)}`;
      return `${input}.${sign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
    };
    const [h, p, s] = victim.access.split('.') as [string, string, string];
    const pem = key.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const hsInput = `${b64({ ...hdr, alg: 'HS256' })}.${b64(good)}`;
    return {
      'alg none': `${b64({ ...hdr, alg: 'none' })}.${b64(good)}.`,
      'alg nOnE': `${b64({ ...hdr, alg: 'nOnE' })}.${b64(good)}.`,
      'HS256 with the public key': `${hsInput}.${createHmac('sha256', pem).update(hsInput).digest('base64url')}`,
      'kid path trick': forge({ ...hdr, kid: '../../keys.json' }, good),
      'jku header': forge({ ...hdr, kid: 'x', jku: 'http://127.0.0.1:1/jwks' }, good),
      'x5u header': forge({ ...hdr, kid: 'x', x5u: 'http://127.0.0.1:1/x' }, good),
      'jwk header': forge({ ...hdr, kid: 'x', jwk: key.publicJwk }, good),
      crit: forge({ ...hdr, crit: ['exp'] }, good),
      'b64 false': forge({ ...hdr, b64: false, crit: ['b64'] }, good),
      'typ JWT': forge({ ...hdr, typ: 'JWT' }, good),
      expired: forge(hdr, { ...good, exp: now - 10 }),
      'nbf future': forge(hdr, { ...good, nbf: now + 600 }),
      'exp as string': forge(hdr, { ...good, exp: String(now + 900) }),
      'tampered payload': `${h}.${b64({ ...good, sub: 'someone-else' })}.${s}`,
      'signature stripped': `${h}.${p}.`,
      padded: `${victim.access}=`,
      'over the 4 KiB token limit': `${h}.${'A'.repeat(5000)}.${s}`,
      'refresh token as bearer': victim.refresh,
    };
  }

  it('every access-token path refuses every forged token, leaks nothing, changes nothing', async () => {
    const before = snapshot();
    for (const [name, token] of Object.entries(forgedAccessTokens())) {
      const auth = bearer(token);
      const paths: Array<[string, string, Record<string, unknown>?]> = [
        ['GET', '/auth/me'],
        ['GET', '/auth/sessions'],
        ['DELETE', `/auth/sessions/${victim.sid}`],
        ['POST', '/auth/logout'],
        ['POST', '/auth/logout-all'],
      ];
      for (const [method, path] of paths) {
        const r = await call(server.url, method, path, { headers: auth });
        assert.equal(r.status, 401, `${name} on ${method} ${path}: ${r.text}`);
        assert.equal(r.data.error, 'invalid_token');
        assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        leaksNothing(r, [token]);
      }
      // A genuine refresh token is a valid thing to introspect or revoke: not an attack there.
      if (token === victim.refresh) continue;
      const intro = await fetch(`${server.url}/oauth/introspect`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from('api:api-secret-0123456789abc').toString('base64')}`,
        },
        body: new URLSearchParams({ token }).toString(),
      });
      assert.deepEqual(await intro.json(), { active: false }, name);
      const rev = await fetch(`${server.url}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      assert.equal(rev.status, 200, name);
    }
    assert.equal(snapshot(), before, 'the store is unchanged');
    assert.equal((await call(server.url, 'GET', '/auth/me', { headers: bearer(victim.access) })).status, 200);
  });

  it('every refresh-token path refuses mangled or foreign refresh tokens and changes nothing', async () => {
    const [sid, gen, secret] = victim.refresh.split('.') as [string, string, string];
    const [, , otherSecret] = other.refresh.split('.') as [string, string, string];
    const mangled: Record<string, string> = {
      truncated: victim.refresh.slice(0, -3),
      extended: `${victim.refresh}AAA`,
      'case-changed': `${sid}.${gen}.${secret.toUpperCase()}`,
      "another session's secret": `${sid}.${gen}.${otherSecret}`,
      'generation bumped': `${sid}.${Number(gen) + 1}.${secret}`,
      'session id swapped': `${other.refresh.split('.')[0]}.${gen}.${secret}`,
      'access token as refresh token': victim.access,
    };
    const before = snapshot();
    for (const [name, token] of Object.entries(mangled)) {
      const r1 = await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: token } });
      assert.equal(r1.status, 401, name);
      assert.equal(r1.data.error, 'invalid_grant');
      leaksNothing(r1, [token, secret]);
      const r2 = await fetch(`${server.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString(),
      });
      assert.equal(r2.status, 400, name);
      assert.equal((await r2.json()).error, 'invalid_grant');
      const r3 = await call(server.url, 'POST', '/auth/logout', { json: { refresh_token: token } });
      assert.equal(r3.status, 401, name);
      // (A genuine access token sent to /oauth/revoke is revoked, as RFC 7009 wants: not an attack.)
      if (token === victim.access) continue;
      const r4 = await fetch(`${server.url}/oauth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      assert.equal(r4.status, 200, name);
    }
    assert.equal(snapshot(), before, 'the store is unchanged');
    assert.equal(
      (await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: victim.refresh } })).status,
      200,
    );
  });

  it('property: arbitrary JSON bodies, headers and token strings never yield a 5xx or change a thing when refused', async () => {
    const json = fc.jsonValue({ maxDepth: 4 });
    const token = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.stringMatching(/^[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_.-]{0,80}$/),
    );
    const posts = ['/auth/register', '/auth/login', '/auth/refresh', '/auth/logout', '/auth/logout-all'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...posts), json, token, async (path, body, t) => {
        const before = snapshot();
        const headers: Record<string, string> = {};
        // Header values must be valid HTTP field values for fetch to send them at all.
        if (/^[\x20-\x7e]*$/.test(t)) headers.authorization = `Bearer ${t}`;
        const r = await call(server.url, 'POST', path, {
          raw: JSON.stringify(body),
          headers: { 'content-type': 'application/json', ...headers },
        });
        assert.ok(r.status < 500, `${path} ${JSON.stringify(body).slice(0, 100)} → ${r.status}`);
        if (r.status >= 400) assert.equal(snapshot(), before);
      }),
      { numRuns: RUNS },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/oauth/token', '/oauth/revoke', '/oauth/introspect'),
        fc.string({ maxLength: 300 }),
        async (path, body) => {
          const before = snapshot();
          const r = await call(server.url, 'POST', path, {
            raw: body,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          });
          assert.ok(r.status < 500, `${path} ${body.slice(0, 100)} → ${r.status}`);
          if (r.status >= 400) assert.equal(snapshot(), before);
        },
      ),
      { numRuns: RUNS },
    );
    await fc.assert(
      fc.asyncProperty(token, async (t) => {
        if (!/^[\x20-\x7e]*$/.test(t)) return;
        const r = await call(server.url, 'GET', '/auth/me', { headers: { authorization: `Bearer ${t}` } });
        assert.equal(r.status, 401);
      }),
      { numRuns: RUNS },
    );
  });

  it('brute force: 1,000 wrong passwords from one IP are throttled; the owner signs in from another IP', async (t) => {
    // Time stands still, so the back-off cannot lapse however slowly this machine runs.
    const server = await startTestServer({}, { clock: createManualClock(Date.now()) });
    t.after(() => server.close());
    const { email } = await signIn(server.url);
    // Each request claims another origin in X-Forwarded-For: with no trusted proxy configured
    // the header is ignored, so the claims buy no fresh attempts.
    let claimed = 0;
    const from = (localAddress: string, password: string) =>
      new Promise<number>((resolve, reject) => {
        const { hostname, port } = new URL(server.url);
        const req = httpRequest(
          {
            hostname,
            port,
            path: '/auth/login',
            method: 'POST',
            localAddress,
            headers: {
              'content-type': 'application/json',
              'x-forwarded-for': `10.9.${++claimed % 250}.${claimed % 7}`,
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ email, password }));
      });
    const statuses: number[] = [];
    for (let i = 0; i < 1000; i++) statuses.push(await from('127.0.0.2', `wrong password ${i}`));
    const reachedArgon = statuses.filter((s) => s === 401).length;
    assert.equal(reachedArgon, 5, 'five free attempts, then back-off');
    assert.equal(statuses.filter((s) => s === 429).length, 995);
    assert.equal(await from('127.0.0.3', PASSWORD), 200, 'the owner is not locked out');
    // Even the right password is refused from the attacking address while it is throttled.
    assert.equal(await from('127.0.0.2', PASSWORD), 429);
  });

  it('a user agent is kept to its first 256 characters', async () => {
    const long = `agent/${'x'.repeat(2000)}`;
    const { tokens } = await signIn(server.url, { 'user-agent': long });
    const list = await call(server.url, 'GET', '/auth/sessions', {
      headers: bearer(tokens.data.access_token),
    });
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.data.sessions.map((x: { user_agent: string }) => x.user_agent),
      [long.slice(0, 256)],
    );
  });
});
