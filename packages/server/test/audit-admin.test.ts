// The audit trail read over HTTP with its own credential, and reuse detections sent to a signed webhook.
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { AuditFilter, AuditRow } from '../src/backend.js';
import { readSessionLineage } from '../src/reuse-webhook.js';
import { call, newEmail, PASSWORD, startTestServer, type TestServer } from './helpers.js';
import { freePort } from './processes.js';

const ADMIN = 'admin-token-0123456789abcdef0123456789';
const SECRET = 'webhook-secret-0123456789abcdef012345';

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

describe('audit admin endpoint and reuse webhook', () => {
  let server: TestServer;
  let receiver: Server;
  const deliveries: Delivery[] = [];
  let failNext = 0;
  let notify: () => void = () => {};
  const sent: string[] = [PASSWORD, ADMIN, SECRET];

  before(async () => {
    const port = await freePort();
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        deliveries.push({ headers: req.headers, body });
        res.statusCode = failNext-- > 0 ? 500 : 204;
        res.end();
        notify();
      });
    });
    await new Promise<void>((r) => receiver.listen(port, '127.0.0.1', r));
    server = await startTestServer({
      BATON_ADMIN_TOKEN: ADMIN,
      BATON_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/baton`,
      BATON_WEBHOOK_SECRET: SECRET,
      BATON_REUSE_GRACE: '0',
      BATON_TRUSTED_PROXIES: '127.0.0.1',
    });
  });
  after(async () => {
    await server.close();
    receiver.close();
  });

  const admin = (query = '', token = ADMIN) =>
    call(server.url, 'GET', `/admin/audit${query}`, { headers: { authorization: `Bearer ${token}` } });
  const waitForDeliveries = (n: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${deliveries.length} deliveries`)), 5000);
      notify = () => {
        if (deliveries.length >= n) {
          clearTimeout(timer);
          resolve();
        }
      };
      notify();
    });

  /** A victim signs in and refreshes from one device; a thief replays the first token from another. */
  async function theft(): Promise<{ sessionId: string }> {
    const email = newEmail();
    await call(server.url, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
    const victim = { 'x-forwarded-for': '198.51.100.7', 'user-agent': 'VictimPhone/2.0' };
    const login = await call(server.url, 'POST', '/auth/login', {
      json: { email, password: PASSWORD },
      headers: victim,
    });
    const first: string = login.data.refresh_token;
    const next = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: first },
      headers: victim,
    });
    assert.equal(next.status, 200);
    sent.push(first, next.data.refresh_token, login.data.access_token, next.data.access_token);
    const thief = { 'x-forwarded-for': '203.0.113.66', 'user-agent': 'ThiefBot/0.1' };
    const replay = await call(server.url, 'POST', '/auth/refresh', {
      json: { refresh_token: first },
      headers: thief,
    });
    assert.equal(replay.status, 401);
    return { sessionId: login.data.session_id };
  }

  it('posts a signed reuse report naming both parties, the time since rotation and the lineage', async () => {
    const { sessionId } = await theft();
    await waitForDeliveries(1);
    const [d] = deliveries;
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(d!.headers['baton-signature']));
    assert.ok(m, 'Baton-Signature: t=…,v1=…');
    const expected = createHmac('sha256', SECRET).update(`${m[1]}.${d!.body}`).digest();
    assert.ok(
      timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')),
      'the signature verifies over the raw body',
    );
    assert.ok(Math.abs(Number(m[1]) - Date.now() / 1000) < 60);
    const event = JSON.parse(d!.body);
    assert.equal(event.type, 'reuse_detected');
    assert.equal(d!.headers['baton-event-id'], event.id);
    assert.equal(event.data.session_id, sessionId);
    assert.deepEqual(event.data.presenter, { ip: '203.0.113.66', user_agent: 'ThiefBot/0.1' });
    assert.deepEqual(event.data.holder, { ip: '198.51.100.7', user_agent: 'VictimPhone/2.0' });
    assert.equal(event.data.presented_generation, 0);
    assert.equal(event.data.current_generation, 1);
    assert.ok(event.data.since_rotation_ms >= 0);
    assert.deepEqual(
      event.data.lineage.map((e: { type: string; generation: number | null }) => [e.type, e.generation]),
      [
        ['session_started', 0],
        ['refresh_rotated', 1],
        ['reuse_detected', 0],
      ],
    );
    for (const secret of sent) assert.ok(!d!.body.includes(secret), 'no token or password in the report');
  });

  it('retries a delivery the receiver refused', async () => {
    const before = deliveries.length;
    failNext = 1;
    await theft();
    await waitForDeliveries(before + 2);
    assert.equal(
      deliveries[before]!.headers['baton-event-id'],
      deliveries[before + 1]!.headers['baton-event-id'],
    );
  });

  it('serves the audit trail only with the admin token, filtered and paged', async () => {
    assert.equal((await call(server.url, 'GET', '/admin/audit')).status, 401);
    const wrong = await admin('', `${ADMIN.slice(0, -1)}x`);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.data.error, 'invalid_token');
    const { sessionId } = await theft();
    const all = await admin(`?session_id=${sessionId}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get('cache-control'), 'no-store');
    const types = all.data.events.map((e: { type: string }) => e.type);
    assert.ok(types.includes('reuse_detected') && types.includes('refresh_rotated'), types.join());
    for (const e of all.data.events) assert.equal(e.session_id, sessionId);
    const reuse = all.data.events.find((e: { type: string }) => e.type === 'reuse_detected');
    assert.equal(reuse.ip, '203.0.113.66');
    assert.equal(reuse.detail.holderIp, '198.51.100.7');
    const revoked = all.data.events.find((e: { type: string }) => e.type === 'session_revoked');
    assert.equal(revoked.detail.reason, 'reuse_detected');

    const page1 = await admin('?type=reuse_detected&limit=1');
    assert.equal(page1.data.events.length, 1);
    assert.ok(page1.data.next_before > 0);
    const page2 = await admin(`?type=reuse_detected&limit=1&before=${page1.data.next_before}`);
    assert.ok(page2.data.events[0].id < page1.data.events[0].id);
    for (const bad of [
      '?limit=0',
      '?limit=abc',
      '?before=-1',
      '?unknown=1',
      `?type=${'x'.repeat(100)}`,
      '?type=%00',
      '?type=nope',
      '?session_id=a%0Ab',
    ]) {
      const r = await admin(bad);
      assert.equal(r.status, 400, bad);
      assert.equal(r.data.error, 'invalid_request');
    }
    for (const secret of sent) assert.ok(!all.text.includes(secret), 'no token text in the audit trail');
  });

  it('is not served at all without an admin token', async () => {
    const plain = await startTestServer();
    try {
      const r = await call(plain.url, 'GET', '/admin/audit', {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      assert.equal(r.status, 404);
    } finally {
      await plain.close();
    }
  });
});

it('a reuse report keeps the session start however many grace re-issues came before', async () => {
  const rows: AuditRow[] = [];
  const add = (type: AuditRow['type'], sessionId = 's1') =>
    rows.push({ id: rows.length + 1, at: rows.length, type, sessionId } as AuditRow);
  add('session_started');
  add('refresh_rotated');
  for (let i = 0; i < 300; i++) add('refresh_grace_reused');
  add('refresh_rotated', 'another session');
  add('reuse_detected');
  const readAudit = async (limit: number, filter: AuditFilter) =>
    rows
      .filter((r) => r.sessionId === filter.sessionId && (!filter.type || r.type === filter.type))
      .reverse()
      .slice(0, limit);
  const lineage = await readSessionLineage(readAudit, 's1');
  assert.deepEqual(
    lineage.map((r) => r.type),
    ['reuse_detected', 'refresh_rotated', 'session_started'],
  );
});
