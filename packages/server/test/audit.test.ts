import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Backend } from '../src/backend.js';
import { bearer, call, PASSWORD, signIn, startTestServer } from './helpers.js';
import { runCli } from './processes.js';

it('records login, failed login, rotation, reuse and revocation in the audit trail, without token text', async () => {
  const server = await startTestServer({ BATON_REUSE_GRACE: '0' }, { keepDataDir: true });
  const sent: string[] = [];
  let sessionId = '';
  try {
    const { email, tokens } = await signIn(server.url, { 'user-agent': 'audit-test/1.0' });
    sessionId = tokens.data.session_id;
    sent.push(tokens.data.refresh_token, tokens.data.access_token, PASSWORD);
    await call(server.url, 'POST', '/auth/login', { json: { email, password: 'wrong password!' } });
    const next = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: tokens.data.refresh_token },
    });
    sent.push(next.data.refresh_token);
    await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: tokens.data.refresh_token } });
    const other = await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
    await call(server.url, 'POST', '/auth/logout', { headers: bearer(other.data.access_token) });
  } finally {
    await server.close();
  }
  const db = new Database(join(server.dataDir, 'baton.db'), { readonly: true });
  const rows = db.prepare('SELECT * FROM audit_events ORDER BY id').all() as Array<Record<string, unknown>>;
  db.close();
  const types = rows.map((r) => r.type);
  for (const t of [
    'user_registered',
    'login_succeeded',
    'login_failed',
    'refresh_rotated',
    'reuse_detected',
    'session_revoked',
  ]) {
    assert.ok(types.includes(t), `${t} in ${types.join(',')}`);
  }
  const reuse = rows.find((r) => r.type === 'reuse_detected')!;
  assert.equal(reuse.session_id, sessionId);
  assert.equal(reuse.ip, '127.0.0.1');
  assert.ok(rows.some((r) => r.type === 'session_revoked' && String(r.detail).includes('reuse_detected')));
  assert.ok(rows.some((r) => r.type === 'session_revoked' && String(r.detail).includes('"logout"')));
  const dump = JSON.stringify(rows);
  for (const secret of sent) assert.equal(dump.includes(secret), false);
});

it('keeps the audit trail bounded by age and by count, and the CLI reads it', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { openSqliteBackend } = await import('../src/sqlite/backend.js');
  const dir = mkdtempSync(join(tmpdir(), 'baton-audit-'));
  const backend = openSqliteBackend(dir, () => {});
  try {
    for (let i = 0; i < 2500; i++)
      backend.audit.record({ type: 'login_failed', at: 1000 + i, ip: '10.0.0.1' });
    await backend.audit.flush();
    assert.equal((await backend.readAudit(5000)).length, 2500);
    // Older than 1500 goes (500 events), then everything beyond the newest 1000.
    let deleted = 0;
    for (let d = -1; d !== 0; ) {
      d = await backend.pruneAudit(1500, 1000, 300);
      deleted += d;
    }
    const left = await backend.readAudit(5000);
    assert.equal(deleted, 1500);
    assert.equal(left.length, 1000);
    assert.equal(left.at(-1)?.at, 1000 + 1500, 'the newest are kept');
  } finally {
    await backend.close();
  }
  const cli = runCli(['audit', 'tail', '-n', '3', '--json'], { BATON_DATA_DIR: dir });
  assert.equal(cli.status, 0, cli.stderr);
  const rows = JSON.parse(cli.stdout);
  assert.equal(rows.length, 3);
  assert.equal(rows[2].at, new Date(3499).toISOString());
  rmSync(dir, { recursive: true, force: true });
});

describe('audit queries filter and page the same on every store', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { openSqliteBackend } = await import('../src/sqlite/backend.js');
  const { openPostgresBackend } = await import('../src/postgres/backend.js');
  const { createTestDatabase, postgresMissing } = await import('./services.js');

  async function check(backend: Backend): Promise<void> {
    const types = ['session_started', 'refresh_rotated', 'reuse_detected'] as const;
    for (let i = 0; i < 9; i++) {
      backend.audit.record({
        type: types[i % 3]!,
        at: 1000 + i,
        userId: `u${i % 2}`,
        sessionId: `s${i % 3}`,
      });
    }
    await backend.audit.flush();
    const bySession = await backend.readAudit(100, { sessionId: 's1' });
    assert.deepEqual(
      bySession.map((r) => r.at),
      [1007, 1004, 1001],
    );
    const byUserAndType = await backend.readAudit(100, { userId: 'u0', type: 'session_started' });
    assert.deepEqual(
      byUserAndType.map((r) => r.at),
      [1006, 1000],
    );
    const page = await backend.readAudit(2, {});
    const next = await backend.readAudit(2, { beforeId: page.at(-1)!.id });
    assert.deepEqual(
      [...page, ...next].map((r) => r.at),
      [1008, 1007, 1006, 1005],
    );
  }

  /** A flood of routine events (anyone signed in can cause one) never pushes out notable ones. */
  async function checkTiers(backend: Backend): Promise<void> {
    await backend.pruneAudit(Number.MAX_SAFE_INTEGER, 1000, 100_000); // start empty
    assert.equal((await backend.readAudit(10, {})).length, 0);
    backend.audit.record({ type: 'reuse_detected', at: 5000, sessionId: 'victim' });
    backend.audit.record({ type: 'key_rotated', at: 5001 });
    for (let i = 0; i < 1500; i++)
      backend.audit.record({ type: 'refresh_grace_reused', at: 5002 + i, sessionId: 'flood' });
    for (let i = 0; i < 3; i++) backend.audit.record({ type: 'user_disabled', at: 7000 + i });
    await backend.audit.flush();
    let deleted = 0;
    for (let d = -1; d !== 0; ) {
      d = await backend.pruneAudit(0, 1000, 400);
      deleted += d;
    }
    assert.equal(deleted, 500, 'only routine events beyond the newest 1,000 routine ones');
    const left = await backend.readAudit(5000, {});
    assert.equal(left.filter((r) => r.type === 'refresh_grace_reused').length, 1000);
    assert.deepEqual(
      (await backend.readAudit(10, { type: 'reuse_detected' })).map((r) => r.sessionId),
      ['victim'],
    );
    assert.equal((await backend.readAudit(10, { type: 'key_rotated' })).length, 1);
    // Notable events have a cap of their own, of the same size.
    for (let i = 0; i < 1000; i++) backend.audit.record({ type: 'user_disabled', at: 8000 + i });
    await backend.audit.flush();
    for (let d = -1; d !== 0; ) d = await backend.pruneAudit(0, 1000, 400);
    const notable = (await backend.readAudit(5000, {})).filter((r) => r.type !== 'refresh_grace_reused');
    assert.equal(notable.length, 1000);
    assert.equal(notable.at(-1)?.at, 8000, 'the oldest notable ones went first');
  }

  it('SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-audit-'));
    const backend = openSqliteBackend(dir, () => {});
    try {
      await check(backend);
      await checkTiers(backend);
    } finally {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const missing = await postgresMissing();
  it('PostgreSQL', { skip: missing || false }, async () => {
    const db = await createTestDatabase();
    const backend = await openPostgresBackend(db.url, () => {});
    try {
      await check(backend);
      await checkTiers(backend);
    } finally {
      await backend.close();
      await db.drop();
    }
  });
});
