import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { makeSession, runStoreContract } from '@baton/core/testing';
import { openDatabase } from '../src/sqlite/database.js';
import { createSqliteSessionStore } from '../src/sqlite/session-store.js';
import { createSqliteUserStore } from '../src/sqlite/user-store.js';

runStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-store-'));
  const db = openDatabase(dir);
  return {
    sessions: createSqliteSessionStore(db),
    users: createSqliteUserStore(db),
    close: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

it('sqlite: a rotation is one UPDATE of one row that touches no index', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-plan-'));
  const db = openDatabase(dir);
  try {
    // The rotation statement uses the primary key only, and none of its SET columns is indexed.
    const plan = db
      .prepare(
        `EXPLAIN QUERY PLAN UPDATE sessions SET generation = generation + 1, rotated_at = 1, last_used_at = 1
         WHERE id = 'x' AND generation = 0 AND revoked_at IS NULL`,
      )
      .all() as Array<{ detail: string }>;
    assert.match(plan.map((p) => p.detail).join('\n'), /USING PRIMARY KEY \(id=\?\)/);
    const indexed = db
      .prepare(`SELECT ii.name FROM pragma_index_list('sessions') il, pragma_index_info(il.name) ii`)
      .all() as Array<{ name: string }>;
    const rotationColumns = ['generation', 'rotated_at', 'last_used_at', 'ip', 'user_agent'];
    assert.deepEqual(
      indexed.map((c) => c.name).filter((n) => rotationColumns.includes(n)),
      [],
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

it('sqlite: migrations are idempotent and survive a reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-migrate-'));
  try {
    const s = makeSession();
    const db1 = openDatabase(dir);
    await createSqliteSessionStore(db1).createSession(s);
    db1.close();
    const db2 = openDatabase(dir);
    assert.equal((await createSqliteSessionStore(db2).getSession(s.id))?.id, s.id);
    assert.equal(db2.pragma('journal_mode', { simple: true }), 'wal');
    db2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
