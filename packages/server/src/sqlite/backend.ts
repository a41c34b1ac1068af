import type { Statement } from 'better-sqlite3';
import { AUDIT_TIERS, type AuditRecord, auditRow, auditWhere } from '../audit-buffer.js';
import type { AuditFilter, Backend } from '../backend.js';
import { createFileKeyStore } from '../keys/key-file.js';
import { createSqliteAuditSink } from './audit-sink.js';
import { openDatabase } from './database.js';
import { createSqliteSessionStore } from './session-store.js';
import { createSqliteUserStore } from './user-store.js';

/** The embedded default: one SQLite file and `keys.json` in the data directory. */
export function openSqliteBackend(dataDir: string, onError: (error: unknown) => void): Backend {
  const db = openDatabase(dataDir);
  const audit = createSqliteAuditSink(db, onError);
  const ping = db.prepare('SELECT 1');
  // One prepared statement per combination of filters (at most 16), made on first use.
  const auditQueries = new Map<string, Statement<Array<string | number>, AuditRecord>>();
  const readAudit = (limit: number, filter: AuditFilter): AuditRecord[] => {
    const { where, values } = auditWhere(filter, () => '?');
    let query = auditQueries.get(where);
    if (!query) {
      query = db.prepare<Array<string | number>, AuditRecord>(
        `SELECT * FROM audit_events ${where} ORDER BY id DESC LIMIT ?`,
      );
      auditQueries.set(where, query);
    }
    return query.all(...values, limit);
  };
  const pruneOld = db.prepare(
    'DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ? ORDER BY id LIMIT ?)',
  );
  // Beyond the newest `maxRows` of its tier: routine events never push out notable ones.
  const pruneExcess = AUDIT_TIERS.map((tier) =>
    db.prepare<[number, number]>(
      `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE ${tier} AND id <= (
         SELECT id FROM audit_events WHERE ${tier} ORDER BY id DESC LIMIT 1 OFFSET ?) ORDER BY id LIMIT ?)`,
    ),
  );
  const lease = db.prepare<[{ name: string; holder: string; now: number; ttl: number }], { holder: string }>(
    `INSERT INTO leases (name, holder, expires_at) VALUES (@name, @holder, @now + @ttl)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.expires_at <= @now OR leases.holder = excluded.holder
     RETURNING holder`,
  );
  return {
    sessions: createSqliteSessionStore(db),
    users: createSqliteUserStore(db),
    audit,
    keys: createFileKeyStore(dataDir),
    async readAudit(limit, filter = {}) {
      return readAudit(limit, filter).map(auditRow);
    },
    async pruneAudit(before, maxRows, limit) {
      let done = pruneOld.run(before, limit).changes;
      for (const prune of pruneExcess) if (done < limit) done += prune.run(maxRows, limit - done).changes;
      return done;
    },
    lease: async (name, holder, now, ttl) => lease.get({ name, holder, now, ttl })?.holder === holder,
    ping: async () => ping.get() !== undefined,
    async close() {
      await audit.flush();
      db.close();
    },
  };
}
