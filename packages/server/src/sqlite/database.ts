import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type MigrationReport, summarizeMigration } from '../migration-report.js';
import { MIGRATIONS } from './migrations.js';

export type SqliteDatabase = Database.Database;

/**
 * Opens (creating if needed) the database in `dataDir` and brings its schema up to date.
 *
 * WAL lets readers run beside the one writer. synchronous=NORMAL keeps every acknowledged
 * commit across a process crash (the WAL is written before COMMIT returns); only an OS crash
 * or power cut can lose the last commits. busy_timeout makes a second process on the same
 * file wait for the write lock instead of failing.
 */
export function openDatabase(dataDir: string, fileName = 'baton.db'): SqliteDatabase {
  const db = connectDatabase(dataDir, fileName);
  migrate(db);
  return db;
}

/** Opens (creating if needed) the database file with Baton's settings, without migrating it. */
export function connectDatabase(dataDir: string, fileName = 'baton.db'): SqliteDatabase {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, fileName);
  const db = new Database(path);
  // Password hashes live here: owner-only, like the key file. SQLite gives the -wal and
  // -shm files the database file's mode.
  chmodSync(path, 0o600);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = OFF');
  return db;
}

/**
 * Applies pending migrations in one IMMEDIATE transaction, so concurrent starters serialise.
 * `onStep` hears of each migration as it is applied (1-based, out of `total`).
 */
export function migrate(
  db: SqliteDatabase,
  onStep?: (done: number, total: number, version: number) => void,
): MigrationReport {
  return db
    .transaction((): MigrationReport => {
      const current = db.pragma('user_version', { simple: true }) as number;
      if (current > MIGRATIONS.length) {
        throw new Error(`database schema version ${current} is newer than this Baton (${MIGRATIONS.length})`);
      }
      const applied: MigrationReport['applied'] = [];
      for (let v = current; v < MIGRATIONS.length; v++) {
        db.exec(MIGRATIONS[v]!);
        applied.push({ version: v + 1, summary: summarizeMigration(MIGRATIONS[v]!) });
        onStep?.(applied.length, MIGRATIONS.length - current, v + 1);
      }
      db.pragma(`user_version = ${MIGRATIONS.length}`);
      return { from: current, to: MIGRATIONS.length, applied };
    })
    .immediate();
}
