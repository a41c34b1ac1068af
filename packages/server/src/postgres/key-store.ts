import type { Pool } from 'pg';
import { type KeyDocument, type KeyStore, parseKeyDocument } from '../keys/key-store.js';

/**
 * The key document as one row of `baton_keys`, shared by every instance of a cluster.
 * Updates lock the row (SELECT … FOR UPDATE), so concurrent `keys rotate` runs serialise.
 * Instances poll `updated_at` every few seconds to follow rotations.
 */
export function createPostgresKeyStore(pool: Pool, pollMs = 2000): KeyStore {
  const read = async (): Promise<KeyDocument | null> => {
    const { rows } = await pool.query<{ doc: unknown }>('SELECT doc FROM baton_keys WHERE id = 1');
    return rows[0] ? parseKeyDocument(rows[0].doc, 'baton_keys') : null;
  };
  return {
    read,
    async create(doc) {
      await pool.query(
        `INSERT INTO baton_keys (id, doc, updated_at) VALUES (1, $1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)
         ON CONFLICT (id) DO NOTHING`,
        [JSON.stringify(doc)],
      );
      const winner = await read();
      if (!winner) throw new Error('baton_keys: the key row vanished');
      return winner;
    },
    async update(change) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query<{ doc: unknown }>(
          'SELECT doc FROM baton_keys WHERE id = 1 FOR UPDATE',
        );
        if (!rows[0]) throw new Error('no keys yet: start the server once first');
        const next = change(parseKeyDocument(rows[0].doc, 'baton_keys'));
        await client.query(
          `UPDATE baton_keys SET doc = $1, updated_at = (extract(epoch FROM clock_timestamp()) * 1000)::bigint WHERE id = 1`,
          [JSON.stringify(next)],
        );
        await client.query('COMMIT');
        return next;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    watch(onChange) {
      let last: string | null = null;
      const timer = setInterval(() => {
        pool
          .query<{ updated_at: string }>('SELECT updated_at FROM baton_keys WHERE id = 1')
          .then(({ rows }) => {
            const seen = rows[0]?.updated_at ?? null;
            if (last !== null && seen !== last) onChange();
            last = seen;
          })
          .catch(() => {}); // the database is away; the next poll retries
      }, pollMs);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
