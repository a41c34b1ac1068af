import type { UserRecord, UserStore } from '@baton/core';
import type { Pool } from 'pg';
import { guard } from './errors.js';

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: string;
  disabled_at: string | null;
}

const fromRow = (r: UserRow): UserRecord => ({
  id: r.id,
  email: r.email,
  passwordHash: r.password_hash,
  createdAt: Number(r.created_at),
  disabledAt: r.disabled_at === null ? null : Number(r.disabled_at),
});

/** UserStore on PostgreSQL; the UNIQUE index on email decides concurrent sign-ups. */
export function createPostgresUserStore(pool: Pool): UserStore {
  const q = <R extends object = Record<string, unknown>>(name: string, text: string, values: unknown[]) =>
    guard(name, () => pool.query<R>({ name: `baton_${name}`, text, values }));
  return {
    async createUser(u) {
      const { rowCount } = await q(
        'create_user',
        `INSERT INTO baton_users (id, email, password_hash, created_at, disabled_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (email) DO NOTHING`,
        [u.id, u.email, u.passwordHash, u.createdAt, u.disabledAt],
      );
      return rowCount === 1;
    },
    async getUserByEmail(email) {
      const { rows } = await q<UserRow>('user_by_email', 'SELECT * FROM baton_users WHERE email = $1', [
        email,
      ]);
      return rows[0] ? fromRow(rows[0]) : null;
    },
    async setPasswordHash(id, passwordHash, expected) {
      const { rowCount } = await q(
        'set_password',
        'UPDATE baton_users SET password_hash = $1 WHERE id = $2 AND password_hash = $3',
        [passwordHash, id, expected],
      );
      return rowCount === 1;
    },
    async getUserById(id) {
      const { rows } = await q<UserRow>('user_by_id', 'SELECT * FROM baton_users WHERE id = $1', [id]);
      return rows[0] ? fromRow(rows[0]) : null;
    },
    async disableUser(id, at) {
      const { rowCount } = await q(
        'disable_user',
        'UPDATE baton_users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL',
        [id, at],
      );
      return rowCount === 1;
    },
    async enableUser(id) {
      const { rowCount } = await q(
        'enable_user',
        'UPDATE baton_users SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL',
        [id],
      );
      return rowCount === 1;
    },
    async deleteUser(id, at) {
      // One statement, so one transaction: PostgreSQL runs every data-modifying CTE, read or not.
      const { rows } = await q<{ deleted: number }>(
        'delete_user',
        `WITH gone AS (DELETE FROM baton_users WHERE id = $1 RETURNING id),
              ended AS (
                UPDATE baton_sessions SET revoked_at = coalesce(revoked_at, $2),
                  revoke_reason = coalesce(revoke_reason, 'user_deleted'), ip = NULL, user_agent = NULL
                WHERE user_id = $1)
         SELECT count(*)::int AS deleted FROM gone`,
        [id, at],
      );
      return rows[0]?.deleted === 1;
    },
  };
}
