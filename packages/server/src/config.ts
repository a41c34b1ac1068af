import { isIP } from 'node:net';
import { resolve } from 'node:path';
import {
  DEFAULT_LOGIN_THROTTLE,
  type LoginThrottleRules,
  MAX_ACCESS_TOKEN_LIFETIME,
  type RateRule,
  type SessionConfig,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
} from '@baton/core';
import { parse as parseConnectionString } from 'pg-connection-string';
import { redactVariable } from './config-redact.js';

/**
 * The only file that reads `process.env` (with config-file.ts, which merges in
 * `baton.config.json`). Every value is validated at start-up; all problems are reported at
 * once, one line each, naming the variable and what it allows.
 */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  issuer: string;
  audience: string;
  signingAlg: SigningAlgorithm;
  /** Durations in milliseconds. */
  accessTokenTtl: number;
  refreshIdleTtl: number;
  sessionMaxAge: number;
  reuseGrace: number;
  store: 'sqlite' | 'postgres';
  databaseUrl: string | null;
  redisUrl: string | null;
  /** Prepended to every Redis key and channel, so that deployments can share one Redis. */
  redisPrefix: string;
  resourceServers: ReadonlyArray<{ id: string; secret: string }>;
  /** OAuth clients besides the built-in public client `baton`; a secret makes one confidential. */
  clients: ReadonlyArray<{ id: string; secret: string | null }>;
  allowedOrigins: readonly string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Serve the demo app at / and the browser SDK at /sdk/. */
  demo: boolean;
  /** Serve the OpenAPI document at /docs/json and its UI at /docs. */
  apiDocs: boolean;
  /** How long audit events are kept (ms), and at most how many. */
  auditRetention: number;
  auditMaxRows: number;
  /** Proxies whose X-Forwarded-For is believed (IPs or CIDRs); none by default. */
  trustedProxies: readonly string[];
  /** Request limits (null: off). Held in Redis when REDIS_URL is set. */
  rateLimits: {
    /** Registrations per client IP. */
    register: RateRule | null;
    /** Refreshes per session (genuine tokens only). */
    refresh: RateRule | null;
    /** /oauth/token requests per confidential client, or per public client and IP. */
    token: RateRule | null;
  };
  /** Back-off per (account, IP) and failures per IP for login and password change. */
  loginThrottle: LoginThrottleRules;
  /** Bearer credential of GET /admin/audit; the endpoint is off without one. */
  adminToken: string | null;
  /** Where reuse detections are posted, signed with `secret`; off when null. */
  webhook: { url: string; secret: string } | null;
  /** Where /metrics is served; see {@link MetricsConfig}. */
  metrics: MetricsConfig;
}

/**
 * Prometheus metrics are collected and served only when exposed: with a token, `/metrics`
 * on the main port asks for `Authorization: Bearer <token>`; with a port, `/metrics` moves
 * to a listener of its own on `host:port` (the token, if set, is required there too).
 * Neither: nothing is collected and `/metrics` answers 404.
 */
export interface MetricsConfig {
  token: string | null;
  port: number | null;
  host: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const DURATION = /^(\d{1,10})(s|m|h|d)?$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `900`, `900s`, `15m`, `12h`, `14d` → milliseconds; null when malformed. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS];
}

