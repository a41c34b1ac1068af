// Rate limits over HTTP: registration per IP, refresh per session, the token endpoint per client.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '@baton/core/testing';
import { call, newEmail, PASSWORD, type Reply, signIn, startTestServer, type TestServer } from './helpers.js';

const SECRET = 'svc-secret-0123456789abcdef';
const from = (ip: string): Record<string, string> => ({ 'x-forwarded-for': ip });
const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function assertLimited(reply: Reply, retryAfter: number): void {
  assert.equal(reply.status, 429, reply.text);
  assert.equal(reply.data.error, 'rate_limited');
  assert.equal(reply.headers.get('retry-after'), String(retryAfter));
}

describe('rate limits', () => {
  const clock = createManualClock(Date.now());
  let server: TestServer;
  before(async () => {
    server = await startTestServer(
      {
        BATON_RATE_LIMIT_REGISTER: '3/1m',
        BATON_RATE_LIMIT_REFRESH: '3/1m',
        BATON_RATE_LIMIT_TOKEN: '2/1m',
        BATON_TRUSTED_PROXIES: '127.0.0.1',
        BATON_CLIENTS: `svc:${SECRET}`,
        BATON_LOGIN_ACCOUNT_FAILURES: '10/15m',
      },
      { clock },
    );
  });
  after(() => server.close());

  it('registration: per IP, refused before any account is created', async () => {
    const register = (email: string, ip: string) =>
      call(server.url, 'POST', '/auth/register', { json: { email, password: PASSWORD }, headers: from(ip) });
    for (let i = 0; i < 3; i++) assert.equal((await register(newEmail(), '198.51.100.1')).status, 201);
    const refused = newEmail();
    assertLimited(await register(refused, '198.51.100.1'), 20);
    const login = await call(server.url, 'POST', '/auth/login', {
      json: { email: refused, password: PASSWORD },
    });
    assert.equal(login.status, 401, 'the refused registration stored nothing');
    assert.equal(
      (await register(newEmail(), '198.51.100.2')).status,
      201,
      'other addresses are not affected',
    );
    clock.advance(20_000);
    assert.equal((await register(refused, '198.51.100.1')).status, 201, 'the allowance refills');
  });

  it('an IPv6 /64 is one address, and an IPv4-mapped address is its IPv4 address', async () => {
    const register = (ip: string) =>
      call(server.url, 'POST', '/auth/register', {
        json: { email: newEmail(), password: PASSWORD },
        headers: from(ip),
      });
    for (const ip of ['2001:db8:7:7::1', '2001:db8:7:7::2', '2001:db8:7:7:ffff:1:2:3'])
      assert.equal((await register(ip)).status, 201, ip);
    assertLimited(await register('2001:0db8:0007:0007::99'), 20);
    assert.equal((await register('2001:db8:7:8::1')).status, 201, 'the next /64 is someone else');
    for (const ip of ['203.0.113.9', '::ffff:203.0.113.9', '203.0.113.9'])
      assert.equal((await register(ip)).status, 201, ip);
    assertLimited(await register('::ffff:203.0.113.9'), 20);
  });

  it('login: fresh addresses in one /64 do not buy fresh guesses', async () => {
    clock.advance(60_000); // registrations here come from one address: refill its allowance
    const { email } = await signIn(server.url, from('198.51.100.77'));
    const statuses: number[] = [];
    for (let i = 1; i <= 8; i++) {
      const r = await call(server.url, 'POST', '/auth/login', {
        json: { email, password: 'wrong password here' },
        headers: from(`2001:db8:1:2::${i.toString(16)}`),
      });
      statuses.push(r.status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    const owner = await call(server.url, 'POST', '/auth/login', {
      json: { email, password: PASSWORD },
      headers: from('198.51.100.77'),
    });
    assert.equal(owner.status, 200, 'the owner elsewhere is not locked out');
  });

  it('login: guesses at one account from many addresses are bounded; the owner at a known address is not', async () => {
    clock.advance(60_000);
    const home = '198.51.100.78';
    const { email } = await signIn(server.url, from(home));
    const login = (password: string, ip: string) =>
      call(server.url, 'POST', '/auth/login', { json: { email, password }, headers: from(ip) });
    // Ten addresses of a botnet, one guess each: every one within its own free failures.
    for (let bot = 1; bot <= 10; bot++)
      assert.equal((await login('wrong password here', `203.0.113.${bot}`)).status, 401);
    assertLimited(await login('wrong password here', '203.0.113.11'), 15 * 60);
    // Even the right password from an address the account has never signed in from waits:
    // the check is not even made, so the 429 says nothing about the guess.
    assertLimited(await login(PASSWORD, '203.0.113.12'), 15 * 60);
    assert.equal((await login(PASSWORD, home)).status, 200, 'the owner signs in where they did before');
    clock.advance(15 * 60_000);
    assert.equal((await login(PASSWORD, '203.0.113.12')).status, 200, 'the next window is open');
  });

  it('refresh: per session; a refused refresh consumes nothing, forged tokens count for nothing', async () => {
    const { tokens } = await signIn(server.url, from('198.51.100.3'));
    let token: string = tokens.data.refresh_token;
    const refresh = (refresh_token: string) =>
      call(server.url, 'POST', '/auth/refresh', { json: { refresh_token } });
    // Someone who knows the session id but not the secret cannot spend the owner's allowance.
    const [sid, gen, mac] = token.split('.') as [string, string, string];
    for (let i = 0; i < 10; i++) {
      const forged = `${sid}.${gen}.${(mac[0] === 'A' ? 'B' : 'A') + mac.slice(1)}`;
      assert.equal((await refresh(forged)).status, 401);
    }
    // Ten tabs at once with one token: one rotation, nine grace re-issues, one unit spent.
    const burst = await Promise.all(Array.from({ length: 10 }, () => refresh(token)));
    assert.deepEqual(new Set(burst.map((r) => r.status)), new Set([200]));
    assert.equal(new Set(burst.map((r) => r.data.refresh_token)).size, 1);
    token = burst[0]!.data.refresh_token;
    const chain = [token];
    for (let i = 0; i < 2; i++) {
      const r = await refresh(token);
      assert.equal(r.status, 200, r.text);
      token = r.data.refresh_token;
      chain.push(token);
    }
    assertLimited(await refresh(token), 20);
    // With the allowance spent, a retry within the grace window still gets the same successor...
    const retry = await refresh(chain.at(-2)!);
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.data.refresh_token, token);
    const other = await signIn(server.url, from('198.51.100.4'));
    assert.equal(
      (await refresh(other.tokens.data.refresh_token)).status,
      200,
      'other sessions are not affected',
    );
    clock.advance(20_000);
    const later = await refresh(token);
    assert.equal(later.status, 200, 'the token refused with 429 was not consumed (no reuse detected)');
  });

  it('grace re-issues: a hundred per consumed token, then 429; the successor still works', async () => {
    clock.advance(60_000); // registrations here come from one address: refill its allowance
    const { tokens } = await signIn(server.url, from('198.51.100.4'));
    const old: string = tokens.data.refresh_token;
    const refresh = (refresh_token: string) =>
      call(server.url, 'POST', '/auth/refresh', { json: { refresh_token } });
    const first = await refresh(old);
    assert.equal(first.status, 200);
    for (let i = 0; i < 100; i++) {
      const again = await refresh(old);
      assert.equal(again.status, 200, `re-issue ${i + 1}`);
      assert.equal(again.data.refresh_token, first.data.refresh_token);
    }
    assertLimited(await refresh(old), 10);
    // Replaying for the rest of the grace window buys one more at most, not another hundred.
    clock.advance(9_500);
    const more = [];
    for (let i = 0; i < 5; i++) more.push((await refresh(old)).status);
    assert.deepEqual(more, [429, 429, 429, 429, 429]);
    assert.equal((await refresh(first.data.refresh_token)).status, 200, 'the session is unharmed');
  });

  it('an exhausted allowance never hides a replay: a consumed token is still detected as reuse', async () => {
    const { tokens } = await signIn(server.url, from('198.51.100.5'));
    const chain: string[] = [tokens.data.refresh_token];
    for (let i = 0; i < 3; i++) {
      const r = await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: chain.at(-1) } });
      assert.equal(r.status, 200, r.text);
      chain.push(r.data.refresh_token);
    }
    const replay = await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: chain[0] } });
    assert.equal(replay.status, 401, replay.text);
    assert.equal(replay.data.error, 'invalid_grant');
    const me = await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: chain.at(-1) } });
    assert.equal(me.status, 401, 'the session was revoked as stolen');
  });

  it('token endpoint: per confidential client across addresses, per IP for the public client', async () => {
    const oauthRefresh = (refresh_token: string, ip: string, client: Record<string, string>) =>
      call(server.url, 'POST', '/oauth/token', {
        raw: form({ grant_type: 'refresh_token', refresh_token, ...client }),
        headers: { ...FORM, ...from(ip) },
      });
    const svc = { client_id: 'svc', client_secret: SECRET };
    let n = 0;
    const login = async (client: Record<string, string>): Promise<string> => {
      const email = newEmail();
      n += 1; // one registration per address, well inside that limit
      const ip = from(`203.0.113.${100 + n}`);
      await call(server.url, 'POST', '/auth/register', { json: { email, password: PASSWORD }, headers: ip });
      const r = await call(server.url, 'POST', '/auth/login', {
        json: { email, password: PASSWORD, ...client },
        headers: ip,
      });
      assert.equal(r.status, 200, r.text);
      return r.data.refresh_token;
    };
    const loginSvc = () => login(svc);
    const wrong = await oauthRefresh(await loginSvc(), '203.0.113.1', {
      ...svc,
      client_secret: 'x'.repeat(26),
    });
    assert.equal(wrong.status, 401, 'an unauthenticated caller spends nothing');
    assert.equal((await oauthRefresh(await loginSvc(), '203.0.113.1', svc)).status, 200);
    assert.equal((await oauthRefresh(await loginSvc(), '203.0.113.2', svc)).status, 200);
    assertLimited(await oauthRefresh(await loginSvc(), '203.0.113.3', svc), 30);

    const pub = { client_id: 'baton' };
    assert.equal((await oauthRefresh(await login({}), '203.0.113.9', pub)).status, 200);
    assert.equal((await oauthRefresh(await login({}), '203.0.113.9', pub)).status, 200);
    assertLimited(await oauthRefresh(await login({}), '203.0.113.9', pub), 30);
    assert.equal((await oauthRefresh(await login({}), '203.0.113.10', pub)).status, 200);
  });

  it('revocation (RFC 7009): its own allowance per client, like the token endpoint', async () => {
    clock.advance(60_000);
    const revoke = (token: string, ip: string) =>
      call(server.url, 'POST', '/oauth/revoke', {
        raw: form({ token, client_id: 'baton' }),
        headers: { ...FORM, ...from(ip) },
      });
    const { tokens } = await signIn(server.url, from('203.0.113.50'));
    // Two revocations fill the allowance (2/1m here), wherever the tokens come from.
    assert.equal((await revoke('not-a-token', '203.0.113.50')).status, 200);
    assert.equal((await revoke(tokens.data.access_token, '203.0.113.50')).status, 200);
    assertLimited(await revoke(tokens.data.refresh_token, '203.0.113.50'), 30);
    const me = await call(server.url, 'GET', '/auth/sessions', {
      headers: { authorization: `Bearer ${tokens.data.access_token}` },
    });
    assert.equal(me.status, 401, 'the access token before the limit was revoked');
    assert.equal((await revoke('not-a-token', '203.0.113.51')).status, 200, 'another address is not limited');
  });
});
