import { addressBucket, BatonError, type RequestContext, type TokenSet } from '@baton/core';
import type { FastifyReply, FastifyRequest } from 'fastify';

const MAX_USER_AGENT = 256;

/** Where the request came from, for the session's device list and the audit trail. */
export function requestContext(request: FastifyRequest): RequestContext {
  const ua = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua.slice(0, MAX_USER_AGENT) : undefined };
}

/** Who a per-address rate limit counts: the address, or its /64 for IPv6 (`addressBucket`). */
export function limitedAddress(request: FastifyRequest): string {
  return addressBucket(request.ip);
}

const BEARER = /^Bearer +([^\s]+) *$/i;

/** The bearer token of the Authorization header, or `invalid_token`. */
export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const m = typeof header === 'string' ? BEARER.exec(header) : null;
  if (!m) {
    const description = 'An access token is required: Authorization: Bearer <token>.';
    throw new BatonError('invalid_token', 'no bearer token', { description });
  }
  return m[1]!;
}

/** True when the Authorization header uses the Bearer scheme (other schemes are not ours to judge). */
export const hasBearer = (request: FastifyRequest): boolean =>
  /^\s*bearer(\s|$)/i.test(request.headers.authorization ?? '');

/** RFC 6749 §5.1 and the contract: token responses are never cached. */
export function sendTokens(
  reply: FastifyReply,
  tokens: TokenSet,
  { includeRefreshToken = true } = {},
): FastifyReply {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  return reply.send({
    access_token: tokens.accessToken,
    token_type: 'Bearer',
    expires_in: tokens.expiresIn,
    ...(includeRefreshToken ? { refresh_token: tokens.refreshToken } : {}),
    refresh_token_expires_in: tokens.refreshTokenExpiresIn,
    session_id: tokens.sessionId,
  });
}

/** Epoch milliseconds as an RFC 3339 string, the format of every time on the wire. */
export const isoTime = (ms: number): string => new Date(ms).toISOString();
