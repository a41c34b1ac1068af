import { BatonError } from '@baton/core';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Cookie mode (browsers): the refresh token travels only in an HttpOnly, Secure,
 * SameSite=Strict cookie. It is set twice, once per route that needs it, so that its Path
 * covers /auth/refresh and /auth/logout and nothing else. The custom header
 * `X-Token-Transport: cookie` is the CSRF guard (a cross-site form cannot set it, and a
 * cross-origin fetch that sets it needs a CORS preflight), backed by an Origin check.
 */
export const REFRESH_COOKIE = 'baton_refresh';
export const REFRESH_COOKIE_PATHS = ['/auth/refresh', '/auth/logout'] as const;

export function wantsCookieMode(request: FastifyRequest): boolean {
  const v = request.headers['x-token-transport'];
  return typeof v === 'string' && v.trim().toLowerCase() === 'cookie';
}

export function refreshCookie(request: FastifyRequest): string | undefined {
  return request.cookies?.[REFRESH_COOKIE];
}

/**
 * Refuses a request whose Origin is neither an allowed origin nor Baton's own. A request
 * without Origin is not a browser's cross-site request (browsers send Origin on every POST).
 */
export function checkOrigin(
  request: FastifyRequest,
  allowedOrigins: readonly string[],
  issuer: string,
): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  // Baton's own origin: as reached directly, or as published (behind a TLS proxy).
  const own = `${request.protocol}://${request.host}`;
  if (origin === own || origin === new URL(issuer).origin || allowedOrigins.includes(origin)) return;
  throw new BatonError('csrf_rejected', 'origin not allowed', {
    description: 'This origin may not use cookie mode.',
  });
}

/**
 * The CSRF rule for refresh and logout: a request that carries the refresh cookie must say
 * `X-Token-Transport: cookie`, and then its Origin must be allowed.
 */
export function guardCookieRequest(
  request: FastifyRequest,
  allowedOrigins: readonly string[],
  issuer: string,
): boolean {
  const cookieMode = wantsCookieMode(request);
  if (refreshCookie(request) !== undefined && !cookieMode) {
    throw new BatonError('csrf_rejected', 'refresh cookie without the transport header', {
      description: 'A request carrying the refresh cookie must send X-Token-Transport: cookie.',
    });
  }
  if (cookieMode) checkOrigin(request, allowedOrigins, issuer);
  return cookieMode;
}

export function setRefreshCookie(reply: FastifyReply, token: string, maxAgeSeconds: number): void {
  for (const path of REFRESH_COOKIE_PATHS) {
    reply.setCookie(REFRESH_COOKIE, token, {
      path,
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      maxAge: maxAgeSeconds,
    });
  }
}

export function clearRefreshCookie(reply: FastifyReply): void {
  for (const path of REFRESH_COOKIE_PATHS) {
    reply.clearCookie(REFRESH_COOKIE, { path, httpOnly: true, secure: true, sameSite: 'strict' });
  }
}
