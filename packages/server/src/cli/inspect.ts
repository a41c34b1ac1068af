import {
  type AccessTokenDiagnosis,
  diagnoseAccessToken,
  diagnoseSession,
  type SessionRecord,
  systemClock,
  type TokenFinding,
} from '@baton/core';
import { type Command, JSON_OPTION } from './args.js';
import { cliConfig, keyPolicy, publishedKeys, withBackend } from './context.js';
import { isoTime, oneLine, out as print, printJson, relativeTime, when } from './output.js';
import { readSecretFromStdin } from './prompt.js';

const TIME_CLAIMS = new Set(['iat', 'exp', 'nbf', 'auth_time']);

/** One line per reason, in plain words. */
function explain(f: TokenFinding, now: number): string {
  const detail = f.detail ? `: ${f.detail}` : '';
  switch (f.problem) {
    case 'expired':
      return `expired ${relativeTime(f.at!, now)} (${isoTime(f.at!)})`;
    case 'not_yet_valid': {
      const what = f.detail === 'iat' ? 'issued in the future' : 'not valid yet';
      return f.at === undefined
        ? `${what}${detail}`
        : `${what}: ${f.detail} is ${relativeTime(f.at, now)} (${isoTime(f.at)})`;
    }
    case 'issuer':
      return `wrong issuer${detail}`;
    case 'audience':
      return `wrong audience${detail}`;
    case 'unknown_key':
      return `unknown key${detail}`;
    case 'algorithm':
      return `algorithm not allowed${detail}`;
    case 'signature':
      return `bad signature (tampered?)${detail}`;
    case 'type':
      return `not an access token${detail}`;
    case 'claims':
      return `malformed claims${detail}`;
    case 'revoked':
      return `${f.detail ?? f.description}${f.at === undefined ? '' : ` ${relativeTime(f.at, now)} (${isoTime(f.at)})`}`;
    case 'malformed':
      return f.detail?.startsWith('not a JWT') ? (f.detail ?? '') : `malformed${detail}`;
    default:
      return `${f.description}${detail}`;
  }
}

const isId = (v: unknown): v is string => typeof v === 'string' && v !== '';

export const inspectCommand: Command = {
  name: 'inspect',
  usage: 'inspect <jwt>|- [--json]',
  summary: "decode a JWT and explain whether this server's rules accept it",
  help: `Decodes the header and claims (times in ISO and relative form), then checks the token as
this server would: allowed algorithm, typ at+jwt, a key this server publishes (from the key
store), the signature, issuer and audience (BATON_ISSUER, BATON_AUDIENCE), expiry, and the
revocation state of its session and id in the store. Every reason it fails is listed.
Give - to read the token from stdin (keeps it out of the shell history). The token itself is
never printed. Exit code 0 when valid, 1 when not.`,
  options: JSON_OPTION,
  positionals: [1, 1],
  async run({ values, positionals }) {
    let token = positionals[0] === '-' ? await readSecretFromStdin() : positionals[0]!;
    token = token.trim().replace(/^Bearer\s+/i, '');
    const config = cliConfig();
    return withBackend(config, async (backend) => {
      const now = systemClock.now();
      const doc = await backend.keys.read();
      const keys = publishedKeys(doc, keyPolicy(config, doc), now);
      const d: AccessTokenDiagnosis = diagnoseAccessToken(token, {
        keys,
        issuer: config.issuer,
        audience: config.audience,
        now,
      });
      const c = d.claims;
      let session: SessionRecord | null = null;
      if (c && isId(c.sub) && isId(c.sid) && isId(c.jti)) {
        session = await backend.sessions.getSession(c.sid);
        d.problems.push(
          ...diagnoseSession(
            { sub: c.sub, sid: c.sid, jti: c.jti },
            {
              session,
              accessTokenRevoked: await backend.sessions.isAccessTokenRevoked(c.jti),
              now,
              refreshIdleTtl: config.refreshIdleTtl,
            },
          ),
        );
      }
      const valid = d.problems.length === 0;

      if (values.json) {
        printJson({
          valid,
          form: d.form,
          header: d.header,
          claims: c,
          key: d.key,
          problems: d.problems.map((p) => ({
            problem: p.problem,
            explanation: explain(p, now),
            ...(p.at === undefined ? {} : { at: isoTime(p.at) }),
          })),
          ...(session
            ? {
                session: {
                  id: session.id,
                  revoked_at: session.revokedAt === null ? null : isoTime(session.revokedAt),
                  revoke_reason: session.revokeReason,
                  last_used_at: isoTime(session.lastUsedAt),
                },
              }
            : {}),
        });
        return valid ? 0 : 1;
      }

      // Every line here carries text from the token (claims, kid): one line each, inert.
      const out = (line = ''): void => print(oneLine(line));
      const form = {
        jws: 'signed JWT (JWS)',
        jwe: 'encrypted JWT (JWE)',
        refresh_token: 'Baton refresh token',
        unknown: 'not a JWT',
      }[d.form];
      out(`token      ${form}${d.key ? `, signed with ${d.key.alg} key ${d.key.kid}` : ''}`);
      if (d.header) out(`header     ${JSON.stringify(d.header)}`);
      if (c) {
        out('claims');
        const width = Math.max(...Object.keys(c).map((k) => k.length));
        for (const [name, value] of Object.entries(c)) {
          const shown =
            TIME_CLAIMS.has(name) && typeof value === 'number' && Number.isFinite(value)
              ? when(value * 1000, now)
              : typeof value === 'string'
                ? value
                : JSON.stringify(value);
          out(`  ${name.padEnd(width)}  ${shown}`);
        }
      }
      if (session && session.revokedAt === null)
        out(`session    live, last used ${relativeTime(session.lastUsedAt, now)}`);
      out('');
      if (valid) {
        out(
          `VALID: signed by this server's key ${d.key?.kid}, issuer and audience match, expires ${relativeTime((c!.exp as number) * 1000, now)}, session live`,
        );
        return 0;
      }
      out('INVALID:');
      for (const p of d.problems) out(`  - ${explain(p, now)}`);
      return 1;
    });
  },
};
