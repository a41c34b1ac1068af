import { createHash, timingSafeEqual } from 'node:crypto';
import { type AuditEvent, type AuditSink, BatonError, type RevokeReason } from '@baton/core';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type onResponseHookHandler,
} from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { MetricsConfig } from './config.js';
import { errorHandler, sendError } from './http/errors.js';
import {
  answerOddRequests,
  checkRequestHead,
  hardenedServerOptions,
  REQUEST_TIMEOUT,
} from './http/server-options.js';
import { isTransient } from './postgres/errors.js';

/**
 * Prometheus metrics of one server instance, in a registry of its own (tests run several
 * servers in one process; the global registry of prom-client is never used). The process
 * metrics (`process_*`, `nodejs_*`, unprefixed, prom-client's standard names) are collected
 * once per process and served by every instance.
 *
 * No label ever carries request data: routes are patterns (`/auth/sessions/:id`), reasons
 * and results come from fixed lists. Tokens, e-mail addresses and IPs never appear.
 */
export interface Metrics {
  /** Wraps an audit sink so that each event also bumps its counter. */
  countAudit(sink: AuditSink): AuditSink;
  /** Counts a store failure seen outside a request (audit batch, pool, pruner). */
  storeError(): void;
  /** Adds the request hooks to the main app (before its routes), and /metrics when served there. */
  instrument(app: FastifyInstance): void;
  /** Starts the separate metrics listener when BATON_METRICS_PORT is set; returns its URL. */
  listen(): Promise<string | null>;
  /** Stops the separate listener, if any. */
  close(): Promise<void>;
  /** The exposition text (Prometheus text format 0.0.4). */
  scrape(): Promise<string>;
}

