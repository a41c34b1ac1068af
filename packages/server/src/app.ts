import type { Accounts, LoginThrottle, RateLimiter, Sessions } from '@baton/core';
import { BatonError } from '@baton/core';
import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import { type AdminDeps, adminRoutes } from './http/admin-routes.js';
import { authRoutes } from './http/auth-routes.js';
import type { ClientRegistry } from './http/clients.js';
import { registerCors } from './http/cors.js';
import { demoRoutes } from './http/demo-routes.js';
import { drainGracefully } from './http/drain.js';
import { errorHandler, sendError } from './http/errors.js';
import { parseForm } from './http/form.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './http/json-depth.js';
import { oauthRoutes } from './http/oauth-routes.js';
import { registerApiDocs } from './http/openapi.js';
import { publicRoutes } from './http/public-routes.js';
import { type FeedDeps, revocationFeedRoute } from './http/revocation-feed-route.js';
import {
  answerOddRequests,
  checkRequestHead,
  hardenedServerOptions,
  REQUEST_TIMEOUT,
} from './http/server-options.js';
import { sessionRoutes } from './http/session-routes.js';

export interface AppDeps {
  config: Pick<Config, 'allowedOrigins' | 'issuer' | 'resourceServers' | 'demo'> &
    Partial<Pick<Config, 'trustedProxies' | 'rateLimits' | 'apiDocs'>>;
  sessions: Sessions;
  clients: ClientRegistry;
  accounts: Accounts;
  throttle: LoginThrottle;
  /** Per-IP registration and per-client token-endpoint limits (config.rateLimits). */
  limiter?: RateLimiter;
  /** True when the store answers. */
  ready: () => Promise<boolean>;
  /** Streams revocations to resource servers at /oauth/revocations, when present. */
  revocationFeed?: Omit<FeedDeps, 'resourceServers'>;
  /** GET /admin/audit, when an admin token is configured. */
  admin?: AdminDeps;
  /** How access-token revocation is checked right now, for /readyz. */
  revocationMode?: () => 'fan-out' | 'store';
  /** Adds the Prometheus hooks (and /metrics when served on this port); called before any route. */
  metrics?: (app: FastifyInstance) => void;
}

export interface AppOptions {
  logger?: FastifyServerOptions['logger'];
  /** How long a client may take to send a whole request (ms); default `REQUEST_TIMEOUT`. */
  requestTimeout?: number;
}

/** The contract's limit for bodies on auth routes. */
export const BODY_LIMIT = 16 * 1024;

/**
 * Builds the HTTP app without listening: tests drive it with `inject` or an ephemeral port.
 * Routes are thin; every failure goes through the one error handler.
 */
export async function buildApp(deps: AppDeps, options: AppOptions = {}): Promise<FastifyInstance> {
  const requestTimeout = options.requestTimeout ?? REQUEST_TIMEOUT;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    // A wrong type is a client error, never silently coerced ("123" is not 123).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // While closing, a request on a connection still open is served, and its connection closed
    // after it (the hooks below): a user's refresh is answered rather than shed.
    return503OnClosing: false,
    // Idle kept-alive connections are closed by drainGracefully, not all at once.
    forceCloseConnections: false,
    // X-Forwarded-For counts only when it comes from a configured proxy; otherwise the
    // client's IP is the socket's, which a client cannot forge.
    trustProxy: deps.config.trustedProxies?.length ? [...deps.config.trustedProxies] : false,
    // Long path parameters reach the handler, which answers 401 or 404 as the contract says.
    routerOptions: { maxParamLength: 1024 },
    ...hardenedServerOptions(requestTimeout),
  });

  // JSON on /auth (text/plain is dropped), forms on /oauth (RFC 6749); an empty JSON body
  // counts as no body, so a Bearer-only logout sent with a JSON content type is not refused.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const wrongType = (): BatonError =>
    new BatonError('unsupported_media_type', 'content type for the route', {
      description:
        'Send application/json on /auth routes and application/x-www-form-urlencoded on /oauth routes.',
    });
  const isUtf8 = (request: FastifyRequest): boolean => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
    return charset === undefined || /^utf-?8$/i.test(charset);
  };
  app.removeAllContentTypeParsers();
  // Decided by the matched route, never by the raw URL (which may be percent-encoded or in
  // absolute form and still route to /oauth/...).
  const isOauth = (request: FastifyRequest): boolean =>
    (request.routeOptions?.config as { oauth?: boolean } | undefined)?.oauth === true;
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (isOauth(request)) return done(wrongType(), undefined);
    if (!isUtf8(request)) return done(wrongType(), undefined);
    if (typeof body !== 'string' || body.trim() === '') return done(null, null);
    if (nestsDeeperThan(body, MAX_JSON_DEPTH)) {
      const description = `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels.`;
      return done(new BatonError('invalid_request', 'json too deep', { description }), undefined);
    }
    parseJson(request, body, done);
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (request, body, done) => {
      if (!isOauth(request) || !isUtf8(request)) return done(wrongType(), undefined);
      try {
        done(null, parseForm(String(body)));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );

  await app.register(cookie);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((_request, reply) => sendError(reply, new BatonError('not_found', 'no such route')));
  answerOddRequests(app.server);
  let closing = false;
  const drain = drainGracefully(app.server);
  app.addHook('preClose', async () => {
    closing = true;
    await drain.begin();
  });
  // A request in flight when closing began, or arriving on a connection that is still open, is
  // answered, then its connection closed: a client (or proxy) keeping connections alive would
  // otherwise hold the shutdown open. The stores close only after the last connection has.
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onRequest', async (request, reply) => {
    if (checkRequestHead(request, reply)) return reply;
    // We do not decode compressed bodies; reading gzip as JSON would only confuse.
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      throw new BatonError('unsupported_media_type', 'content-encoding', {
        description: 'Compressed request bodies are not accepted.',
      });
    }
  });
  deps.metrics?.(app);
  registerCors(app, deps.config.allowedOrigins);
  // Response schemas document the routes (OpenAPI at /docs/json, UI at /docs); they must never
  // filter or reshape a body, so every body is serialized as without a schema.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // After the hooks above (the UI gets the security headers), before the routes (it records them).
  if (deps.config.apiDocs !== false) await registerApiDocs(app);

  publicRoutes(app, deps);
  authRoutes(app, deps);
  sessionRoutes(app, deps);
  oauthRoutes(app, deps);
  if (deps.revocationFeed) {
    revocationFeedRoute(app, { ...deps.revocationFeed, resourceServers: deps.config.resourceServers });
  }
  if (deps.admin) adminRoutes(app, deps.admin);
  if (deps.config.demo) demoRoutes(app);
  return app;
}
