import type { UserRecord, UserStore } from '@baton/core';
import type { SqliteDatabase } from './database.js';

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: number;
  disabled_at: number | null;
}

const fromRow = (r: UserRow): UserRecord => ({
  id: r.id,
  email: r.email,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  disabledAt: r.disabled_at,
});

/** UserStore on better-sqlite3; the UNIQUE index on email decides concurrent sign-ups. */
export function createSqliteUserStore(db: SqliteDatabase): UserStore {
  const insert = db.prepare(
    `INSERT INTO users (id, email, password_hash, created_at, disabled_at)
     VALUES (@id, @email, @passwordHash, @createdAt, @disabledAt) ON CONFLICT (email) DO NOTHING`,
  );
  const byEmail = db.prepare<[string], UserRow>('SELECT * FROM users WHERE email = ?');
  const byId = db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?');
  const setHash = db.prepare('UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?');
  const disable = db.prepare('UPDATE users SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL');
  const enable = db.prepare('UPDATE users SET disabled_at = NULL WHERE id = ? AND disabled_at IS NOT NULL');
  const deleteRow = db.prepare('DELETE FROM users WHERE id = ?');
  const endSessions = db.prepare(
    `UPDATE sessions SET revoked_at = coalesce(revoked_at, @at),
       revoke_reason = coalesce(revoke_reason, 'user_deleted'), ip = NULL, user_agent = NULL
     WHERE user_id = @id`,
  );
  const deleteUser = db.transaction((id: string, at: number): boolean => {
    const deleted = deleteRow.run(id).changes === 1;
    endSessions.run({ id, at });
    return deleted;
  });
  return {
    async createUser(user) {
      return insert.run(user).changes === 1;
    },
    async getUserByEmail(email) {
      const row = byEmail.get(email);
      return row ? fromRow(row) : null;
    },
    async setPasswordHash(id, passwordHash, expected) {
      return setHash.run(passwordHash, id, expected).changes === 1;
    },
    async getUserById(id) {
      const row = byId.get(id);
      return row ? fromRow(row) : null;
    },
    async disableUser(id, at) {
      return disable.run(at, id).changes === 1;
    },
    async enableUser(id) {
      return enable.run(id).changes === 1;
    },
    async deleteUser(id, at) {
      return deleteUser.immediate(id, at);
    },
  };
}
