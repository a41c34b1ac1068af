import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bearer, call, signIn, startTestServer, type TestServer } from './helpers.js';
import { spawnServer } from './processes.js';

describe('concurrent refreshes over HTTP', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('50 parallel refreshes of one token all succeed with one successor', async () => {
    const { tokens } = await signIn(server.url);
    const replies = await Promise.all(
      Array.from({ length: 50 }, () =>
        call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: tokens.data.refresh_token } }),
      ),
    );
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(50).fill(200),
    );
    const successors = new Set(replies.map((r) => r.data.refresh_token));
    assert.equal(successors.size, 1);
    const [successor] = successors;
    // The one successor is live, and nothing was revoked.
    const next = await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: successor } });
    assert.equal(next.status, 200);
    assert.equal(
      (await call(server.url, 'GET', '/auth/me', { headers: bearer(next.data.access_token) })).status,
      200,
    );
  });

  it('20 chains rotating in parallel never fail', async () => {
    const chains = await Promise.all(Array.from({ length: 20 }, () => signIn(server.url)));
    let current = chains.map((c) => c.tokens.data.refresh_token as string);
    for (let round = 0; round < 10; round++) {
      const replies = await Promise.all(
        current.map((rt) => call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: rt } })),
      );
      for (const r of replies) assert.equal(r.status, 200, r.text);
      current = replies.map((r) => r.data.refresh_token);
    }
    const me = await Promise.all(
      chains.map((c) =>
        call(server.url, 'GET', '/auth/sessions', { headers: bearer(c.tokens.data.access_token) }),
      ),
    );
    for (const r of me) assert.equal(r.status, 200);
  });
});

describe('two server processes on one data dir', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-2proc-'));
  let a: Awaited<ReturnType<typeof spawnServer>>;
  let b: Awaited<ReturnType<typeof spawnServer>>;
  before(async () => {
    // A starts first and creates the keys; B then starts on the same directory.
    a = await spawnServer({ BATON_DATA_DIR: dataDir });
    b = await spawnServer({ BATON_DATA_DIR: dataDir });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('racing on one token never forks it', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const { tokens } = await signIn(a.url);
      const rt = tokens.data.refresh_token;
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          call(i % 2 ? a.url : b.url, 'POST', '/auth/refresh', { json: { refresh_token: rt } }),
        ),
      );
      assert.deepEqual(
        replies.map((r) => r.status),
        Array(20).fill(200),
      );
      assert.equal(
        new Set(replies.map((r) => r.data.refresh_token)).size,
        1,
        'one successor across processes',
      );
      const next = await call(b.url, 'POST', '/auth/refresh', {
        json: { refresh_token: replies[0]!.data.refresh_token },
      });
      assert.equal(next.status, 200);
    }
  });

  it('with the grace window off, racing processes let exactly one win', async () => {
    const strictDir = mkdtempSync(join(tmpdir(), 'baton-2proc-strict-'));
    const env = { BATON_DATA_DIR: strictDir, BATON_REUSE_GRACE: '0' };
    const [p, q] = [await spawnServer(env), await spawnServer(env)];
    try {
      const { tokens } = await signIn(p.url);
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          call(i % 2 ? p.url : q.url, 'POST', '/auth/refresh', {
            json: { refresh_token: tokens.data.refresh_token },
          }),
        ),
      );
      const winners = replies.filter((r) => r.status === 200);
      assert.equal(winners.length, 1);
      for (const r of replies.filter((x) => x.status !== 200)) assert.equal(r.data.error, 'invalid_grant');
    } finally {
      await p.stop();
      await q.stop();
      rmSync(strictDir, { recursive: true, force: true });
    }
  });
});
