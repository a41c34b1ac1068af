/**
 * Schema versions, applied in order; `PRAGMA user_version` records how many have run.
 *
 * A session is one row. Its refresh-token chain is the `generation` counter: no token table,
 * no token text. A rotation is one UPDATE of one row that touches no indexed column, so it
 * dirties one b-tree page. WITHOUT ROWID keeps the row in the primary-key b-tree itself.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
  ) WITHOUT ROWID;

  CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    generation    INTEGER NOT NULL,
    rotated_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    salt          BLOB NOT NULL,
    revoked_at    INTEGER,
    revoke_reason TEXT,
    user_agent    TEXT,
    ip            TEXT
  ) WITHOUT ROWID;
  CREATE INDEX sessions_by_user ON sessions (user_id, created_at);
  CREATE INDEX sessions_by_expiry ON sessions (expires_at);

  CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    type       TEXT NOT NULL,
    user_id    TEXT,
    session_id TEXT,
    ip         TEXT,
    user_agent TEXT,
    detail     TEXT
  );
  `,
  `
  -- RFC 7009 revocation of single access tokens, kept until the token would expire anyway.
  CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  -- Pruning and deny-set catch-up look sessions up by revocation time. revoked_at changes
  -- once per session (at revocation), never on rotation, so rotations stay index-free.
  CREATE INDEX sessions_by_revocation ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
  CREATE INDEX revoked_access_tokens_by_expiry ON revoked_access_tokens (expires_at);
  `,
  `
  -- Leases: background jobs (pruning) run on one instance at a time.
  CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  `
  CREATE INDEX audit_events_by_time ON audit_events (at);
  `,
  `
  -- A session's lineage (reuse reports, /admin/audit?session_id=), newest first, without
  -- reading the whole trail (which on SQLite would hold up the event loop). Not by user: each
  -- index costs every rotation a write, and only an operator's query needs that one.
  CREATE INDEX audit_events_by_session ON audit_events (session_id, id) WHERE session_id IS NOT NULL;
  `,
];
