import type { RevocationEvent, SessionRecord, SessionStore } from '@baton/core';
import type { Pool } from 'pg';
import { guard } from './errors.js';

interface SessionRow {
  id: string;
  user_id: string;
  client_id: string;
  created_at: string;
  expires_at: string;
  generation: number;
  rotated_at: string;
  last_used_at: string;
  salt: Buffer;
  revoked_at: string | null;
  revoke_reason: string | null;
  user_agent: string | null;
  ip: string | null;
}

// bigint columns arrive as strings; epoch milliseconds fit a double exactly.
const ms = (v: string | null): number | null => (v === null ? null : Number(v));

const fromRow = (r: SessionRow): SessionRecord => ({
  id: r.id,
  userId: r.user_id,
  clientId: r.client_id,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
  generation: r.generation,
  rotatedAt: Number(r.rotated_at),
  lastUsedAt: Number(r.last_used_at),
  salt: r.salt,
  revokedAt: ms(r.revoked_at),
  revokeReason: r.revoke_reason,
  userAgent: r.user_agent,
  ip: r.ip,
});

/**
 * SessionStore on PostgreSQL. Every method is one statement (autocommit, durable with the
 * server's default synchronous_commit), so a rotation is one round trip and can never be
 * half applied. Named prepared statements are parsed once per connection.
 */
export function createPostgresSessionStore(pool: Pool): SessionStore {
  const q = <R extends object = Record<string, unknown>>(name: string, text: string, values: unknown[]) =>
    guard(name, () => pool.query<R>({ name: `baton_${name}`, text, values }));

  return {
    async createSession(s) {
      await q(
        'create_session',
        `INSERT INTO baton_sessions (id, user_id, client_id, created_at, expires_at, generation, rotated_at,
           last_used_at, salt, revoked_at, revoke_reason, user_agent, ip)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          s.id,
          s.userId,
          s.clientId,
          s.createdAt,
          s.expiresAt,
          s.generation,
          s.rotatedAt,
          s.lastUsedAt,
          Buffer.from(s.salt),
          s.revokedAt,
          s.revokeReason,
          s.userAgent,
          s.ip,
        ],
      );
    },
    async getSession(id) {
      const { rows } = await q<SessionRow>('get_session', 'SELECT * FROM baton_sessions WHERE id = $1', [id]);
      return rows[0] ? fromRow(rows[0]) : null;
    },
    async rotateRefreshToken(id, fromGeneration, at, context) {
      // The compare-and-set: row-locking UPDATE, so of concurrent callers exactly one matches.
      const { rowCount } = await q(
        'rotate',
        `UPDATE baton_sessions SET generation = generation + 1, rotated_at = $1, last_used_at = $1,
           ip = coalesce($2, ip), user_agent = coalesce($3, user_agent)
         WHERE id = $4 AND generation = $5 AND revoked_at IS NULL`,
        [at, context.ip ?? null, context.userAgent ?? null, id, fromGeneration],
      );
      return rowCount === 1;
    },
    async rotateIfCurrent(id, fromGeneration, at, context, bounds) {
      const { rows } = await q<SessionRow>(
        'rotate_if_current',
        `UPDATE baton_sessions SET generation = generation + 1, rotated_at = $1, last_used_at = $1,
           ip = coalesce($2, ip), user_agent = coalesce($3, user_agent)
         WHERE id = $4 AND generation = $5 AND revoked_at IS NULL AND expires_at > $6 AND rotated_at > $7
         RETURNING *`,
        [
          at,
          context.ip ?? null,
          context.userAgent ?? null,
          id,
          fromGeneration,
          bounds.expiresAfter,
          bounds.rotatedAfter,
        ],
      );
      return rows[0] ? fromRow(rows[0]) : null;
    },
    async revokeSession(id, reason, at) {
      const { rowCount } = await q(
        'revoke_session',
        'UPDATE baton_sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL',
        [at, reason, id],
      );
      return rowCount === 1;
    },
    async revokeUserSessions(userId, reason, at) {
      const { rows } = await q<{ id: string }>(
        'revoke_user',
        `UPDATE baton_sessions SET revoked_at = $1, revoke_reason = $2
         WHERE user_id = $3 AND revoked_at IS NULL RETURNING id`,
        [at, reason, userId],
      );
      return rows.map((r) => r.id);
    },
    async listSessions(userId, now) {
      const { rows } = await q<SessionRow>(
        'list_sessions',
        `SELECT * FROM baton_sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
         ORDER BY created_at DESC, id`,
        [userId, now],
      );
      return rows.map(fromRow);
    },
    async revokeAccessToken(jti, expiresAt) {
      await q(
        'deny_jti',
        `INSERT INTO baton_revoked_access_tokens (jti, expires_at) VALUES ($1, $2)
         ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(baton_revoked_access_tokens.expires_at, excluded.expires_at)`,
        [jti, expiresAt],
      );
    },
    async isAccessTokenRevoked(jti) {
      const { rowCount } = await q('jti_denied', 'SELECT 1 FROM baton_revoked_access_tokens WHERE jti = $1', [
        jti,
      ]);
      return (rowCount ?? 0) > 0;
    },
    async listRecentRevocations(since, now) {
      const { rows } = await q<{ kind: string; id: string; t: string }>(
        'recent_revocations',
        `SELECT 'session' AS kind, id, revoked_at AS t FROM baton_sessions WHERE revoked_at >= $1
         UNION ALL
         SELECT 'access_token', jti, expires_at FROM baton_revoked_access_tokens WHERE expires_at > $2`,
        [since, now],
      );
      return rows.map(
        (r): RevocationEvent =>
          r.kind === 'session'
            ? { kind: 'session', id: r.id, at: Number(r.t) }
            : { kind: 'access_token', jti: r.id, until: Number(r.t) },
      );
    },
    async deleteExpired(now, revokedBefore, limit) {
      // Small batches by primary key; SKIP LOCKED keeps the pruner off rows a request holds.
      const { rowCount } = await q(
        'prune_sessions',
        `DELETE FROM baton_sessions WHERE id IN (
           SELECT id FROM baton_sessions WHERE expires_at <= $1 OR revoked_at < $2
           LIMIT $3 FOR UPDATE SKIP LOCKED)`,
        [now, revokedBefore, limit],
      );
      const sessions = rowCount ?? 0;
      if (sessions >= limit) return sessions;
      const tokens = await q(
        'prune_jtis',
        `DELETE FROM baton_revoked_access_tokens WHERE jti IN (
           SELECT jti FROM baton_revoked_access_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
        [now, limit - sessions],
      );
      return sessions + (tokens.rowCount ?? 0);
    },
    async stats() {
      const { rows } = await q<{ s: string; t: string }>(
        'stats',
        'SELECT (SELECT count(*) FROM baton_sessions) AS s, (SELECT count(*) FROM baton_revoked_access_tokens) AS t',
        [],
      );
      return { sessions: Number(rows[0]!.s), revokedAccessTokens: Number(rows[0]!.t) };
    },
  };
}
