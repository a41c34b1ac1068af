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
