import type { Pool } from 'pg';
import { type MigrationReport, summarizeMigration } from '../migration-report.js';

/**
 * The PostgreSQL schema, in versions. Tables carry a `baton_` prefix because the database may
 * be shared. Times are epoch milliseconds in bigint, like the SQLite store.
 *
 * Sessions use fillfactor 80 so that a rotation — one UPDATE touching no indexed column —
 * is a HOT update: the new row version stays on its page and no index is written.
 */
export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE baton_users (
    id            text PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at    bigint NOT NULL,
    disabled_at   bigint
  );
  CREATE TABLE baton_sessions (
    id            text PRIMARY KEY,
    user_id       text NOT NULL,
    client_id     text NOT NULL,
    created_at    bigint NOT NULL,
    expires_at    bigint NOT NULL,
    generation    integer NOT NULL,
    rotated_at    bigint NOT NULL,
    last_used_at  bigint NOT NULL,
    salt          bytea NOT NULL,
    revoked_at    bigint,
    revoke_reason text,
    user_agent    text,
    ip            text
  ) WITH (fillfactor = 80);
  CREATE INDEX baton_sessions_by_user ON baton_sessions (user_id, created_at);
  CREATE INDEX baton_sessions_by_expiry ON baton_sessions (expires_at);
  CREATE INDEX baton_sessions_by_revocation ON baton_sessions (revoked_at) WHERE revoked_at IS NOT NULL;
  CREATE TABLE baton_revoked_access_tokens (
    jti        text PRIMARY KEY,
    expires_at bigint NOT NULL
  );
  CREATE INDEX baton_revoked_access_tokens_by_expiry ON baton_revoked_access_tokens (expires_at);
  CREATE TABLE baton_audit_events (
    id         bigserial PRIMARY KEY,
    at         bigint NOT NULL,
    type       text NOT NULL,
    user_id    text,
    session_id text,
    ip         text,
    user_agent text,
    detail     jsonb
  );
  CREATE TABLE baton_keys (
    id         integer PRIMARY KEY CHECK (id = 1),
    doc        jsonb NOT NULL,
    updated_at bigint NOT NULL
  );
  `,
  `
  CREATE TABLE baton_leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at bigint NOT NULL
  );
  `,
  `
  CREATE INDEX baton_audit_events_by_time ON baton_audit_events (at);
  `,
  `
  CREATE INDEX baton_audit_events_by_session ON baton_audit_events (session_id, id) WHERE session_id IS NOT NULL;
  `,
];

// An arbitrary constant: the advisory lock that serialises concurrent migrators.
const MIGRATION_LOCK = 0x6261746f; // "bato"

/**
 * Applies pending migrations in one transaction; safe when several instances start at once.
 * `onStep` hears of each migration as it is applied (1-based, out of `total`).
 */
export async function migratePostgres(
  pool: Pool,
  onStep?: (done: number, total: number, version: number) => void,
): Promise<MigrationReport> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS baton_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)',
    );
    const { rows } = await client.query<{ v: number | null }>(
      'SELECT max(version) AS v FROM baton_migrations',
    );
    const current = rows[0]?.v ?? 0;
    if (current > PG_MIGRATIONS.length) {
      throw new Error(
        `database schema version ${current} is newer than this Baton (${PG_MIGRATIONS.length})`,
      );
    }
    const applied: MigrationReport['applied'] = [];
    for (let v = current; v < PG_MIGRATIONS.length; v++) {
      await client.query(PG_MIGRATIONS[v]!);
      await client.query(
        'INSERT INTO baton_migrations (version, applied_at) VALUES ($1, (extract(epoch FROM now()) * 1000)::bigint)',
        [v + 1],
      );
      applied.push({ version: v + 1, summary: summarizeMigration(PG_MIGRATIONS[v]!) });
      onStep?.(applied.length, PG_MIGRATIONS.length - current, v + 1);
    }
    await client.query('COMMIT');
    return { from: current, to: PG_MIGRATIONS.length, applied };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
