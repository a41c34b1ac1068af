// Process helpers for the benchmark: start servers, run the load generator, read memory.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const root = new URL('..', import.meta.url).pathname;

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(url, child, out) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${out()}`);
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no answer from ${url}: ${out()}`);
}

/** Starts a node script as a server process; resolves once `probePath` answers. */
export async function startProcess(script, env = {}, probePath = '/healthz') {
  const port = await freePort();
  let log = '';
  const child = spawn(process.execPath, [script], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'error', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(url + probePath, child, () => log.slice(-400));
  return {
    url,
    pid: child.pid,
    peakRssMb: () => peakRss(child.pid),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

export function startBaton(env = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-bench-'));
  return startProcess('packages/server/dist/main.js', {
    BATON_DATA_DIR: dataDir,
    BATON_DEMO: 'off',
    // A closed loop refreshes each chain far faster than any client would; the limits stay on
    // (their cost is measured) but high enough never to refuse the generator.
    BATON_RATE_LIMIT_REFRESH: '1000000/1s',
    BATON_RATE_LIMIT_REGISTER: '1000000/1s',
    ...env,
  }).then((p) => ({ ...p, dataDir }));
}

/** Peak resident set size of a process (VmHWM), in MB. */
export function peakRss(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Runs bench/load.mjs in its own process and returns its JSON result. */
export function runLoad(cfg) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bench/load.mjs', JSON.stringify(cfg)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load exited ${code}`)),
    );
  });
}

export async function json(url, body, headers = {}) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: r.status, data: await r.json().catch(() => undefined) };
}

/** Registers and signs in `n` users; returns their refresh and access tokens. */
export async function sessions(url, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const email = `bench-${process.pid}-${Date.now()}-${i}@example.test`;
    const password = 'correct horse battery staple';
    await json(`${url}/auth/register`, { email, password });
    const r = await json(`${url}/auth/login`, { email, password });
    if (r.status !== 200) throw new Error(`login ${r.status}`);
    out.push({ email, password, refresh: r.data.refresh_token, access: r.data.access_token });
  }
  return out;
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : Number.NaN;
};
