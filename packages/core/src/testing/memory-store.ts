import type { RevocationEvent } from '../revocation.js';
import type { SessionStore, UserStore } from '../store.js';
import type { RequestContext, RevokeReason, SessionRecord, UserRecord } from '../types.js';

/**
 * In-memory stores for tests and examples. Each method runs without an `await` between its
 * read and its write, which makes it atomic on Node's single thread.
 */
export function createMemoryStores(): { sessions: SessionStore; users: UserStore } {
  const sessions = new Map<string, SessionRecord>();
  const revokedJtis = new Map<string, number>();
  const users = new Map<string, UserRecord>();
  const usersByEmail = new Map<string, string>();
  const copy = (s: SessionRecord): SessionRecord => ({ ...s, salt: Uint8Array.from(s.salt) });

  const sessionStore: SessionStore = {
    async createSession(session) {
      if (sessions.has(session.id)) throw new Error(`duplicate session id ${session.id}`);
      sessions.set(session.id, copy(session));
    },
    async getSession(id) {
      const s = sessions.get(id);
      return s ? copy(s) : null;
    },
    async rotateRefreshToken(id, fromGeneration, at, context: RequestContext) {
      const s = sessions.get(id);
      if (!s || s.revokedAt !== null || s.generation !== fromGeneration) return false;
      s.generation = fromGeneration + 1;
      s.rotatedAt = at;
      s.lastUsedAt = at;
      s.ip = context.ip ?? s.ip;
      s.userAgent = context.userAgent ?? s.userAgent;
      return true;
    },
    async rotateIfCurrent(id, fromGeneration, at, context, bounds) {
      const s = sessions.get(id);
      if (!s || s.expiresAt <= bounds.expiresAfter || s.rotatedAt <= bounds.rotatedAfter) return null;
      return (await sessionStore.rotateRefreshToken(id, fromGeneration, at, context))
        ? copy(sessions.get(id)!)
        : null;
    },
    async revokeSession(id, reason: RevokeReason, at) {
      const s = sessions.get(id);
      if (!s || s.revokedAt !== null) return false;
      s.revokedAt = at;
      s.revokeReason = reason;
      return true;
    },
    async revokeUserSessions(userId, reason, at) {
      const ids: string[] = [];
      for (const s of sessions.values()) {
        if (s.userId === userId && s.revokedAt === null) {
          s.revokedAt = at;
          s.revokeReason = reason;
          ids.push(s.id);
        }
      }
      return ids;
    },
    async listSessions(userId, now) {
      return [...sessions.values()]
        .filter((s) => s.userId === userId && s.revokedAt === null && s.expiresAt > now)
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
        .map(copy);
    },
    async revokeAccessToken(jti, expiresAt) {
      revokedJtis.set(jti, Math.max(expiresAt, revokedJtis.get(jti) ?? 0));
    },
    async isAccessTokenRevoked(jti) {
      return revokedJtis.has(jti);
    },
    async listRecentRevocations(since, now) {
      const events: RevocationEvent[] = [];
      for (const s of sessions.values()) {
        if (s.revokedAt !== null && s.revokedAt >= since)
          events.push({ kind: 'session', id: s.id, at: s.revokedAt });
      }
      for (const [jti, until] of revokedJtis)
        if (until > now) events.push({ kind: 'access_token', jti, until });
      return events;
    },
    async stats() {
      return { sessions: sessions.size, revokedAccessTokens: revokedJtis.size };
    },
    async deleteExpired(now, revokedBefore, limit) {
      let deleted = 0;
      for (const s of [...sessions.values()]) {
        if (deleted >= limit) return deleted;
        if (s.expiresAt <= now || (s.revokedAt !== null && s.revokedAt < revokedBefore)) {
          sessions.delete(s.id);
          deleted++;
        }
      }
      for (const [jti, until] of [...revokedJtis]) {
        if (deleted >= limit) return deleted;
        if (until <= now) {
          revokedJtis.delete(jti);
          deleted++;
        }
      }
      return deleted;
    },
  };

  const userStore: UserStore = {
    async createUser(user) {
      if (usersByEmail.has(user.email)) return false;
      users.set(user.id, { ...user });
      usersByEmail.set(user.email, user.id);
      return true;
    },
    async getUserByEmail(email) {
      const id = usersByEmail.get(email);
      const u = id === undefined ? undefined : users.get(id);
      return u ? { ...u } : null;
    },
    async setPasswordHash(id, passwordHash, expected) {
      const u = users.get(id);
      if (!u || u.passwordHash !== expected) return false;
      u.passwordHash = passwordHash;
      return true;
    },
    async getUserById(id) {
      const u = users.get(id);
      return u ? { ...u } : null;
    },
    async disableUser(id, at) {
      const u = users.get(id);
      if (!u || u.disabledAt !== null) return false;
      u.disabledAt = at;
      return true;
    },
    async enableUser(id) {
      const u = users.get(id);
      if (!u || u.disabledAt === null) return false;
      u.disabledAt = null;
      return true;
    },
    async deleteUser(id, at) {
      const u = users.get(id);
      if (u) {
        users.delete(id);
        usersByEmail.delete(u.email);
      }
      for (const s of sessions.values()) {
        if (s.userId !== id) continue;
        if (s.revokedAt === null) {
          s.revokedAt = at;
          s.revokeReason = 'user_deleted';
        }
        s.ip = null;
        s.userAgent = null;
      }
      return u !== undefined;
    },
  };

  return { sessions: sessionStore, users: userStore };
}