/** The route label of requests that matched no route: one value, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Seconds; refreshes take about a millisecond, logins (Argon2) tens of milliseconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const REVOKE_REASONS: Record<RevokeReason, true> = {
  logout: true,
  logout_all: true,
  session_deleted: true,
  reuse_detected: true,
  token_revoked: true,
  admin: true,
  password_changed: true,
  user_disabled: true,
  user_deleted: true,
};

let processRegistry: Registry | undefined;

/** prom-client's default metrics cannot be stopped once started, so they start once per process. */
function sharedProcessRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(config: MetricsConfig): Metrics {
  const registry = new Registry();
  const processMetrics = sharedProcessRegistry();
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] });

  const logins = counter('baton_logins_total', 'Logins by result (ok, failed).', ['result']);
  const passwordChanges = counter(
    'baton_password_changes_total',
    'Password changes by result (failed: wrong current password).',
    ['result'],
  );
  const registrations = counter('baton_registrations_total', 'Accounts registered.');
  const refreshes = counter(
    'baton_refreshes_total',
    'Successful refreshes: rotated, or grace_reused (the same token again within the grace window).',
    ['result'],
  );
  const reuse = counter(
    'baton_reuse_detections_total',
    'Consumed refresh tokens presented again outside the grace window (the session is revoked).',
  );
  const revocations = counter('baton_revocations_total', 'Sessions ended, by reason.', ['reason']);
  const accessTokenRevocations = counter(
    'baton_access_token_revocations_total',
    'Access tokens revoked on their own (RFC 7009).',
  );
  const rateLimited = counter('baton_rate_limited_total', 'Responses with status 429, by route.', ['route']);
  const storeErrors = counter(
    'baton_store_errors_total',
    'Store failures: source request (a request failed with 5xx) or background (audit writes, pool, pruning).',
    ['source'],
  );
  const duration = new Histogram({
    name: 'baton_http_request_duration_seconds',
    help: 'Time from routing to the response, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  // Every fixed label value starts at zero, so that rate() and increase() see the first event.
  const loginOk = logins.labels('ok');
  const loginFailed = logins.labels('failed');
  const passwordOk = passwordChanges.labels('ok');
  const passwordFailed = passwordChanges.labels('failed');
  const rotated = refreshes.labels('rotated');
  const graceReused = refreshes.labels('grace_reused');
  for (const inc of [loginOk, loginFailed, passwordOk, passwordFailed, rotated, graceReused]) inc.inc(0);
  for (const reason of [...Object.keys(REVOKE_REASONS), 'other']) revocations.inc({ reason }, 0);
  storeErrors.inc({ source: 'request' }, 0);
  storeErrors.inc({ source: 'background' }, 0);

  function count(event: AuditEvent): void {
    switch (event.type) {
      case 'login_succeeded':
        loginOk.inc();
        break;
      case 'login_failed':
        (event.detail?.via === 'password_change' ? passwordFailed : loginFailed).inc();
        break;
      case 'password_changed':
        passwordOk.inc();
        break;
      case 'user_registered':
        registrations.inc();
        break;
      case 'refresh_rotated':
        rotated.inc();
        break;
      case 'refresh_grace_reused':
        graceReused.inc();
        break;
      case 'reuse_detected':
        reuse.inc();
        break;
      case 'session_revoked': {
        const reason = event.detail?.reason;
        revocations.inc({
          reason: typeof reason === 'string' && Object.hasOwn(REVOKE_REASONS, reason) ? reason : 'other',
        });
        break;
      }
      case 'access_token_revoked':
        accessTokenRevocations.inc();
        break;
    }
  }

  function observe(request: FastifyRequest, reply: FastifyReply, route: string): void {
    const status = reply.statusCode;
    duration.observe({ method: request.method, route, status_code: status }, reply.elapsedTime / 1000);
    if (status === 429) rateLimited.inc({ route });
  }

  async function scrape(): Promise<string> {
    return (await processMetrics.metrics()) + (await registry.metrics());
  }

  let listener: FastifyInstance | undefined;

  return {
    countAudit(sink) {
      return {
        record(event) {
          count(event);
          sink.record(event);
        },
      };
    },

    storeError() {
      storeErrors.inc({ source: 'background' });
    },

    instrument(app) {
      // Each route gets a hook that knows its pattern: no per-request lookup of the route.
      app.addHook('onRoute', (route) => {
        const pattern = route.url;
        const hook: onResponseHookHandler = (request, reply, done) => {
          observe(request, reply, pattern);
          done();
        };
        const existing = route.onResponse;
        route.onResponse = existing === undefined ? [hook] : [existing, hook].flat();
      });
      // Requests that matched no route (404s, whatever their URL) share one label value.
      app.addHook('onResponse', (request, reply, done) => {
        if (request.is404) observe(request, reply, UNMATCHED_ROUTE);
        done();
      });
      app.addHook('onError', (_request, _reply, error, done) => {
        if (isStoreFailure(error)) storeErrors.inc({ source: 'request' });
        done();
      });
      if (config.port === null) metricsRoute(app, scrape, config.token);
    },

    async listen() {
      if (config.port === null) return null;
      listener = Fastify({
        logger: false,
        return503OnClosing: true,
        ...hardenedServerOptions(REQUEST_TIMEOUT),
      });
      answerOddRequests(listener.server);
      listener.setErrorHandler(errorHandler);
      listener.addHook('onRequest', async (request, reply) => {
        if (checkRequestHead(request, reply)) return reply;
      });
      listener.setNotFoundHandler((_request, reply) => sendError(reply, new BatonError('not_found')));
      metricsRoute(listener, scrape, config.token);
      return listener.listen({ port: config.port, host: config.host });
    },

    async close() {
      await listener?.close();
    },

    scrape,
  };
}

/**
 * GET /metrics. With a token, the request must carry `Authorization: Bearer <token>`; the
 * comparison is of SHA-256 digests in constant time, so neither length nor content leaks.
 */
function metricsRoute(app: FastifyInstance, scrape: () => Promise<string>, token: string | null): void {
  const expected = token === null ? null : digest(token);
  app.get('/metrics', async (request, reply) => {
    if (expected !== null) {
      const m = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
      if (!m || !timingSafeEqual(digest(m[1]!), expected)) {
        throw new BatonError('invalid_token', 'metrics token missing or wrong', {
          description: 'The metrics token is required: Authorization: Bearer <token>.',
        });
      }
    }
    const text = await scrape();
    return reply
      .header('content-type', Registry.PROMETHEUS_CONTENT_TYPE)
      .header('cache-control', 'no-store')
      .send(text);
  });
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * A request failed because of the store: PostgreSQL not answering (mapped to 503 with the
 * driver's error as cause) or a driver error left unmapped (a 500): SQLite's SqliteError,
 * PostgreSQL's DatabaseError (it carries a SQLSTATE and a severity).
 */
export function isStoreFailure(error: unknown): boolean {
  if (error instanceof BatonError && error.status < 500) return false;
  const e = (error instanceof BatonError ? error.cause : error) as {
    name?: unknown;
    code?: unknown;
    severity?: unknown;
  } | null;
  if (typeof e !== 'object' || e === null) return false;
  if (e.name === 'SqliteError') return true;
  if (typeof e.severity === 'string' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code))
    return true;
  return error instanceof BatonError && error.code === 'temporarily_unavailable' && isTransient(e);
}
