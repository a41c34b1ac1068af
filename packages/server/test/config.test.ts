import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, parseDuration } from '../src/config.js';
import { loadEffectiveConfig } from '../src/config-file.js';
import { redactUrl } from '../src/config-redact.js';
import { spawnServer } from './processes.js';

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
      accountFailuresPerWindow: 50,
      accountWindow: 900_000,
      knownFor: 30 * 86_400_000,
    });
    const c = loadConfig({
      BATON_RATE_LIMIT_REGISTER: 'off',
      BATON_RATE_LIMIT_REFRESH: '10/30s',
      BATON_LOGIN_IP_FAILURES: '20/1h',
      BATON_LOGIN_FREE_FAILURES: '3',
      BATON_LOGIN_MAX_DELAY: '1h',
      BATON_LOGIN_ACCOUNT_FAILURES: '200/1d',
    });
    assert.equal(c.rateLimits.register, null);
    assert.deepEqual(c.rateLimits.refresh, { limit: 10, window: 30_000 });
    assert.deepEqual(c.loginThrottle, {
      freeFailures: 3,
      maxDelay: 3_600_000,
      ipFailuresPerWindow: 20,
      window: 3_600_000,
      accountFailuresPerWindow: 200,
      accountWindow: 86_400_000,
      knownFor: 30 * 86_400_000,
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
      assert.match(
        text,
        /BATON_WEBHOOK_URL is missing: an http\(s\) URL is required with BATON_WEBHOOK_SECRET/,
      );
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

describe('configuration file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  /** Writes a file in a fresh folder; returns the folder. */
  const folderWith = (content: unknown, name = 'baton.config.json'): string => {
    const folder = join(dir, String(++n));
    mkdirSync(folder);
    writeFileSync(
      join(folder, name),
      typeof content === 'string' ? content : JSON.stringify(content, null, 2),
      { mode: 0o600 },
    );
    return folder;
  };
  const problemsOf = (fn: () => unknown): readonly string[] => {
    try {
      fn();
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    assert.fail('expected a ConfigError');
  };

  it('reads baton.config.json from the working directory; the environment wins', () => {
    const folder = folderWith({
      BATON_ACCESS_TOKEN_TTL: '5m',
      BATON_AUDIENCE: 'from-file',
      BATON_ALLOWED_ORIGINS: ['https://a.example', 'https://b.example'],
      PORT: 9090,
      BATON_DEMO: false,
    });
    const { config, file, sources } = loadEffectiveConfig({ BATON_AUDIENCE: 'from-env', PORT: '' }, folder);
    assert.equal(file, join(folder, 'baton.config.json'));
    assert.equal(config.accessTokenTtl, 5 * 60_000);
    assert.equal(config.audience, 'from-env');
    assert.deepEqual(config.allowedOrigins, ['https://a.example', 'https://b.example']);
    assert.equal(config.port, 9090, 'an empty variable counts as unset');
    assert.equal(config.demo, false);
    assert.equal(sources.BATON_ACCESS_TOKEN_TTL, 'file');
    assert.equal(sources.BATON_AUDIENCE, 'environment');
  });

  it('needs no file, but a file named by BATON_CONFIG must exist', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    assert.equal(loadEffectiveConfig({}, empty).file, null);
    assert.deepEqual(
      problemsOf(() => loadEffectiveConfig({ BATON_CONFIG: 'nope.json' }, empty)),
      [`BATON_CONFIG=${join(empty, 'nope.json')}: no such file`],
    );
    const other = folderWith({ BATON_AUDIENCE: 'elsewhere' }, 'prod.json');
    const { config } = loadEffectiveConfig({ BATON_CONFIG: join(other, 'prod.json') }, empty);
    assert.equal(config.audience, 'elsewhere');
  });

  it('reports invalid JSON with its line', () => {
    const folder = folderWith('{\n  "PORT": 8080,\n}\n');
    const [problem, ...rest] = problemsOf(() => loadEffectiveConfig({}, folder));
    assert.deepEqual(rest, []);
    assert.match(problem!, /baton\.config\.json: invalid JSON at line 3/);
    assert.deepEqual(problemsOf(() => loadEffectiveConfig({}, folderWith('[1]'))).length, 1);
  });

  it('reports unknown keys, wrong types and invalid values at once, naming the file and key', () => {
    const folder = folderWith({
      BATON_ACESS_TOKEN_TTL: '15m',
      BATON_REFRESH_IDLE_TTL: 'forever',
      BATON_ALLOWED_ORIGINS: [{ origin: 'x' }],
      LOG_LEVEL: null,
      BATON_CONFIG: 'other.json',
    });
    const file = join(folder, 'baton.config.json');
    const problems = problemsOf(() => loadEffectiveConfig({}, folder));
    assert.equal(problems.length, 5, problems.join('\n'));
    for (const p of problems) assert.ok(p.startsWith(`${file}: `), p);
    assert.ok(
      problems.some((p) =>
        /unknown key BATON_ACESS_TOKEN_TTL \(did you mean BATON_ACCESS_TOKEN_TTL\?\)/.test(p),
      ),
    );
    assert.ok(
      problems.some((p) => /BATON_REFRESH_IDLE_TTL="forever" is invalid: expected a positive/.test(p)),
    );
    assert.ok(problems.some((p) => /BATON_ALLOWED_ORIGINS must be an array of strings/.test(p)));
    assert.ok(problems.some((p) => /LOG_LEVEL must be a string, not null/.test(p)));
    assert.ok(problems.some((p) => /BATON_CONFIG cannot be set inside/.test(p)));
    // Each setting takes the JSON type that fits it, and only that one.
    const typed = problemsOf(() =>
      loadEffectiveConfig(
        {},
        folderWith({ HOST: ['a', 'b'], BATON_ISSUER: 5, BATON_DEMO: 1, PORT: true, BATON_DATA_DIR: ['d'] }),
      ),
    );
    assert.deepEqual(
      typed.map((p) => p.replace(/^.*?baton\.config\.json: /, '')),
      [
        'HOST must be a string, not an array',
        'BATON_ISSUER must be a string, not a number',
        'BATON_DEMO must be a boolean or a string, not a number',
        'PORT must be a number or a string, not a boolean',
        'BATON_DATA_DIR must be a string, not an array',
      ],
    );
    // A misspelled key is unknown whatever its value's type (numbers are fine for durations).
    const misspelt = problemsOf(() => loadEffectiveConfig({}, folderWith({ BATON_ACESS_TOKEN_TTL: 60 })));
    assert.deepEqual(
      misspelt.map((p) => p.replace(/^.*?baton\.config\.json: /, '')),
      ['unknown key BATON_ACESS_TOKEN_TTL (did you mean BATON_ACCESS_TOKEN_TTL?)'],
    );
    const listOfNumbers = problemsOf(() =>
      loadEffectiveConfig({}, folderWith({ BATON_CLIENTS: ['a:b', 5] })),
    );
    assert.match(listOfNumbers.join('\n'), /BATON_CLIENTS must be an array of strings/);
    // Two letters swapped is one slip, even in a short name.
    const swapped = problemsOf(() => loadEffectiveConfig({}, folderWith({ PROT: 8080 })));
    assert.match(swapped.join('\n'), /unknown key PROT \(did you mean PORT\?\)/);
    const lower = problemsOf(() => loadEffectiveConfig({}, folderWith({ baton_demo: false })));
    assert.match(lower.join('\n'), /unknown key "baton_demo" \(did you mean BATON_DEMO\?\)/);
    // A known setting is never called unknown because another one is wrong.
    const mixed = problemsOf(() => loadEffectiveConfig({}, folderWith({ BATON_DATA_DIR: 'x', PORT: 'abc' })));
    assert.equal(mixed.length, 1, mixed.join('\n'));
    assert.match(mixed[0]!, /PORT="abc" is invalid/);
    // A connection string in key=value form is never echoed, password and all.
    const dsn = problemsOf(() =>
      loadEffectiveConfig(
        { BATON_STORE: 'postgres', DATABASE_URL: 'host=h password=kv-secret-2' },
        folderWith({}),
      ),
    );
    assert.ok(!dsn.join('\n').includes('kv-secret-2'), dsn.join('\n'));
    // A bad value from the environment is the environment's problem, not the file's.
    const fromEnv = problemsOf(() =>
      loadEffectiveConfig({ BATON_AUDIENCE: 'x', PORT: 'eighty' }, folderWith({})),
    );
    assert.deepEqual(fromEnv, ['PORT="eighty" is invalid: expected an integer from 0 to 65535']);
  });

  it('resolves relative paths against the file and warns about readable secrets', () => {
    const folder = folderWith({ BATON_DATA_DIR: 'state', BATON_RESOURCE_SERVERS: 'api:0123456789abcdef' });
    chmodSync(join(folder, 'baton.config.json'), 0o644);
    const effective = loadEffectiveConfig({ BATON_CONFIG: join(folder, 'baton.config.json') }, tmpdir());
    assert.equal(effective.config.dataDir, join(folder, 'state'));
    assert.deepEqual(effective.warnings, [
      `${join(folder, 'baton.config.json')} holds secrets and is readable by other users (chmod 600 it)`,
    ]);
    chmodSync(join(folder, 'baton.config.json'), 0o600);
    assert.deepEqual(loadEffectiveConfig({}, folder).warnings, []);
    // A password inside a connection URL is a secret too; a URL without one is not.
    for (const [url, warned] of [
      ['postgres://baton:pw-in-url@db.example/baton', true],
      ['postgres://baton@db.example/baton', false],
    ] as const) {
      const withUrl = folderWith({ BATON_STORE: 'postgres', DATABASE_URL: url });
      chmodSync(join(withUrl, 'baton.config.json'), 0o644);
      assert.equal(loadEffectiveConfig({}, withUrl).warnings.length, warned ? 1 : 0, url);
    }
  });

  it('never echoes a secret in a problem', () => {
    const folder = folderWith({
      BATON_RESOURCE_SERVERS: 'api:short-secret',
      BATON_CLIENTS: 'web:tiny',
      DATABASE_URL: 'mysql://admin:hunter2hunter2@db.example/baton',
      BATON_STORE: 'postgres',
    });
    const text = problemsOf(() => loadEffectiveConfig({}, folder)).join('\n');
    assert.match(text, /BATON_RESOURCE_SERVERS="\[hidden\]" is invalid/);
    assert.match(text, /DATABASE_URL="mysql:\/\/admin:\[hidden\]@db\.example/);
    for (const secret of ['short-secret', 'tiny', 'hunter2']) assert.doesNotMatch(text, new RegExp(secret));
  });

  it('hides a URL password whole, whatever it holds, and finds a URL the driver cannot read', () => {
    for (const [url, shown] of [
      ['postgres://app:pa ss-S3CRET@db:5432/baton', 'postgres://app:[hidden]@db:5432/baton'],
      ['postgres://app:p@ss-S3CRET@db:5432/baton', 'postgres://app:[hidden]@db:5432/baton'],
      [
        'postgres://app:a/b:c-S3CRET@db/baton?sslmode=require',
        'postgres://app:[hidden]@db/baton?sslmode=[hidden]',
      ],
      ['redis://:S3CRET@cache:6379', 'redis://:[hidden]@cache:6379'],
      ['redis://:p?S3CRET@cache:6379', 'redis://:[hidden]@cache:6379'],
      [
        'postgres://app:p#S3CRET@db/baton?sslmode=require',
        'postgres://app:[hidden]@db/baton?sslmode=[hidden]',
      ],
      ['https://hook:WH?S3CRET@hooks.example/x', 'https://hook:[hidden]@hooks.example/x'],
      ['postgres://app@db/baton', 'postgres://app@db/baton'],
      ['https://example.test/a@b', 'https://example.test/a@b'],
    ] as const) {
      assert.equal(redactUrl(url), shown);
    }
    const problems = problemsOf(() =>
      loadConfig({ BATON_STORE: 'postgres', DATABASE_URL: 'postgres://u:S3CRET pw@db:port/baton' }),
    );
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(
      problems[0]!,
      /^DATABASE_URL="postgres:\/\/u:\[hidden\]@db:port\/baton" is invalid: is not a URL the PostgreSQL driver can read/,
    );
    const redis = problemsOf(() => loadConfig({ REDIS_URL: 'redis://u:p/S3CRET@cache:6379' }));
    assert.equal(redis.length, 1, redis.join('\n'));
    assert.match(
      redis[0]!,
      /^REDIS_URL="redis:\/\/u:\[hidden\]@cache:6379" is invalid: is not a URL the Redis client can read/,
    );
    for (const [url, why] of [
      ['redis://:S3C%ZZ@cache:6379', /malformed percent-escape/],
      ['redis://cache:6379/abc', /not a database number/],
    ] as const) {
      const p = problemsOf(() => loadConfig({ REDIS_URL: url }));
      assert.equal(p.length, 1, url);
      assert.match(p[0]!, why);
      assert.doesNotMatch(p[0]!, /S3C/);
    }
    const cert = problemsOf(() =>
      loadConfig({
        BATON_STORE: 'postgres',
        DATABASE_URL: 'postgres://u:S3CRET@db/baton?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem',
      }),
    );
    assert.equal(cert.length, 1);
    assert.match(cert[0]!, /names a file \(sslcert, sslkey or sslrootcert\) that cannot be read \(ENOENT\)$/);
    assert.match(
      cert[0]!,
      /^DATABASE_URL="[^"]*"/,
      'the value shown is quoted whole, or cut with its quote kept',
    );
    assert.doesNotMatch(cert[0]!, /S3CRET/);
    for (const url of ['redis://cache:6379/0/', 'redis://cache:6379/12345', 'rediss://[::1]:6380/2?family=6'])
      assert.equal(loadConfig({ REDIS_URL: url }).redisUrl, url, url);
    // What the driver reads (an unencoded space or @ in the password) passes.
    for (const url of ['postgres://u:pa ss@db/baton', 'postgres://u:p@ss@db/baton'])
      assert.equal(loadConfig({ BATON_STORE: 'postgres', DATABASE_URL: url }).databaseUrl, url);
  });

  it('is what the server runs with (npm start reads BATON_CONFIG)', async () => {
    const folder = folderWith({ BATON_ISSUER: 'https://baton.file.example', BATON_DATA_DIR: 'data' });
    const server = await spawnServer({ BATON_CONFIG: join(folder, 'baton.config.json') });
    try {
      const res = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
      assert.equal(((await res.json()) as { issuer: string }).issuer, 'https://baton.file.example');
    } finally {
      await server.stop();
    }
    const bad = folderWith({ BATON_SIGNING_ALG: 'HS256' });
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const r = spawnSync(
      process.execPath,
      ['--conditions=baton-source', '--import', 'tsx', 'packages/server/src/main.ts'],
      {
        cwd: root,
        env: { ...process.env, BATON_CONFIG: join(bad, 'baton.config.json') },
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr.trim(),
      `baton: configuration error: ${join(bad, 'baton.config.json')}: BATON_SIGNING_ALG="HS256" is invalid: expected EdDSA, ES256 or RS256`,
    );
  });
});

it('a configuration file with keys that are not variable names reports them, never crashes', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadEffectiveConfig } = await import('../src/config-file.js');
  const dir = mkdtempSync(join(tmpdir(), 'baton-config-keys-'));
  try {
    const file = join(dir, 'baton.config.json');
    writeFileSync(
      file,
      '{"constructor":"x","toString":"y","__proto__":"z","BATON_ADMIN_TOKEN":"short-admin-secret"}',
    );
    assert.throws(
      () => loadEffectiveConfig({ BATON_CONFIG: file }, dir),
      (e: unknown) => {
        const text = (e as ConfigError).problems.join('\n');
        for (const key of ['constructor', 'toString', '__proto__'])
          assert.match(text, new RegExp(`unknown key "${key}"`));
        assert.match(
          text,
          new RegExp(`${file}: BATON_ADMIN_TOKEN is invalid`),
          "a secret's problem names the file",
        );
        assert.ok(!text.includes('short-admin-secret'));
        return true;
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
