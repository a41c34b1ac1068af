import type { Config } from './config.js';
import { redactUrl } from './config-redact.js';
import type { MigrationReport } from './migration-report.js';

/**
 * `baton migrate`: brings the configured store's schema up to date without starting anything
 * else (servers also migrate when they start). Returns where, and what was applied.
 */
export async function migrateStore(
  config: Config,
  onStep?: (done: number, total: number, version: number) => void,
): Promise<MigrationReport & { store: Config['store']; location: string }> {
  if (config.store === 'postgres') {
    const pg = (await import('pg')).default;
    const { migratePostgres } = await import('./postgres/migrations.js');
    const pool = new pg.Pool({
      connectionString: config.databaseUrl!,
      max: 1,
      connectionTimeoutMillis: 5000,
    });
    pool.on('error', () => {}); // surfaced by the query that meets it
    try {
      const report = await migratePostgres(pool, onStep);
      return { store: 'postgres', location: redactUrl(config.databaseUrl!), ...report };
    } finally {
      await pool.end();
    }
  }
  const { join } = await import('node:path');
  const { connectDatabase, migrate } = await import('./sqlite/database.js');
  const db = connectDatabase(config.dataDir);
  try {
    return { store: 'sqlite', location: join(config.dataDir, 'baton.db'), ...migrate(db, onStep) };
  } finally {
    db.close();
  }
}
