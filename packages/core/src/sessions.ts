import { type AccessTokenClaims, signAccessToken, verifyAccessToken } from './access-token.js';
import { type AuditSink, noAudit } from './audit.js';
import { base64url } from './encoding.js';
import { BatonError } from './errors.js';
import type { Jwks, KeySet } from './keys.js';
import type { RateLimiter, RateRule } from './rate-limit.js';
import {
  deriveRefreshSecret,
  formatRefreshToken,
  parseRefreshToken,
  type RefreshTokenKey,
  secretsMatch,
} from './refresh-token.js';
import type { DenySet, RevocationBus, RevocationEvent } from './revocation.js';
import type { SessionStore } from './store.js';
import type { Clock, Random, RequestContext, RevokeReason, SessionRecord } from './types.js';

/** Durations are in milliseconds. */
export interface SessionConfig {
  issuer: string;
  audience: string;
  accessTokenTtl: number;
  refreshIdleTtl: number;
  sessionMaxAge: number;
  /** 0 turns the grace window off. */
  reuseGrace: number;
  /** The built-in public client's id, used when a caller names none. */
  defaultClientId: string;
  /** Clock skew tolerated when checking access tokens, in seconds. */
  leewaySeconds?: number;
}

export interface SessionDeps {
  store: SessionStore;
  /**
   * Optional fan-out (several instances): revocations are published and access tokens are
   * checked against the local deny-set instead of the store, while the bus is healthy.
   */
  revocations?: { denySet: DenySet; bus: RevocationBus };
  /** Told of every revocation made here (for example to stream them to resource servers). */
  onRevocation?: (event: RevocationEvent) => void;
  keys: KeySet;
  refreshKey: RefreshTokenKey;
  clock: Clock;
  random: Random;
  audit?: AuditSink;
  /**
   * Rotations allowed per session. Only genuine tokens count, so nobody can use up another
   * person's allowance by sending forged tokens with their session id.
   */
  refreshLimit?: { limiter: RateLimiter; rule: RateRule | null };
}

/**
 * How many times one consumed refresh token may be re-presented within its grace window (while
 * the per-session refresh limit is on): far more than the tabs and retries of any real client
 * send at once, and a bound on replaying one token without end.
 */
export const MAX_GRACE_REISSUES = 100;

/** What login and refresh hand out. Lifetimes in seconds, as on the wire. */
export interface TokenSet {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  refreshTokenExpiresIn: number;
  sessionId: string;
}

export interface SessionView {
  id: string;
  /** The OAuth client the session belongs to. */
  clientId: string;
  createdAt: number;
  lastUsedAt: number;
  /** When the session ends if nothing else happens: idle or absolute expiry, whichever is first. */
  expiresAt: number;
  userAgent: string | null;
  ip: string | null;
}

export interface Authenticated {
  claims: AccessTokenClaims;
}

/** Who may use a refresh token: decided by the caller's client authentication. */
export interface ClientCheck {
  /** False refuses a token bound to that client (it stays untouched). */
  acceptClient?: (clientId: string) => boolean;
}

/** RFC 7662 in domain terms; the HTTP layer shapes the wire response. */
export type Introspection =
  | { active: false }
  | { active: true; kind: 'access_token'; claims: AccessTokenClaims }
  | {
      active: true;
      kind: 'refresh_token';
      session: SessionRecord;
      /** When the token stops working (ms). */
      expiresAt: number;
      /** When it was issued (ms), if known: the live generation's rotation time. */
      issuedAt: number | null;
    };

