import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, parseDuration } from '../src/config.js';

describe('configuration', () => {
  it('has the contract defaults', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.issuer, 'http://127.0.0.1:8080');
    assert.equal(c.audience, 'baton');
    assert.equal(c.signingAlg, 'EdDSA');
    assert.equal(c.accessTokenTtl, 15 * 60_000);
    assert.equal(c.refreshIdleTtl, 14 * 86_400_000);
    assert.equal(c.sessionMaxAge, 30 * 86_400_000);
    assert.equal(c.reuseGrace, 10_000);
    assert.equal(c.store, 'sqlite');
    assert.match(c.dataDir, /\/data$/);
  });

  it('has rate limits on by default, each adjustable or off', () => {
    const d = loadConfig({});
    assert.deepEqual(d.rateLimits, {
      register: { limit: 300, window: 300_000 },
      refresh: { limit: 120, window: 60_000 },
      token: { limit: 1200, window: 60_000 },
    });
    assert.deepEqual(d.loginThrottle, {
      freeFailures: 5,
      maxDelay: 900_000,
      ipFailuresPerWindow: 100,
      window: 900_000,
    });
    const c = loadConfig({
      BATON_RATE_LIMIT_REGISTER: 'off',
      BATON_RATE_LIMIT_REFRESH: '10/30s',
      BATON_LOGIN_IP_FAILURES: '20/1h',
      BATON_LOGIN_FREE_FAILURES: '3',
      BATON_LOGIN_MAX_DELAY: '1h',
    });
    assert.equal(c.rateLimits.register, null);
    assert.deepEqual(c.rateLimits.refresh, { limit: 10, window: 30_000 });
    assert.deepEqual(c.loginThrottle, {
      freeFailures: 3,
      maxDelay: 3_600_000,
      ipFailuresPerWindow: 20,
      window: 3_600_000,
    });
    assert.throws(
      () =>
        loadConfig({
          BATON_RATE_LIMIT_TOKEN: '0/1m',
          BATON_RATE_LIMIT_REFRESH: 'lots',
          BATON_LOGIN_IP_FAILURES: 'off',
          BATON_LOGIN_FREE_FAILURES: '0',
        }),
      (e: unknown) => {
        const problems = (e as ConfigError).problems;
        assert.equal(problems.length, 4, problems.join('\n'));
        assert.match(
          problems[0]!,
          /BATON_RATE_LIMIT_REFRESH="lots" is invalid: expected a count per duration/,
        );
        return true;
      },
    );
  });

  it('checks the admin token and webhook settings without echoing secrets', () => {
    const c = loadConfig({
      BATON_ADMIN_TOKEN: 'a'.repeat(32),
      BATON_WEBHOOK_URL: 'https://hooks.example/baton',
      BATON_WEBHOOK_SECRET: 's'.repeat(32),
    });
    assert.equal(c.adminToken, 'a'.repeat(32));
    assert.deepEqual(c.webhook, { url: 'https://hooks.example/baton', secret: 's'.repeat(32) });
    assert.equal(loadConfig({}).webhook, null);
    try {
      loadConfig({ BATON_ADMIN_TOKEN: 'short-admin-secret', BATON_WEBHOOK_SECRET: 'short-hook-secret' });
      assert.fail('expected a ConfigError');
    } catch (e) {
      const text = (e as ConfigError).problems.join('\n');
      assert.match(text, /BATON_ADMIN_TOKEN is invalid/);
      assert.match(text, /BATON_WEBHOOK_SECRET is invalid/);
      assert.match(text, /BATON_WEBHOOK_URL=.* is invalid: expected an http\(s\) URL, required with/);
      assert.ok(!text.includes('short-admin-secret') && !text.includes('short-hook-secret'));
      const withPassword = () =>
        loadConfig({
          BATON_WEBHOOK_URL: 'https://u:hunter2@hooks.example/x',
          BATON_WEBHOOK_SECRET: 's'.repeat(32),
        });
      assert.throws(withPassword, (err: unknown) => {
        const line = (err as ConfigError).problems.join('\n');
        return (
          /BATON_WEBHOOK_URL is invalid: expected a URL without user:password/.test(line) &&
          !line.includes('hunter2')
        );
      });
    }
  });

  it('parses durations as seconds or with s, m, h, d', () => {
    assert.equal(parseDuration('900'), 900_000);
    assert.equal(parseDuration('2s'), 2000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('12h'), 43_200_000);
    assert.equal(parseDuration('14d'), 1_209_600_000);
    for (const bad of ['', '15 m', '1.5h', '-1', '10w', 'abc', '1e3'])
      assert.equal(parseDuration(bad), null, bad);
  });

  it('reports every bad variable at once, one line each, naming it and what is allowed', () => {
    try {
      loadConfig({
        PORT: 'eighty',
        BATON_ACCESS_TOKEN_TTL: '15 minutes',
        BATON_SIGNING_ALG: 'HS256',
        BATON_REUSE_GRACE: '-1',
      });
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 4);
      assert.match(error.problems[0]!, /^PORT=.* is invalid: expected an integer/);
      assert.ok(error.problems.some((p) => /^BATON_SIGNING_ALG=.*EdDSA, ES256 or RS256/.test(p)));
      for (const p of error.problems) assert.doesNotMatch(p, /\n/);
    }
  });

  it('allows a zero grace but no zero lifetimes', () => {
    assert.equal(loadConfig({ BATON_REUSE_GRACE: '0' }).reuseGrace, 0);
    assert.throws(() => loadConfig({ BATON_ACCESS_TOKEN_TTL: '0' }), ConfigError);
  });

  it('validates origins, resource servers and URLs', () => {
    assert.deepEqual(
      loadConfig({ BATON_ALLOWED_ORIGINS: 'https://a.test, http://localhost:3000' }).allowedOrigins,
      ['https://a.test', 'http://localhost:3000'],
    );
    assert.throws(() => loadConfig({ BATON_ALLOWED_ORIGINS: 'https://a.test/path' }), ConfigError);
    assert.throws(() => loadConfig({ BATON_RESOURCE_SERVERS: 'api' }), ConfigError);
    assert.deepEqual(loadConfig({ BATON_RESOURCE_SERVERS: 'api:0123456789abcdef' }).resourceServers, [
      { id: 'api', secret: '0123456789abcdef' },
    ]);
    assert.throws(() => loadConfig({ BATON_ISSUER: 'not a url' }), ConfigError);
    assert.throws(() => loadConfig({ REDIS_URL: 'http://x' }), ConfigError);
    assert.throws(
      () => loadConfig({ LOG_LEVEL: 'verbose' }),
      /LOG_LEVEL="verbose" is invalid: expected one of fatal/,
    );
    assert.equal(loadConfig({ LOG_LEVEL: 'warn' }).logLevel, 'warn');
  });

  it('exposes metrics only when asked: a token, a separate port, or both', () => {
    assert.deepEqual(loadConfig({}).metrics, { token: null, port: null, host: '127.0.0.1' });
    const token = 'metrics-token-0123456789';
    assert.deepEqual(loadConfig({ BATON_METRICS_TOKEN: token }).metrics, {
      token,
      port: null,
      host: '127.0.0.1',
    });
    assert.deepEqual(loadConfig({ BATON_METRICS_PORT: '9464', BATON_METRICS_HOST: '0.0.0.0' }).metrics, {
      token: null,
      port: 9464,
      host: '0.0.0.0',
    });
    assert.equal(loadConfig({ BATON_METRICS_PORT: '0' }).metrics.port, 0);
  });

  it('refuses bad metrics settings, and never echoes the metrics token', () => {
    for (const bad of ['short', 'sixteen chars ok', 'x'.repeat(1025), 'é'.repeat(20)]) {
      try {
        loadConfig({ BATON_METRICS_TOKEN: bad });
        assert.fail(`expected a ConfigError for ${bad}`);
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems, [
          'BATON_METRICS_TOKEN is invalid: expected 16 to 1024 printable ASCII characters without spaces',
        ]);
      }
    }
    for (const port of ['-1', '65536', 'nine', '8080']) {
      assert.throws(
        () => loadConfig({ BATON_METRICS_PORT: port }),
        /BATON_METRICS_PORT=".*" is invalid: expected an integer from 0 to 65535, other than PORT/,
      );
    }
    assert.equal(loadConfig({ PORT: '8081', BATON_METRICS_PORT: '8080' }).metrics.port, 8080);
    assert.throws(
      () => loadConfig({ BATON_METRICS_HOST: '0.0.0.0' }),
      /BATON_METRICS_HOST="0.0.0.0" is invalid: expected only together with BATON_METRICS_PORT/,
    );
    assert.throws(
      () => loadConfig({ BATON_METRICS_PORT: '9464', BATON_METRICS_HOST: 'a b' }),
      /BATON_METRICS_HOST="a b" is invalid: expected a host name or IP address/,
    );
  });

  it('stops the process with one line per problem and exit code 1', () => {
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const r = spawnSync(
      process.execPath,
      ['--conditions=baton-source', '--import', 'tsx', 'packages/server/src/main.ts'],
      {
        cwd: root,
        env: { ...process.env, BATON_REFRESH_IDLE_TTL: 'forever' },
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    assert.equal(r.status, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /BATON_REFRESH_IDLE_TTL="forever" is invalid: expected a positive number of seconds/,
    );
  });
});
