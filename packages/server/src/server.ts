import {
  type AuditSink,
  type Clock,
  createAccounts,
  createLoginThrottle,
  createMemoryRateLimiter,
  createSessions,
  type PasswordHasher,
  type Random,
  type SessionDeps,
  systemClock,
  systemRandom,
} from '@baton/core';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { buildApp } from './app.js';
import { openBackend } from './backend.js';
import { type Config, REVOCATION_LEEWAY, sessionConfig } from './config.js';
import { createClientRegistry, DEFAULT_CLIENT_ID } from './http/clients.js';
import { describeFailure } from './http/errors.js';
import { loadOrCreateKeys } from './keys/key-store.js';
import { createArgon2Hasher } from './passwords.js';
import { startPruner } from './pruner.js';
import { createReuseWebhook, readSessionLineage } from './reuse-webhook.js';
import { createRevocationStream } from './revocation-stream.js';

export interface ServerOptions {
  logger?: FastifyServerOptions['logger'];
  clock?: Clock;
  random?: Random;
  hasher?: PasswordHasher;
  /** See `AppOptions.requestTimeout` (tests shorten it). */
  requestTimeout?: number;
}

export interface RunningServer {
  app: FastifyInstance;
  /** The base URL it listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Deletes expired rows now (the background job does it every minute). */
  prune(): Promise<number>;
  /** Stops accepting, finishes in-flight requests, flushes the audit trail, closes the stores. */
  close(): Promise<void>;
}

/**
 * Log options that keep credentials out of every line: headers are never logged (and the
 * sensitive ones are redacted should a serializer ever add them), and the URL is logged
 * without its query string, where a careless client might put a token.
 */
/**
 * The path a log line shows: the route's pattern (`/auth/sessions/:id`), never the values in
 * it, since a client may put a token where an id belongs; for a path no route matches, the
 * path with every long segment (where a token would be) replaced by its length.
 */
function loggedPath(request: { url?: string; routeOptions?: { url?: string } }): string {
  const route = request.routeOptions?.url;
  if (route) return route;
  const path = String(request.url ?? '').split('?')[0]!;
  return path.slice(0, 512).replace(/[^/]{17,}/g, (segment) => `[${segment.length} chars]`);
}

export const LOGGER_OPTIONS = Object.freeze({
  redact: {
    paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
    censor: '[redacted]',
  },
  serializers: {
    req(request: {
      id?: unknown;
      method?: string;
      url?: string;
      ip?: string;
      routeOptions?: { url?: string };
    }) {
      return { id: request.id, method: request.method, path: loggedPath(request), ip: request.ip };
    },
  },
});

