#!/usr/bin/env node
import {
  type KeyPolicy,
  keyStates,
  loadSigningKey,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  systemClock,
} from '@baton/core';
import { type Backend, openBackend } from './backend.js';
import { type Config, ConfigError, loadConfig, parseDuration } from './config.js';
import { addSigningKey, type KeyStore, removeSigningKeys, retireSigningKey } from './keys/key-store.js';

/**
 * `baton <command>`: operator commands on the data directory of BATON_DATA_DIR (the same
 * configuration as the server). Exit codes: 0 ok, 1 failure, 2 usage.
 */
const USAGE = `Usage: baton <command> [options]

Commands:
  serve                          run the server (same as npm start)
  keys list [--json]             list signing keys and their state
  keys rotate [--activate-in D]  add a signing key; it is published now and signs after D
                                 (default 10m, longer than the JWKS cache time of 5 min)
                                 [--alg EdDSA|ES256|RS256]  (default BATON_SIGNING_ALG)
  keys retire <kid>              stop a key signing now; it stays published until its tokens expire
                                 (after switching every server to another algorithm, say)
  keys prune                     remove keys that can no longer verify a live token
  audit tail [-n N] [--json]     the newest N security events (default 50)

Configuration comes from the environment, as for the server (BATON_STORE, DATABASE_URL or
BATON_DATA_DIR, BATON_SIGNING_ALG). Key lifetimes use the longest access-token lifetime any
server recorded in the key store.`;

class UsageError extends Error {}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
  return value;
}

async function run(args: string[]): Promise<number> {
  const [command, sub] = args;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'serve') {
    await import('./main.js');
    return -1; // keep running
  }
  if (command !== 'keys' && command !== 'audit') throw new UsageError(`unknown command: ${command}`);
  if (args.includes('--help')) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig();
  const now = systemClock.now();
  const policy = { alg: config.signingAlg, accessTokenTtl: config.accessTokenTtl };
  const backend = await openBackend(config, () => {});
  try {
    if (command === 'audit') return await auditCommand(sub, args, backend);
    return await keysCommand(sub, args, backend.keys, config, now, policy);
  } finally {
    await backend.close();
  }
}

/** `audit tail [-n N] [--json]`: the newest security events, oldest first, without token text. */
async function auditCommand(sub: string | undefined, args: string[], backend: Backend): Promise<number> {
  if (sub !== 'tail') throw new UsageError(`unknown audit command: ${sub ?? '(none)'}`);
  const countText = option(args, '-n') ?? '50';
  if (!/^\d{1,6}$/.test(countText)) throw new UsageError('-n: expected a number of events');
  const rows = (await backend.readAudit(Number(countText))).reverse();
  if (args.includes('--json')) {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  for (const r of rows) {
    const who = [
      r.userId && `user ${r.userId}`,
      r.sessionId && `session ${r.sessionId}`,
      r.ip && `from ${r.ip}`,
    ]
      .filter(Boolean)
      .join(', ');
    const detail = r.detail ? ` ${JSON.stringify(r.detail)}` : '';
    console.log(`${new Date(r.at).toISOString()}  ${r.type.padEnd(20)} ${who}${detail}`);
  }
  return 0;
}

async function keysCommand(
  sub: string | undefined,
  args: string[],
  store: KeyStore,
  config: Config,
  now: number,
  initialPolicy: KeyPolicy,
): Promise<number> {
  let policy = initialPolicy;
  const doc = await store.read();
  const stored = async () => doc?.signingKeys ?? [];
  // The servers' own lifetime, not this shell's: never prune a key a server still needs.
  policy = { ...policy, accessTokenTtl: Math.max(policy.accessTokenTtl, doc?.maxAccessTokenTtl ?? 0) };

  if (sub === 'list') {
    const keys = (await stored()).map(loadSigningKey);
    const { views } = keyStates(keys, now, policy);
    const rows = views.map((v) => ({
      kid: v.key.kid,
      alg: v.key.alg,
      state: v.state,
      created_at: new Date(v.key.createdAt).toISOString(),
      activates_at: new Date(v.key.activatesAt).toISOString(),
      ...(v.endedAt === null ? {} : { stopped_signing_at: new Date(v.endedAt).toISOString() }),
    }));
    if (args.includes('--json')) console.log(JSON.stringify(rows, null, 2));
    else
      for (const r of rows)
        console.log(`${r.kid}  ${r.alg.padEnd(5)}  ${r.state.padEnd(10)}  activates ${r.activates_at}`);
    return 0;
  }

  if (sub === 'rotate') {
    const delayText = option(args, '--activate-in') ?? '10m';
    const delay = parseDuration(delayText);
    if (delay === null)
      throw new UsageError(`--activate-in: expected a duration such as 10m, got ${delayText}`);
    const alg = (option(args, '--alg') ?? config.signingAlg) as SigningAlgorithm;
    if (!SIGNING_ALGORITHMS.includes(alg)) throw new UsageError('--alg: expected EdDSA, ES256 or RS256');
    if (delay < 5 * 60_000) {
      console.error(
        'baton: warning: the new key signs in less than 5 minutes; verifiers caching the JWKS longer may refuse its tokens until they refetch',
      );
    }
    const key = await addSigningKey(store, alg, { createdAt: now, activatesAt: now + delay });
    console.log(
      `added ${alg} key ${key.kid}: published now, signs from ${new Date(now + delay).toISOString()}`,
    );
    return 0;
  }

  if (sub === 'retire') {
    const kid = args[2];
    if (!kid || kid.startsWith('--')) throw new UsageError('keys retire needs a key id (see keys list)');
    const keys = (await stored()).map(loadSigningKey);
    const target = keys.find((k) => k.kid === kid);
    if (!target) throw new Error(`no key ${kid}`);
    const after = keys.map((k) => (k.kid === kid ? { ...k, retiredAt: now } : k));
    if (!keyStates(after, now, policy).signer) {
      throw new Error(
        `refusing to retire ${kid}: no other active ${policy.alg} key would sign (run keys rotate first)`,
      );
    }
    await retireSigningKey(store, kid, now);
    console.log(`retired ${kid}: it no longer signs and leaves the JWKS once its last tokens have expired`);
    return 0;
  }

  if (sub === 'prune') {
    const keys = (await stored()).map(loadSigningKey);
    const expired = keyStates(keys, now, policy)
      .views.filter((v) => v.state === 'expired')
      .map((v) => v.key.kid);
    if (expired.length > 0) await removeSigningKeys(store, expired);
    console.log(expired.length === 0 ? 'no expired keys' : `removed ${expired.join(', ')}`);
    return 0;
  }
  throw new UsageError(`unknown keys command: ${sub ?? '(none)'}`);
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`baton: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else if (error instanceof ConfigError) {
      for (const p of error.problems) console.error(`baton: configuration error: ${p}`);
      process.exitCode = 1;
    } else {
      console.error(`baton: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    }
  },
);
