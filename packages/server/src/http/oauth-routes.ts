import { BatonError, enforceRateLimit } from '@baton/core';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import type { AppDeps } from '../app.js';
import { basicCredentials, DEFAULT_CLIENT_ID, invalidClient, secretEquals } from './clients.js';
import { docOnly } from './openapi.js';
import { limitedAddress, requestContext, sendTokens } from './request.js';
import {
  introspectDocs,
  introspectForm,
  metadataDocs,
  revokeDocs,
  revokeForm,
  tokenDocs,
  tokenForm,
} from './route-docs.js';

type Form = Record<string, string | undefined>;

/**
 * Marks a route whose errors follow RFC 6749 §5.2 statuses (invalid_grant is 400 there). The
 * handlers read the form themselves, so its schema is documentation only.
 */
const oauth = (schema: FastifySchema, form: FastifySchema['body']) =>
  ({ schema, config: { oauth: true, ...docOnly({ body: form }) } }) as const;

function form(request: FastifyRequest): Form {
  const body = request.body;
  if (body === null || body === undefined) return {};
  return body as Form;
}

function required(params: Form, name: string): string {
  const value = params[name];
  if (value === undefined || value === '') {
    throw new BatonError('invalid_request', `missing ${name}`, { description: `${name} is required.` });
  }
  return value;
}

/** RFC 6749 refresh grant, RFC 7009 revocation, RFC 7662 introspection, RFC 8414 metadata. */
export function oauthRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { sessions, clients, config } = deps;
  const resourceServers = new Map(config.resourceServers.map((r) => [r.id, r.secret]));

  /**
   * The `BATON_RATE_LIMIT_TOKEN` allowance of one endpoint. A confidential client proved who it
   * is and gets its own; a public client's id is no secret, so anyone could spend a shared
   * allowance: it is counted per address as well.
   */
  async function limitClient(endpoint: 'token' | 'revoke', clientId: string, request: FastifyRequest) {
    const rule = config.rateLimits?.token ?? null;
    if (!deps.limiter || !rule) return;
    const key = clients.isConfidential(clientId) ? clientId : `${clientId}:${limitedAddress(request)}`;
    await enforceRateLimit(deps.limiter, `${endpoint}:${key}`, rule, `/oauth/${endpoint} per client`);
  }

  app.post('/oauth/token', oauth(tokenDocs, tokenForm), async (request, reply) => {
    const params = form(request);
    const grantType = required(params, 'grant_type');
    if (grantType !== 'refresh_token') {
      // The password grant is forbidden by RFC 9700 §2.4; the others are not offered.
      throw new BatonError('unsupported_grant_type', `grant_type ${grantType.slice(0, 40)}`, {
        description: 'Only grant_type=refresh_token is supported.',
      });
    }
    const refreshToken = required(params, 'refresh_token');
    const clientId = clients.authenticate(request, params);
    await limitClient('token', clientId, request);
    const tokens = await sessions.refresh(refreshToken, {
      ip: request.ip,
      userAgent: request.headers['user-agent']?.slice(0, 256),
      // RFC 6749 §6: the token must have been issued to the authenticated client.
      acceptClient: (owner) => owner === clientId,
    });
    return sendTokens(reply, tokens);
  });

  app.post('/oauth/revoke', oauth(revokeDocs, revokeForm), async (request, reply) => {
    const params = form(request);
    const token = required(params, 'token');
    const clientId = clients.authenticate(request, params);
    // Each access token revoked is a deny-list entry on every verifier until it expires: an
    // allowance like the token endpoint's (a bucket of its own) keeps that list bounded.
    await limitClient('revoke', clientId, request);
    await sessions.revokeToken(token, {
      acceptClient: (owner) => owner === clientId,
      ...requestContext(request),
    });
    return reply.header('cache-control', 'no-store').code(200).send({});
  });

  app.post('/oauth/introspect', oauth(introspectDocs, introspectForm), async (request, reply) => {
    // Only resource servers listed in BATON_RESOURCE_SERVERS may introspect (RFC 7662 §2.1).
    const caller = basicCredentials(request);
    const expected = caller ? resourceServers.get(caller.id) : undefined;
    if (!caller || expected === undefined || !secretEquals(caller.secret, expected)) {
      throw invalidClient('introspection caller not authenticated');
    }
    const token = required(form(request), 'token');
    const result = await sessions.introspect(token);
    reply.header('cache-control', 'no-store');
    if (!result.active) return { active: false };
    if (result.kind === 'access_token') {
      const c = result.claims;
      return {
        active: true,
        token_type: 'Bearer',
        sub: c.sub,
        sid: c.sid,
        client_id: c.client_id,
        exp: c.exp,
        iat: c.iat,
        iss: c.iss,
        aud: c.aud,
        jti: c.jti,
      };
    }
    const s = result.session;
    return {
      active: true,
      token_type: 'refresh_token',
      sub: s.userId,
      sid: s.id,
      client_id: s.clientId,
      exp: Math.floor(result.expiresAt / 1000),
      ...(result.issuedAt === null ? {} : { iat: Math.floor(result.issuedAt / 1000) }),
      iss: config.issuer,
    };
  });

  app.get('/.well-known/oauth-authorization-server', { schema: metadataDocs }, async (_request, reply) => {
    const base = config.issuer.replace(/\/$/, '');
    reply.header('cache-control', 'public, max-age=300');
    return {
      issuer: config.issuer,
      token_endpoint: `${base}/oauth/token`,
      jwks_uri: `${base}/.well-known/jwks.json`,
      revocation_endpoint: `${base}/oauth/revoke`,
      introspection_endpoint: `${base}/oauth/introspect`,
      grant_types_supported: ['refresh_token'],
      // No authorization endpoint: sessions start at /auth/login, so no response types.
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
      scopes_supported: [],
      // Baton's own extension, so clients can find the built-in public client.
      baton_default_client_id: DEFAULT_CLIENT_ID,
    };
  });
}