export interface Sessions {
  /** Starts a session for an already authenticated user. */
  start(userId: string, context: RequestContext & { clientId?: string }): Promise<TokenSet>;
  /** Rotation rules 1–4 of the contract. */
  refresh(refreshToken: unknown, context: RequestContext & ClientCheck): Promise<TokenSet>;
  /** What a refresh or an access check would say of the token now, with no side effect. */
  introspect(token: unknown): Promise<Introspection>;
  /**
   * RFC 7009: a refresh token revokes its session, an access token is denied on its own;
   * anything unrecognised is ignored. `unauthorized_client` when the token is another client's.
   */
  revokeToken(token: unknown, check: ClientCheck & RequestContext): Promise<void>;
  /** A valid access token of a live session, or `invalid_token`. */
  authenticate(accessToken: unknown): Promise<Authenticated>;
  /** Revokes the session a genuine refresh token belongs to; `invalid_grant` when dead, forged or another client's. */
  revokeByRefreshToken(
    refreshToken: unknown,
    reason: RevokeReason,
    check?: ClientCheck & RequestContext,
  ): Promise<string>;
  revoke(sessionId: string, reason: RevokeReason): Promise<boolean>;
  revokeUser(userId: string, reason: RevokeReason): Promise<string[]>;
  /** Revokes every session of the user but one (after a password change, say). */
  revokeOthers(userId: string, keepSessionId: string, reason: RevokeReason): Promise<string[]>;
  list(userId: string): Promise<SessionView[]>;
  jwks(): Jwks;
}

/** When a session dies if nothing else happens to it. */
export function sessionEndsAt(session: SessionRecord, refreshIdleTtl: number): number {
  return Math.min(session.expiresAt, session.rotatedAt + refreshIdleTtl);
}

/** Unrevoked and neither idle- nor absolutely expired at `now`. */
export function isSessionLive(session: SessionRecord, now: number, refreshIdleTtl: number): boolean {
  return session.revokedAt === null && now < sessionEndsAt(session, refreshIdleTtl);
}

/**
 * Why the session behind an access token no longer vouches for it, or null while it does:
 * the rule `authenticate` applies when it checks the store (fan-out mode asks the deny-set,
 * which the store fills).
 */
export function sessionEndForAccessToken(
  session: SessionRecord | null,
  userId: string,
  now: number,
  refreshIdleTtl: number,
): 'unknown' | 'other_user' | 'revoked' | 'expired' | null {
  if (!session) return 'unknown';
  if (session.userId !== userId) return 'other_user';
  if (session.revokedAt !== null) return 'revoked';
  return isSessionLive(session, now, refreshIdleTtl) ? null : 'expired';
}

const grantError = (message: string): BatonError => new BatonError('invalid_grant', message);

