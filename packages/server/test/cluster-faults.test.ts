// Fault tests: PostgreSQL restarted under load, Redis stopped and started, an instance
// killed with SIGKILL. Private PostgreSQL and Redis instances keep the machine's own services
// (and other test files) undisturbed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearer, call, type Reply, signIn } from './helpers.js';
import { startPrivatePostgres, startPrivateRedis } from './private-services.js';
import { type ServerProcess, spawnServer } from './processes.js';
import { createTestDatabase, postgresMissing, REDIS_URL, redisMissing } from './services.js';

const missing = (await postgresMissing()) || (await redisMissing());
const ISSUER = 'http://baton.faults.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Chain {
  token: string;
  generation: number;
  ok: number;
}
const generationOf = (rt: string): number => Number(rt.split('.')[1]);

/**
 * One client's loop: always presents the token it last received; on 503 (or a lost
 * connection) it retries the same token, as a real client would.
 */
async function drive(
  chain: Chain,
  urls: string[],
  until: () => boolean,
  statuses: number[],
  slowest: number[],
): Promise<void> {
  let i = 0;
  while (!until()) {
    const url = urls[i++ % urls.length]!;
    const started = performance.now();
    let r: Reply | undefined;
    try {
      r = await call(url, 'POST', '/auth/refresh', { json: { refresh_token: chain.token } });
    } catch {
      statuses.push(0); // connection refused or reset: the instance is gone
      await sleep(50);
      continue;
    }
    slowest.push(performance.now() - started);
    statuses.push(r.status);
    if (r.status === 200) {
      const g = generationOf(r.data.refresh_token);
      // Never a fork: each success is the next generation, or (a retry in the grace window)
      // the same successor again.
      assert.ok(
        g === chain.generation + 1 || g === chain.generation,
        `generation ${chain.generation} → ${g}`,
      );
      if (g === chain.generation + 1) chain.ok++;
      chain.token = r.data.refresh_token;
      chain.generation = g;
    } else {
      await sleep(50);
    }
  }
}

// These tests drive closed-loop refresh chains far faster than any client: the per-session
// rotation limit (tested in rate-limits.test.ts) is off so that it cannot answer 429 here.
const CLOSED_LOOP = { BATON_RATE_LIMIT_REFRESH: 'off' };

