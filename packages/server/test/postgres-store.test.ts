import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { makeSession, runStoreContract } from '@baton/core/testing';
import pg from 'pg';
import { openPostgresBackend } from '../src/postgres/backend.js';
import { migratePostgres } from '../src/postgres/migrations.js';
import { createPostgresSessionStore } from '../src/postgres/session-store.js';
import { bearer, call, signIn, startTestServer } from './helpers.js';
import { createTestDatabase, postgresMissing } from './services.js';

const missing = await postgresMissing();

describe('postgres', { skip: missing || false }, () => {
  runStoreContract('postgres', async () => {
    const db = await createTestDatabase();
    const backend = await openPostgresBackend(db.url, () => {});
    return {
      sessions: backend.sessions,
      users: backend.users,
      close: async () => {
        await backend.close();
        await db.drop();
      },
    };
  });

  describe('postgres specifics', () => {
    let db: Awaited<ReturnType<typeof createTestDatabase>>;
    before(async () => {
      db = await createTestDatabase();
    });
    after(() => db.drop());

    it('text PostgreSQL cannot store is a client error, never a 500', async () => {
      const server = await startTestServer({ BATON_STORE: 'postgres', DATABASE_URL: db.url });
      try {
        const nul = await call(server.url, 'POST', '/auth/login', {
          json: { email: 'a\u0000@b.co', password: 'long enough pw' },
        });
        assert.equal(nul.status, 401, nul.text);
        const { tokens } = await signIn(server.url);
        for (const path of ['/auth/sessions/%00', '/auth/sessions/a%00b']) {
          const r = await call(server.url, 'DELETE', path, { headers: bearer(tokens.data.access_token) });
          assert.ok(r.status >= 400 && r.status < 500, `${path}: ${r.status} ${r.text}`);
        }
        const refresh = await call(server.url, 'POST', '/auth/refresh', {
          json: { refresh_token: `${tokens.data.session_id}\u0000.0.abc` },
        });
        assert.ok(refresh.status >= 400 && refresh.status < 500, refresh.text);
      } finally {
        await server.close();
      }
    });

    it('migrations are safe when several instances start at once', async () => {
      const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: db.url, max: 1 }));
      try {
        await Promise.all(pools.map((p) => migratePostgres(p)));
        const { rows } = await pools[0]!.query('SELECT count(*)::int AS n FROM baton_migrations');
        assert.ok(rows[0].n >= 1);
      } finally {
        await Promise.all(pools.map((p) => p.end()));
      }
    });

    it('a rotation is a HOT update: it writes no index', async () => {
      const backend = await openPostgresBackend(db.url, () => {});
      const s = makeSession();
      await backend.sessions.createSession(s);
      for (let g = 0; g < 20; g++)
        assert.equal(await backend.sessions.rotateRefreshToken(s.id, g, g, {}), true);
      // A backend reports its table statistics when it exits: close the pool, then read them.
      await backend.close();
      const pool = new pg.Pool({ connectionString: db.url });
      try {
        let row: { upd: string; hot: string } | undefined;
        for (let i = 0; i < 50; i++) {
          const result = await pool.query<{ upd: string; hot: string }>(
            `SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'baton_sessions'`,
          );
          row = result.rows[0];
          if (row && Number(row.upd) >= 20) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(row && Number(row.upd) >= 20, `updates seen: ${row?.upd}`);
        assert.equal(Number(row.hot), Number(row.upd), 'every update was HOT');
      } finally {
        await pool.end();
      }
    });

    it('turns an unreachable database into temporarily_unavailable, fast', async () => {
      const pool = new pg.Pool({
        connectionString: 'postgres://x@127.0.0.1:1/none',
        connectionTimeoutMillis: 1000,
      });
      pool.on('error', () => {});
      const store = createPostgresSessionStore(pool);
      const started = Date.now();
      try {
        await assert.rejects(store.getSession('x'), { code: 'temporarily_unavailable', retryAfter: 1 });
        await assert.rejects(store.rotateRefreshToken('x', 0, 0, {}), { code: 'temporarily_unavailable' });
        assert.ok(Date.now() - started < 3000);
      } finally {
        await pool.end();
      }
    });
  });
});

if (missing) it(`postgres store tests skipped: ${missing}`, { skip: missing }, () => {});
