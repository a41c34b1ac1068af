// Resource servers: the verifier from @baton/core/verify against a running Baton, with the
// revocation feed, and each framework adapter with its framework's own test helper.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  createAccessTokenVerifier,
  createIntrospectionCheck,
  createRevocationFeed,
  expressProtect,
  fastifyProtect,
  honoProtect,
  protectRequest,
  type RevocationFeed,
} from '@baton/core/verify';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { SECURITY_HEADERS } from '../src/http/errors.js';
import { bearer, call, signIn, startTestServer, type TestServer } from './helpers.js';
import { runCli } from './processes.js';

const RS = { id: 'orders-api', secret: 'orders-api-secret-0123456789' };

describe('resource servers', () => {
  let baton: TestServer;
  let feed: RevocationFeed;
  let verifier: ReturnType<typeof createAccessTokenVerifier>;
  before(async () => {
    baton = await startTestServer({
      BATON_RESOURCE_SERVERS: `${RS.id}:${RS.secret}`,
      BATON_AUDIENCE: 'orders',
    });
    feed = createRevocationFeed({
      url: `${baton.url}/oauth/revocations`,
      clientId: RS.id,
      clientSecret: RS.secret,
      accessTokenTtl: 15 * 60_000,
    });
    await feed.ready();
    verifier = createAccessTokenVerifier({
      issuer: baton.url,
      audience: 'orders',
      jwksUrl: `${baton.url}/.well-known/jwks.json`,
      revocation: feed,
    });
  });
  after(async () => {
    feed?.close();
    await baton?.close();
  });

  it('verifies with no round trip and refuses a revoked session once the feed says so (latency reported)', async (t) => {
    const figures: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { tokens } = await signIn(baton.url);
      const at = tokens.data.access_token;
      assert.equal((await verifier.verify(at)).sid, tokens.data.session_id);
      assert.equal((await call(baton.url, 'POST', '/auth/logout', { headers: bearer(at) })).status, 204);
      const started = performance.now();
      for (;;) {
        try {
          await verifier.verify(at);
        } catch (e) {
          assert.equal((e as { problem?: string }).problem, 'revoked');
          break;
        }
        assert.ok(performance.now() - started < 2000, 'refused within 2 s');
        await new Promise((r) => setTimeout(r, 1));
      }
      figures.push(performance.now() - started);
    }
    t.diagnostic(
      `resource server refused the revoked session ${figures.map((f) => f.toFixed(1)).join(', ')} ms after logout returned`,
    );
  });

  it('catches up on connect: a session revoked before the feed started is refused', async () => {
    const { tokens } = await signIn(baton.url);
    await call(baton.url, 'POST', '/auth/logout', { headers: bearer(tokens.data.access_token) });
    const late = createRevocationFeed({
      url: `${baton.url}/oauth/revocations`,
      clientId: RS.id,
      clientSecret: RS.secret,
      accessTokenTtl: 15 * 60_000,
    });
    try {
      await late.ready();
      const v = createAccessTokenVerifier({
        issuer: baton.url,
        audience: 'orders',
        jwksUrl: `${baton.url}/.well-known/jwks.json`,
        revocation: late,
      });
      await assert.rejects(v.verify(tokens.data.access_token), { problem: 'revoked' });
    } finally {
      late.close();
    }
  });

  it('while Baton is down the feed keeps refusing what it knows; Baton shuts down promptly with feed clients', async () => {
    const own = await startTestServer({
      BATON_RESOURCE_SERVERS: `${RS.id}:${RS.secret}`,
      BATON_AUDIENCE: 'orders',
    });
    let closed: Promise<void> | undefined;
    const closeOwn = (): Promise<void> => {
      closed ??= own.close();
      return closed;
    };
    const ownFeed = createRevocationFeed({
      url: `${own.url}/oauth/revocations`,
      clientId: RS.id,
      clientSecret: RS.secret,
      accessTokenTtl: 15 * 60_000,
    });
    try {
      await ownFeed.ready();
      const v = createAccessTokenVerifier({
        issuer: own.url,
        audience: 'orders',
        jwksUrl: `${own.url}/.well-known/jwks.json`,
        revocation: ownFeed,
      });
      const revoked = (await signIn(own.url)).tokens.data.access_token;
      const live = (await signIn(own.url)).tokens.data.access_token;
      await v.verify(live); // the key is now resolved and kept
      await call(own.url, 'POST', '/auth/logout', { headers: bearer(revoked) });
      let refused = false;
      for (let i = 0; i < 200 && !refused; i++) {
        refused = await v.verify(revoked).then(
          () => false,
          () => true,
        );
        if (!refused) await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(refused, 'the feed delivered the revocation');
      const started = performance.now();
      await closeOwn(); // ends the open feed stream instead of waiting for it
      assert.ok(performance.now() - started < 5000, 'shutdown is not held up by the feed');
      for (let i = 0; i < 100 && ownFeed.healthy(); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(ownFeed.healthy(), false);
      await assert.rejects(v.verify(revoked), { problem: 'revoked' }, 'known revocations stay refused');
      assert.ok(await v.verify(live), 'live sessions keep working');
    } finally {
      ownFeed.close();
      await closeOwn();
    }
  });

  it('keeps verifying across a key rotation through its cached JWKS', async (t) => {
    // A verifier whose JWKS cache is younger than the pre-publication delay sees the new key
    // before it signs (here 1 s of cache against 2 s of delay; by default 10 min each side of 5).
    // Its own Baton: the rotation must not disturb the other tests' verifiers.
    const baton = await startTestServer({ BATON_AUDIENCE: 'orders' });
    t.after(() => baton.close());
    const v = createAccessTokenVerifier({
      issuer: baton.url,
      audience: 'orders',
      jwksUrl: `${baton.url}/.well-known/jwks.json`,
      cacheMaxAge: 1000,
      cooldown: 500,
    });
    const before = (await signIn(baton.url)).tokens.data.access_token;
    await v.verify(before);
    const cli = runCli(['keys', 'rotate', '--activate-in', '2s'], { BATON_DATA_DIR: baton.dataDir });
    assert.equal(cli.status, 0, cli.stderr);
    const kid = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid;
    const failures: string[] = [];
    const deadline = Date.now() + 4000;
    let after = before;
    while (Date.now() < deadline) {
      const token = (await signIn(baton.url)).tokens.data.access_token;
      await v.verify(token).catch((e) => failures.push(String(e.problem)));
      after = token;
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.notEqual(kid(after), kid(before), 'the new key signs by now');
    assert.deepEqual(failures, [], 'no token failed to verify during the rotation');
    assert.ok(await v.verify(before), 'tokens of the old key still verify');
  });

  it('the feed carries the security headers like every other response', async () => {
    const controller = new AbortController();
    const basic = Buffer.from(`${RS.id}:${RS.secret}`).toString('base64');
    const r = await fetch(`${baton.url}/oauth/revocations`, {
      headers: { authorization: `Basic ${basic}` },
      signal: controller.signal,
    });
    controller.abort();
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    for (const [name, value] of Object.entries(SECURITY_HEADERS))
      assert.equal(r.headers.get(name), value, name);
  });

  it('refuses the feed to callers without a resource-server credential', async () => {
    const r = await fetch(`${baton.url}/oauth/revocations`, { headers: { authorization: 'Basic eDp5' } });
    assert.equal(r.status, 401);
    assert.equal((await r.json()).error, 'invalid_client');
  });

  it('falls back to introspection (cached briefly) without a feed', async () => {
    const check = createIntrospectionCheck({
      url: `${baton.url}/oauth/introspect`,
      clientId: RS.id,
      clientSecret: RS.secret,
      cacheTtl: 0,
    });
    const v = createAccessTokenVerifier({
      issuer: baton.url,
      audience: 'orders',
      jwksUrl: `${baton.url}/.well-known/jwks.json`,
      revocation: check,
    });
    const { tokens } = await signIn(baton.url);
    assert.ok(await v.verify(tokens.data.access_token));
    await call(baton.url, 'POST', '/auth/logout', { headers: bearer(tokens.data.access_token) });
    await assert.rejects(v.verify(tokens.data.access_token), { problem: 'revoked' });
  });

  describe('adapters', () => {
    const expectRefusal = (
      status: number,
      headers: Headers,
      body: { error: string },
      error = 'invalid_token',
    ) => {
      assert.equal(status, error === 'insufficient_scope' ? 403 : 401);
      assert.match(
        headers.get('www-authenticate') ?? '',
        new RegExp(`^Bearer realm="api", error="${error}"`),
      );
      assert.equal(body.error, error);
    };

    it('Fastify (inject)', async () => {
      const app = Fastify();
      app.get('/orders', { preHandler: fastifyProtect({ verifier }) }, async (req) => ({
        sub: (req as unknown as { baton: { sub: string } }).baton.sub,
      }));
      app.get('/admin', { preHandler: fastifyProtect({ verifier, scopes: ['admin'] }) }, async () => ({
        ok: true,
      }));
      const { tokens } = await signIn(baton.url);
      const ok = await app.inject({ url: '/orders', headers: bearer(tokens.data.access_token) });
      assert.equal(ok.statusCode, 200);
      const none = await app.inject({ url: '/orders' });
      expectRefusal(none.statusCode, new Headers(none.headers as Record<string, string>), none.json());
      const scope = await app.inject({ url: '/admin', headers: bearer(tokens.data.access_token) });
      expectRefusal(
        scope.statusCode,
        new Headers(scope.headers as Record<string, string>),
        scope.json(),
        'insufficient_scope',
      );
      await app.close();
    });

    it('Express (a real listener)', async () => {
      const app = express();
      app.get('/orders', expressProtect({ verifier }), (_req, res) => {
        res.json({ sub: (res.locals.baton as { sub: string }).sub });
      });
      const server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const { tokens } = await signIn(baton.url);
        const ok = await fetch(`${url}/orders`, { headers: bearer(tokens.data.access_token) });
        assert.equal(ok.status, 200);
        const bad = await fetch(`${url}/orders`, { headers: bearer(`${tokens.data.access_token}x`) });
        expectRefusal(bad.status, bad.headers, await bad.json());
      } finally {
        await new Promise((r) => server.close(r));
      }
    });

    it('Hono (app.request)', async () => {
      const app = new Hono<{ Variables: { baton: { sub: string } } }>();
      app.use('/orders', honoProtect({ verifier }) as never);
      app.get('/orders', (c) => c.json({ sub: c.get('baton').sub }));
      const { tokens } = await signIn(baton.url);
      const ok = await app.request('/orders', { headers: bearer(tokens.data.access_token) });
      assert.equal(ok.status, 200);
      const none = await app.request('/orders');
      expectRefusal(none.status, none.headers, await none.json());
    });

    it('plain (request: Request) => claims', async () => {
      const protect = protectRequest({ verifier });
      const { tokens } = await signIn(baton.url);
      const claims = await protect(
        new Request('http://api.test/orders', { headers: bearer(tokens.data.access_token) }),
      );
      assert.equal(claims.aud, 'orders');
      try {
        await protect(new Request('http://api.test/orders'));
        assert.fail('expected a refusal');
      } catch (response) {
        assert.ok(response instanceof Response);
        expectRefusal(response.status, response.headers, await response.json());
      }
    });

    it('checks its options once, at creation', () => {
      assert.throws(() => fastifyProtect({} as never), /verifier/);
      assert.throws(() => expressProtect({ verifier, realm: 'a"b' }), /realm/);
    });
  });
});
