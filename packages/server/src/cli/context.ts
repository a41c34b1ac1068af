import {
  type Accounts,
  createAccounts,
  createSessions,
  type DenySet,
  type KeyPolicy,
  type KeySet,
  keyStates,
  loadSigningKey,
  type RevocationBus,
  type Sessions,
  systemClock,
  systemRandom,
} from '@baton/core';
import { type Backend, openBackend } from '../backend.js';
import { type Config, sessionConfig } from '../config.js';
import { loadEffectiveConfig } from '../config-file.js';
import { redactUrl } from '../config-redact.js';
import { DEFAULT_CLIENT_ID } from '../http/clients.js';
import type { KeyDocument } from '../keys/key-store.js';
import { createArgon2Hasher } from '../passwords.js';
import { err } from './output.js';

/** The configuration the server would run with (environment over baton.config.json). */
export function cliConfig(): Config {
  const { config, warnings } = loadEffectiveConfig();
  for (const w of warnings) err(`baton: warning: ${w}`);
  return config;
}

/** Opens the store, runs `use`, then flushes the audit trail and closes. */
export async function withBackend<T>(config: Config, use: (backend: Backend) => Promise<T>): Promise<T> {
  const backend = await openBackend(config, (error) =>
    err(`baton: store error: ${error instanceof Error ? error.message : String(error)}`),
  );
  try {
    return await use(backend);
  } finally {
    await backend.close();
  }
}

/**
 * The key policy tools use: the servers' own longest access-token lifetime (recorded in the
 * key store), never this shell's, so that no key a server still needs is treated as expired.
 */
export function keyPolicy(config: Config, doc: KeyDocument | null): KeyPolicy {
  return {
    alg: config.signingAlg,
    accessTokenTtl: Math.max(config.accessTokenTtl, doc?.maxAccessTokenTtl ?? 0),
  };
}

/**
 * The keys the servers publish now, by the core's lifecycle rule (`keyStates`), read from the
 * key store without creating or changing anything. The CLI never signs.
 */
export function publishedKeys(doc: KeyDocument | null, policy: KeyPolicy, now: number): KeySet {
  const keys = (doc?.signingKeys ?? []).map(loadSigningKey);
  const visible = keyStates(keys, now, policy).views.filter((v) => v.state !== 'expired');
  const byKid = new Map(visible.map((v) => [v.key.kid, v.key]));
  return {
    signer() {
      throw new Error('the baton CLI does not sign tokens');
    },
    find: (kid) => byKid.get(kid),
    jwks: () => ({ keys: [...byKid.values()].map((k) => ({ ...k.publicJwk })) }),
  };
}

export interface Operator {
  backend: Backend;
  sessions: Sessions;
  accounts: Accounts;
  /**
   * After revocations: null when every one reached the cluster (or there is no cluster to
   * tell), else what went wrong.
   */
  fanOutProblem(): string | null;
}

/**
 * The domain as the servers compose it (server.ts), for operator commands: revocations go
 * through `Sessions`, so they are audited and, with REDIS_URL, published on the same Redis
 * revocation bus the servers subscribe to, reaching every running instance's deny-set and,
 * through it, resource servers following `/oauth/revocations`.
 */
export async function withOperator<T>(config: Config, use: (op: Operator) => Promise<T>): Promise<T> {
  return withBackend(config, async (backend) => {
    const clock = systemClock;
    const doc = await backend.keys.read();
    let revocations: { denySet: DenySet; bus: RevocationBus } | undefined;
    let closeBus = async (): Promise<void> => {};
    let failures = 0;
    let busProblem: string | null = null;
    if (config.redisUrl) {
      const { createRevocationFanOut } = await import('../redis/revocation-bus.js');
      const { denySet, bus } = createRevocationFanOut({
        url: config.redisUrl,
        prefix: config.redisPrefix,
        accessTokenTtl: config.accessTokenTtl,
        store: backend.sessions,
        now: clock.now,
        onError: () => {},
      });
      closeBus = () => bus.close();
      try {
        await bus.ready(5000);
      } catch {
        busProblem = `Redis at ${redactUrl(config.redisUrl)} did not answer`;
      }
      // The domain never lets a failed publish fail a revocation (the store has it); here the
      // operator must hear of it, because servers in fan-out mode would not.
      revocations = {
        denySet,
        bus: {
          healthy: () => bus.healthy(),
          async publish(event) {
            try {
              await bus.publish(event);
            } catch (error) {
              failures++;
              throw error;
            }
          },
        },
      };
    }
    try {
      const sessions = createSessions(
        {
          store: backend.sessions,
          keys: publishedKeys(doc, keyPolicy(config, doc), clock.now()),
          refreshKey: { key: Buffer.from(doc?.refreshTokenKey ?? '', 'base64') },
          clock,
          random: systemRandom,
          audit: backend.audit,
          revocations,
        },
        sessionConfig(config, DEFAULT_CLIENT_ID),
      );
      const accounts = createAccounts({
        users: backend.users,
        hasher: createArgon2Hasher(),
        clock,
        random: systemRandom,
        audit: backend.audit,
      });
      return await use({
        backend,
        sessions,
        accounts,
        fanOutProblem: () =>
          failures === 0
            ? null
            : `${busProblem ?? 'publishing on Redis failed'}: servers whose Redis link is up accept the revoked sessions' access tokens until they expire (at most ${Math.round(config.accessTokenTtl / 60_000)} min)`,
      });
    } finally {
      await closeBus();
    }
  });
}
