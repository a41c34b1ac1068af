import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BatonEvent, createBatonClient, type LockManagerLike } from '../src/index.js';

/** A tiny fake of Baton's refresh behaviour, with a refresh counter and failure switches. */
function fakeServer() {
  const state = {
    refreshes: 0,
    generation: 0,
    live: true,
    offline: false,
    loseNextResponse: false,
    lastAuth: '' as string | null,
  };
  const json = (status: number, body: unknown) =>
    new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json' },
    });
  const tokens = () => ({
    access_token: `at-${state.generation}`,
    token_type: 'Bearer',
    expires_in: 60,
    refresh_token: `rt-${state.generation}`,
    refresh_token_expires_in: 1000,
    session_id: 's',
  });
  const fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = String(input);
    const headers = new Headers(init.headers);
    state.lastAuth = headers.get('authorization');
    if (state.offline) throw new TypeError('Failed to fetch');
    await new Promise((r) => setTimeout(r, 5));
    if (url.endsWith('/auth/login')) return json(200, tokens());
    if (url.endsWith('/auth/refresh')) {
      if (!state.live) return json(401, { error: 'invalid_grant', error_description: 'x' });
      const presented = JSON.parse(String(init.body ?? '{}')).refresh_token;
      state.refreshes++;
      // Grace window: the previous token gets the same successor again.
      if (presented === `rt-${state.generation - 1}`) return json(200, tokens());
      if (presented !== `rt-${state.generation}`)
        return json(401, { error: 'invalid_grant', error_description: 'x' });
      state.generation++;
      if (state.loseNextResponse) {
        state.loseNextResponse = false;
        throw new TypeError('network error: response lost');
      }
      return json(200, tokens());
    }
    if (url.endsWith('/auth/me')) {
      const ok = state.live && state.lastAuth === `Bearer at-${state.generation}`;
      return ok
        ? json(200, { sub: 'u', email: 'e', session_id: 's' })
        : json(401, { error: 'invalid_token', error_description: 'x' });
    }
    if (url.endsWith('/auth/logout')) {
      state.live = false;
      return new Response(null, { status: 204 });
    }
    return json(404, { error: 'not_found', error_description: 'x' });
  };
  return { state, fetch: fetch as typeof globalThis.fetch };
}

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** A fair in-process stand-in for navigator.locks. */
function fakeLocks(): LockManagerLike {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    request<T>(_name: string, cb: () => Promise<T>): Promise<T> {
      const run = tail.then(cb, cb);
      tail = run.catch(() => {});
      return run;
    },
  };
}

/** A stand-in for BroadcastChannel joining several clients ("tabs"). */
function fakeChannelHub() {
  const members: Array<(data: unknown) => void> = [];
  return () => {
    let me: (data: unknown) => void = () => {};
    return {
      postMessage: (data: unknown) => {
        for (const m of members) if (m !== me) queueMicrotask(() => m(data));
      },
      addEventListener: (_type: 'message', listener: (e: { data: unknown }) => void) => {
        me = (data) => listener({ data });
        members.push(me);
      },
      close: () => {},
    };
  };
}

const base = {
  baseUrl: 'http://baton.test',
  transport: 'body' as const,
  locks: null,
  channel: null,
  sleep: async () => {},
};

