import type { FastifySchema } from 'fastify';
import { BODY_ERRORS, errorResponses, ref, security } from './openapi.js';

/**
 * The documenting part of each route's schema (summary, tags, security, responses), spread
 * into the route's `schema` next to its validating `body`/`params`. Response schemas describe
 * only: they never change what a handler sends (see openapi.ts).
 */

const noStore = { 'Cache-Control': { type: 'string', description: '`no-store`' } } as const;
const tokenHeaders = { ...noStore, Pragma: { type: 'string', description: '`no-cache`' } } as const;
const cookieTokenHeaders = {
  ...tokenHeaders,
  'Set-Cookie': {
    type: 'string',
    description:
      'Cookie mode only: `baton_refresh=<refresh token>; Max-Age=…; Path=/auth/refresh; HttpOnly; Secure; ' +
      'SameSite=Strict`, and the same with `Path=/auth/logout`.',
  },
} as const;
const clearsCookie = {
  'Set-Cookie': {
    type: 'string',
    description: 'Cookie mode only: clears `baton_refresh` on both of its paths.',
  },
} as const;
const noContent = (description: string, headers?: object) => ({
  type: 'null',
  description,
  ...(headers ? { headers } : {}),
});
const tokenResponse = { ...ref('TokenResponse'), description: 'Tokens issued.', headers: cookieTokenHeaders };

const publicCache = {
  'Cache-Control': { type: 'string', description: '`public, max-age=300`' },
} as const;

