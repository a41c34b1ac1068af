// The cost of Prometheus metrics on the hot path: refresh throughput of Baton (SQLite) with
// metrics off and on (BATON_METRICS_TOKEN set, so every request is observed), rounds
// interleaved, a scrape between rounds. Besides throughput it reports the server's CPU time
// per refresh (from /proc), which a busy machine disturbs far less than throughput.
//   npm run build && node bench/metrics-overhead.mjs [--rounds N] [--ms M]
import { readFileSync } from 'node:fs';
import { median, runLoad, sessions, startBaton } from './lib.mjs';

/** CPU seconds (user + system) a process has used so far; Linux only. */
const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
};

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const ROUNDS = arg('--rounds', 5);
const ROUND_MS = arg('--ms', 3000);
const CLIENTS = 8;
const TOKEN = 'bench-metrics-token-0123456789';

const servers = {
  off: await startBaton(),
  on: await startBaton({ BATON_METRICS_TOKEN: TOKEN }),
};
const runs = { off: [], on: [] };
try {
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first, so that neither always runs on a warmer machine.
    const order = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const name of order) {
      const server = servers[name];
      const chains = await sessions(server.url, CLIENTS);
      const cpuBefore = cpuSeconds(server.pid);
      const result = await runLoad({
        mode: 'refresh',
        url: `${server.url}/auth/refresh`,
        tokens: chains.map((c) => c.refresh),
        durationMs: ROUND_MS,
      });
      result.cpuUsPerRequest = ((cpuSeconds(server.pid) - cpuBefore) / Math.max(1, result.ok)) * 1e6;
      runs[name].push(result);
    }
    const scrape = await fetch(`${servers.on.url}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    if (scrape.status !== 200) throw new Error(`scrape answered ${scrape.status}`);
    await scrape.text();
  }
} finally {
  await servers.off.stop();
  await servers.on.stop();
}
const summary = (list) => ({
  rps: median(list.map((x) => x.rps)),
  p50: median(list.map((x) => x.p50)),
  p99: median(list.map((x) => x.p99)),
  cpuUs: median(list.map((x) => x.cpuUsPerRequest)),
  serverErrors: list.reduce((a, x) => a + x.serverErrors, 0),
  chainDeaths: list.reduce((a, x) => a + x.chainDeaths, 0),
});
const off = summary(runs.off);
const on = summary(runs.on);
const f = (x, d = 0) => Number(x).toFixed(d);
console.log(`refresh, SQLite, ${CLIENTS} clients, ${ROUNDS} interleaved rounds of ${ROUND_MS} ms, medians`);
for (const [name, x] of [
  ['off', off],
  ['on ', on],
]) {
  console.log(
    `metrics ${name}: ${f(x.rps)} req/s (p50 ${f(x.p50, 2)} ms, p99 ${f(x.p99, 2)} ms), server CPU ${f(x.cpuUs)} µs per refresh`,
  );
}
console.log(
  `CPU per refresh, on − off: ${f(on.cpuUs - off.cpuUs)} µs (${f((on.cpuUs / off.cpuUs - 1) * 100, 1)} %)`,
);
console.log(
  `on ÷ off: ${f(on.rps / off.rps, 3)}; per-round ratios: ${runs.on.map((x, i) => f(x.rps / runs.off[i].rps, 3)).join(' ')}`,
);
if (off.serverErrors + on.serverErrors + off.chainDeaths + on.chainDeaths > 0) {
  console.error('FAILED: server errors or chain deaths under load');
  process.exitCode = 1;
}
