// npm run bench: Baton, the hardware limit and a peer, measured side by side in one run.
//   npm run bench              full run (a few minutes)
//   npm run bench -- --smoke   a few seconds per part: proves the benchmark works (CI)
// Prints a table and writes bench-results/latest.json. Figures are as measured on this
// machine; the targets are ratios measured in the same run.
import { sign, verify } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeySet, generateSigningKey, loadSigningKey, signAccessToken } from '@baton/core';
import { createAccessTokenVerifier } from '@baton/core/verify';
import Database from 'better-sqlite3';
import pg from 'pg';
import { median, root, runLoad, sessions, startBaton, startProcess } from './lib.mjs';

const SMOKE = process.argv.includes('--smoke') || process.env.BENCH_SMOKE === '1';
const ROUND_MS = SMOKE ? 700 : 4000;
const ROUNDS = SMOKE ? 1 : 3;
const CLIENTS = 8;
const results = {
  smoke: SMOKE,
  roundMs: ROUND_MS,
  rounds: ROUNDS,
  clients: CLIENTS,
  at: new Date().toISOString(),
};
const log = (...a) => console.error('bench:', ...a);

/** Operations per second of a synchronous or async function over `ms`. */
async function opsPerSecond(fn, ms) {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 200; i++) await fn();
    n += 200;
  }
  return n / ((performance.now() - start) / 1000);
}

// 1. Raw signatures and the resource-server verifier, interleaved.
async function cryptoAndVerifier() {
  const key = loadSigningKey(await generateSigningKey('EdDSA', 0));
  const keys = createKeySet([key], { alg: 'EdDSA', accessTokenTtl: 900_000 });
  const now = Math.floor(Date.now() / 1000);
  const token = signAccessToken(key, {
    iss: 'i',
    sub: 's',
    aud: 'a',
    client_id: 'c',
    sid: 'x',
    jti: 'j',
    iat: now,
    exp: now + 900,
  });
  const verifier = createAccessTokenVerifier({ issuer: 'i', audience: 'a', jwks: keys.jwks() });
  await verifier.verify(token);
  // Raw sign and verify on the very bytes the verifier checks: the same work minus the rules.
  const [h, p, s] = token.split('.');
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const { privateKey, publicKey } = key;
  const raw = { sign: [], verify: [], verifier: [] };
  for (let r = 0; r < ROUNDS; r++) {
    raw.sign.push(await opsPerSecond(() => sign(null, data, privateKey), ROUND_MS / 2));
    raw.verify.push(await opsPerSecond(() => verify(null, data, publicKey, sig), ROUND_MS / 2));
    raw.verifier.push(await opsPerSecond(() => verifier.verify(token), ROUND_MS / 2));
  }
  results.crypto = { signPerSec: median(raw.sign), verifyPerSec: median(raw.verify) };
  results.verifier = {
    perSec: median(raw.verifier),
    ratioToRawVerify: median(raw.verifier) / median(raw.verify),
  };
}

// 2. The minimal rotation write on SQLite (same pragmas as Baton).
function sqliteWriteLimit() {
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-sqlite-'));
  const db = new Database(join(dir, 'x.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, g INTEGER NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID');
  const ids = Array.from({ length: CLIENTS }, (_, i) => `chain-${i}`);
  for (const id of ids) db.prepare('INSERT INTO t VALUES (?, 0, 0)').run(id);
  const up = db.prepare('UPDATE t SET g = g + 1, at = ? WHERE id = ? AND g = ?');
  const gens = new Map(ids.map((id) => [id, 0]));
  let i = 0;
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ROUND_MS) {
    const id = ids[i++ % ids.length];
    const g = gens.get(id);
    up.run(Date.now(), id, g);
    gens.set(id, g + 1);
    n++;
  }
  db.close();
  rmSync(dir, { recursive: true, force: true });
  results.sqliteRotationWrite = { perSec: n / ((performance.now() - start) / 1000) };
}

// 3. A trivial Fastify route: the HTTP part of the limit.
async function trivialHttp() {
  const p = await startProcess('bench/trivial-server.mjs', {}, '/');
  try {
    const r = await runLoad({ mode: 'get', url: `${p.url}/`, clients: CLIENTS, durationMs: ROUND_MS });
    results.trivialHttp = { rps: r.rps, p99: r.p99 };
  } finally {
    await p.stop();
  }
}

async function refreshRound(server, chains, clients) {
  const r = await runLoad({
    mode: 'refresh',
    url: `${server.url}/auth/refresh`,
    tokens: chains.slice(0, clients).map((c) => c.refresh),
    durationMs: ROUND_MS,
  });
  return r;
}

