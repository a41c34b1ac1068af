import type { Clock, SessionStore } from '@baton/core';
import type { Backend } from './backend.js';

export interface PrunerOptions {
  store: SessionStore;
  lease: Backend['lease'];
  clock: Clock;
  /** Who this instance is, for the lease. */
  holder: string;
  /** Revoked sessions are kept this long (ms) after revocation (deny-set catch-up needs one access-token lifetime). */
  keepRevokedFor: number;
  intervalMs?: number;
  batchSize?: number;
  /** Keeps the audit trail bounded: events older than `retention` (ms) or beyond `maxRows` go. */
  audit?: { prune: Backend['pruneAudit']; retention: number; maxRows: number };
  onError(error: unknown): void;
  onPruned?(count: number): void;
}

/** What one pruning pass deleted. */
export interface PruneCounts {
  /** Sessions past their end or long revoked, and denied access tokens past their expiry. */
  sessions: number;
  /** Audit events beyond the retention or the row cap. */
  audit: number;
}

/**
 * One pruning pass, now, in batches of `batchSize`, yielding between batches: what the
 * background job runs under its lease and `baton prune` runs directly. `onBatch` hears the
 * running counts after each batch.
 */
export async function pruneExpired(
  options: Pick<PrunerOptions, 'store' | 'clock' | 'keepRevokedFor' | 'batchSize' | 'audit'>,
  onBatch?: (counts: PruneCounts) => void,
): Promise<PruneCounts> {
  const batch = options.batchSize ?? 500;
  const now = options.clock.now();
  const counts: PruneCounts = { sessions: 0, audit: 0 };
  for (;;) {
    const deleted = await options.store.deleteExpired(
      options.clock.now(),
      now - options.keepRevokedFor,
      batch,
    );
    counts.sessions += deleted;
    onBatch?.(counts);
    if (deleted < batch) break;
    await new Promise((r) => setImmediate(r)); // let waiting requests run
  }
  if (options.audit) {
    const { prune, retention, maxRows } = options.audit;
    for (;;) {
      const deleted = await prune(now - retention, maxRows, batch);
      counts.audit += deleted;
      onBatch?.(counts);
      if (deleted < batch) break;
      await new Promise((r) => setImmediate(r));
    }
  }
  return counts;
}

/**
 * Deletes expired and long-revoked rows in small batches, yielding to requests between
 * batches, on one instance of a cluster at a time (a lease in the store). Returns a function
 * that stops it.
 */
export function startPruner(options: PrunerOptions): { runOnce(): Promise<number>; stop(): void } {
  const interval = options.intervalMs ?? 60_000;
  let running = false;

  async function runOnce(): Promise<number> {
    if (running) return 0;
    running = true;
    try {
      const now = options.clock.now();
      if (!(await options.lease('prune', options.holder, now, interval * 2))) return 0;
      const counts = await pruneExpired(options);
      const total = counts.sessions + counts.audit;
      options.onPruned?.(total);
      return total;
    } catch (error) {
      options.onError(error);
      return 0;
    } finally {
      running = false;
    }
  }

  const timer = setInterval(() => void runOnce(), interval);
  timer.unref();
  return { runOnce, stop: () => clearInterval(timer) };
}