export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const fail = (name: string, allowed: string): void => {
    // Secrets are never echoed, not even a wrong one (config-redact.ts).
    const quoted = JSON.stringify(redactVariable(name, env[name] ?? ''));
    const shown = quoted.length > 80 ? `${quoted.slice(0, 78)}…"` : quoted;
    problems.push(`${name}=${shown} is invalid: ${allowed}`);
  };

  const portText = read('PORT') ?? '8080';
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) fail('PORT', 'expected an integer from 0 to 65535');
  const host = read('HOST') ?? '127.0.0.1';
  if (/[\s/]/.test(host)) fail('HOST', 'expected a host name or IP address');

  const duration = (name: string, fallback: string, { allowZero = false } = {}): number => {
    const text = read(name) ?? fallback;
    const ms = parseDuration(text);
    if (ms === null || (!allowZero && ms === 0)) {
      fail(
        name,
        `expected a ${allowZero ? '' : 'positive '}number of seconds or a number with s, m, h or d (e.g. 15m)`,
      );
      return 0;
    }
    return ms;
  };
  const accessTokenTtl = duration('BATON_ACCESS_TOKEN_TTL', '15m');
  if (accessTokenTtl > MAX_ACCESS_TOKEN_LIFETIME * 1000)
    fail('BATON_ACCESS_TOKEN_TTL', 'at most 24h: access tokens are meant to live minutes');
  const refreshIdleTtl = duration('BATON_REFRESH_IDLE_TTL', '14d');
  const sessionMaxAge = duration('BATON_SESSION_MAX_AGE', '30d');
  const reuseGrace = duration('BATON_REUSE_GRACE', '10s', { allowZero: true });

  const issuer = read('BATON_ISSUER') ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (read('BATON_ISSUER') !== undefined && (!isHttpUrl(issuer) || /[?#]/.test(issuer))) {
    fail('BATON_ISSUER', 'expected an http(s) URL without query or fragment (RFC 8414 §2)');
  }
  const audience = read('BATON_AUDIENCE') ?? 'baton';

  const alg = read('BATON_SIGNING_ALG') ?? 'EdDSA';
  if (!SIGNING_ALGORITHMS.includes(alg as SigningAlgorithm))
    fail('BATON_SIGNING_ALG', 'expected EdDSA, ES256 or RS256');

  const store = read('BATON_STORE') ?? 'sqlite';
  if (store !== 'sqlite' && store !== 'postgres') fail('BATON_STORE', 'expected sqlite or postgres');
  const databaseUrl = read('DATABASE_URL') ?? null;
  if (store === 'postgres') {
    if (!databaseUrl || !/^postgres(ql)?:\/\//.test(databaseUrl)) {
      fail('DATABASE_URL', 'expected a postgres:// URL when BATON_STORE=postgres');
    } else {
      // Found now rather than as "Invalid URL" at start-up; pg's own parser decides.
      const problem = connectionStringProblem(databaseUrl);
      if (problem) fail('DATABASE_URL', problem);
    }
  }
  const redisUrl = read('REDIS_URL') ?? null;
  const redisPrefix = read('BATON_REDIS_PREFIX') ?? 'baton:';
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(redisPrefix))
    fail('BATON_REDIS_PREFIX', 'expected 1 to 64 letters, digits or : _ . -');
  if (redisUrl !== null && !/^rediss?:\/\/\S+$/.test(redisUrl))
    fail('REDIS_URL', 'expected a redis:// or rediss:// URL');
  else if (redisUrl !== null) {
    const problem = redisUrlProblem(redisUrl);
    if (problem) fail('REDIS_URL', problem);
  }

  const resourceServers: Array<{ id: string; secret: string }> = [];
  for (const pair of (read('BATON_RESOURCE_SERVERS') ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [id, ...rest] = pair.trim().split(':');
    const secret = rest.join(':');
    if (!id || secret.length < 16) {
      fail(
        'BATON_RESOURCE_SERVERS',
        'expected comma-separated id:secret pairs with secrets of at least 16 characters',
      );
      break;
    }
    resourceServers.push({ id, secret });
  }

  const clients: Array<{ id: string; secret: string | null }> = [];
  for (const entry of (read('BATON_CLIENTS') ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [id, ...rest] = entry.trim().split(':');
    const secret = rest.length > 0 ? rest.join(':') : null;
    if (
      !id ||
      !/^[A-Za-z0-9._~-]{1,64}$/.test(id) ||
      (secret !== null && secret.length < 16) ||
      id === 'baton'
    ) {
      fail(
        'BATON_CLIENTS',
        'expected comma-separated client ids (public) or id:secret pairs (confidential, secret of 16+ characters); ids use letters, digits and ._~- and "baton" is built in',
      );
      break;
    }
    clients.push({ id, secret });
  }

  const allowedOrigins: string[] = [];
  for (const origin of (read('BATON_ALLOWED_ORIGINS') ?? '').split(',').filter((o) => o.trim() !== '')) {
    const o = origin.trim();
    if (!isHttpUrl(o) || new URL(o).origin !== o) {
      fail(
        'BATON_ALLOWED_ORIGINS',
        'expected comma-separated origins such as https://app.example.com (no path)',
      );
      break;
    }
    allowedOrigins.push(o);
  }

  const logLevel = (read('LOG_LEVEL') ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) fail('LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}`);

  const onOff = (name: string, fallback: 'on' | 'off'): boolean => {
    const text = (read(name) ?? fallback).toLowerCase();
    if (!['on', 'off', 'true', 'false', '1', '0'].includes(text)) fail(name, 'expected on or off');
    return ['on', 'true', '1'].includes(text);
  };
  const demo = onOff('BATON_DEMO', 'on');
  const apiDocs = onOff('BATON_API_DOCS', 'on');

  const auditRetention = duration('BATON_AUDIT_RETENTION', '90d');
  const auditMaxText = read('BATON_AUDIT_MAX_ROWS') ?? '1000000';
  const auditMaxRows =
    /^\d{1,10}$/.test(auditMaxText) && Number(auditMaxText) >= 1000 ? Number(auditMaxText) : 0;
  if (!auditMaxRows) fail('BATON_AUDIT_MAX_ROWS', 'expected a whole number of at least 1000');

  const rate = (name: string, fallback: string): RateRule | null => {
    const text = (read(name) ?? fallback).toLowerCase();
    if (text === 'off') return null;
    const rule = parseRate(text);
    if (!rule) fail(name, 'expected a count per duration such as 300/5m, or off');
    return rule;
  };
  const rateLimits = Object.freeze({
    register: rate('BATON_RATE_LIMIT_REGISTER', '300/5m'),
    refresh: rate('BATON_RATE_LIMIT_REFRESH', '120/1m'),
    token: rate('BATON_RATE_LIMIT_TOKEN', '1200/1m'),
  });
  const loginIp = parseRate(read('BATON_LOGIN_IP_FAILURES') ?? '100/15m');
  if (!loginIp)
    fail('BATON_LOGIN_IP_FAILURES', 'expected failed logins per IP per duration, such as 100/15m');
  const loginAccount = parseRate(read('BATON_LOGIN_ACCOUNT_FAILURES') ?? '50/15m');
  if (!loginAccount)
    fail(
      'BATON_LOGIN_ACCOUNT_FAILURES',
      'expected failed logins per account (from addresses it has not signed in from) per duration, such as 50/15m',
    );
  const freeText = read('BATON_LOGIN_FREE_FAILURES') ?? String(DEFAULT_LOGIN_THROTTLE.freeFailures);
  const freeFailures = /^\d{1,3}$/.test(freeText) && Number(freeText) >= 1 ? Number(freeText) : 0;
  if (!freeFailures) fail('BATON_LOGIN_FREE_FAILURES', 'expected a whole number from 1 to 999');
  const loginThrottle = Object.freeze({
    freeFailures,
    maxDelay: duration('BATON_LOGIN_MAX_DELAY', '15m'),
    ipFailuresPerWindow: loginIp?.limit ?? 0,
    window: loginIp?.window ?? 0,
    accountFailuresPerWindow: loginAccount?.limit ?? 0,
    accountWindow: loginAccount?.window ?? 0,
    knownFor: DEFAULT_LOGIN_THROTTLE.knownFor,
  });

  const adminToken = read('BATON_ADMIN_TOKEN') ?? null;
  // Secrets: a problem line names the variable but never echoes its value.
  if (adminToken !== null && (adminToken.length < 32 || /\s/.test(adminToken)))
    problems.push(
      'BATON_ADMIN_TOKEN is invalid: expected a random string of at least 32 characters (openssl rand -hex 32)',
    );
  const webhookUrl = read('BATON_WEBHOOK_URL') ?? null;
  const webhookSecret = read('BATON_WEBHOOK_SECRET') ?? null;
  if (webhookUrl !== null && !isHttpUrl(webhookUrl)) fail('BATON_WEBHOOK_URL', 'expected an http(s) URL');
  else if (webhookUrl !== null && /^[a-z]+:\/\/[^/?#]*@/i.test(webhookUrl))
    // fetch refuses such URLs, and the value holds a password: named, never echoed.
    problems.push(
      'BATON_WEBHOOK_URL is invalid: expected a URL without user:password (the signature authenticates Baton)',
    );
  if ((webhookUrl !== null || webhookSecret !== null) && (webhookSecret ?? '').length < 32)
    problems.push(
      'BATON_WEBHOOK_SECRET is invalid: expected at least 32 characters, required with BATON_WEBHOOK_URL',
    );
  if (webhookSecret !== null && webhookUrl === null)
    problems.push('BATON_WEBHOOK_URL is missing: an http(s) URL is required with BATON_WEBHOOK_SECRET');
  const webhook =
    webhookUrl && webhookSecret ? Object.freeze({ url: webhookUrl, secret: webhookSecret }) : null;

  const trustedProxies: string[] = [];
  for (const entry of (read('BATON_TRUSTED_PROXIES') ?? '').split(',').filter((e) => e.trim() !== '')) {
    const [address, bits, ...rest] = entry.trim().split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 6 ? 128 : 32;
    if (
      !family ||
      rest.length > 0 ||
      (bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits))
    ) {
      fail('BATON_TRUSTED_PROXIES', 'expected comma-separated IP addresses or CIDR ranges (10.0.0.0/8, ::1)');
      break;
    }
    trustedProxies.push(entry.trim());
  }

  const metrics = readMetricsConfig(read, fail, problems, port);
  const dataDir = resolve(read('BATON_DATA_DIR') ?? './data');

  // Every setting is read before this point, so that all problems are reported at once (and
  // the configuration file's check knows every name Baton reads).
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    port,
    host,
    dataDir,
    issuer,
    audience,
    signingAlg: alg as SigningAlgorithm,
    accessTokenTtl,
    refreshIdleTtl,
    sessionMaxAge,
    reuseGrace,
    store: store as 'sqlite' | 'postgres',
    databaseUrl,
    redisUrl,
    redisPrefix,
    resourceServers: Object.freeze(resourceServers),
    clients: Object.freeze(clients),
    allowedOrigins: Object.freeze(allowedOrigins),
    logLevel,
    demo,
    apiDocs,
    trustedProxies: Object.freeze(trustedProxies),
    auditRetention,
    auditMaxRows,
    rateLimits,
    loginThrottle,
    adminToken,
    webhook,
    metrics,
  });
}

/** `300/5m` → 300 per 5 minutes; null when malformed. */
export function parseRate(text: string): RateRule | null {
  const [count, per, ...rest] = text.trim().split('/');
  const window = per === undefined ? null : parseDuration(per);
  if (rest.length > 0 || !/^\d{1,9}$/.test(count ?? '') || !window) return null;
  const limit = Number(count);
  return limit >= 1 ? { limit, window } : null;
}

/** BATON_METRICS_TOKEN, BATON_METRICS_PORT and BATON_METRICS_HOST (see {@link MetricsConfig}). */
function readMetricsConfig(
  read: (name: string) => string | undefined,
  fail: (name: string, allowed: string) => void,
  problems: string[],
  mainPort: number,
): MetricsConfig {
  const token = read('BATON_METRICS_TOKEN') ?? null;
  // A secret: the problem line names the variable but never echoes its value.
  if (token !== null && !/^[\x21-\x7e]{16,1024}$/.test(token)) {
    problems.push(
      'BATON_METRICS_TOKEN is invalid: expected 16 to 1024 printable ASCII characters without spaces',
    );
  }
  const portText = read('BATON_METRICS_PORT');
  let port: number | null = null;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
    if (!(port >= 0 && port <= 65535) || (port !== 0 && port === mainPort))
      fail('BATON_METRICS_PORT', 'expected an integer from 0 to 65535, other than PORT');
  }
  const hostText = read('BATON_METRICS_HOST');
  if (hostText !== undefined && /[\s/]/.test(hostText))
    fail('BATON_METRICS_HOST', 'expected a host name or IP address');
  else if (hostText !== undefined && hostText !== '127.0.0.1' && portText === undefined)
    fail('BATON_METRICS_HOST', 'expected only together with BATON_METRICS_PORT');
  return Object.freeze({ token, port, host: hostText ?? '127.0.0.1' });
}

/**
 * What the Redis client would choke on at start-up, found now: it reads the URL with new URL(),
 * percent-decodes the user and password, and takes the path as a database number.
 */
function redisUrlProblem(url: string): string | null {
  if (!URL.canParse(url))
    return 'is not a URL the Redis client can read (percent-encode @ : / # ? in a password)';
  const u = new URL(url);
  try {
    decodeURIComponent(u.username);
    decodeURIComponent(u.password);
  } catch {
    return 'has a malformed percent-escape in its user or password';
  }
  if (!/^\/?(\d+\/?)?$/.test(u.pathname))
    return 'has a path that is not a database number (redis://host:6379/0)';
  return null;
}

function connectionStringProblem(url: string): string | null {
  try {
    parseConnectionString(url);
    return null;
  } catch (error) {
    // The driver reads sslcert, sslkey and sslrootcert files while it parses.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR')
      return `names a file (sslcert, sslkey or sslrootcert) that cannot be read (${code})`;
    return 'is not a URL the PostgreSQL driver can read (percent-encode @ : / # ? and spaces in a password)';
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * How long a revocation matters to access tokens beyond their lifetime: the clock-skew
 * leeway verifiers allow. Deny-sets, catch-up windows and pruning all use it.
 */
export const REVOCATION_LEEWAY = 60_000;

/** The domain's session settings, as the server and the CLI both build them. */
export function sessionConfig(config: Config, defaultClientId: string): SessionConfig {
  return {
    issuer: config.issuer,
    audience: config.audience,
    accessTokenTtl: config.accessTokenTtl,
    refreshIdleTtl: config.refreshIdleTtl,
    sessionMaxAge: config.sessionMaxAge,
    reuseGrace: config.reuseGrace,
    defaultClientId,
  };
}
