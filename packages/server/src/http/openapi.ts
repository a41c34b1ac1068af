import { createRequire } from 'node:module';
import { ERROR_TABLE, type ErrorCode } from '@baton/core';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyContextConfig, FastifyInstance, FastifySchema } from 'fastify';
import { REFRESH_COOKIE } from './cookie-mode.js';

/**
 * API documentation generated from the route schemas: OpenAPI 3.1 at `/docs/json` (and
 * `/docs/yaml`), Swagger UI at `/docs`, its assets served from this package (no CDN).
 *
 * The route schemas are documentation first. Their `body` parts validate as they always did;
 * their `response` parts only describe: the app serializes every body with plain
 * `JSON.stringify` (see `buildApp`), so a response schema never filters or reshapes what a
 * handler sends. Request parts a handler checks itself (OAuth forms, the cookie-mode header,
 * the session id) are added to the document only, with `docOnly`, so Fastify never validates them.
 */

export const DOCS_PREFIX = '/docs';

/** Security scheme names used by the route schemas. */
export const SECURITY = {
  bearer: 'bearerAuth',
  clientBasic: 'clientBasic',
  resourceServerBasic: 'resourceServerBasic',
  refreshCookie: 'refreshCookie',
  operatorToken: 'operatorToken',
} as const;

/** A security requirement: any one of the listed alternatives; `none` means no credential at all. */
export function security(
  ...alternatives: ReadonlyArray<keyof typeof SECURITY | 'none'>
): ReadonlyArray<Record<string, readonly string[]>> {
  return alternatives.map((a) => (a === 'none' ? {} : { [SECURITY[a]]: [] }));
}

/**
 * The error responses of a route, grouped by the status each code has there (RFC 6749 §5.2
 * statuses on /oauth routes), each with the body `{error, error_description}` restricted to
 * those codes and the headers Baton sends with them.
 */
