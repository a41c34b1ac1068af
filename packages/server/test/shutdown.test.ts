// Graceful shutdown under load: SIGTERM (or SIGINT) stops accepting, finishes in-flight requests, closes
// the store; no acknowledged refresh is lost (every chain goes on after a restart).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { call, PASSWORD, signIn } from './helpers.js';
import { type ServerProcess, spawnServer } from './processes.js';

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  it(`${signal} under refresh load exits 0 and loses no acknowledged rotation`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'baton-shutdown-'));
    // A closed loop rotates each chain far faster than any client: the per-session limit is off.
    const env = {
      BATON_DATA_DIR: dataDir,
      BATON_ISSUER: 'http://baton.shutdown.test',
      BATON_RATE_LIMIT_REFRESH: 'off',
    };
    try {
      const first = await spawnServer(env);
      const chains: Array<{ token: string; ok: number }> = [];
      for (let i = 0; i < 6; i++)
        chains.push({ token: (await signIn(first.url)).tokens.data.refresh_token, ok: 0 });
      let stop = false;
      const statuses: number[] = [];
      const load = chains.map(async (c) => {
        while (!stop) {
          try {
            const r = await call(first.url, 'POST', '/auth/refresh', { json: { refresh_token: c.token } });
            statuses.push(r.status);
            if (r.status === 200) {
              c.token = r.data.refresh_token;
              c.ok++;
            } else if (r.status !== 503 || r.data?.error !== 'temporarily_unavailable') {
              // A 503 while closing carries the contract's error body, never Fastify's own.
              throw new Error(`refresh answered ${r.status} ${r.text.slice(0, 100)}`);
            }
          } catch (error) {
            if (String(error).includes('refresh answered')) throw error;
            return; // the server closed the connection: this client stops
          }
        }
      });
      await new Promise((r) => setTimeout(r, 500));
      const code = await first.stop(signal);
      stop = true;
      await Promise.all(load);
      assert.equal(code, 0, `exit code ${code}: ${first.output().slice(-300)}`);
      assert.ok(
        chains.every((c) => c.ok > 0),
        'load ran before the signal',
      );
      assert.deepEqual(
        statuses.filter((s) => s !== 200 && s !== 503),
        [],
      );
      // Every chain continues from the last token it was acknowledged.
      const second = await spawnServer(env);
      try {
        for (const c of chains) {
          const r = await call(second.url, 'POST', '/auth/refresh', { json: { refresh_token: c.token } });
          assert.equal(r.status, 200, r.text);
        }
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

/** POSTs JSON over a keep-alive agent; says whether the request went out on a reused connection. */
function postJson(
  agent: Agent,
  url: string,
  payload: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: test replies are inspected field by field
): Promise<{ status?: number; connection?: string; data?: any; error?: string; reused: boolean }> {
  return new Promise((resolve) => {
    const body = JSON.stringify(payload);
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            connection: res.headers.connection,
            data: text ? JSON.parse(text) : undefined,
            reused: req.reusedSocket,
          }),
        );
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      resolve({ error: error.code ?? String(error), reused: req.reusedSocket }),
    );
    req.end(body);
  });
}

