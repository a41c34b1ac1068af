import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';

/**
 * The machine's PostgreSQL and Redis. Tests that need them fail under CI (CI=true) when they
 * are missing, and skip with a visible reason elsewhere.
 */
export const PG_ADMIN_URL =
  process.env.BATON_TEST_PG_URL ??
  `postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/test`;
export const REDIS_URL = process.env.BATON_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function reachable(check: () => Promise<void>): Promise<string | null> {
  try {
    await check();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export async function postgresMissing(): Promise<string | false> {
  const problem = await reachable(async () => {
    const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
    await client.connect();
    await client.end();
  });
  return serviceVerdict('PostgreSQL', PG_ADMIN_URL, problem);
}

export async function redisMissing(): Promise<string | false> {
  const { Redis } = await import('ioredis');
  const problem = await reachable(async () => {
    const r = new Redis(REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      retryStrategy: () => null,
    });
    try {
      await r.connect();
      await r.ping();
    } finally {
      r.disconnect();
    }
  });
  return serviceVerdict('Redis', REDIS_URL, problem);
}

function serviceVerdict(name: string, url: string, problem: string | null): string | false {
  if (problem === null) return false;
  const reason = `${name} at ${url} is not reachable (${problem})`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must provide it (.ci/run starts it)`);
  return reason;
}

/** A fresh database on the machine's PostgreSQL; `drop` removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `baton_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
