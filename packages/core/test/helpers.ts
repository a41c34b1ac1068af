import { randomBytes } from 'node:crypto';
import type { AccessTokenClaims } from '../src/access-token.js';
import type { AuditEvent } from '../src/audit.js';
import {
  createKeySet,
  generateSigningKey,
  type KeySet,
  loadSigningKey,
  type SigningAlgorithm,
} from '../src/keys.js';
import { systemRandom } from '../src/runtime.js';
import { createSessions, type SessionConfig, type Sessions } from '../src/sessions.js';
import type { SessionStore } from '../src/store.js';
import { createManualClock, type ManualClock } from '../src/testing/manual-clock.js';
import { createMemoryStores } from '../src/testing/memory-store.js';

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const DAY = 86_400 * SECOND;

export const CONFIG: SessionConfig = {
  issuer: 'http://127.0.0.1:8080',
  audience: 'baton',
  accessTokenTtl: 15 * MINUTE,
  refreshIdleTtl: 14 * DAY,
  sessionMaxAge: 30 * DAY,
  reuseGrace: 10 * SECOND,
  defaultClientId: 'baton',
};

export async function makeKeySet(alg: SigningAlgorithm = 'EdDSA'): Promise<KeySet> {
  return createKeySet([loadSigningKey(await generateSigningKey(alg, 0))], {
    alg,
    accessTokenTtl: 15 * MINUTE,
  });
}

export interface Harness {
  sessions: Sessions;
  store: SessionStore;
  clock: ManualClock;
  keys: KeySet;
  events: AuditEvent[];
}

export async function harness(
  overrides: Partial<SessionConfig> = {},
  alg: SigningAlgorithm = 'EdDSA',
): Promise<Harness> {
  const clock = createManualClock();
  const store = createMemoryStores().sessions;
  const keys = await makeKeySet(alg);
  const events: AuditEvent[] = [];
  const sessions = createSessions(
    {
      store,
      keys,
      clock,
      random: systemRandom,
      refreshKey: { key: randomBytes(32) },
      audit: { record: (e) => events.push(e) },
    },
    { ...CONFIG, ...overrides },
  );
  return { sessions, store, clock, keys, events };
}

/** Resolves to the error code a promise rejects with, or fails if it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  throw new Error('expected a rejection');
}

/** The instant the token tests run at (manual clocks start here too). */
export const NOW = Date.UTC(2026, 0, 1);

/** base64url of a string, or of a value's JSON: for hand-built JWT parts. */
export const b64 = (v: unknown): string =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Access-token claims issued at NOW for 15 minutes, with `over` replacing any of them. */
export const testClaims = (over: Record<string, unknown> = {}): AccessTokenClaims =>
  ({
    iss: 'https://baton.test',
    sub: 'u1',
    aud: 'baton',
    client_id: 'baton',
    sid: 's1',
    jti: 'j1',
    iat: NOW / 1000,
    exp: NOW / 1000 + 900,
    ...over,
  }) as AccessTokenClaims;
