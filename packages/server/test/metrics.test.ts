import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { BatonError } from '@baton/core';
import { SECURITY_HEADERS } from '../src/http/errors.js';
import { createMetrics, isStoreFailure } from '../src/metrics.js';
import { bearer, call, newEmail, PASSWORD, rawExchange, signIn, startTestServer } from './helpers.js';
import { startPrivatePostgres } from './private-services.js';
import { freePort } from './processes.js';
import { postgresMissing } from './services.js';

const TOKEN = `metrics-${randomBytes(12).toString('hex')}`;

/** Prometheus text → value by series, labels sorted: `name{a=x,b=y}`. */
function parse(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}=${v}`);
    series.set(labels.length ? `${m[1]}{${labels.sort().join(',')}}` : m[1]!, Number(m[3]));
  }
  return series;
}

const key = (name: string, labels: Record<string, string> = {}): string => {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return pairs.length ? `${name}{${pairs.sort().join(',')}}` : name;
};

async function scrape(
  base: string,
  token: string | null = TOKEN,
): Promise<{ text: string; series: Map<string, number> }> {
  const reply = await call(base, 'GET', '/metrics', token === null ? {} : { headers: bearer(token) });
  assert.equal(reply.status, 200, reply.text);
  assert.match(reply.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  // On the main port and on its own alike.
  for (const [name, value] of Object.entries(SECURITY_HEADERS))
    assert.equal(reply.headers.get(name), value, name);
  return { text: reply.text, series: parse(reply.text) };
}

describe('metrics', () => {
  it('counts logins, refreshes, reuse, revocations and 429s, and no label carries request data', async () => {
    const server = await startTestServer({ BATON_METRICS_TOKEN: TOKEN, BATON_REUSE_GRACE: '0' });
    const sent: string[] = [TOKEN, PASSWORD];
    try {
      const before = (await scrape(server.url)).series;

      // Register and log in; a wrong password; a rotation; the consumed token again (reuse).
      const { email, tokens } = await signIn(server.url);
      sent.push(email, tokens.data.access_token, tokens.data.refresh_token, tokens.data.session_id);
      const wrong = await call(server.url, 'POST', '/auth/login', {
        json: { email, password: 'wrong password!' },
      });
      assert.equal(wrong.status, 401);
      const next = await call(server.url, 'POST', '/auth/refresh', {
        json: { refresh_token: tokens.data.refresh_token },
      });
      assert.equal(next.status, 200);
      sent.push(next.data.access_token, next.data.refresh_token);
      const reused = await call(server.url, 'POST', '/auth/refresh', {
        json: { refresh_token: tokens.data.refresh_token },
      });
      assert.equal(reused.status, 401);

      // A second session ends by logout, a third by DELETE /auth/sessions/:id.
      const second = await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
      const third = await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
      sent.push(second.data.refresh_token, third.data.access_token, third.data.session_id);
      const logout = await call(server.url, 'POST', '/auth/logout', {
        json: { refresh_token: second.data.refresh_token },
      });
      assert.equal(logout.status, 204);
      const deleted = await call(server.url, 'DELETE', `/auth/sessions/${third.data.session_id}`, {
        headers: bearer(third.data.access_token),
      });
      assert.equal(deleted.status, 204);

      // The login throttle: five free failures on an unknown account, then 429.
      const stranger = newEmail();
      sent.push(stranger);
      for (let i = 0; i < 5; i++) {
        const r = await call(server.url, 'POST', '/auth/login', {
          json: { email: stranger, password: 'nope nope nope' },
        });
        assert.equal(r.status, 401);
      }
      const throttled = await call(server.url, 'POST', '/auth/login', {
        json: { email: stranger, password: 'nope nope nope' },
      });
      assert.equal(throttled.status, 429);

      const unknownPath = `/no/such/${randomBytes(8).toString('hex')}`;
      assert.equal((await call(server.url, 'GET', unknownPath)).status, 404);

      const { text, series: after } = await scrape(server.url);
      const delta = (name: string, labels: Record<string, string> = {}): number =>
        (after.get(key(name, labels)) ?? 0) - (before.get(key(name, labels)) ?? 0);
      assert.equal(delta('baton_registrations_total'), 1);
      assert.equal(delta('baton_logins_total', { result: 'ok' }), 3);
      assert.equal(delta('baton_logins_total', { result: 'failed' }), 6);
      assert.equal(delta('baton_refreshes_total', { result: 'rotated' }), 1);
      assert.equal(delta('baton_refreshes_total', { result: 'grace_reused' }), 0);
      assert.equal(delta('baton_reuse_detections_total'), 1);
      assert.equal(delta('baton_revocations_total', { reason: 'reuse_detected' }), 1);
      assert.equal(delta('baton_revocations_total', { reason: 'logout' }), 1);
      assert.equal(delta('baton_revocations_total', { reason: 'session_deleted' }), 1);
      assert.equal(delta('baton_revocations_total', { reason: 'logout_all' }), 0);
      assert.equal(delta('baton_access_token_revocations_total'), 0);
      assert.equal(delta('baton_password_changes_total', { result: 'failed' }), 0);
      assert.equal(delta('baton_rate_limited_total', { route: '/auth/login' }), 1);
      assert.equal(delta('baton_store_errors_total', { source: 'request' }), 0);
      assert.equal(delta('baton_store_errors_total', { source: 'background' }), 0);

      // Latency: by route pattern, never the raw path; unknown paths share one label value.
      const count = (labels: Record<string, string>): number =>
        after.get(key('baton_http_request_duration_seconds_count', labels)) ?? 0;
      assert.equal(count({ method: 'DELETE', route: '/auth/sessions/:id', status_code: '204' }), 1);
      assert.equal(count({ method: 'POST', route: '/auth/login', status_code: '429' }), 1);
      assert.equal(count({ method: 'POST', route: '/auth/refresh', status_code: '401' }), 1);
      assert.ok(count({ method: 'GET', route: 'unmatched', status_code: '404' }) >= 1);
      assert.ok(
        (after.get(
          key('baton_http_request_duration_seconds_bucket', {
            le: '+Inf',
            method: 'POST',
            route: '/auth/login',
            status_code: '200',
          }),
        ) ?? 0) >= 3,
      );
      const routes = new Set([...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]));
      for (const route of routes) assert.ok(route === 'unmatched' || route?.startsWith('/'), route);
      assert.ok(!text.includes(unknownPath) && !text.includes('/no/such'));
      // Process metrics come along, unprefixed.
      assert.ok(after.has('process_cpu_user_seconds_total'));
      assert.ok(after.has(key('nodejs_heap_size_total_bytes')));

      for (const secret of sent) assert.equal(text.includes(secret), false, 'a credential in /metrics');
      assert.ok(!text.includes('127.0.0.1'));
    } finally {
      await server.close();
    }
  });

  it('asks for the token on the main port: 401 without it or with a wrong one', async () => {
    const server = await startTestServer({ BATON_METRICS_TOKEN: TOKEN });
    try {
      const wrongSameLength = TOKEN.slice(0, -1) + (TOKEN.endsWith('0') ? '1' : '0');
      for (const headers of [
        {},
        bearer('x'.repeat(32)),
        bearer(wrongSameLength),
        bearer(`${TOKEN}x`),
        { authorization: `Basic ${Buffer.from(`metrics:${TOKEN}`).toString('base64')}` },
        { authorization: TOKEN },
      ]) {
        const r = await call(server.url, 'GET', '/metrics', { headers });
        assert.equal(r.status, 401, JSON.stringify(headers));
        assert.equal(r.data.error, 'invalid_token');
        assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer /);
        assert.ok(!r.text.includes('baton_'));
      }
      assert.equal(
        (await call(server.url, 'GET', '/metrics', { headers: { authorization: `bearer  ${TOKEN}` } }))
          .status,
        200,
      );
      await scrape(server.url);
    } finally {
      await server.close();
    }
  });

  it('is not exposed unless configured: /metrics answers 404', async () => {
    const server = await startTestServer();
    try {
      assert.equal((await call(server.url, 'GET', '/metrics')).status, 404);
      assert.equal((await call(server.url, 'GET', '/metrics', { headers: bearer(TOKEN) })).status, 404);
    } finally {
      await server.close();
    }
  });

  it('serves /metrics on its own port, unauthenticated, and not on the main port; closes it on close', async () => {
    const port = await freePort();
    const server = await startTestServer({ BATON_METRICS_PORT: String(port) });
    const metricsUrl = `http://127.0.0.1:${port}`;
    let closed = false;
    try {
      await signIn(server.url);
      assert.equal((await call(server.url, 'GET', '/metrics')).status, 404);
      const { series } = await scrape(metricsUrl, null);
      assert.equal(series.get(key('baton_logins_total', { result: 'ok' })), 1);
      assert.equal(series.get(key('baton_registrations_total')), 1);
      // The metrics port serves nothing else, and its own scrapes are not in the histogram.
      assert.equal((await call(metricsUrl, 'GET', '/auth/me')).status, 404);
      // Its listener answers odd and broken requests as the main one does: headers, JSON body.
      const host = `Host: 127.0.0.1:${port}\r\n`;
      for (const [request, status] of [
        ['GARBAGE\r\n\r\n', 400],
        [`GET /metrics HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
        [`GET /metrics HTTP/1.1\r\n${host}Expect: foo\r\nConnection: close\r\n\r\n`, 417],
        ['GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n', 400],
        [`CONNECT 127.0.0.1:${port} HTTP/1.1\r\n${host}\r\n`, 405],
      ] as const) {
        const [head = '', body = ''] = (await rawExchange(metricsUrl, request)).split('\r\n\r\n');
        assert.match(
          head,
          new RegExp(`^HTTP/1.1 ${status} `),
          `${request.slice(0, 30)}: ${head.split('\r\n')[0]}`,
        );
        for (const [name, value] of Object.entries(SECURITY_HEADERS))
          assert.ok(head.toLowerCase().includes(`${name}: ${value.toLowerCase()}`), `${status}: ${name}`);
        assert.match(body, /"error":"invalid_request"/, `${status}: ${body}`);
      }
      const again = (await scrape(metricsUrl, null)).text;
      assert.ok(!again.includes('route="/metrics"'));
      await server.close();
      closed = true;
      await assert.rejects(fetch(`${metricsUrl}/metrics`));
    } finally {
      if (!closed) await server.close();
    }
  });

  it('asks for the token on the separate port too when both are set', async () => {
    const port = await freePort();
    const server = await startTestServer({ BATON_METRICS_PORT: String(port), BATON_METRICS_TOKEN: TOKEN });
    const metricsUrl = `http://127.0.0.1:${port}`;
    try {
      assert.equal((await call(server.url, 'GET', '/metrics', { headers: bearer(TOKEN) })).status, 404);
      assert.equal((await call(metricsUrl, 'GET', '/metrics')).status, 401);
      await scrape(metricsUrl, TOKEN);
    } finally {
      await server.close();
    }
  });

  it('counts a request that fails because PostgreSQL stopped answering', async (t) => {
    const missing = await postgresMissing();
    if (missing) return t.skip(missing);
    const pg = await startPrivatePostgres();
    try {
      const server = await startTestServer({
        BATON_STORE: 'postgres',
        DATABASE_URL: pg.url,
        BATON_METRICS_TOKEN: TOKEN,
      });
      try {
        const { tokens } = await signIn(server.url);
        const before = (await scrape(server.url)).series;
        pg.stop('fast');
        const r = await call(server.url, 'POST', '/auth/refresh', {
          json: { refresh_token: tokens.data.refresh_token },
        });
        assert.equal(r.status, 503);
        const after = (await scrape(server.url)).series;
        const requestErrors = key('baton_store_errors_total', { source: 'request' });
        assert.equal((after.get(requestErrors) ?? 0) - (before.get(requestErrors) ?? 0), 1);
        const failed = { method: 'POST', route: '/auth/refresh', status_code: '503' };
        assert.equal(after.get(key('baton_http_request_duration_seconds_count', failed)), 1);
      } finally {
        await server.close();
      }
    } finally {
      pg.destroy();
    }
  });

  it('keeps each instance in its own registry and counts background store errors and odd reasons', async () => {
    const config = { token: TOKEN, port: null, host: '127.0.0.1' };
    const a = createMetrics(config);
    const b = createMetrics(config);
    const records: string[] = [];
    const sink = a.countAudit({ record: (event) => records.push(event.type) });
    sink.record({ type: 'login_failed', at: 1, detail: { via: 'password_change' } });
    sink.record({ type: 'password_changed', at: 2 });
    sink.record({ type: 'session_revoked', at: 3, detail: { reason: 'something new' } });
    sink.record({ type: 'access_token_revoked', at: 4 });
    sink.record({ type: 'refresh_grace_reused', at: 5 });
    a.storeError();
    assert.deepEqual(records, [
      'login_failed',
      'password_changed',
      'session_revoked',
      'access_token_revoked',
      'refresh_grace_reused',
    ]);
    const sa = parse(await a.scrape());
    const sb = parse(await b.scrape());
    assert.equal(sa.get(key('baton_password_changes_total', { result: 'failed' })), 1);
    assert.equal(sa.get(key('baton_password_changes_total', { result: 'ok' })), 1);
    assert.equal(sa.get(key('baton_logins_total', { result: 'failed' })), 0);
    assert.equal(sa.get(key('baton_revocations_total', { reason: 'other' })), 1);
    assert.equal(sa.get(key('baton_access_token_revocations_total')), 1);
    assert.equal(sa.get(key('baton_refreshes_total', { result: 'grace_reused' })), 1);
    assert.equal(sa.get(key('baton_store_errors_total', { source: 'background' })), 1);
    assert.equal(sb.get(key('baton_store_errors_total', { source: 'background' })), 0);
    assert.equal(sb.get(key('baton_access_token_revocations_total')), 0);
    // Every fixed label value is there from the start, at zero.
    for (const reason of ['logout', 'logout_all', 'session_deleted', 'reuse_detected', 'token_revoked'])
      assert.equal(sb.get(key('baton_revocations_total', { reason })), 0, reason);
  });

  it('tells store failures from other errors', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const unavailable = (cause?: unknown) =>
      new BatonError('temporarily_unavailable', 'postgres unavailable during x', { retryAfter: 1, cause });
    assert.equal(isStoreFailure(unavailable(refused)), true);
    assert.equal(
      isStoreFailure(
        unavailable(Object.assign(new Error('terminating connection'), { code: '57P01', severity: 'FATAL' })),
      ),
      true,
    );
    assert.equal(
      isStoreFailure(
        Object.assign(new Error('disk I/O error'), { name: 'SqliteError', code: 'SQLITE_IOERR' }),
      ),
      true,
    );
    assert.equal(
      isStoreFailure(Object.assign(new Error('duplicate key'), { code: '23505', severity: 'ERROR' })),
      true,
    );
    // Lost races, client errors and ordinary bugs are not the store's failures.
    assert.equal(isStoreFailure(unavailable()), false);
    assert.equal(isStoreFailure(new BatonError('invalid_grant', 'reuse')), false);
    assert.equal(isStoreFailure(new TypeError('x is undefined')), false);
    assert.equal(isStoreFailure(undefined), false);
  });
});