export const registerDocs: FastifySchema = {
  summary: 'Create an account',
  description:
    'E-mail addresses are normalised (trimmed, NFKC, lower-cased) before the uniqueness check. Password policy: ' +
    '8 to 256 characters. `client_id` and `client_secret` are accepted and ignored.',
  tags: ['auth'],
  response: {
    201: {
      description: 'The account was created.',
      type: 'object',
      required: ['user'],
      properties: {
        user: {
          type: 'object',
          required: ['id', 'email', 'created_at'],
          properties: {
            id: { type: 'string' },
            email: { type: 'string', description: 'The normalised address.' },
            created_at: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
    ...errorResponses([...BODY_ERRORS, 'email_taken', 'rate_limited']),
  },
};

export const loginDocs: FastifySchema = {
  summary: 'Sign in: start a session',
  description:
    'Unknown e-mail and wrong password answer the same status, body and timing. Throttled per (e-mail, IP) and ' +
    'per IP: 429 with `Retry-After`. Optional `client_id`/`client_secret` (or HTTP Basic) start a session for ' +
    'another OAuth client than the built-in public client `baton`. With `X-Token-Transport: cookie` the refresh ' +
    'token is set as a cookie and left out of the body.',
  tags: ['auth'],
  security: security('none', 'clientBasic'),
  response: {
    200: tokenResponse,
    ...errorResponses([
      ...BODY_ERRORS,
      'invalid_credentials',
      'invalid_client',
      'csrf_rejected',
      'rate_limited',
    ]),
  },
};

export const refreshDocs: FastifySchema = {
  summary: 'Rotate a refresh token',
  description:
    'Consumes the refresh token and issues its successor and a new access token. The same token presented again ' +
    'within `BATON_REUSE_GRACE` returns the same successor; later, it is reuse: `invalid_grant` and the whole ' +
    'session is revoked. Send `{refresh_token}`, or in cookie mode no body and the cookie. A request carrying the ' +
    'cookie without `X-Token-Transport: cookie` is `403 csrf_rejected`.',
  tags: ['auth'],
  security: security('none', 'refreshCookie'),
  response: {
    200: tokenResponse,
    ...errorResponses([...BODY_ERRORS, 'invalid_grant', 'csrf_rejected', 'rate_limited']),
  },
};

export const logoutDocs: FastifySchema = {
  summary: 'Sign out: revoke this session',
  description:
    'Takes the first credential present: the refresh cookie (cookie mode), a Bearer access token, then ' +
    '`refresh_token` in the body. A credential of a session already ended is 401, so a second logout is 401.',
  tags: ['auth'],
  security: security('bearer', 'refreshCookie', 'none'),
  response: {
    204: noContent('The session is revoked.', clearsCookie),
    ...errorResponses([...BODY_ERRORS, 'invalid_token', 'invalid_grant', 'csrf_rejected']),
  },
};

export const passwordDocs: FastifySchema = {
  summary: 'Change the password',
  description:
    'Baton’s own endpoint. Checks the current password (throttled like login, per user and IP), applies the ' +
    'password policy to the new one, and revokes every other session of the user (reason `password_changed`); ' +
    'the calling session lives on.',
  tags: ['auth'],
  security: security('bearer'),
  response: {
    204: noContent('The password was changed; the other sessions are revoked.'),
    ...errorResponses([...BODY_ERRORS, 'invalid_token', 'invalid_credentials', 'rate_limited']),
  },
};

export const logoutAllDocs: FastifySchema = {
  summary: 'Sign out everywhere',
  description: 'Revokes every session of the user.',
  tags: ['auth'],
  security: security('bearer'),
  response: {
    204: noContent('Every session of the user is revoked.', clearsCookie),
    ...errorResponses([...BODY_ERRORS, 'invalid_token']),
  },
};

export const meDocs: FastifySchema = {
  summary: 'The signed-in user',
  tags: ['auth'],
  security: security('bearer'),
  response: {
    200: {
      description: 'The user of the access token.',
      type: 'object',
      required: ['sub', 'email', 'session_id'],
      properties: {
        sub: { type: 'string', description: 'User id.' },
        email: { type: 'string' },
        session_id: { type: 'string' },
      },
    },
    ...errorResponses(['invalid_token']),
  },
};

export const listSessionsDocs: FastifySchema = {
  summary: 'List the user’s live sessions',
  description: 'Unrevoked, unexpired sessions, newest first.',
  tags: ['sessions'],
  security: security('bearer'),
  response: {
    200: {
      description: 'The live sessions.',
      headers: noStore,
      type: 'object',
      required: ['sessions'],
      properties: { sessions: { type: 'array', items: ref('Session') } },
    },
    ...errorResponses(['invalid_token']),
  },
};

export const deleteSessionDocs: FastifySchema = {
  summary: 'Revoke one of the user’s sessions',
  description: 'Another user’s session, an ended one and an unknown id all answer the same 404.',
  tags: ['sessions'],
  security: security('bearer'),
  response: {
    204: noContent('The session is revoked.'),
    ...errorResponses([...BODY_ERRORS, 'invalid_token', 'not_found']),
  },
};

/** For `docOnly`: the handler takes any id (an unknown one is 404). */
export const sessionIdParams = {
  type: 'object',
  properties: { id: { type: 'string', description: 'A session id, as listed by GET /auth/sessions.' } },
} as const;

export const jwksDocs: FastifySchema = {
  summary: 'Public keys of the access tokens (JWKS)',
  description:
    'Every key that may have signed a live token, including a pre-published next key and keys of an algorithm ' +
    'Baton no longer signs with.',
  tags: ['discovery'],
  response: {
    200: {
      description: 'RFC 7517 JWK Set.',
      headers: publicCache,
      type: 'object',
      required: ['keys'],
      properties: {
        keys: {
          type: 'array',
          items: {
            type: 'object',
            required: ['kty', 'kid'],
            properties: {
              kty: { type: 'string', enum: ['OKP', 'EC', 'RSA'] },
              kid: { type: 'string' },
              alg: { type: 'string', enum: ['EdDSA', 'ES256', 'RS256'] },
              use: { type: 'string', enum: ['sig'] },
            },
            additionalProperties: {
              type: 'string',
              description: 'Public key members (`crv`, `x`, `y`, `n`, `e`).',
            },
          },
        },
      },
    },
  },
};

export const healthzDocs: FastifySchema = {
  summary: 'Liveness',
  description: 'Answers as long as the process serves HTTP.',
  tags: ['health'],
  response: {
    200: {
      description: 'Alive.',
      type: 'object',
      required: ['status'],
      properties: { status: { type: 'string', enum: ['ok'] } },
    },
  },
};

export const readyzDocs: FastifySchema = {
  summary: 'Readiness',
  description: 'Runs `SELECT 1` on the store.',
  tags: ['health'],
  response: {
    200: {
      description: 'The store answers.',
      type: 'object',
      required: ['status', 'revocation_checks'],
      properties: {
        status: { type: 'string', enum: ['ok'] },
        revocation_checks: {
          type: 'string',
          enum: ['fan-out', 'store'],
          description:
            '`fan-out`: access tokens are checked against the local deny-set fed by Redis; `store`: against the store.',
        },
      },
    },
    ...errorResponses(['temporarily_unavailable']),
  },
};

// ---------------------------------------------------------------------------------------------
// OAuth (forms). Their bodies are checked by the handlers, so the form schemas are docOnly.

const FORM = ['application/x-www-form-urlencoded'] as const;
const clientFields = {
  client_id: {
    type: 'string',
    description:
      'The client; optional for the built-in public client `baton`. With HTTP Basic it must match.',
  },
  client_secret: {
    type: 'string',
    description: '`client_secret_post`: confidential clients only, not with Basic.',
  },
} as const;

export const tokenForm = {
  type: 'object',
  required: ['grant_type', 'refresh_token'],
  properties: {
    grant_type: { type: 'string', enum: ['refresh_token'], description: 'Every other grant is unsupported.' },
    refresh_token: { type: 'string', description: 'A refresh token issued to this client.' },
    ...clientFields,
    scope: { type: 'string', description: 'Ignored: Baton has no scopes.' },
  },
} as const;

export const revokeForm = {
  type: 'object',
  required: ['token'],
  properties: {
    token: {
      type: 'string',
      description: 'A refresh token (revokes its session) or an access token (denied alone).',
    },
    token_type_hint: {
      type: 'string',
      enum: ['refresh_token', 'access_token'],
      description: 'Accepted, not needed.',
    },
    ...clientFields,
  },
} as const;

export const introspectForm = {
  type: 'object',
  required: ['token'],
  properties: {
    token: { type: 'string', description: 'An access token or a refresh token.' },
    token_type_hint: {
      type: 'string',
      enum: ['refresh_token', 'access_token'],
      description: 'Accepted, not needed.',
    },
  },
} as const;

export const tokenDocs: FastifySchema = {
  summary: 'Refresh grant (RFC 6749 §6)',
  description:
    'Rotates a refresh token exactly like /auth/refresh, for the authenticated client (a token of another client ' +
    'is `invalid_grant` and stays untouched). Errors use RFC 6749 §5.2 statuses.',
  tags: ['oauth'],
  consumes: FORM,
  security: security('none', 'clientBasic'),
  response: {
    200: { ...ref('TokenResponse'), description: 'RFC 6749 §5.1 token response.', headers: tokenHeaders },
    ...errorResponses(
      [...BODY_ERRORS, 'invalid_grant', 'unsupported_grant_type', 'invalid_client', 'rate_limited'],
      {
        oauth: true,
      },
    ),
  },
};

export const revokeDocs: FastifySchema = {
  summary: 'Revoke a token (RFC 7009)',
  description:
    'A refresh token revokes its whole session; an access token is denied on its own until it expires. Unknown ' +
    'or malformed tokens also answer 200. A token of another client is `400 unauthorized_client`.',
  tags: ['oauth'],
  consumes: FORM,
  security: security('none', 'clientBasic'),
  response: {
    200: {
      description: 'Revoked, or nothing to revoke.',
      headers: noStore,
      type: 'object',
      properties: {},
      additionalProperties: false,
    },
    ...errorResponses([...BODY_ERRORS, 'unauthorized_client', 'invalid_client'], { oauth: true }),
  },
};

export const introspectDocs: FastifySchema = {
  summary: 'Introspect a token (RFC 7662)',
  description:
    'For resource servers of `BATON_RESOURCE_SERVERS`. An access token is active exactly when /auth/me would accept ' +
    'it; a refresh token exactly when /oauth/token would. Never changes state.',
  tags: ['oauth'],
  consumes: FORM,
  security: security('resourceServerBasic'),
  response: {
    200: {
      description: '`{"active": false}`, or the active token’s facts.',
      headers: noStore,
      type: 'object',
      required: ['active'],
      properties: {
        active: { type: 'boolean' },
        token_type: { type: 'string', enum: ['Bearer', 'refresh_token'] },
        sub: { type: 'string' },
        sid: { type: 'string' },
        client_id: { type: 'string' },
        exp: { type: 'integer' },
        iat: { type: 'integer', description: 'Absent for a refresh token inside its grace window.' },
        iss: { type: 'string' },
        aud: { type: 'string', description: 'Access tokens only.' },
        jti: { type: 'string', description: 'Access tokens only.' },
      },
    },
    ...errorResponses([...BODY_ERRORS, 'invalid_client'], { oauth: true }),
  },
};

const authMethods = {
  type: 'array',
  items: { type: 'string', enum: ['none', 'client_secret_basic', 'client_secret_post'] },
} as const;

export const metadataDocs: FastifySchema = {
  summary: 'Authorization server metadata (RFC 8414)',
  description: 'Baton is not an OpenID provider: there is no /.well-known/openid-configuration.',
  tags: ['discovery'],
  response: {
    200: {
      description: 'RFC 8414 metadata.',
      headers: publicCache,
      type: 'object',
      required: ['issuer', 'token_endpoint', 'jwks_uri', 'grant_types_supported', 'response_types_supported'],
      properties: {
        issuer: { type: 'string' },
        token_endpoint: { type: 'string' },
        jwks_uri: { type: 'string' },
        revocation_endpoint: { type: 'string' },
        introspection_endpoint: { type: 'string' },
        grant_types_supported: { type: 'array', items: { type: 'string', enum: ['refresh_token'] } },
        response_types_supported: { type: 'array', items: { type: 'string' }, maxItems: 0 },
        token_endpoint_auth_methods_supported: authMethods,
        revocation_endpoint_auth_methods_supported: authMethods,
        introspection_endpoint_auth_methods_supported: authMethods,
        scopes_supported: { type: 'array', items: { type: 'string' } },
        baton_default_client_id: {
          type: 'string',
          description: 'Baton’s extension: the built-in public client.',
        },
      },
    },
  },
};

export const revocationFeedDocs: FastifySchema = {
  summary: 'Revocation feed (Server-Sent Events)',
  description:
    'Baton’s own endpoint, for resource servers of `BATON_RESOURCE_SERVERS`. Opens with a `catch-up` event (every ' +
    'revocation whose tokens may still be alive), then one `revoked` event per revocation: ' +
    '`{"kind":"session","id","at"}` or `{"kind":"access_token","jti","until"}`; a comment line every 15 s.',
  tags: ['oauth'],
  security: security('resourceServerBasic'),
  response: {
    200: {
      description: 'An endless `text/event-stream`.',
      content: { 'text/event-stream': { schema: { type: 'string' } } },
    },
    ...errorResponses(['invalid_client'], { oauth: true }),
  },
};

/** The demo app's files and the browser SDK. */
export function demoFileDocs(path: string, type: string): FastifySchema {
  const mediaType = type.split(';')[0]!;
  return {
    summary: path === '/' ? 'The demo app' : `Demo file ${path}`,
    tags: ['demo'],
    response: {
      200: {
        description: path.startsWith('/sdk/') ? 'The browser SDK (ES module).' : 'A file of the demo app.',
        content: { [mediaType]: { schema: { type: 'string' } } },
      },
    },
  };
}

export const adminAuditDocs: FastifySchema = {
  summary: 'Read the audit trail',
  description:
    'Security events, newest first: logins, rotations, reuse detections (with both parties), revocations and ' +
    'their reasons. Filter by `type`, `user_id` or `session_id`; page with `before=<next_before>`. Served only ' +
    'when `BATON_ADMIN_TOKEN` is set.',
  tags: ['operations'],
  security: security('operatorToken'),
  response: {
    200: {
      description: 'One page of events.',
      type: 'object',
      required: ['events', 'next_before'],
      properties: {
        events: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'at', 'type', 'user_id', 'session_id', 'ip', 'user_agent', 'detail'],
            properties: {
              id: { type: 'integer' },
              at: { type: 'string', format: 'date-time' },
              type: { type: 'string' },
              user_id: { type: ['string', 'null'] },
              session_id: { type: ['string', 'null'] },
              ip: { type: ['string', 'null'] },
              user_agent: { type: ['string', 'null'] },
              detail: { type: ['object', 'null'], description: 'Small facts; never token text.' },
            },
          },
        },
        next_before: { type: ['integer', 'null'], description: 'Pass as `before` for the next page.' },
      },
      headers: noStore,
    },
    ...errorResponses(['invalid_request', 'invalid_token']),
  },
};
