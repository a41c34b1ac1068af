import pg from 'pg';
import { AUDIT_TIERS, type AuditRecord, auditRow, auditWhere } from '../audit-buffer.js';
import type { Backend } from '../backend.js';
import { createPostgresAuditSink } from './audit-sink.js';
import { createPostgresKeyStore } from './key-store.js';
import { migratePostgres } from './migrations.js';
import { createPostgresSessionStore } from './session-store.js';
import { createPostgresUserStore } from './user-store.js';

/**
 * PostgreSQL for clusters of stateless instances. Timeouts everywhere, so that a database
 * that stops answering makes requests fail fast (503) rather than hang.
 */
export async function openPostgresBackend(
  databaseUrl: string,
  onError: (error: unknown) => void,
): Promise<Backend> {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 10,
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 5000,
    query_timeout: 6000,
    application_name: 'baton',
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', onError);
  await migratePostgres(pool);
  const audit = createPostgresAuditSink(pool, onError);
  return {
    sessions: createPostgresSessionStore(pool),
    users: createPostgresUserStore(pool),
    audit,
    keys: createPostgresKeyStore(pool),
    async readAudit(limit, filter = {}) {
      const { where, values } = auditWhere(filter, (i) => `$${i}`);
      const { rows } = await pool.query<AuditRecord>(
        `SELECT * FROM baton_audit_events ${where} ORDER BY id DESC LIMIT $${values.length + 1}`,
        [...values, limit],
      );
      return rows.map(auditRow);
    },
    async pruneAudit(before, maxRows, limit) {
      const old = await pool.query(
        'DELETE FROM baton_audit_events WHERE id IN (SELECT id FROM baton_audit_events WHERE at < $1 ORDER BY id LIMIT $2)',
        [before, limit],
      );
      let done = old.rowCount ?? 0;
      // Beyond the newest `maxRows` of its tier: routine events never push out notable ones.
      for (const tier of AUDIT_TIERS) {
        if (done >= limit) break;
        const excess = await pool.query(
          `DELETE FROM baton_audit_events WHERE id IN (SELECT id FROM baton_audit_events WHERE ${tier} AND id <= (
             SELECT id FROM baton_audit_events WHERE ${tier} ORDER BY id DESC LIMIT 1 OFFSET $1) ORDER BY id LIMIT $2)`,
          [maxRows, limit - done],
        );
        done += excess.rowCount ?? 0;
      }
      return done;
    },
    async lease(name, holder, now, ttl) {
      const { rows } = await pool.query<{ holder: string }>(
        `INSERT INTO baton_leases (name, holder, expires_at) VALUES ($1, $2, $3::bigint + $4::bigint)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
           WHERE baton_leases.expires_at <= $3 OR baton_leases.holder = excluded.holder
         RETURNING holder`,
        [name, holder, now, ttl],
      );
      return rows[0]?.holder === holder;
    },
    async ping() {
      await pool.query('SELECT 1');
      return true;
    },
    async close() {
      await audit.flush();
      await pool.end();
    },
  };
}