export function errorResponses(
  codes: readonly ErrorCode[],
  { oauth = false }: { oauth?: boolean } = {},
): Record<number, object> {
  const byStatus = new Map<number, ErrorCode[]>();
  // Any route can answer 503: while the instance shuts down, or while its store does not answer.
  const all: ErrorCode[] = codes.includes('temporarily_unavailable')
    ? [...codes]
    : [...codes, 'temporarily_unavailable'];
  for (const code of all) {
    const spec = ERROR_TABLE[code];
    const status = (oauth ? spec.oauthStatus : undefined) ?? spec.status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<number, object> = {};
  for (const [status, group] of byStatus) {
    const headers: Record<string, object> = {
      'Cache-Control': { type: 'string', description: 'Always `no-store`.' },
    };
    // A header that comes with some codes of the group only says so ("Only with").
    const only = (code: ErrorCode): string => (group.length > 1 ? `Only with \`${code}\`: ` : '');
    if (group.includes('invalid_token')) {
      headers['WWW-Authenticate'] = {
        type: 'string',
        description: `${only('invalid_token')}\`Bearer realm="baton", error="invalid_token", error_description="…"\`.`,
      };
    } else if (group.includes('invalid_client')) {
      headers['WWW-Authenticate'] = {
        type: 'string',
        description: `${only('invalid_client')}\`Basic realm="baton"\`.`,
      };
    }
    if (status === 429 || status === 503) {
      headers['Retry-After'] = { type: 'integer', description: 'Seconds to wait before trying again.' };
    }
    out[status] = {
      description: group.map((c) => `\`${c}\`: ${ERROR_TABLE[c].description}`).join(' '),
      headers,
      type: 'object',
      required: ['error', 'error_description'],
      properties: {
        error: { type: 'string', enum: group, description: 'Stable error code.' },
        error_description: {
          type: 'string',
          description: 'Text for humans; never a submitted value, token or password.',
        },
      },
    };
  }
  return out;
}

/** Errors any route with a body can answer before its handler runs. */
export const BODY_ERRORS: readonly ErrorCode[] = [
  'invalid_request',
  'payload_too_large',
  'unsupported_media_type',
];

/**
 * Request parts that the handler checks itself: they appear in the OpenAPI document but are
 * not part of the route's Fastify schema, so adding them changes no validation.
 */
export function docOnly(
  parts: Pick<FastifySchema, 'body' | 'headers' | 'params' | 'consumes'>,
): FastifyContextConfig {
  return {
    swaggerTransform: ({ schema, url }) => ({ schema: { ...(schema ?? {}), ...parts }, url }),
  };
}

/** The header that selects cookie mode, for `docOnly({ headers })`. */
export const TOKEN_TRANSPORT_HEADER = {
  type: 'object',
  properties: {
    'x-token-transport': {
      type: 'string',
      enum: ['cookie'],
      description:
        'Cookie mode (browsers): the refresh token travels only in the `baton_refresh` cookie ' +
        '(HttpOnly, Secure, SameSite=Strict) and is left out of JSON bodies. This header is the CSRF guard; ' +
        'the `Origin` must be Baton’s own or listed in `BATON_ALLOWED_ORIGINS`.',
    },
  },
} as const;

/** Shared response shapes, published under `components.schemas`. */
const SHARED_SCHEMAS = [
  {
    $id: 'TokenResponse',
    type: 'object',
    description: 'Token response (login and refresh; RFC 6749 §5.1 at /oauth/token).',
    required: ['access_token', 'token_type', 'expires_in', 'refresh_token_expires_in', 'session_id'],
    properties: {
      access_token: {
        type: 'string',
        description:
          'JWS compact JWT, header `typ: at+jwt` (RFC 9068); claims `iss`, `sub`, `aud`, `client_id`, `sid`, `jti`, `iat`, `exp`.',
      },
      token_type: { type: 'string', enum: ['Bearer'] },
      expires_in: { type: 'integer', description: 'Seconds until the access token expires.' },
      refresh_token: {
        type: 'string',
        description:
          'Opaque, URL-safe refresh token; single use (each refresh rotates it). Left out in cookie mode.',
      },
      refresh_token_expires_in: {
        type: 'integer',
        description:
          'Seconds until the refresh token expires (idle expiry or the session’s end, the earlier).',
      },
      session_id: { type: 'string', description: 'The session (`sid` claim).' },
    },
  },
  {
    $id: 'Session',
    type: 'object',
    required: ['id', 'created_at', 'last_used_at', 'expires_at', 'user_agent', 'ip', 'current'],
    properties: {
      id: { type: 'string' },
      created_at: { type: 'string', format: 'date-time' },
      last_used_at: { type: 'string', format: 'date-time', description: 'Last login or rotation.' },
      expires_at: {
        type: 'string',
        format: 'date-time',
        description: 'When the session ends if nothing else happens.',
      },
      user_agent: {
        type: ['string', 'null'],
        description: 'Of the last login or rotation, cut to 256 characters.',
      },
      ip: { type: ['string', 'null'], description: 'Of the last login or rotation.' },
      current: {
        type: 'boolean',
        description: 'True for the session of the access token used for the call.',
      },
    },
  },
] as const;

/** `$ref` to a shared schema. */
export const ref = (id: (typeof SHARED_SCHEMAS)[number]['$id']): { $ref: string } => ({ $ref: `${id}#` });

const DESCRIPTION = `Sessions with short-lived JWT access tokens and rotating refresh tokens.

Conventions (contract v1; Baton's own choices are in \`docs/http-api.md\`):

- \`/auth/*\` takes \`application/json\`; \`/oauth/*\` takes \`application/x-www-form-urlencoded\`; every response is JSON.
- Every error is \`{"error": "<code>", "error_description": "<text>"}\` with a stable code. Any route may also answer
  \`400 invalid_request\` (malformed request), \`413 payload_too_large\` (bodies over 16 KiB), \`415 unsupported_media_type\`,
  \`431\` (oversize headers), \`404 not_found\` (unknown route) and \`500 server_error\`.
- Every response that carries a token, and every error, has \`Cache-Control: no-store\`.
- Every response has \`X-Content-Type-Options: nosniff\`, \`Referrer-Policy: no-referrer\`, \`X-Frame-Options: DENY\`.
- CORS: origins in \`BATON_ALLOWED_ORIGINS\` get credentialed CORS headers; \`OPTIONS\` on any path answers the preflight (204).
- Access tokens are verifiable from \`/.well-known/jwks.json\`; refresh tokens are opaque and single use.`;

/** The UI's top-bar logo (inlined by the UI as a data: URL). */
const LOGO =
  '<svg xmlns="http://www.w3.org/2000/svg" width="180" height="40" viewBox="0 0 180 40">' +
  '<text x="0" y="29" font-family="system-ui, sans-serif" font-size="26" font-weight="600" fill="#fff">' +
  '◆ Baton API</text></svg>';

/** Registers the OpenAPI generator and the UI. Call before the routes (it records them as they are added). */
export async function registerApiDocs(app: FastifyInstance): Promise<void> {
  const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Baton HTTP API',
        version,
        description: DESCRIPTION,
        license: { name: 'MIT', identifier: 'MIT' },
      },
      tags: [
        { name: 'auth', description: 'Accounts, sign-in, token refresh and sign-out (JSON).' },
        { name: 'sessions', description: 'The signed-in user’s sessions.' },
        {
          name: 'oauth',
          description: 'RFC 6749 refresh grant, RFC 7009 revocation, RFC 7662 introspection (forms).',
        },
        { name: 'discovery', description: 'Keys and metadata for token verifiers and OAuth clients.' },
        { name: 'health', description: 'Liveness and readiness.' },
        { name: 'demo', description: 'The demo app and the browser SDK (absent with `BATON_DEMO=off`).' },
        {
          name: 'operations',
          description:
            'For operators, each behind its own credential and absent until configured: the audit trail ' +
            '(`BATON_ADMIN_TOKEN`) and Prometheus metrics (`BATON_METRICS_TOKEN`).',
        },
      ],
      components: {
        securitySchemes: {
          [SECURITY.bearer]: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'An access token from /auth/login, /auth/refresh or /oauth/token.',
          },
          [SECURITY.operatorToken]: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An operator credential from the configuration (`BATON_ADMIN_TOKEN` for /admin/audit), never a ' +
              'user’s access token. (`BATON_METRICS_TOKEN` guards /metrics the same way; being Prometheus ' +
              'text, /metrics is not described here.)',
          },
          [SECURITY.clientBasic]: {
            type: 'http',
            scheme: 'basic',
            description:
              'OAuth client authentication (`client_secret_basic`, RFC 6749 §2.3.1) of a confidential client of ' +
              '`BATON_CLIENTS`: id and secret, each form-urlencoded before base64. Confidential clients may send ' +
              '`client_secret` in the form instead (`client_secret_post`), never both; public clients send only `client_id`.',
          },
          [SECURITY.resourceServerBasic]: {
            type: 'http',
            scheme: 'basic',
            description: 'A resource server of `BATON_RESOURCE_SERVERS` (`id:secret`), as HTTP Basic.',
          },
          [SECURITY.refreshCookie]: {
            type: 'apiKey',
            in: 'cookie',
            name: REFRESH_COOKIE,
            description:
              'Cookie mode: the refresh token in the HttpOnly cookie set by login and refresh (Path /auth/refresh and ' +
              '/auth/logout). Requests carrying it must send `X-Token-Transport: cookie`.',
          },
        },
      },
    },
    // Shared schemas appear under their own names in components.schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transformObject: (document) =>
      'openapiObject' in document
        ? markOptionalBodies(document.openapiObject as OpenApiLike)
        : document.swaggerObject,
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    theme: { title: 'Baton API' },
    logo: { type: 'image/svg+xml', content: LOGO },
    uiConfig: { deepLinking: true, persistAuthorization: false },
    validatorUrl: false,
    // Only this origin's scripts, styles and images; the UI calls only this server.
    staticCSP:
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
      "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  });
}

interface OpenApiLike {
  paths?: Record<string, Record<string, { requestBody?: { required?: boolean; content?: object } }>>;
}

/**
 * @fastify/swagger marks every request body required; /auth/refresh and /auth/logout take no
 * body at all in cookie mode (their schemas accept `null`), so theirs are optional.
 */
function markOptionalBodies<T extends OpenApiLike>(doc: T): T {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const operation of Object.values(item)) {
      const body = operation?.requestBody;
      if (!body?.content) continue;
      const acceptsNull = Object.values(body.content).some((media: { schema?: { anyOf?: unknown[] } }) =>
        media.schema?.anyOf?.some((s) => (s as { type?: unknown }).type === 'null'),
      );
      if (acceptsNull) body.required = false;
    }
  }
  return doc;
}
