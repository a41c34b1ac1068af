import {
  BatonError,
  checkPasswordPolicy,
  createGuardedPasswordCheck,
  enforceRateLimit,
  normalizeEmail,
} from '@baton/core';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.js';
import {
  checkOrigin,
  clearRefreshCookie,
  guardCookieRequest,
  refreshCookie,
  setRefreshCookie,
  wantsCookieMode,
} from './cookie-mode.js';
import { docOnly, TOKEN_TRANSPORT_HEADER } from './openapi.js';
import { bearerToken, hasBearer, isoTime, limitedAddress, requestContext, sendTokens } from './request.js';
import {
  loginDocs,
  logoutAllDocs,
  logoutDocs,
  meDocs,
  passwordDocs,
  refreshDocs,
  registerDocs,
} from './route-docs.js';

const credentialsBody = {
  type: 'object',
  required: ['email', 'password'],
  properties: {
    email: { type: 'string', maxLength: 1024 },
    password: { type: 'string', maxLength: 4096 },
    client_id: { type: 'string', maxLength: 64 },
    client_secret: { type: 'string', maxLength: 1024 },
  },
} as const;

const optionalRefreshBody = {
  anyOf: [
    { type: 'null' },
    { type: 'object', properties: { refresh_token: { type: 'string', maxLength: 1024 } } },
  ],
} as const;

interface Credentials {
  email: string;
  password: string;
  /** Binds the session to an OAuth client other than the built-in one. */
  client_id?: string;
  client_secret?: string;
}