describe('faults', { skip: missing || false, concurrency: false }, () => {
  it('PostgreSQL restarted under refresh load: fast 503s, recovery by itself, no fork', async (t) => {
    const pg = await startPrivatePostgres();
    const env = { BATON_STORE: 'postgres', DATABASE_URL: pg.url, BATON_ISSUER: ISSUER, ...CLOSED_LOOP };
    const nodes = await Promise.all([spawnServer(env), spawnServer(env)]);
    try {
      const urls = nodes.map((n) => n.url);
      const chains: Chain[] = [];
      for (let i = 0; i < 8; i++) {
        const { tokens } = await signIn(urls[i % 2]!);
        chains.push({ token: tokens.data.refresh_token, generation: 0, ok: 0 });
      }
      const statuses: number[] = [];
      const latencies: number[] = [];
      let stop = false;
      const load = chains.map((c) => drive(c, urls, () => stop, statuses, latencies));
      await sleep(500);
      pg.stop('fast');
      await sleep(1500);
      // The readiness probe says so, in the contract's error body, never cached.
      const probe = await call(urls[0]!, 'GET', '/readyz');
      pg.start();
      assert.equal(probe.status, 503, probe.text);
      assert.equal(probe.data.error, 'temporarily_unavailable');
      assert.equal(probe.headers.get('retry-after'), '5');
      assert.equal(probe.headers.get('cache-control'), 'no-store');
      // Recovery: every chain completes further refreshes on its own.
      const before = chains.map((c) => c.ok);
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && chains.some((c, i) => c.ok < before[i]! + 3)) await sleep(100);
      stop = true;
      await Promise.all(load);
      const counts = Object.fromEntries(
        [...new Set(statuses)].map((s) => [s, statuses.filter((x) => x === s).length]),
      );
      t.diagnostic(
        `statuses during the restart: ${JSON.stringify(counts)}; slowest request ${Math.max(...latencies).toFixed(0)} ms`,
      );
      assert.ok(
        chains.every((c, i) => c.ok >= before[i]! + 3),
        'every chain recovered',
      );
      assert.ok(statuses.includes(503), 'the outage was seen as 503');
      assert.deepEqual(
        statuses.filter((s) => s !== 200 && s !== 503),
        [],
        'only 200 and 503',
      );
      // The store agrees with every client: the generation the client holds is the live one.
      for (const c of chains) {
        const r = await call(urls[0]!, 'POST', '/auth/refresh', { json: { refresh_token: c.token } });
        assert.equal(r.status, 200);
      }
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      pg.destroy();
    }
  });

  it('Redis stopped and started: the store covers the gap, fan-out resumes and catches up', async () => {
    const redis = await startPrivateRedis();
    const db = await createTestDatabase();
    const env = {
      BATON_STORE: 'postgres',
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      BATON_ISSUER: ISSUER,
      ...CLOSED_LOOP,
    };
    const nodes = await Promise.all([spawnServer(env), spawnServer(env)]);
    const [a, b] = nodes as [ServerProcess, ServerProcess];
    const mode = async (n: ServerProcess) => (await call(n.url, 'GET', '/readyz')).data?.revocation_checks;
    const until = async (n: ServerProcess, want: string) => {
      for (let i = 0; i < 200 && (await mode(n)) !== want; i++) await sleep(50);
      assert.equal(await mode(n), want);
    };
    try {
      await until(a, 'fan-out');
      await until(b, 'fan-out');
      const during = (await signIn(a.url)).tokens.data.access_token;
      await redis.stop();
      await until(b, 'store');
      // Revoked on A while Redis is down: B checks the store and refuses at once.
      assert.equal((await call(a.url, 'POST', '/auth/logout', { headers: bearer(during) })).status, 204);
      assert.equal((await call(b.url, 'GET', '/auth/me', { headers: bearer(during) })).status, 401);
      await redis.start();
      await until(a, 'fan-out');
      await until(b, 'fan-out');
      // Back on the deny-set: the revocation made during the outage was caught up from the store.
      assert.equal((await call(b.url, 'GET', '/auth/me', { headers: bearer(during) })).status, 401);
      const after = (await signIn(a.url)).tokens.data.access_token;
      assert.equal((await call(b.url, 'GET', '/auth/me', { headers: bearer(after) })).status, 200);
      assert.equal((await call(a.url, 'POST', '/auth/logout', { headers: bearer(after) })).status, 204);
      let refused = false;
      for (let i = 0; i < 100 && !refused; i++) {
        refused = (await call(b.url, 'GET', '/auth/me', { headers: bearer(after) })).status === 401;
        if (!refused) await sleep(10);
      }
      assert.ok(refused, 'revocations flow again');
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      await redis.stop();
      await db.drop();
    }
  });

  it('an instance killed with SIGKILL mid-load loses nothing it acknowledged', async () => {
    const db = await createTestDatabase();
    const env = {
      BATON_STORE: 'postgres',
      DATABASE_URL: db.url,
      REDIS_URL,
      BATON_ISSUER: ISSUER,
      ...CLOSED_LOOP,
    };
    const [victim, survivor] = (await Promise.all([spawnServer(env), spawnServer(env)])) as [
      ServerProcess,
      ServerProcess,
    ];
    try {
      const chains: Chain[] = [];
      for (let i = 0; i < 8; i++) {
        const { tokens } = await signIn(victim.url);
        chains.push({ token: tokens.data.refresh_token, generation: 0, ok: 0 });
      }
      const statuses: number[] = [];
      let stop = false;
      const load = chains.map((c) => drive(c, [victim.url], () => stop, statuses, []));
      await sleep(700);
      await victim.stop('SIGKILL');
      stop = true;
      await Promise.all(load);
      assert.ok(
        chains.every((c) => c.ok > 0),
        'load ran before the kill',
      );
      // Every chain goes on from the last token it was given, on the survivor (an in-flight
      // rotation that committed unseen is answered from the grace window).
      for (const c of chains) {
        const r = await call(survivor.url, 'POST', '/auth/refresh', { json: { refresh_token: c.token } });
        assert.equal(r.status, 200, r.text);
        assert.ok(generationOf(r.data.refresh_token) >= c.generation + 1);
      }
    } finally {
      await survivor.stop();
      await victim.stop();
      await db.drop();
    }
  });
});

if (missing) it(`fault tests skipped: ${missing}`, { skip: missing }, () => {});