it('SIGTERM with keep-alive clients: requests in flight are answered, then it exits 0 at once', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-keepalive-'));
  const server = await spawnServer({ BATON_DATA_DIR: dataDir });
  // A client that keeps its connections open, as a proxy's connection pool does.
  const agent = new Agent({ keepAlive: true, maxSockets: 5 });
  try {
    const { email } = await signIn(server.url);
    const login = () => postJson(agent, `${server.url}/auth/login`, { email, password: PASSWORD });
    // Five connections open and idle in the pool, so what follows needs no new connection.
    for (const r of await Promise.all(Array.from({ length: 5 }, login))) assert.equal(r.status, 200);
    const inFlight = Array.from({ length: 5 }, login);
    await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    const code = await server.stop('SIGTERM');
    const answers = await Promise.all(inFlight);
    assert.equal(code, 0, server.output().slice(-300));
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms: it waited for idle connections`);
    // Each is answered in full, none reset; those answered after the signal close their
    // connection (a login takes longer than 5 ms, so at least one is).
    for (const a of answers) {
      assert.ok(a.reused, 'sent on a pooled connection');
      assert.equal(a.status, 200, JSON.stringify(a));
    }
    assert.ok(
      answers.some((a) => a.connection === 'close'),
      JSON.stringify(answers),
    );
  } finally {
    agent.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it('SIGTERM under keep-alive refresh load: no request on an open connection is reset, every one is answered', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-keepalive-load-'));
  const env = { BATON_DATA_DIR: dataDir, BATON_RATE_LIMIT_REFRESH: 'off' };
  const server = await spawnServer(env);
  const agent = new Agent({ keepAlive: true, maxSockets: 40 });
  try {
    const chains: Array<{ token: string; ok: number }> = [];
    for (let i = 0; i < 40; i++)
      chains.push({ token: (await signIn(server.url)).tokens.data.refresh_token, ok: 0 });
    let stop = false;
    let signalled = false;
    const failures: string[] = [];
    // Closed loops: each client sends its next refresh the moment the last one is answered,
    // on the connection it holds. Once the server has said Connection: close, the client
    // opens a new one, which the closed listener refuses: that is where a client stops.
    const load = chains.map(async (c) => {
      while (!stop) {
        const r = await postJson(agent, `${server.url}/auth/refresh`, { refresh_token: c.token });
        if (r.error !== undefined) {
          if (r.reused || !signalled)
            failures.push(`${r.reused ? 'open' : 'new'} connection failed: ${r.error}`);
          return;
        }
        if (r.status !== 200) {
          failures.push(`answered ${r.status} ${JSON.stringify(r.data)}`);
          return;
        }
        c.token = r.data.refresh_token;
        c.ok++;
      }
    });
    // Every client is under way (a slow machine takes longer to open 40 connections).
    for (
      let waited = 0;
      waited < 10_000 && !chains.every((c) => c.ok > 2) && failures.length === 0;
      waited += 50
    )
      await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(failures, [], 'before the signal');
    assert.ok(
      chains.every((c) => c.ok > 2),
      'load ran before the signal',
    );
    signalled = true;
    const code = await server.stop('SIGTERM');
    stop = true;
    await Promise.all(load);
    assert.equal(code, 0, server.output().slice(-300));
    assert.deepEqual(failures, []);
    // And every chain goes on from the last token it was given.
    const again = await spawnServer(env);
    try {
      for (const c of chains) {
        const r = await call(again.url, 'POST', '/auth/refresh', { json: { refresh_token: c.token } });
        assert.equal(r.status, 200, r.text);
      }
    } finally {
      await again.stop();
    }
  } finally {
    agent.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it('SIGTERM on a busy server: connections already waiting to be accepted are served, not reset', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-accept-queue-'));
  const server = await spawnServer({ BATON_DATA_DIR: dataDir, BATON_RATE_LIMIT_REFRESH: 'off' });
  const agent = new Agent({ keepAlive: true, maxSockets: 20 });
  try {
    const chains: string[] = [];
    for (let i = 0; i < 20; i++) chains.push((await signIn(server.url)).tokens.data.refresh_token);
    let stop = false;
    const load = chains.map(async (token) => {
      let current = token;
      while (!stop) {
        const r = await postJson(agent, `${server.url}/auth/refresh`, { refresh_token: current });
        if (r.status !== 200) return;
        current = r.data.refresh_token;
      }
    });
    // A probe opens a fresh connection every few milliseconds, as new users would.
    const { hostname, port } = new URL(server.url);
    let signalledAt = Number.POSITIVE_INFINITY;
    const resetAfterConnect: string[] = [];
    const probes: Promise<void>[] = [];
    const probe = () =>
      new Promise<void>((resolve) => {
        let connectedAt = 0;
        const socket = connect(Number(port), hostname, () => {
          connectedAt = Date.now();
          socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`);
        });
        socket.on('data', () => {});
        socket.on('error', (error: NodeJS.ErrnoException) => {
          // Connected before the signal, then reset: it was waiting in the accept queue.
          if (connectedAt > 0 && connectedAt < signalledAt) resetAfterConnect.push(String(error.code));
          resolve();
        });
        socket.on('close', () => resolve());
      });
    const prober = setInterval(() => probes.push(probe()), 3);
    await new Promise((r) => setTimeout(r, 700));
    signalledAt = Date.now();
    const code = await server.stop('SIGTERM');
    clearInterval(prober);
    stop = true;
    await Promise.all([...load, ...probes]);
    assert.equal(code, 0, server.output().slice(-300));
    assert.deepEqual(resetAfterConnect, [], `${probes.length} probes`);
  } finally {
    agent.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it("a signal delivered twice at once (npm forwards its group's) is one request; a second one later exits 1 at once", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-signals-'));
  // A request whose body never finishes holds the shutdown open (up to its 10 s limit).
  const trickle = (url: string) => {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname, () =>
      socket.write(
        `POST /auth/login HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`,
      ),
    );
    socket.on('error', () => {});
    return socket;
  };
  try {
    const once = await spawnServer({ BATON_DATA_DIR: dataDir });
    await call(once.url, 'GET', '/healthz'); // an idle kept-alive connection: closing takes 0.5 s
    process.kill(once.child.pid!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 5));
    const code = await once.stop('SIGTERM');
    assert.equal(code, 0, once.output().slice(-300));

    const twice = await spawnServer({ BATON_DATA_DIR: dataDir });
    const socket = trickle(twice.url);
    await new Promise((r) => setTimeout(r, 200));
    process.kill(twice.child.pid!, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 400));
    const started = Date.now();
    assert.equal(await twice.stop('SIGTERM'), 1, 'the second request to stop exits 1');
    assert.ok(Date.now() - started < 2000, 'at once, not after the request in flight');
    socket.destroy();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it('SIGTERM to `npm start` itself (as a supervisor sends it) reaches the server, which exits 0', async () => {
  await withNpmServer(['npm', 'start', '--silent'], async (npm) => {
    const exited = new Promise<number | null>((resolve) => npm.child.once('exit', (code) => resolve(code)));
    process.kill(npm.child.pid!, 'SIGTERM'); // npm alone, not its process group
    assert.equal(await exited, 0, npm.output().slice(-300));
    // The server went with it: nothing answers on its port any more.
    await assert.rejects(fetch(`${npm.url}/healthz`));
  });
});

it('SIGTERM to `npx baton serve` (npm exec drops the signal) still stops the server', async () => {
  await withNpmServer(['npx', 'baton', 'serve'], async (npx) => {
    process.kill(npx.child.pid!, 'SIGTERM'); // npm exec alone: its shell dies without passing it on
    // The server notices its parent has gone and shuts down instead of lingering as an orphan.
    const deadline = Date.now() + 5_000;
    let answering = true;
    while (answering && Date.now() < deadline) {
      answering = await fetch(`${npx.url}/healthz`).then(
        () => true,
        () => false,
      );
      if (answering) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(answering, false, 'the server still answers 5 s after npx was stopped');
  });
});

async function withNpmServer(
  command: string[],
  body: (server: ServerProcess) => Promise<void>,
): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-npm-'));
  const server = await spawnServer({ BATON_DATA_DIR: dataDir }, command);
  try {
    await body(server);
  } finally {
    // The whole group, even after npm is gone: a server left behind would be an orphan.
    try {
      process.kill(-server.child.pid!, 'SIGKILL');
    } catch {
      // already gone, as it should be
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}