describe('BatonClient', () => {
  it('attaches the token and refreshes shortly before expiry, using expires_in not the device clock', async () => {
    const server = fakeServer();
    // A device clock years off: only differences matter.
    const c = clock(Date.UTC(1999, 0, 1));
    const client = createBatonClient({ ...base, fetch: server.fetch, now: c.now });
    await client.signIn('e', 'p');
    assert.equal((await client.fetch('/auth/me')).status, 200);
    assert.equal(server.state.refreshes, 0);
    c.advance(47_000); // 60 s lifetime, 20% margin: refresh from 48 s on
    await client.fetch('/auth/me');
    assert.equal(server.state.refreshes, 0);
    c.advance(2_000);
    assert.equal((await client.fetch('/auth/me')).status, 200);
    assert.equal(server.state.refreshes, 1);
  });

  it('makes one refresh for many concurrent callers (single-flight)', async () => {
    const server = fakeServer();
    const c = clock();
    const client = createBatonClient({ ...base, fetch: server.fetch, now: c.now });
    await client.signIn('e', 'p');
    c.advance(59_000);
    const replies = await Promise.all(Array.from({ length: 20 }, () => client.fetch('/auth/me')));
    assert.ok(replies.every((r) => r.status === 200));
    assert.equal(server.state.refreshes, 1);
  });

  it('refreshes once on a 401 and retries the call', async () => {
    const server = fakeServer();
    const client = createBatonClient({ ...base, fetch: server.fetch, now: clock().now });
    await client.signIn('e', 'p');
    // The server refuses the current access token (as after an RFC 7009 revocation of it),
    // while the refresh token still works: rotate behind the client's back.
    server.state.generation++;
    const res = await client.fetch('/auth/me');
    assert.equal(server.state.refreshes, 1);
    assert.equal(res.status, 200);
  });

  it('survives a lost refresh response: the retry gets the same successor', async () => {
    const server = fakeServer();
    const c = clock();
    const client = createBatonClient({ ...base, fetch: server.fetch, now: c.now });
    await client.signIn('e', 'p');
    c.advance(59_000);
    server.state.loseNextResponse = true;
    assert.equal((await client.fetch('/auth/me')).status, 200);
    assert.equal(server.state.refreshes, 2);
    assert.equal(server.state.live, true);
  });

  it('backs off while offline, keeps the token, and recovers', async () => {
    const server = fakeServer();
    const c = clock();
    const waits: number[] = [];
    const client = createBatonClient({
      ...base,
      fetch: server.fetch,
      now: c.now,
      sleep: async (ms) => {
        waits.push(ms);
        if (waits.length === 3) server.state.offline = false;
      },
    });
    await client.signIn('e', 'p');
    c.advance(59_000);
    server.state.offline = true;
    assert.ok(await client.getAccessToken());
    assert.deepEqual(waits, [250, 500, 1000]);
    assert.equal(client.signedIn, true);
  });

  it('emits revoked when the server ends the session, and signed-out on sign-out', async () => {
    const server = fakeServer();
    const c = clock();
    const events: BatonEvent['type'][] = [];
    const client = createBatonClient({ ...base, fetch: server.fetch, now: c.now });
    client.on((e) => events.push(e.type));
    await client.signIn('e', 'p');
    server.state.live = false;
    c.advance(59_000);
    assert.equal((await client.fetch('/auth/me')).status, 401);
    assert.equal(client.signedIn, false);
    assert.deepEqual(events, ['refreshed', 'signed-in', 'revoked']);

    const other = fakeServer();
    const events2: string[] = [];
    const client2 = createBatonClient({ ...base, fetch: other.fetch, now: clock().now });
    client2.on((e) => events2.push(e.type === 'signed-out' ? `signed-out:${e.reason}` : e.type));
    await client2.signIn('e', 'p');
    await client2.signOut();
    assert.equal(other.state.live, false);
    assert.equal(client2.signedIn, false);
    assert.deepEqual(events2, ['refreshed', 'signed-in', 'signed-out:local']);
  });

  it('never sends the access token to another origin', async () => {
    const server = fakeServer();
    const seen: Array<string | null> = [];
    const spy = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (new URL(String(input), 'http://elsewhere.test').host !== 'baton.test') {
        seen.push(new Headers(init?.headers).get('authorization'));
        return new Response(null, { status: 401 });
      }
      return server.fetch(input, init);
    }) as typeof fetch;
    const client = createBatonClient({ ...base, fetch: spy, now: clock().now });
    await client.signIn('e', 'p');
    for (const url of ['https://evil.test/x', '//evil.test/x', 'http://baton.test.evil.test/x']) {
      assert.equal((await client.fetch(url)).status, 401);
    }
    assert.deepEqual(seen, [null, null, null]);
    assert.equal(server.state.refreshes, 0, "a third party's 401 triggers no refresh");
    assert.equal((await client.fetch('http://baton.test/auth/me')).status, 200);
  });

  it('a sign-in in one tab signs the other tabs in', async () => {
    const server = fakeServer();
    const channel = fakeChannelHub();
    const a = createBatonClient({ ...base, fetch: server.fetch, now: clock().now, channel: channel() });
    const b = createBatonClient({ ...base, fetch: server.fetch, now: clock().now, channel: channel() });
    const events: string[] = [];
    b.on((e) => events.push(e.type));
    await a.signIn('e', 'p');
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(b.signedIn, true);
    assert.ok(events.includes('signed-in'));
    assert.ok(b.accessTokenExpiresAt > 0);
  });

  it('N tabs make one refresh per expiry (Web Locks + BroadcastChannel)', async () => {
    const server = fakeServer();
    const c = clock();
    const locks = fakeLocks();
    const channel = fakeChannelHub();
    const tabs = Array.from({ length: 5 }, () =>
      createBatonClient({ ...base, fetch: server.fetch, now: c.now, locks, channel: channel() }),
    );
    await tabs[0]!.signIn('e', 'p');
    await new Promise((r) => setTimeout(r, 0)); // the token reaches the other tabs
    assert.ok(tabs.every((t) => t.signedIn));
    c.advance(59_000);
    const replies = await Promise.all(tabs.map((t) => t.fetch('/auth/me')));
    assert.deepEqual(
      replies.map((r) => r.status),
      [200, 200, 200, 200, 200],
    );
    assert.equal(server.state.refreshes, 1);

    const seen: string[] = [];
    tabs[3]!.on((e) => seen.push(e.type));
    await tabs[0]!.signOut();
    await new Promise((r) => setTimeout(r, 0));
    assert.ok(tabs.every((t) => !t.signedIn));
    assert.deepEqual(seen, ['signed-out']);
  });
});