/** The composition root: stores → keys → domain → HTTP → listen. */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  let app: FastifyInstance | undefined;
  const logError = (msg: string) => (err: unknown) => app?.log.error({ err }, msg);
  // Collected only when exposed (BATON_METRICS_TOKEN or BATON_METRICS_PORT); see metrics.ts.
  const metrics =
    config.metrics.token !== null || config.metrics.port !== null
      ? (await import('./metrics.js')).createMetrics(config.metrics)
      : undefined;
  const storeError = (msg: string) => {
    const log = logError(msg);
    return (err: unknown) => {
      metrics?.storeError();
      log(err);
    };
  };

  const backend = await openBackend(config, storeError('store error'));
  const counted = metrics ? metrics.countAudit(backend.audit) : backend.audit;
  const keys = await loadOrCreateKeys(
    backend.keys,
    { alg: config.signingAlg, accessTokenTtl: config.accessTokenTtl },
    { clock, random },
  );
  // `baton keys rotate` changes the key store; every server follows it.
  const stopWatchingKeys = keys.watch();

  // Limits live in Redis when there is one, so that they hold across instances.
  let limits = {
    limiter: createMemoryRateLimiter({ clock }),
    throttle: createLoginThrottle({ clock, ...config.loginThrottle }),
    close: async (): Promise<void> => {},
  };
  if (config.redisUrl) {
    const { createRedisLimits } = await import('./redis/limits.js');
    const shared = createRedisLimits({
      url: config.redisUrl,
      prefix: config.redisPrefix,
      clock,
      onError: logError('rate limits in memory: Redis'),
    });
    limits = {
      limiter: shared.limiter,
      throttle: shared.throttle(config.loginThrottle),
      close: shared.close,
    };
  }

  // Reuse detections also go to the operator's webhook, when one is configured.
  const webhook = config.webhook
    ? createReuseWebhook({
        ...config.webhook,
        readLineage: (sessionId) =>
          readSessionLineage((limit, filter) => backend.readAudit(limit, filter), sessionId),
        flushAudit: () => backend.audit.flush(),
        now: clock.now,
        onError: (message, err) => app?.log.warn(err ? { cause: describeFailure(err) } : {}, message),
      })
    : null;
  const audit: AuditSink = webhook
    ? {
        record(event) {
          counted.record(event);
          webhook.notify(event);
        },
      }
    : counted;

  const stream = createRevocationStream();
  let revocations: SessionDeps['revocations'];
  let closeBus = async (): Promise<void> => {};
  if (config.redisUrl) {
    const { createRevocationFanOut } = await import('./redis/revocation-bus.js');
    const { denySet, bus } = createRevocationFanOut({
      url: config.redisUrl,
      prefix: config.redisPrefix,
      accessTokenTtl: config.accessTokenTtl,
      store: backend.sessions,
      now: clock.now,
      onError: logError('revocation bus error'),
      onEvent: (event) => stream.publish(event),
      onStateChange: (healthy) =>
        app?.log.warn(
          { healthy },
          healthy ? 'revocation bus caught up' : 'revocation bus down: checking the store',
        ),
    });
    // Serve at once even if Redis is away: the store check covers the gap.
    await bus.ready(3000).catch(() => {});
    revocations = { denySet, bus };
    closeBus = () => bus.close();
  }

  const sessions = createSessions(
    {
      store: backend.sessions,
      keys: keys.keySet,
      refreshKey: keys.refreshKey,
      clock,
      random,
      audit,
      revocations,
      onRevocation: (event) => stream.publish(event),
      refreshLimit: { limiter: limits.limiter, rule: config.rateLimits.refresh },
    },
    sessionConfig(config, DEFAULT_CLIENT_ID),
  );
  const hasher = options.hasher ?? createArgon2Hasher();
  const accounts = createAccounts({ users: backend.users, hasher, clock, random, audit });
  app = await buildApp(
    {
      config,
      sessions,
      accounts,
      clients: createClientRegistry(config.clients),
      throttle: limits.throttle,
      limiter: limits.limiter,
      ready: () => backend.ping(),
      revocationFeed: {
        store: backend.sessions,
        stream,
        now: clock.now,
        window: config.accessTokenTtl + REVOCATION_LEEWAY,
      },
      admin: config.adminToken
        ? { token: config.adminToken, readAudit: (limit, filter) => backend.readAudit(limit, filter) }
        : undefined,
      revocationMode: () => (revocations?.bus.healthy() ? 'fan-out' : 'store'),
      metrics: metrics?.instrument,
    },
    { logger: options.logger, requestTimeout: options.requestTimeout },
  );
  const pruner = startPruner({
    store: backend.sessions,
    lease: backend.lease,
    clock,
    holder: Buffer.from(random.bytes(9)).toString('base64url'),
    keepRevokedFor: config.accessTokenTtl + REVOCATION_LEEWAY,
    audit: { prune: backend.pruneAudit, retention: config.auditRetention, maxRows: config.auditMaxRows },
    onError: storeError('pruning failed'),
  });
  const metricsUrl = await metrics?.listen();
  if (metricsUrl) app.log.info({ url: metricsUrl }, 'metrics listening');
  const url = await app.listen({ port: config.port, host: config.host });
  const running = app;
  return {
    app: running,
    url,
    prune: () => pruner.runOnce(),
    async close() {
      pruner.stop();
      stopWatchingKeys();
      await running.close();
      await webhook?.close();
      await metrics?.close();
      await closeBus();
      await limits.close();
      await backend.close();
    },
  };
}
