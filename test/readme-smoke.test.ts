// Starts Baton exactly as the README says (`npm start`) and walks the README's curl story:
// register → login → me → refresh → replay of the old token → session revoked.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { bearer, call, PASSWORD } from '../packages/server/test/helpers.js';
import { type ServerProcess, spawnServer } from '../packages/server/test/processes.js';

const dataDir = mkdtempSync(join(tmpdir(), 'baton-npm-start-'));
let server: ServerProcess;
before(async () => {
  server = await spawnServer({ BATON_DATA_DIR: dataDir, BATON_REUSE_GRACE: '1s' }, [
    'npm',
    'start',
    '--silent',
  ]);
});
after(async () => {
  const code = await server?.stop('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
  assert.ok(code === 0 || code === null, `npm start exited with ${code}`);
});

it('npm start serves the whole walk-through', async () => {
  const email = `readme-${Date.now()}@example.test`;
  assert.equal(
    (await call(server.url, 'POST', '/auth/register', { json: { email, password: PASSWORD } })).status,
    201,
  );
  const login = await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
  assert.equal(login.status, 200);
  const me = await call(server.url, 'GET', '/auth/me', { headers: bearer(login.data.access_token) });
  assert.deepEqual(me.data, { sub: me.data.sub, email, session_id: login.data.session_id });
  const refreshed = await call(server.url, 'POST', '/auth/refresh', {
    json: { refresh_token: login.data.refresh_token },
  });
  assert.equal(refreshed.status, 200);
  await new Promise((r) => setTimeout(r, 1300));
  const replay = await call(server.url, 'POST', '/auth/refresh', {
    json: { refresh_token: login.data.refresh_token },
  });
  assert.equal(replay.status, 401);
  assert.equal(replay.data.error, 'invalid_grant');
  const after = await call(server.url, 'POST', '/auth/refresh', {
    json: { refresh_token: refreshed.data.refresh_token },
  });
  assert.equal(after.status, 401);
  const meAfter = await call(server.url, 'GET', '/auth/me', { headers: bearer(refreshed.data.access_token) });
  assert.equal(meAfter.status, 401);
  assert.match(meAfter.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
});
