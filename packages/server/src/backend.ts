import type { SessionStore, UserStore } from '@baton/core';

/** One stored audit event, as read back. */
export interface AuditRow {
  id: number;
  at: number;
  type: string;
  userId: string | null;
  sessionId: string | null;
  ip: string | null;
  userAgent: string | null;
  detail: Record<string, unknown> | null;
}

/** Narrows an audit query; `beforeId` pages backwards. */
export interface AuditFilter {
  type?: string | undefined;
  userId?: string | undefined;
  sessionId?: string | undefined;
  beforeId?: number | undefined;
}

import type { BufferedAuditSink } from './audit-buffer.js';
import type { Config } from './config.js';
import type { KeyStore } from './keys/key-store.js';

/** Everything persistent, for one kind of store: what the composition root and the CLI open. */
export interface Backend {
  sessions: SessionStore;
  users: UserStore;
  audit: BufferedAuditSink;
  keys: KeyStore;
  /**
   * Takes or renews the named lease for `holder` until `now + ttl`; true when `holder` has it.
   * Background jobs use it to run on one instance of a cluster at a time.
   */
  lease(name: string, holder: string, now: number, ttl: number): Promise<boolean>;
  /** The newest audit events (matching `filter`), newest first. */
  readAudit(limit: number, filter?: AuditFilter): Promise<AuditRow[]>;
  /**
   * Keeps the audit trail bounded: deletes at most `limit` events older than `before`, or
   * beyond the newest `maxRows` of their tier (routine or notable, `AUDIT_TIERS`). Returns how
   * many it deleted.
   */
  pruneAudit(before: number, maxRows: number, limit: number): Promise<number>;
  /** True when the store answers (for /readyz). */
  ping(): Promise<boolean>;
  /** Flushes the audit buffer and closes connections. */
  close(): Promise<void>;
}

/** Opens the configured backend; PostgreSQL's driver is loaded only when configured. */
export async function openBackend(config: Config, onError: (error: unknown) => void): Promise<Backend> {
  if (config.store === 'postgres') {
    const { openPostgresBackend } = await import('./postgres/backend.js');
    return openPostgresBackend(config.databaseUrl!, onError);
  }
  const { openSqliteBackend } = await import('./sqlite/backend.js');
  return openSqliteBackend(config.dataDir, onError);
}