export function createSessions(deps: SessionDeps, config: SessionConfig): Sessions {
  const { store, keys, refreshKey, clock, random } = deps;
  const audit = deps.audit ?? noAudit;
  const accessTtlSeconds = Math.floor(config.accessTokenTtl / 1000);

  function refreshTokenFor(session: SessionRecord, generation: number): string {
    const secret = deriveRefreshSecret(refreshKey, session.id, session.salt, generation);
    return formatRefreshToken({ sessionId: session.id, generation, secret });
  }

  /** Tokens for `generation`, whose refresh token was issued at `issuedAt`. */
  function issue(session: SessionRecord, generation: number, issuedAt: number, now: number): TokenSet {
    const iat = Math.floor(now / 1000);
    // An access token never outlives its session.
    const exp = Math.max(iat, Math.min(iat + accessTtlSeconds, Math.floor(session.expiresAt / 1000)));
    const accessToken = signAccessToken(keys.signer(), {
      iss: config.issuer,
      sub: session.userId,
      aud: config.audience,
      client_id: session.clientId,
      sid: session.id,
      jti: base64url(random.bytes(16)),
      iat,
      exp,
    });
    const refreshEndsAt = Math.min(issuedAt + config.refreshIdleTtl, session.expiresAt);
    return {
      accessToken,
      expiresIn: exp - iat,
      refreshToken: refreshTokenFor(session, generation),
      refreshTokenExpiresIn: Math.max(0, Math.floor((refreshEndsAt - now) / 1000)),
      sessionId: session.id,
    };
  }

  // What never changes about a session (its salt, client and user), kept so that a refresh can
  // check the presented secret and go straight to the one-statement rotation.
  const identities = new Map<string, Pick<SessionRecord, 'salt' | 'clientId' | 'userId'>>();
  function remember(session: SessionRecord): void {
    if (identities.size >= 50_000) identities.delete(identities.keys().next().value as string);
    identities.set(session.id, { salt: session.salt, clientId: session.clientId, userId: session.userId });
  }

  /**
   * The fast path of a refresh: the presented token is the live one of a session we know,
   * so one conditional UPDATE … RETURNING rotates it. Null sends the caller to the full rules
   * (grace window, reuse, expiry, revocation), which read the row first.
   */
  async function fastRotate(token: unknown, context: RequestContext & ClientCheck): Promise<TokenSet | null> {
    const parts = parseRefreshToken(token);
    const known = parts && identities.get(parts.sessionId);
    if (!parts || !known) return null;
    const secret = deriveRefreshSecret(refreshKey, parts.sessionId, known.salt, parts.generation);
    if (!secretsMatch(parts.secret, secret))
      throw grantError(`refresh token not recognised for session ${parts.sessionId}`);
    if (context.acceptClient && !context.acceptClient(known.clientId)) {
      throw grantError(`session ${parts.sessionId} belongs to client ${known.clientId}`);
    }
    // An exhausted allowance is decided on the full path, which knows whether this is a
    // rotation (refused), a grace retry (free) or a replay (detected as reuse).
    if ((await allowanceWait(parts.sessionId)) > 0) return null;
    const now = clock.now();
    const rotated = await store.rotateIfCurrent(parts.sessionId, parts.generation, now, context, {
      expiresAfter: now + 999, // the slow path's "under a second left" rule
      rotatedAfter: now - config.refreshIdleTtl,
    });
    if (!rotated) return null;
    spendRefreshAllowance(rotated.id);
    audit.record({
      type: 'refresh_rotated',
      at: now,
      userId: rotated.userId,
      sessionId: rotated.id,
      ip: context.ip,
      userAgent: context.userAgent,
      detail: { generation: rotated.generation },
    });
    return issue(rotated, rotated.generation, now, now);
  }

  /**
   * The per-session allowance counts rotations: it is checked (taking nothing) before one and
   * spent once it happened. Grace re-issues of the same successor spend none of it, so a burst
   * of concurrent requests with one token (tabs, retries) never eats into rotations; they have
   * their own small allowance per token (`MAX_GRACE_REISSUES`), so replaying one token without
   * end (which would fill the audit trail and mint access tokens) is bounded all the same.
   */
  async function allowanceWait(sessionId: string): Promise<number> {
    const rule = deps.refreshLimit?.rule;
    return rule ? deps.refreshLimit!.limiter.peek(`refresh:${sessionId}`, rule) : 0;
  }

  async function checkRefreshAllowance(sessionId: string): Promise<void> {
    const wait = await allowanceWait(sessionId);
    if (wait > 0) {
      throw new BatonError('rate_limited', `refresh of session ${sessionId} rate-limited`, {
        retryAfter: wait,
      });
    }
  }

  async function takeGraceAllowance(sessionId: string, generation: number): Promise<void> {
    const limited = deps.refreshLimit?.rule;
    // Refilled by one per grace window: a consumed token is re-issued at most once more in all
    // the time it can be (its grace window), so the cap is what it says.
    const grace = Math.max(config.reuseGrace, 1000);
    const rule = { limit: MAX_GRACE_REISSUES, window: MAX_GRACE_REISSUES * grace };
    const wait = limited
      ? await deps.refreshLimit!.limiter.take(`grace:${sessionId}:${generation}`, rule)
      : 0;
    if (wait > 0) {
      throw new BatonError('rate_limited', `grace re-issues of session ${sessionId} rate-limited`, {
        retryAfter: wait,
      });
    }
  }

  function spendRefreshAllowance(sessionId: string): void {
    const rule = deps.refreshLimit?.rule;
    // The rotation is done: the count can no longer refuse it, so nobody waits for it.
    if (rule) deps.refreshLimit!.limiter.take(`refresh:${sessionId}`, rule).catch(() => {});
  }

  /** The session a presented refresh token genuinely belongs to, or `invalid_grant`. */
  async function authenticRefreshToken(
    token: unknown,
  ): Promise<{ session: SessionRecord; generation: number }> {
    const parts = parseRefreshToken(token);
    if (!parts) throw grantError('refresh token is malformed');
    const session = await store.getSession(parts.sessionId);
    if (session) remember(session);
    // A forged token must never act on a real session (for example revoke it), so the
    // secret is checked before anything else is decided.
    if (
      !session ||
      !secretsMatch(parts.secret, deriveRefreshSecret(refreshKey, session.id, session.salt, parts.generation))
    ) {
      throw grantError(`refresh token not recognised for session ${parts.sessionId}`);
    }
    return { session, generation: parts.generation };
  }

  function verify(accessToken: unknown, now: number): AccessTokenClaims {
    return verifyAccessToken(accessToken, {
      keys,
      issuer: config.issuer,
      audience: config.audience,
      now,
      leewaySeconds: config.leewaySeconds ?? 0,
    });
  }

  /** The claims of a valid access token of a live session that was not revoked on its own. */
  async function liveAccessToken(accessToken: unknown, now: number): Promise<Authenticated> {
    const claims = verify(accessToken, now);
    const ended = (): BatonError =>
      new BatonError('invalid_token', `session ${claims.sid} is not live`, {
        description: 'The session of this access token has ended.',
      });
    const revoked = (): BatonError =>
      new BatonError('invalid_token', `access token ${claims.jti} was revoked`, {
        description: 'The access token was revoked.',
      });
    // Fan-out mode: no round trip. Expiry needs no check here, because an access token never
    // outlives its session and the signature already vouches for `exp`.
    if (deps.revocations?.bus.healthy()) {
      const { denySet } = deps.revocations;
      if (denySet.isSessionRevoked(claims.sid, now)) throw ended();
      if (denySet.isAccessTokenRevoked(claims.jti, now)) throw revoked();
      return { claims };
    }
    const session = await store.getSession(claims.sid);
    if (sessionEndForAccessToken(session, claims.sub, now, config.refreshIdleTtl) !== null) throw ended();
    if (await store.isAccessTokenRevoked(claims.jti)) throw revoked();
    return { claims };
  }

  /** Tells this instance's deny-set and every other instance. Never fails the caller. */
  async function announce(event: RevocationEvent): Promise<void> {
    deps.onRevocation?.(event);
    if (!deps.revocations) return;
    deps.revocations.denySet.add(event);
    try {
      await deps.revocations.bus.publish(event);
    } catch {
      // The store has the revocation; instances that missed it catch up when their bus
      // reconnects and check the store while it is down (see docs/deployment.md).
    }
  }

  /**
   * Ends a session by one of its genuine refresh tokens. A consumed token outside the grace
   * window is a theft signal wherever it shows up (logout, RFC 7009), so it is recorded as reuse.
   */
  async function endByRefreshToken(
    session: SessionRecord,
    generation: number,
    reason: RevokeReason,
    now: number,
    context: RequestContext,
  ): Promise<void> {
    const consumed = generation < session.generation;
    const inGrace = generation === session.generation - 1 && now - session.rotatedAt < config.reuseGrace;
    if (consumed && !inGrace && session.revokedAt === null) {
      await reuseDetected(session, generation, now, context, reason);
      return;
    }
    await revokeSession(session, reason, now);
  }

  /**
   * A consumed refresh token came back: one of two parties holds a stolen copy. The event
   * names both: the presenter (its IP and user agent) and the holder of the live token (the
   * session's last rotation), with how long ago that rotation was and the session's lineage.
   */
  async function reuseDetected(
    session: SessionRecord,
    generation: number,
    now: number,
    presenter: RequestContext,
    via: string,
  ): Promise<void> {
    audit.record({
      type: 'reuse_detected',
      at: now,
      userId: session.userId,
      sessionId: session.id,
      ip: presenter.ip,
      userAgent: presenter.userAgent,
      detail: {
        via,
        generation,
        current: session.generation,
        sinceRotationMs: now - session.rotatedAt,
        holderIp: session.ip,
        holderUserAgent: session.userAgent,
        clientId: session.clientId,
        sessionCreatedAt: session.createdAt,
      },
    });
    await revokeSession(session, 'reuse_detected', now);
  }

  async function revokeSession(session: SessionRecord, reason: RevokeReason, now: number): Promise<boolean> {
    const changed = await store.revokeSession(session.id, reason, now);
    if (changed) {
      await announce({ kind: 'session', id: session.id, at: now });
      audit.record({
        type: 'session_revoked',
        at: now,
        userId: session.userId,
        sessionId: session.id,
        detail: { reason },
      });
    }
    return changed;
  }

  return {
    async start(userId, context) {
      const now = clock.now();
      const session: SessionRecord = {
        id: base64url(random.bytes(16)),
        userId,
        clientId: context.clientId ?? config.defaultClientId,
        createdAt: now,
        expiresAt: now + config.sessionMaxAge,
        generation: 0,
        rotatedAt: now,
        lastUsedAt: now,
        salt: random.bytes(32),
        revokedAt: null,
        revokeReason: null,
        userAgent: context.userAgent ?? null,
        ip: context.ip ?? null,
      };
      await store.createSession(session);
      remember(session);
      // The first link of the session's lineage (reuse reports list the links).
      audit.record({
        type: 'session_started',
        at: now,
        userId,
        sessionId: session.id,
        ip: context.ip,
        userAgent: context.userAgent,
        detail: { clientId: session.clientId, generation: 0 },
      });
      return issue(session, 0, now, now);
    },

    async refresh(refreshToken, context) {
      const fast = await fastRotate(refreshToken, context);
      if (fast) return fast;
      let { session, generation } = await authenticRefreshToken(refreshToken);
      const base = {
        userId: session.userId,
        sessionId: session.id,
        ip: context.ip,
        userAgent: context.userAgent,
      };
      // A lost compare-and-set means another request rotated this generation a moment ago;
      // re-reading the row then lands in the grace branch. Two laps always suffice.
      for (let attempt = 0; attempt < 3; attempt++) {
        const now = clock.now();
        if (session.revokedAt !== null) throw grantError(`session ${session.id} is revoked`);
        // Under a second left: the tokens would be dead on arrival (lifetimes are whole seconds).
        if (session.expiresAt - now < 1000) throw grantError(`session ${session.id} reached its maximum age`);
        if (context.acceptClient && !context.acceptClient(session.clientId)) {
          throw grantError(`session ${session.id} belongs to client ${session.clientId}`);
        }
        const current = session.generation;
        if (generation === current) {
          if (now >= session.rotatedAt + config.refreshIdleTtl)
            throw grantError(`session ${session.id} is idle-expired`);
          await checkRefreshAllowance(session.id);
          if (await store.rotateRefreshToken(session.id, current, now, context)) {
            spendRefreshAllowance(session.id);
            audit.record({ type: 'refresh_rotated', at: now, ...base, detail: { generation: current + 1 } });
            return issue({ ...session, rotatedAt: now }, current + 1, now, now);
          }
        } else if (generation === current - 1 && now - session.rotatedAt < config.reuseGrace) {
          // Rule 2: the same consumed token again within the window, while its successor is
          // unused (else `current` would have moved on): hand out that same successor.
          await takeGraceAllowance(session.id, current);
          audit.record({ type: 'refresh_grace_reused', at: now, ...base, detail: { generation: current } });
          return issue(session, current, session.rotatedAt, now);
        } else if (generation < current) {
          // Rule 3: a consumed token outside the window, or after its successor was used.
          await reuseDetected(session, generation, now, context, 'refresh');
          throw grantError(`refresh token reuse detected on session ${session.id}`);
        } else {
          // A genuine token from the future: the store was rolled back. Refuse, change nothing.
          throw grantError(`session ${session.id} is behind the presented token`);
        }
        const reread = await store.getSession(session.id);
        if (!reread) throw grantError(`session ${session.id} vanished`);
        session = reread;
      }
      throw new BatonError('temporarily_unavailable', `refresh of session ${session.id} kept losing races`);
    },

    authenticate: (accessToken) => liveAccessToken(accessToken, clock.now()),

    async introspect(token) {
      const now = clock.now();
      if (parseRefreshToken(token)) {
        let found: { session: SessionRecord; generation: number };
        try {
          found = await authenticRefreshToken(token);
        } catch {
          return { active: false };
        }
        const { session, generation } = found;
        // The same last-second rule as refresh: under a second left, the token is done.
        if (session.revokedAt !== null || session.expiresAt - now < 1000) return { active: false };
        if (generation === session.generation) {
          const expiresAt = sessionEndsAt(session, config.refreshIdleTtl);
          return now < expiresAt
            ? { active: true, kind: 'refresh_token', session, expiresAt, issuedAt: session.rotatedAt }
            : { active: false };
        }
        // Within the grace window a refresh with the consumed token still succeeds (rule 2).
        const graceEndsAt = Math.min(session.rotatedAt + config.reuseGrace, session.expiresAt);
        if (generation === session.generation - 1 && now < graceEndsAt) {
          return { active: true, kind: 'refresh_token', session, expiresAt: graceEndsAt, issuedAt: null };
        }
        return { active: false };
      }
      try {
        return { active: true, kind: 'access_token', claims: (await liveAccessToken(token, now)).claims };
      } catch (error) {
        if (error instanceof BatonError && error.code === 'invalid_token') return { active: false };
        throw error;
      }
    },

    async revokeToken(token, check) {
      const now = clock.now();
      if (parseRefreshToken(token)) {
        let session: SessionRecord;
        let generation: number;
        try {
          ({ session, generation } = await authenticRefreshToken(token));
        } catch {
          return; // RFC 7009 §2.2: an invalid token needs no action
        }
        if (check.acceptClient && !check.acceptClient(session.clientId)) {
          throw new BatonError('unauthorized_client', `session ${session.id} belongs to ${session.clientId}`);
        }
        await endByRefreshToken(session, generation, 'token_revoked', now, check);
        return;
      }
      let claims: AccessTokenClaims;
      try {
        claims = verify(token, now);
      } catch {
        return;
      }
      if (check.acceptClient && !check.acceptClient(claims.client_id)) {
        throw new BatonError(
          'unauthorized_client',
          `access token ${claims.jti} belongs to ${claims.client_id}`,
        );
      }
      await store.revokeAccessToken(claims.jti, claims.exp * 1000);
      await announce({ kind: 'access_token', jti: claims.jti, until: claims.exp * 1000 });
      audit.record({
        type: 'access_token_revoked',
        at: now,
        userId: claims.sub,
        sessionId: claims.sid,
        detail: { jti: claims.jti },
      });
    },

    async revokeByRefreshToken(refreshToken, reason, check = {}) {
      const { session, generation } = await authenticRefreshToken(refreshToken);
      const now = clock.now();
      if (check.acceptClient && !check.acceptClient(session.clientId)) {
        throw grantError(`session ${session.id} belongs to client ${session.clientId}`);
      }
      if (!isSessionLive(session, now, config.refreshIdleTtl))
        throw grantError(`session ${session.id} is not live`);
      await endByRefreshToken(session, generation, reason, now, check);
      return session.id;
    },

    async revoke(sessionId, reason) {
      const session = await store.getSession(sessionId);
      return session ? revokeSession(session, reason, clock.now()) : false;
    },

    async revokeUser(userId, reason) {
      const now = clock.now();
      const ids = await store.revokeUserSessions(userId, reason, now);
      await Promise.all(ids.map((id) => announce({ kind: 'session', id, at: now })));
      for (const sessionId of ids) {
        audit.record({ type: 'session_revoked', at: now, userId, sessionId, detail: { reason } });
      }
      return ids;
    },

    async revokeOthers(userId, keepSessionId, reason) {
      const now = clock.now();
      const revoked: string[] = [];
      for (const s of await store.listSessions(userId, now)) {
        if (s.id !== keepSessionId && (await revokeSession(s, reason, now))) revoked.push(s.id);
      }
      return revoked;
    },

    async list(userId) {
      const now = clock.now();
      const sessions = await store.listSessions(userId, now);
      return sessions
        .filter((s) => isSessionLive(s, now, config.refreshIdleTtl))
        .map((s) => ({
          id: s.id,
          clientId: s.clientId,
          createdAt: s.createdAt,
          lastUsedAt: s.lastUsedAt,
          expiresAt: sessionEndsAt(s, config.refreshIdleTtl),
          userAgent: s.userAgent,
          ip: s.ip,
        }));
    },

    jwks: () => keys.jwks(),
  };
}
