import {
  keyStates,
  loadSigningKey,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  systemClock,
} from '@baton/core';
import { auditEventJson } from '../audit-json.js';
import { parseDuration } from '../config.js';
import { addSigningKey, removeSigningKeys, retireSigningKey } from '../keys/key-store.js';
import { type Command, JSON_OPTION, shownArgument, shownValue, text, UsageError } from './args.js';
import { cliConfig, keyPolicy, withBackend } from './context.js';
import { err, isoTime, oneLine, out, printJson, table } from './output.js';

export const keysCommands: Command[] = [
  {
    name: 'keys list',
    usage: 'keys list [--json]',
    summary: 'list signing keys and their state',
    help: `States: pending (published, not signing yet), active (signs), superseded (stopped signing,
still published for its tokens), expired (can go: keys prune). A live key of another algorithm
than BATON_SIGNING_ALG shows as "active on <alg> servers": it signs only where that is set.`,
    options: JSON_OPTION,
    async run({ values }) {
      const config = cliConfig();
      return withBackend(config, async (backend) => {
        const doc = await backend.keys.read();
        const now = systemClock.now();
        const keys = (doc?.signingKeys ?? []).map(loadSigningKey);
        const policy = keyPolicy(config, doc);
        const rows = keyStates(keys, now, policy).views.map((v) => ({
          kid: v.key.kid,
          alg: v.key.alg,
          // keyStates judges from this configuration's algorithm: a live key of another one
          // has not stopped signing, it signs on the servers configured for it.
          state:
            v.state === 'superseded' && v.endedAt === null && v.key.alg !== policy.alg
              ? `active on ${v.key.alg} servers`
              : v.state,
          created_at: new Date(v.key.createdAt).toISOString(),
          activates_at: new Date(v.key.activatesAt).toISOString(),
          ...(v.endedAt === null ? {} : { stopped_signing_at: new Date(v.endedAt).toISOString() }),
        }));
        if (values.json) printJson(rows);
        else if (rows.length === 0) out('no keys yet: the first server start creates them');
        else
          for (const line of table(
            ['KID', 'ALG', 'STATE', 'ACTIVATES'],
            rows.map((r) => [r.kid, r.alg, r.state, isoTime(Date.parse(r.activates_at))]),
          ))
            out(line);
        return 0;
      });
    },
  },
  {
    name: 'keys rotate',
    usage: 'keys rotate [--activate-in D] [--alg EdDSA|ES256|RS256] [--json]',
    summary: 'add a signing key: published now, signs after D (default 10m)',
    help: `--activate-in D  when the new key starts signing (default 10m: longer than the 5 min
                 JWKS cache of verifiers, so every verifier knows it before its first token)
--alg A          its algorithm (default BATON_SIGNING_ALG)`,
    options: { ...JSON_OPTION, 'activate-in': { type: 'string' }, alg: { type: 'string' } },
    async run({ values }, command) {
      const delayText = text(values, 'activate-in') ?? '10m';
      const delay = parseDuration(delayText);
      if (delay === null)
        throw new UsageError(
          `--activate-in: expected a duration such as 10m, got ${shownArgument(delayText)}`,
          command,
        );
      const config = cliConfig();
      const alg = (text(values, 'alg') ?? config.signingAlg) as SigningAlgorithm;
      if (!SIGNING_ALGORITHMS.includes(alg))
        throw new UsageError('--alg: expected EdDSA, ES256 or RS256', command);
      if (delay < 5 * 60_000) {
        err(
          'baton: warning: the new key signs in less than 5 minutes; verifiers caching the JWKS longer may refuse its tokens until they refetch',
        );
      }
      return withBackend(config, async (backend) => {
        const now = systemClock.now();
        const key = await addSigningKey(backend.keys, alg, { createdAt: now, activatesAt: now + delay });
        backend.audit.record({
          type: 'key_rotated',
          at: now,
          detail: { kid: key.kid, alg, activatesAt: now + delay },
        });
        const activates = new Date(now + delay).toISOString();
        // Servers sign with keys of their own algorithm (BATON_SIGNING_ALG) only.
        const signsHere = alg === config.signingAlg;
        if (values.json) printJson({ kid: key.kid, alg, activates_at: activates, signs_here: signsHere });
        else
          out(
            signsHere
              ? `added ${alg} key ${key.kid}: published now, signs from ${activates}`
              : `added ${alg} key ${key.kid}: published now; it signs from ${activates} on servers with BATON_SIGNING_ALG=${alg} (this configuration signs with ${config.signingAlg})`,
          );
        return 0;
      });
    },
  },
  {
    name: 'keys retire',
    usage: 'keys retire <kid> [--json]',
    summary: 'stop a key signing now; it stays published until its tokens expire',
    help: `Use it after switching every server to another algorithm, say. Refused when no other
active key of the configured algorithm would sign (run keys rotate first).`,
    options: JSON_OPTION,
    positionals: [1, 1],
    async run({ values, positionals }) {
      const kid = positionals[0]!;
      const config = cliConfig();
      return withBackend(config, async (backend) => {
        const now = systemClock.now();
        const doc = await backend.keys.read();
        const policy = keyPolicy(config, doc);
        const keys = (doc?.signingKeys ?? []).map(loadSigningKey);
        const existing = keys.find((k) => k.kid === kid);
        if (!existing) throw new Error(`no key ${shownValue(kid)} (see keys list)`);
        if (existing.retiredAt !== null && existing.retiredAt <= now) {
          // Retiring again would restart its time in the JWKS: leave it as it is.
          const at = new Date(existing.retiredAt).toISOString();
          if (values.json) printJson({ kid, retired_at: at, already_retired: true });
          else out(`${kid} was already retired (${at})`);
          return 0;
        }
        const after = keys.map((k) => (k.kid === kid ? { ...k, retiredAt: now } : k));
        if (!keyStates(after, now, policy).signer) {
          throw new Error(
            `refusing to retire ${kid}: no other active ${policy.alg} key would sign (run keys rotate first)`,
          );
        }
        await retireSigningKey(backend.keys, kid, now);
        backend.audit.record({ type: 'key_retired', at: now, detail: { kid } });
        if (values.json) printJson({ kid, retired_at: new Date(now).toISOString() });
        else out(`retired ${kid}: it no longer signs and leaves the JWKS once its last tokens have expired`);
        return 0;
      });
    },
  },
  {
    name: 'keys prune',
    usage: 'keys prune [--json]',
    summary: 'remove keys that can no longer verify a live token',
    help: 'Only expired keys go: those that stopped signing longer ago than the longest access-token lifetime.',
    options: JSON_OPTION,
    async run({ values }) {
      const config = cliConfig();
      return withBackend(config, async (backend) => {
        const now = systemClock.now();
        const doc = await backend.keys.read();
        const keys = (doc?.signingKeys ?? []).map(loadSigningKey);
        const expired = keyStates(keys, now, keyPolicy(config, doc))
          .views.filter((v) => v.state === 'expired')
          .map((v) => v.key.kid);
        if (expired.length > 0) {
          await removeSigningKeys(backend.keys, expired);
          backend.audit.record({ type: 'keys_removed', at: now, detail: { kids: expired.join(' ') } });
        }
        if (values.json) printJson({ removed: expired });
        else out(expired.length === 0 ? 'no expired keys' : `removed ${expired.join(', ')}`);
        return 0;
      });
    },
  },
];

/** Events `audit tail` reads at once: they are all held in memory. For more, the admin endpoint pages. */
const MAX_AUDIT_TAIL = 100_000;

export const auditCommands: Command[] = [
  {
    name: 'audit tail',
    usage: 'audit tail [-n N] [--json]',
    summary: 'the newest N security events (default 50), oldest first',
    help: 'Events carry no token, password or secret text.',
    options: { ...JSON_OPTION, n: { type: 'string', short: 'n' } },
    async run({ values }, command) {
      const countText = text(values, 'n') ?? '50';
      const count = /^\d{1,7}$/.test(countText) ? Number(countText) : 0;
      if (count < 1 || count > MAX_AUDIT_TAIL)
        throw new UsageError(`-n: expected a number of events from 1 to ${MAX_AUDIT_TAIL}`, command);
      return withBackend(cliConfig(), async (backend) => {
        const rows = (await backend.readAudit(count)).reverse();
        if (values.json) {
          printJson(rows.map(auditEventJson));
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
          out(oneLine(`${new Date(r.at).toISOString()}  ${r.type.padEnd(20)} ${who}${detail}`));
        }
        return 0;
      });
    },
  },
];
