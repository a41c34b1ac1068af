// Closed-loop load generator, run as its own process so it does not share the server's CPU
// accounting or event loop. Each virtual client owns one refresh chain and always presents
// the token it just received (a plain HTTP replayer is invalid for rotating tokens).
//   node bench/load.mjs '<json config>'  → prints one JSON result line
import { Agent, request, setGlobalDispatcher } from 'undici';

const cfg = JSON.parse(process.argv[2]);
// { mode: 'refresh'|'get'|'login', url, tokens?: string[], path?, headers?, durationMs, peer?: {clientId, clientSecret?} , bodies? }
setGlobalDispatcher(new Agent({ connections: cfg.tokens?.length ?? cfg.clients ?? 8, pipelining: 1 }));

const latencies = [];
let ok = 0;
let errors = 0;
let serverErrors = 0;
let chainDeaths = 0;
const deadline = performance.now() + cfg.durationMs;

async function refreshClient(token) {
  let current = token;
  while (performance.now() < deadline) {
    const started = performance.now();
    let status;
    let body;
    try {
      if (cfg.peer) {
        const form = new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: current,
          ...(cfg.peer.extra ?? {}),
        });
        const res = await request(cfg.url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cfg.peer.headers ?? {}) },
          body: form.toString(),
        });
        status = res.statusCode;
        body = await res.body.json();
      } else {
        const res = await request(cfg.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh_token: current }),
        });
        status = res.statusCode;
        body = await res.body.json();
      }
    } catch {
      errors++;
      continue;
    }
    latencies.push(performance.now() - started);
    if (status === 200 && body.refresh_token) {
      ok++;
      current = body.refresh_token;
    } else {
      if (status >= 500) serverErrors++;
      errors++;
      chainDeaths++;
      return; // the chain is dead: count it and stop this client
    }
  }
}

/** GET requests (one header set per client), or logins (cycling through the bodies). */
async function requestClient(i) {
  const headers = cfg.headers?.[i % cfg.headers.length] ?? {};
  let n = i;
  while (performance.now() < deadline) {
    const started = performance.now();
    try {
      const res =
        cfg.mode === 'login'
          ? await request(cfg.url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(cfg.bodies[n++ % cfg.bodies.length]),
            })
          : await request(cfg.url, { method: 'GET', headers });
      await res.body.dump();
      latencies.push(performance.now() - started);
      if (res.statusCode === 200) ok++;
      else {
        errors++;
        if (res.statusCode >= 500) serverErrors++;
      }
    } catch {
      errors++;
    }
  }
}

const started = performance.now();
if (cfg.mode === 'refresh') await Promise.all(cfg.tokens.map(refreshClient));
else await Promise.all(Array.from({ length: cfg.clients }, (_, i) => requestClient(i)));
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const q = (p) =>
  latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : 0;
console.log(
  JSON.stringify({
    ok,
    errors,
    serverErrors,
    chainDeaths,
    rps: ok / elapsed,
    p50: q(0.5),
    p99: q(0.99),
    seconds: elapsed,
  }),
);
