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
  const setHash = db.prepare('UPDATE users SET password_hash = ? WHERE id = ?');
  return {
    async createUser(user) {
      return insert.run(user).changes === 1;
    },
    async getUserByEmail(email) {
      const row = byEmail.get(email);
      return row ? fromRow(row) : null;
    },
    async setPasswordHash(id, passwordHash) {
      setHash.run(passwordHash, id);
    },
    async getUserById(id) {
      const row = byId.get(id);
      return row ? fromRow(row) : null;
    },
  };
}