// 4. Refresh throughput: Baton (SQLite, PostgreSQL) and the peer, rounds interleaved.
async function refresh() {
  const baton = await startBaton();
  const peerModule = join(root, 'bench/peer/oidc-provider-peer.mjs');
  const peer = existsSync(peerModule)
    ? await (await import(peerModule)).startPeer({ port: 0, lruMaxSize: 1e6 }).catch((e) => {
        log('peer failed:', e.message);
        return null;
      })
    : null;
  let pgServer = null;
  let pgDb = null;
  try {
    pgDb = await createPgDatabase();
    if (pgDb) pgServer = await startBaton({ BATON_STORE: 'postgres', DATABASE_URL: pgDb.url });
  } catch (e) {
    log('postgres part skipped:', e.message);
  }
  const runs = { sqlite: [], postgres: [], peer: [] };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Fresh chains each round, so every round starts from the same state.
      runs.sqlite.push(await refreshRound(baton, await sessions(baton.url, CLIENTS), CLIENTS));
      if (peer) {
        const tokens = await peer.mintRefreshTokens(CLIENTS);
        // A public client: client_id in the body, as the peer is configured.
        const peerAuth = { extra: { client_id: peer.clientId } };
        runs.peer.push(
          await runLoad({
            mode: 'refresh',
            url: peer.tokenEndpoint,
            tokens,
            durationMs: ROUND_MS,
            peer: peerAuth,
          }),
        );
      }
      if (pgServer)
        runs.postgres.push(await refreshRound(pgServer, await sessions(pgServer.url, CLIENTS), CLIENTS));
    }
  } finally {
    await baton.stop();
    await pgServer?.stop();
    await peer?.close();
    await pgDb?.drop();
  }
  const summarize = (list) =>
    list.length === 0
      ? null
      : {
          rps: median(list.map((x) => x.rps)),
          p50: median(list.map((x) => x.p50)),
          p99: median(list.map((x) => x.p99)),
          serverErrors: list.reduce((a, x) => a + x.serverErrors, 0),
          chainDeaths: list.reduce((a, x) => a + x.chainDeaths, 0),
        };
  results.refresh = {
    sqlite: summarize(runs.sqlite),
    postgres: summarize(runs.postgres),
    peer: summarize(runs.peer),
  };
  // Pair by pair: Baton ÷ peer for each round, then the median.
  if (runs.peer.length) {
    results.refresh.sqliteOverPeer = median(runs.sqlite.map((x, i) => x.rps / runs.peer[i].rps));
    if (runs.postgres.length)
      results.refresh.postgresOverPeer = median(runs.postgres.map((x, i) => x.rps / runs.peer[i].rps));
  }
}

async function createPgDatabase() {
  const admin = `postgres://${encodeURIComponent(process.env.USER || 'root')}@127.0.0.1:5432/test`;
  const name = `baton_bench_${process.pid}`;
  const c = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 2000 });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return {
    url: admin.replace(/\/test$/, `/${name}`),
    async drop() {
      const d = new pg.Client({ connectionString: admin });
      await d.connect();
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await d.end();
    },
  };
}

// 5. /auth/me, the login burst with event-loop delay seen from outside, memory, bytes per rotation.
async function serverFigures() {
  const baton = await startBaton();
  try {
    const chains = await sessions(baton.url, CLIENTS);
    const me = await runLoad({
      mode: 'get',
      url: `${baton.url}/auth/me`,
      clients: CLIENTS,
      durationMs: ROUND_MS,
      headers: chains.map((c) => ({ authorization: `Bearer ${c.access}` })),
    });
    results.me = { rps: me.rps, p99: me.p99, serverErrors: me.serverErrors };

    // Login burst: while 16 clients sign in, a probe asks /healthz every 10 ms; its latency
    // is the event-loop delay a request feels (Argon2 runs on the thread pool).
    const probe = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const t = performance.now();
        await fetch(`${baton.url}/healthz`);
        probe.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const login = await runLoad({
      mode: 'login',
      url: `${baton.url}/auth/login`,
      clients: 16,
      durationMs: ROUND_MS,
      bodies: chains.map((c) => ({ email: c.email, password: c.password })),
    });
    probing = false;
    await prober;
    probe.sort((a, b) => a - b);
    results.login = {
      rps: login.rps,
      p99: login.p99,
      serverErrors: login.serverErrors,
      healthzP99DuringBurstMs: probe[Math.floor(0.99 * (probe.length - 1))],
    };

    // Memory: 50 concurrent clients refreshing.
    const fifty = await sessions(baton.url, 50);
    const before = dbBytes(baton.dataDir);
    const heavy = await refreshRound(baton, fifty, 50);
    results.memory = {
      peakRssMb: baton.peakRssMb(),
      clients: 50,
      rps: heavy.rps,
      chainDeaths: heavy.chainDeaths,
      serverErrors: heavy.serverErrors,
    };
    const after = dbBytes(baton.dataDir);
    results.storage = {
      rotations: heavy.ok,
      dbBytesPerMillionRotations: ((after - before) / Math.max(1, heavy.ok)) * 1e6,
    };
  } finally {
    await baton.stop();
  }
}

