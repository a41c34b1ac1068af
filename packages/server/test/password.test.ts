import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { bearer, call, PASSWORD, signIn, startTestServer, type TestServer } from './helpers.js';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(() => server.close());

it('POST /auth/password checks the current password, applies the policy and signs out every other session', async () => {
  const { email, tokens: here } = await signIn(server.url);
  const elsewhere = await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
  const change = (body: unknown, token = here.data.access_token) =>
    call(server.url, 'POST', '/auth/password', { json: body, headers: bearer(token) });

  const wrong = await change({ current_password: 'not my password', new_password: 'a brand new secret' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.data.error, 'invalid_credentials');
  const weak = await change({ current_password: PASSWORD, new_password: 'short' });
  assert.equal(weak.status, 400);
  assert.match(weak.data.error_description, /at least 8/);
  assert.equal((await change({ current_password: PASSWORD })).status, 400);
  const anonymous = await call(server.url, 'POST', '/auth/password', {
    json: { current_password: PASSWORD, new_password: 'a brand new secret' },
  });
  assert.equal(anonymous.status, 401);

  assert.equal(
    (await change({ current_password: PASSWORD, new_password: 'a brand new secret' })).status,
    204,
  );
  assert.equal(
    (await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } })).status,
    401,
  );
  assert.equal(
    (await call(server.url, 'POST', '/auth/login', { json: { email, password: 'a brand new secret' } }))
      .status,
    200,
  );
  // This session lives on; the other one is over.
  assert.equal(
    (await call(server.url, 'GET', '/auth/me', { headers: bearer(here.data.access_token) })).status,
    200,
  );
  assert.equal(
    (await call(server.url, 'GET', '/auth/me', { headers: bearer(elsewhere.data.access_token) })).status,
    401,
  );
  assert.equal(
    (
      await call(server.url, 'POST', '/auth/refresh', {
        json: { refresh_token: elsewhere.data.refresh_token },
      })
    ).status,
    401,
  );
});

it('throttles guesses of the current password made with a stolen access token', async () => {
  const { tokens } = await signIn(server.url);
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await call(server.url, 'POST', '/auth/password', {
      json: { current_password: `guess ${i} of it`, new_password: 'whatever new secret' },
      headers: bearer(tokens.data.access_token),
    });
    statuses.push(r.status);
  }
  assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
});

it('a weak new password is a 400 that costs no throttle attempt', async () => {
  const { tokens } = await signIn(server.url);
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const r = await call(server.url, 'POST', '/auth/password', {
      json: { current_password: PASSWORD, new_password: 'short' },
      headers: bearer(tokens.data.access_token),
    });
    statuses.push(r.status);
  }
  assert.deepEqual(statuses, Array(8).fill(400));
  const ok = await call(server.url, 'POST', '/auth/password', {
    json: { current_password: PASSWORD, new_password: 'a much better passphrase' },
    headers: bearer(tokens.data.access_token),
  });
  assert.equal(ok.status, 204, ok.text);
});

it('two changes racing from the same old password: one wins, the other is told its password is wrong', async () => {
  const { email, tokens } = await signIn(server.url);
  const change = (next: string) =>
    call(server.url, 'POST', '/auth/password', {
      json: { current_password: PASSWORD, new_password: next },
      headers: bearer(tokens.data.access_token),
    });
  const [a, b] = await Promise.all([change('first new passphrase'), change('second new passphrase')]);
  assert.deepEqual([a.status, b.status].sort(), [204, 401], `${a.text} ${b.text}`);
  const winner = a.status === 204 ? 'first new passphrase' : 'second new passphrase';
  const loser = a.status === 204 ? 'second new passphrase' : 'first new passphrase';
  const login = (password: string) => call(server.url, 'POST', '/auth/login', { json: { email, password } });
  assert.equal(
    (await login(winner)).status,
    200,
    'the password that was reported changed is the one in force',
  );
  assert.equal((await login(loser)).status, 401);
});

it('login and password change share one throttle per account, and no login can reach another key', async () => {
  const victim = await signIn(server.url);
  const sub = JSON.parse(
    Buffer.from(victim.tokens.data.access_token.split('.')[1]!, 'base64url').toString(),
  ).sub;
  // Logins with "addresses" shaped like any other throttle key fail, and throttle only themselves.
  for (const shaped of [`password:${sub}`, `gone:${sub}`, sub])
    for (let i = 0; i < 6; i++)
      await call(server.url, 'POST', '/auth/login', {
        json: { email: shaped, password: 'wrong password here' },
      });
  const changed = await call(server.url, 'POST', '/auth/password', {
    json: { current_password: PASSWORD, new_password: 'a fresh new passphrase' },
    headers: bearer(victim.tokens.data.access_token),
  });
  assert.equal(changed.status, 204, changed.text);
  // Guesses at the current password count where login guesses count: one back-off.
  const other = await signIn(server.url);
  for (let i = 0; i < 5; i++) {
    const r = await call(server.url, 'POST', '/auth/password', {
      json: { current_password: `guess ${i} of it`, new_password: 'whatever new secret' },
      headers: bearer(other.tokens.data.access_token),
    });
    assert.equal(r.status, 401);
  }
  const login = await call(server.url, 'POST', '/auth/login', {
    json: { email: other.email, password: PASSWORD },
  });
  assert.equal(login.status, 429, 'the same account and address: backed off');
});
