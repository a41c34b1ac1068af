import {
  type Clock,
  createAccounts,
  createLoginThrottle,
  createSessions,
  type PasswordHasher,
  type Random,
  systemClock,
  systemRandom,
} from '@baton/core';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { buildApp } from './app.js';
import type { Config } from './config.js';
import { createClientRegistry, DEFAULT_CLIENT_ID } from './http/clients.js';
import { loadOrCreateKeys } from './keys/key-file.js';
import { createArgon2Hasher } from './passwords.js';
import { createSqliteAuditSink } from './sqlite/audit-sink.js';
import { openDatabase } from './sqlite/database.js';
import { createSqliteSessionStore } from './sqlite/session-store.js';
import { createSqliteUserStore } from './sqlite/user-store.js';

export interface ServerOptions {
  logger?: FastifyServerOptions['logger'];
  clock?: Clock;
  random?: Random;
  hasher?: PasswordHasher;
}

export interface RunningServer {
  app: FastifyInstance;
  /** The base URL it listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Stops accepting, finishes in-flight requests, flushes the audit trail, closes the store. */
  close(): Promise<void>;
}

/**
 * Log options that keep credentials out of every line: headers are never logged (and the
 * sensitive ones are redacted should a serializer ever add them), and the URL is logged
 * without its query string, where a careless client might put a token.
 */
export const LOGGER_OPTIONS = Object.freeze({
  redact: {
    paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
    censor: '[redacted]',
  },
  serializers: {
    req(request: { id?: unknown; method?: string; url?: string; ip?: string }) {
      return {
        id: request.id,
        method: request.method,
        path: String(request.url ?? '').split('?')[0],
        ip: request.ip,
      };
    },
  },
});

/** The composition root: store → keys → domain → HTTP → listen. */
export async function startServer(config: Config, options: ServerOptions = {}): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const db = openDatabase(config.dataDir);
  const keys = await loadOrCreateKeys(
    config.dataDir,
    { alg: config.signingAlg, accessTokenTtl: config.accessTokenTtl },
    { clock, random },
  );
  const { keySet, refreshKey } = keys;
  // `baton keys rotate` edits the key file; every server on this data dir follows it.
  const stopWatching = keys.watch();

  let app: FastifyInstance | undefined;
  const audit = createSqliteAuditSink(db, (err) => app?.log.error({ err }, 'audit write failed'));
  const sessions = createSessions(
    { store: createSqliteSessionStore(db), keys: keySet, refreshKey, clock, random, audit },
    {
      issuer: config.issuer,
      audience: config.audience,
      accessTokenTtl: config.accessTokenTtl,
      refreshIdleTtl: config.refreshIdleTtl,
      sessionMaxAge: config.sessionMaxAge,
      reuseGrace: config.reuseGrace,
      defaultClientId: DEFAULT_CLIENT_ID,
    },
  );
  const hasher = options.hasher ?? createArgon2Hasher();
  const accounts = createAccounts({ users: createSqliteUserStore(db), hasher, clock, random, audit });
  const ping = db.prepare('SELECT 1');
  app = await buildApp(
    {
      config,
      sessions,
      accounts,
      clients: createClientRegistry(config.clients),
      throttle: createLoginThrottle({ clock }),
      ready: async () => ping.get() !== undefined,
    },
    { logger: options.logger },
  );
  const url = await app.listen({ port: config.port, host: config.host });
  const running = app;
  return {
    app: running,
    url,
    async close() {
      stopWatching();
      await running.close();
      audit.flush();
      db.close();
    },
  };
}
