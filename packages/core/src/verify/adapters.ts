import type { AccessTokenClaims } from '../access-token.js';
import { AccessTokenError } from '../access-token.js';
import type { AccessTokenVerifier } from './verifier.js';

/**
 * Framework adapters. Each is a factory that checks its options once and returns a handler;
 * failures answer 401 with an RFC 6750 `WWW-Authenticate` header, a missing scope 403
 * `insufficient_scope`. The types are structural, so core depends on no framework.
 */
export interface ProtectOptions {
  verifier: AccessTokenVerifier;
  /** Scopes the token must carry (space-separated `scope` claim). Baton issues none yet. */
  scopes?: readonly string[];
  /** Realm named in WWW-Authenticate (default "api"). */
  realm?: string;
}

export interface Refusal {
  status: 401 | 403;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

function checkOptions(options: ProtectOptions): Required<ProtectOptions> {
  if (!options?.verifier || typeof options.verifier.verify !== 'function') {
    throw new TypeError('protect: options.verifier (createAccessTokenVerifier) is required');
  }
  const realm = options.realm ?? 'api';
  if (!/^[\x20-\x7e]*$/.test(realm) || /["\\]/.test(realm))
    throw new TypeError('protect: realm must be plain ASCII');
  return { verifier: options.verifier, scopes: options.scopes ?? [], realm };
}

function refusal(
  status: 401 | 403,
  error: string,
  description: string,
  realm: string,
  scope?: string,
): Refusal {
  const params = [
    `realm="${realm}"`,
    `error="${error}"`,
    `error_description="${description.replace(/["\\]/g, '')}"`,
  ];
  if (scope) params.push(`scope="${scope}"`);
  return {
    status,
    headers: { 'www-authenticate': `Bearer ${params.join(', ')}` },
    body: { error, error_description: description },
  };
}

/**
 * The framework-free core of every adapter: the claims, or the refusal to send. Use it
 * directly as `(request: Request) => claims` with `protectRequest`.
 */
export function createGuard(
  options: ProtectOptions,
): (
  authorization: string | null | undefined,
) => Promise<{ ok: true; claims: AccessTokenClaims } | { ok: false; refusal: Refusal }> {
  const { verifier, scopes, realm } = checkOptions(options);
  return async (authorization) => {
    const m = typeof authorization === 'string' ? BEARER.exec(authorization) : null;
    if (!m)
      return {
        ok: false,
        refusal: refusal(401, 'invalid_token', 'A Bearer access token is required.', realm),
      };
    let claims: AccessTokenClaims;
    try {
      claims = await verifier.verify(m[1]);
    } catch (error) {
      const description =
        error instanceof AccessTokenError ? error.description : 'The access token is invalid.';
      return { ok: false, refusal: refusal(401, 'invalid_token', description, realm) };
    }
    const granted = new Set(
      String((claims as { scope?: unknown }).scope ?? '')
        .split(' ')
        .filter(Boolean),
    );
    const missing = scopes.filter((s) => !granted.has(s));
    if (missing.length > 0) {
      return {
        ok: false,
        refusal: refusal(
          403,
          'insufficient_scope',
          'The access token lacks a required scope.',
          realm,
          scopes.join(' '),
        ),
      };
    }
    return { ok: true, claims };
  };
}

/** For any runtime with Fetch API requests: resolves to the claims or throws a `Response` to return. */
export function protectRequest(options: ProtectOptions): (request: Request) => Promise<AccessTokenClaims> {
  const guard = createGuard(options);
  return async (request) => {
    const result = await guard(request.headers.get('authorization'));
    if (result.ok) return result.claims;
    const { status, headers, body } = result.refusal;
    throw new Response(JSON.stringify(body), {
      status,
      headers: { ...headers, 'content-type': 'application/json' },
    });
  };
}

interface ExpressLikeRequest {
  headers: Record<string, string | string[] | undefined>;
}
interface ExpressLikeResponse {
  status(code: number): ExpressLikeResponse;
  set(headers: Record<string, string>): ExpressLikeResponse;
  json(body: unknown): unknown;
  locals: Record<string, unknown>;
}

/** Express middleware: sets `res.locals.baton` (and `req.baton`) to the claims. */
export function expressProtect(
  options: ProtectOptions,
): (req: ExpressLikeRequest, res: ExpressLikeResponse, next: (error?: unknown) => void) => void {
  const guard = createGuard(options);
  return (req, res, next) => {
    const header = req.headers.authorization;
    guard(Array.isArray(header) ? header[0] : header).then((result) => {
      if (result.ok) {
        res.locals.baton = result.claims;
        (req as ExpressLikeRequest & { baton?: AccessTokenClaims }).baton = result.claims;
        next();
      } else {
        res.status(result.refusal.status).set(result.refusal.headers).json(result.refusal.body);
      }
    }, next);
  };
}

interface HonoLikeContext {
  req: { header(name: string): string | undefined };
  set(key: 'baton', value: AccessTokenClaims): void;
  json(body: unknown, status: number, headers: Record<string, string>): Response;
}

/** Hono middleware: `c.get('baton')` holds the claims. */
export function honoProtect(
  options: ProtectOptions,
): (c: HonoLikeContext, next: () => Promise<void>) => Promise<Response | undefined> {
  const guard = createGuard(options);
  return async (c, next) => {
    const result = await guard(c.req.header('authorization'));
    if (!result.ok) return c.json(result.refusal.body, result.refusal.status, result.refusal.headers);
    c.set('baton', result.claims);
    await next();
    return undefined;
  };
}

interface FastifyLikeRequest {
  headers: Record<string, string | string[] | undefined>;
}
interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  headers(values: Record<string, string>): FastifyLikeReply;
  send(body: unknown): unknown;
}

/**
 * A Fastify `preHandler` hook: `app.addHook('preHandler', fastifyProtect({ verifier }))`
 * or per route. Sets `request.baton` to the claims.
 */
export function fastifyProtect(
  options: ProtectOptions,
): (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<unknown> {
  const guard = createGuard(options);
  return async (request, reply) => {
    const header = request.headers.authorization;
    const result = await guard(Array.isArray(header) ? header[0] : header);
    if (!result.ok)
      return reply.code(result.refusal.status).headers(result.refusal.headers).send(result.refusal.body);
    (request as FastifyLikeRequest & { baton?: AccessTokenClaims }).baton = result.claims;
    return undefined;
  };
}
