// The example resource server in examples/orders-api, run as its README says.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bearer, call, signIn, startTestServer, type TestServer } from '../packages/server/test/helpers.js';
import { freePort } from '../packages/server/test/processes.js';

let baton: TestServer;
let api: ReturnType<typeof spawn>;
let apiUrl = '';

before(async () => {
  baton = await startTestServer({ BATON_RESOURCE_SERVERS: 'orders-api:orders-api-secret-change-me' });
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  api = spawn(process.execPath, ['examples/orders-api/server.mjs'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, BATON_URL: baton.url, PORT: String(port) },
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${apiUrl}/orders`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('the example did not start');
});
after(async () => {
  api?.kill('SIGTERM');
  await baton?.close();
});

it('the example API accepts a live session and refuses it right after logout', async () => {
  const { tokens } = await signIn(baton.url);
  const at = tokens.data.access_token;
  const ok = await call(apiUrl, 'GET', '/orders', { headers: bearer(at) });
  assert.equal(ok.status, 200);
  assert.equal(ok.data.session, tokens.data.session_id);
  assert.equal((await call(apiUrl, 'GET', '/orders')).status, 401);
  assert.equal((await call(baton.url, 'POST', '/auth/logout', { headers: bearer(at) })).status, 204);
  let status = 200;
  for (let i = 0; i < 100 && status === 200; i++) {
    status = (await call(apiUrl, 'GET', '/orders', { headers: bearer(at) })).status;
    if (status === 200) await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(status, 401);
});