/** The database's logical size (pages in use, WAL included), read beside the running server. */
function dbBytes(dir) {
  const db = new Database(join(dir, 'baton.db'), { readonly: true });
  try {
    return db.pragma('page_count', { simple: true }) * db.pragma('page_size', { simple: true });
  } finally {
    db.close();
  }
}

function report() {
  const f = (x, d = 0) => (x === undefined || x === null || Number.isNaN(x) ? 'n/a' : Number(x).toFixed(d));
  const limit =
    1 /
    (1 / results.crypto.signPerSec + 1 / results.sqliteRotationWrite.perSec + 1 / results.trivialHttp.rps);
  results.derivedRefreshLimit = limit;
  const s = results.refresh.sqlite;
  const rows = [
    [
      'raw Ed25519 sign / verify (ops/s)',
      `${f(results.crypto.signPerSec)} / ${f(results.crypto.verifyPerSec)}`,
      '',
    ],
    [
      'verifier (verifications/s)',
      f(results.verifier.perSec),
      `${f(results.verifier.ratioToRawVerify, 2)}× raw verify (target ≥ 0.9)`,
    ],
    ['minimal SQLite rotation write (ops/s)', f(results.sqliteRotationWrite.perSec), ''],
    ['trivial Fastify route (req/s)', f(results.trivialHttp.rps), ''],
    ['derived refresh limit (req/s)', f(limit), '1 / (1/sign + 1/write + 1/http)'],
    [
      'refresh, SQLite (req/s, p50/p99 ms)',
      `${f(s?.rps)} (${f(s?.p50, 2)} / ${f(s?.p99, 2)})`,
      `${f(s?.rps / limit, 2)}× limit; p99 target < 10 ms`,
    ],
    [
      'refresh, PostgreSQL (req/s, p50/p99 ms)',
      results.refresh.postgres
        ? `${f(results.refresh.postgres.rps)} (${f(results.refresh.postgres.p50, 2)} / ${f(results.refresh.postgres.p99, 2)})`
        : 'not run',
      '',
    ],
    [
      'refresh, peer oidc-provider (req/s)',
      results.refresh.peer ? f(results.refresh.peer.rps) : 'not run',
      '',
    ],
    [
      'Baton ÷ peer, SQLite / PostgreSQL',
      `${f(results.refresh.sqliteOverPeer, 2)} / ${f(results.refresh.postgresOverPeer, 2)}`,
      'targets ≥ 2 / ≥ 1.5',
    ],
    ['/auth/me (req/s)', f(results.me.rps), ''],
    [
      'login burst (logins/s), /healthz p99 during it',
      `${f(results.login.rps)}, ${f(results.login.healthzP99DuringBurstMs, 1)} ms`,
      'loop delay target < 20 ms',
    ],
    ['peak RSS at 50 clients (MB)', f(results.memory.peakRssMb, 1), 'target < 200'],
    [
      'database bytes per million rotations',
      f(results.storage.dbBytesPerMillionRotations),
      'the audit trail: sessions do not grow',
    ],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(
    `\nBaton benchmark${SMOKE ? ' (smoke mode: figures are not meaningful)' : ''} — ${CLIENTS} closed-loop clients, ${ROUNDS} interleaved rounds of ${ROUND_MS} ms, medians\n`,
  );
  for (const [k, v, note] of rows) console.log(`${k.padEnd(w)}  ${String(v).padEnd(26)}  ${note}`);
  const dir = join(root, 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, SMOKE ? 'smoke.json' : 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote bench-results/${SMOKE ? 'smoke' : 'latest'}.json`);
}

log('crypto and verifier…');
await cryptoAndVerifier();
log('sqlite write limit…');
sqliteWriteLimit();
log('trivial http…');
await trivialHttp();
log('refresh (Baton SQLite, peer, Baton PostgreSQL)…');
await refresh();
log('/auth/me, login burst, memory, storage…');
await serverFigures();
report();
// Correctness under load is part of the result: no chain may die, no 5xx.
const deaths = [results.refresh.sqlite, results.refresh.postgres, results.memory].reduce(
  (a, x) => a + (x?.chainDeaths ?? 0),
  0,
);
const fives = [
  results.refresh.sqlite,
  results.refresh.postgres,
  results.me,
  results.login,
  results.memory,
].reduce((a, x) => a + (x?.serverErrors ?? 0), 0);
if (deaths > 0 || fives > 0) {
  console.error(`bench: FAILED correctness under load: ${deaths} chains died, ${fives} server errors`);
  process.exitCode = 1;
}
