import type { RequestContext, RevokeReason, SessionRecord, SessionStore } from '@baton/core';
import type { SqliteDatabase } from './database.js';

interface SessionRow {
  id: string;
  user_id: string;
  client_id: string;
  created_at: number;
  expires_at: number;
  generation: number;
  rotated_at: number;
  last_used_at: number;
  salt: Buffer;
  revoked_at: number | null;
  revoke_reason: string | null;
  user_agent: string | null;
  ip: string | null;
}

const fromRow = (r: SessionRow): SessionRecord => ({
  id: r.id,
  userId: r.user_id,
  clientId: r.client_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  generation: r.generation,
  rotatedAt: r.rotated_at,
  lastUsedAt: r.last_used_at,
  salt: r.salt,
  revokedAt: r.revoked_at,
  revokeReason: r.revoke_reason,
  userAgent: r.user_agent,
  ip: r.ip,
});

/**
 * SessionStore on better-sqlite3. Statements are prepared once. Every method is a single
 * statement or one synchronous transaction, so it is atomic against this process's other
 * requests (no await inside) and, through SQLite's write lock, against other processes.
 */
export function createSqliteSessionStore(db: SqliteDatabase): SessionStore {
  const insert = db.prepare(
    `INSERT INTO sessions (id, user_id, client_id, created_at, expires_at, generation, rotated_at,
       last_used_at, salt, revoked_at, revoke_reason, user_agent, ip)
     VALUES (@id, @userId, @clientId, @createdAt, @expiresAt, @generation, @rotatedAt,
       @lastUsedAt, @salt, @revokedAt, @revokeReason, @userAgent, @ip)`,
  );
  const get = db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE id = ?');
  // The compare-and-set of a rotation: one row, no indexed column changes.
  const rotate = db.prepare(
    `UPDATE sessions SET generation = generation + 1, rotated_at = ?, last_used_at = ?,
       ip = coalesce(?, ip), user_agent = coalesce(?, user_agent)
     WHERE id = ? AND generation = ? AND revoked_at IS NULL`,
  );
  const rotateIfCurrent = db.prepare<[Record<string, string | number | null>], SessionRow>(
    `UPDATE sessions SET generation = generation + 1, rotated_at = @at, last_used_at = @at,
       ip = coalesce(@ip, ip), user_agent = coalesce(@ua, user_agent)
     WHERE id = @id AND generation = @gen AND revoked_at IS NULL
       AND expires_at > @expiresAfter AND rotated_at > @rotatedAfter
     RETURNING *`,
  );
  const revoke = db.prepare(
    'UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL',
  );
  const revokeUser = db.prepare<[number, string, string], { id: string }>(
    'UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING id',
  );
  const list = db.prepare<[string, number], SessionRow>(
    `SELECT * FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
     ORDER BY created_at DESC, id`,
  );

  const denyJti = db.prepare(
    `INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?)
     ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
  );
  const jtiDenied = db.prepare<[string], { one: number }>(
    'SELECT 1 AS one FROM revoked_access_tokens WHERE jti = ?',
  );

  const recentSessions = db.prepare<[number], { id: string; revoked_at: number }>(
    'SELECT id, revoked_at FROM sessions WHERE revoked_at >= ?',
  );
  const recentTokens = db.prepare<[number], { jti: string; expires_at: number }>(
    'SELECT jti, expires_at FROM revoked_access_tokens WHERE expires_at > ?',
  );
  const pruneSessions = db.prepare(
    `DELETE FROM sessions WHERE id IN (
       SELECT id FROM sessions WHERE expires_at <= ? UNION SELECT id FROM sessions WHERE revoked_at < ? LIMIT ?)`,
  );
  const pruneTokens = db.prepare(
    'DELETE FROM revoked_access_tokens WHERE jti IN (SELECT jti FROM revoked_access_tokens WHERE expires_at <= ? LIMIT ?)',
  );
  const counts = db.prepare<[], { sessions: number; tokens: number }>(
    'SELECT (SELECT count(*) FROM sessions) AS sessions, (SELECT count(*) FROM revoked_access_tokens) AS tokens',
  );

  return {
    async createSession(s) {
      insert.run({ ...s, salt: Buffer.from(s.salt) });
    },
    async getSession(id) {
      const row = get.get(id);
      return row ? fromRow(row) : null;
    },
    async rotateRefreshToken(id, fromGeneration, at, context: RequestContext) {
      return (
        rotate.run(at, at, context.ip ?? null, context.userAgent ?? null, id, fromGeneration).changes === 1
      );
    },
    async rotateIfCurrent(id, fromGeneration, at, context, bounds) {
      const row = rotateIfCurrent.get({
        at,
        ip: context.ip ?? null,
        ua: context.userAgent ?? null,
        id,
        gen: fromGeneration,
        expiresAfter: bounds.expiresAfter,
        rotatedAfter: bounds.rotatedAfter,
      });
      return row ? fromRow(row) : null;
    },
    async revokeSession(id, reason: RevokeReason, at) {
      return revoke.run(at, reason, id).changes === 1;
    },
    async revokeUserSessions(userId, reason, at) {
      return revokeUser.all(at, reason, userId).map((r) => r.id);
    },
    async listSessions(userId, now) {
      return list.all(userId, now).map(fromRow);
    },
    async revokeAccessToken(jti, expiresAt) {
      denyJti.run(jti, expiresAt);
    },
    async isAccessTokenRevoked(jti) {
      return jtiDenied.get(jti) !== undefined;
    },
    async listRecentRevocations(since, now) {
      return [
        ...recentSessions.all(since).map((r) => ({ kind: 'session' as const, id: r.id, at: r.revoked_at })),
        ...recentTokens
          .all(now)
          .map((r) => ({ kind: 'access_token' as const, jti: r.jti, until: r.expires_at })),
      ];
    },
    async deleteExpired(now, revokedBefore, limit) {
      // One short write transaction per batch: requests interleave between batches.
      const sessions = pruneSessions.run(now, revokedBefore, limit).changes;
      if (sessions >= limit) return sessions;
      return sessions + pruneTokens.run(now, limit - sessions).changes;
    },
    async stats() {
      const row = counts.get()!;
      return { sessions: row.sessions, revokedAccessTokens: row.tokens };
    },
  };
}