/** /auth/register, /auth/login, /auth/refresh, /auth/logout, /auth/logout-all, /auth/me. */
export function authRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { sessions, accounts, throttle, config, clients } = deps;
  // /auth/* has no client authentication: confidential clients' refresh tokens are used (and
  // revoked) at /oauth/*, where the client proves who it is.
  const publicOnly = { acceptClient: (owner: string) => !clients.isConfidential(owner) };
  // Attempts of one account from one address take turns, so concurrent ones see each other.
  const guarded = createGuardedPasswordCheck(throttle);

  app.post<{ Body: Credentials }>(
    '/auth/register',
    { schema: { ...registerDocs, body: credentialsBody } },
    async (request, reply) => {
      // Each registration costs an Argon2 hash: bounded per address.
      if (deps.limiter) {
        const rule = config.rateLimits?.register ?? null;
        await enforceRateLimit(
          deps.limiter,
          `register:${limitedAddress(request)}`,
          rule,
          'registration per IP',
        );
      }
      const user = await accounts.register(
        request.body.email,
        request.body.password,
        requestContext(request),
      );
      return reply
        .code(201)
        .send({ user: { id: user.id, email: user.email, created_at: isoTime(user.createdAt) } });
    },
  );

  app.post<{ Body: Credentials }>(
    '/auth/login',
    { schema: { ...loginDocs, body: credentialsBody }, config: docOnly({ headers: TOKEN_TRANSPORT_HEADER }) },
    async (request, reply) => {
      const cookieMode = wantsCookieMode(request);
      if (cookieMode) checkOrigin(request, config.allowedOrigins, config.issuer);
      const context = requestContext(request);
      const clientId = clients.authenticate(request, {
        client_id: request.body.client_id,
        client_secret: request.body.client_secret,
      });
      // Throttle on the normalised address whether or not the account exists, so the 429
      // reveals nothing either.
      const account = safeNormalize(request.body.email);
      const user = await guarded(account, limitedAddress(request), () =>
        accounts.authenticate(request.body.email, request.body.password, context),
      );
      const tokens = await sessions.start(user.id, { ...context, clientId });
      // While the password was being checked, an operator may have disabled or deleted the
      // account, or its owner changed the password. Each of those marks the account first and
      // then ends its sessions, so a session written before the mark is ended by them, and one
      // written after is caught here: none survives.
      const changed = await accounts.recheckSignIn(user);
      if (changed !== null) {
        await sessions.revoke(tokens.sessionId, changed);
        throw new BatonError('invalid_credentials', `sign-in overtaken: ${changed}`);
      }
      if (cookieMode) setRefreshCookie(reply, tokens.refreshToken, tokens.refreshTokenExpiresIn);
      return sendTokens(reply, tokens, { includeRefreshToken: !cookieMode });
    },
  );

  app.post<{ Body: { refresh_token?: string } | null }>(
    '/auth/refresh',
    {
      schema: { ...refreshDocs, body: optionalRefreshBody },
      config: docOnly({ headers: TOKEN_TRANSPORT_HEADER }),
    },
    async (request, reply) => {
      const cookieMode = guardCookieRequest(request, config.allowedOrigins, config.issuer);
      const presented = cookieMode ? refreshCookie(request) : request.body?.refresh_token;
      if (presented === undefined) {
        // A missing parameter is a malformed request (RFC 6749 §5.2); a missing cookie is a
        // browser whose session is gone.
        if (cookieMode)
          throw new BatonError('invalid_grant', 'no refresh cookie', {
            description: 'The refresh cookie is missing.',
          });
        throw new BatonError('invalid_request', 'no refresh token', {
          description: 'refresh_token is required.',
        });
      }
      const tokens = await sessions.refresh(presented, {
        ...requestContext(request),
        // Confidential clients' tokens are refreshed at /oauth/token, with authentication.
        ...publicOnly,
      });
      // A failed refresh never touches the cookie: a late, stale request from another tab
      // must not wipe (or roll back) the newer cookie that tab already holds.
      if (cookieMode) setRefreshCookie(reply, tokens.refreshToken, tokens.refreshTokenExpiresIn);
      return sendTokens(reply, tokens, { includeRefreshToken: !cookieMode });
    },
  );

  app.post<{ Body: { refresh_token?: string } | null }>(
    '/auth/logout',
    {
      schema: { ...logoutDocs, body: optionalRefreshBody },
      config: docOnly({ headers: TOKEN_TRANSPORT_HEADER }),
    },
    async (request, reply) => {
      const cookieMode = guardCookieRequest(request, config.allowedOrigins, config.issuer);
      const cookie = cookieMode ? refreshCookie(request) : undefined;
      // The refresh token names the session for sure; a browser's access token may well have
      // expired by the time the user clicks "sign out". So: cookie, then Bearer, then body.
      if (cookie !== undefined) {
        try {
          await sessions.revokeByRefreshToken(cookie, 'logout', {
            ...publicOnly,
            ...requestContext(request),
          });
        } finally {
          clearRefreshCookie(reply); // dead or now revoked: either way of no further use
        }
      } else if (hasBearer(request)) {
        const { claims } = await sessions.authenticate(bearerToken(request));
        await sessions.revoke(claims.sid, 'logout');
        if (cookieMode) clearRefreshCookie(reply);
      } else {
        const presented = request.body?.refresh_token;
        if (presented === undefined) {
          throw new BatonError('invalid_token', 'no credential for logout', {
            description: 'Send a Bearer access token, a refresh_token, or the refresh cookie.',
          });
        }
        await sessions.revokeByRefreshToken(presented, 'logout', {
          ...publicOnly,
          ...requestContext(request),
        });
      }
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { current_password: string; new_password: string } }>(
    '/auth/password',
    {
      schema: {
        ...passwordDocs,
        body: {
          type: 'object',
          required: ['current_password', 'new_password'],
          properties: {
            current_password: { type: 'string', maxLength: 4096 },
            new_password: { type: 'string', maxLength: 4096 },
          },
        },
      },
    },
    async (request, reply) => {
      const { claims } = await sessions.authenticate(bearerToken(request));
      // A stolen access token must not become a password oracle: the same throttle as login,
      // under the same key (the account's address), so guesses here and at login share one
      // back-off and one budget, and the owner's known addresses are known here too.
      // The policy is public and checked first, so a weak new password is a 400 that costs no
      // throttle attempt: only guesses at the current password are counted.
      checkPasswordPolicy(request.body.new_password);
      const user = await accounts.getUser(claims.sub);
      await guarded(user ? user.email : `gone:${claims.sub}`, limitedAddress(request), () =>
        accounts.changePassword(
          claims.sub,
          request.body.current_password,
          request.body.new_password,
          requestContext(request),
        ),
      );
      // Whoever else was signed in (perhaps the reason for the change) is signed out.
      await sessions.revokeOthers(claims.sub, claims.sid, 'password_changed');
      return reply.code(204).send();
    },
  );

  const logoutAllOptions = { schema: logoutAllDocs, config: docOnly({ headers: TOKEN_TRANSPORT_HEADER }) };
  app.post('/auth/logout-all', logoutAllOptions, async (request, reply) => {
    const { claims } = await sessions.authenticate(bearerToken(request));
    await sessions.revokeUser(claims.sub, 'logout_all');
    if (wantsCookieMode(request)) clearRefreshCookie(reply);
    return reply.code(204).send();
  });

  app.get('/auth/me', { schema: meDocs }, async (request, reply) => {
    const { claims } = await sessions.authenticate(bearerToken(request));
    const user = await accounts.getUser(claims.sub);
    if (!user) throw new BatonError('invalid_token', `user ${claims.sub} is gone or disabled`);
    // Personal data behind a bearer token: no cache may keep it.
    reply.header('cache-control', 'no-store');
    return { sub: user.id, email: user.email, session_id: claims.sid };
  });
}

/**
 * The throttle's key for an account: its normalised e-mail address, as stored. Login and
 * password change share it, so they share one back-off, one budget and one set of known
 * addresses. An address no account can have gets a key no account can have.
 */
function safeNormalize(email: string): string {
  try {
    return normalizeEmail(email);
  } catch {
    return `invalid:${email.slice(0, 320).toLowerCase()}`;
  }
}
