import {
  AccessTokenError,
  type AccessTokenProblem,
  ALL_ALGORITHMS,
  checkClaimValues,
  checkHeader,
  checkSignature,
  checkSignatureEncoding,
  type DecodedAccessToken,
  MAX_ACCESS_TOKEN_LENGTH,
  type ProblemReport,
} from './access-token.js';
import { fromBase64url } from './encoding.js';
import type { KeySet } from './keys.js';
import { parseRefreshToken } from './refresh-token.js';
import { sessionEndForAccessToken, sessionEndsAt } from './sessions.js';
import type { SessionRecord } from './types.js';

/** One reason a token is refused. */
export interface TokenFinding {
  problem: AccessTokenProblem;
  /** The rule's sentence: the one verification itself would give. */
  description: string;
  /** The particulars: what the token says against what this server expects. */
  detail?: string;
  /** The instant concerned (ms): expiry, start of validity, revocation. */
  at?: number;
}

export interface AccessTokenDiagnosis {
  /** A signed JWT, an encrypted one, a Baton refresh token, or none of these. */
  form: 'jws' | 'jwe' | 'refresh_token' | 'unknown';
  /** Decoded, not trusted: shown to explain, never relied on. */
  header: Record<string, unknown> | null;
  claims: Record<string, unknown> | null;
  /** The published key the token's `kid` names, if any. */
  key: { kid: string; alg: string } | null;
  /** Empty when the token passes every check that needs no store. */
  problems: TokenFinding[];
}

export interface DiagnoseOptions {
  keys: Pick<KeySet, 'find'>;
  issuer: string;
  audience: string;
  /** Current time in ms. */
  now: number;
  leewaySeconds?: number;
  /** Default: what `verifyAccessToken` allows. */
  algorithms?: readonly string[];
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function json(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(fromBase64url(segment).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

const quote = (v: unknown): string => (v === undefined ? 'missing' : JSON.stringify(v));

/**
 * Explains a token against a server's keys and rules: every reason it is refused, not only
 * the first. It runs the very checks `verifyAccessToken` runs (`checkHeader`,
 * `checkSignature`, `checkClaimValues`) with a collector instead of a thrower, so the two
 * cannot disagree; it adds only the particulars (which issuer, which key, which instant).
 * Pure: no I/O, no clock.
 */
export function diagnoseAccessToken(token: unknown, options: DiagnoseOptions): AccessTokenDiagnosis {
  const result: AccessTokenDiagnosis = {
    form: 'unknown',
    header: null,
    claims: null,
    key: null,
    problems: [],
  };
  const add = (finding: TokenFinding): AccessTokenDiagnosis => {
    result.problems.push(finding);
    return result;
  };
  if (typeof token !== 'string' || token.trim() === '') {
    return add({
      problem: 'malformed',
      description: 'The access token is missing or malformed.',
      detail: 'empty',
    });
  }
  if (parseRefreshToken(token)) {
    result.form = 'refresh_token';
    return add({
      problem: 'malformed',
      description: 'The token is not an access token.',
      detail:
        'this is a Baton refresh token, not a JWT: it is opaque, and only /auth/refresh and /oauth/token accept it',
    });
  }
  const parts = token.split('.');
  if (parts.length === 5) {
    result.form = 'jwe';
    result.header = json(parts[0]!);
    return add({
      problem: 'malformed',
      description: 'The access token is malformed.',
      detail: 'this is an encrypted JWT (JWE); Baton issues signed JWTs (JWS) only',
    });
  }
  const header = parts.length === 3 ? json(parts[0]!) : null;
  if (!header) {
    return add({
      problem: 'malformed',
      description: 'The access token is malformed.',
      detail:
        'not a JWT at all: a JWT is three base64url parts, header.payload.signature, the first two JSON',
    });
  }
  result.form = 'jws';
  result.header = header;
  const [h, p, s] = parts as [string, string, string];
  result.claims = json(p);

  const report =
    (
      detail: (
        problem: AccessTokenProblem,
        description: string,
      ) => Omit<TokenFinding, 'problem' | 'description'>,
    ): ProblemReport =>
    (problem, description) =>
      add({ problem, description, ...detail(problem, description) });

  if (token.length > MAX_ACCESS_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
    add({
      problem: 'malformed',
      description: 'The access token is malformed.',
      detail:
        token.length > MAX_ACCESS_TOKEN_LENGTH
          ? `${token.length} characters, more than the ${MAX_ACCESS_TOKEN_LENGTH} Baton accepts`
          : s === ''
            ? 'unsigned: the signature part is empty (an unsecured JWT, as alg "none" makes); Baton accepts signed tokens only'
            : 'not in compact form: only base64url characters and two dots are allowed (no padding or spaces)',
    });
  }
  if (!result.claims) {
    add({
      problem: 'malformed',
      description: 'The access token is malformed.',
      detail: 'the payload is not JSON',
    });
  }

  const algorithms = options.algorithms ?? ALL_ALGORITHMS;
  checkHeader(
    header,
    algorithms,
    report((problem) => {
      if (problem === 'algorithm')
        return { detail: `alg is ${quote(header.alg)}; allowed: ${algorithms.join(', ')}` };
      if (problem === 'unknown_key')
        return { detail: `no usable kid in the header (kid is ${quote(header.kid)})` };
      if (problem === 'type') return { detail: `typ is ${quote(header.typ)}, not at+jwt` };
      return { detail: `crit is ${quote(header.crit)}` };
    }),
  );

  if (typeof header.kid === 'string' && header.kid.length <= 256) {
    const key = options.keys.find(header.kid);
    if (!key) {
      add({
        problem: 'unknown_key',
        description: 'The access token names no known key.',
        detail: `key ${header.kid} is not among this server's published keys (another server's key, or one that has expired)`,
      });
    } else {
      result.key = { kid: key.kid, alg: key.alg };
      const signature = fromBase64url(s);
      checkSignatureEncoding(
        signature,
        s,
        report(() => ({ detail: 'the signature is not canonically encoded' })),
      );
      if (typeof header.alg === 'string' && algorithms.includes(header.alg)) {
        const decoded = {
          header,
          signingInput: `${h}.${p}`,
          payloadSegment: p,
          signature,
        } as DecodedAccessToken;
        try {
          checkSignature(decoded, key);
        } catch (error) {
          if (!(error instanceof AccessTokenError)) throw error;
          add({
            problem: error.problem,
            description: error.description,
            detail:
              error.problem === 'algorithm'
                ? `the header says ${header.alg} but key ${key.kid} is an ${key.alg} key`
                : `the signature does not match key ${key.kid}: the token was altered or signed by another key`,
          });
        }
      }
    }
  }

  const claims = result.claims;
  if (claims) {
    checkClaimValues(
      claims,
      options,
      report((problem, description) => {
        switch (problem) {
          case 'issuer':
            return { detail: `iss is ${quote(claims.iss)}; this server is ${quote(options.issuer)}` };
          case 'audience':
            return { detail: `aud is ${quote(claims.aud)}; this server expects ${quote(options.audience)}` };
          case 'expired':
            return { at: (claims.exp as number) * 1000 };
          case 'not_yet_valid': {
            // Two rules share this problem: iat in the future, and nbf not reached (or not a number).
            const name = description.includes('issued in the future') ? 'iat' : 'nbf';
            const instant = claims[name];
            return typeof instant === 'number'
              ? { at: instant * 1000, detail: name }
              : { detail: `${name} is ${quote(instant)}` };
          }
          default:
            return { detail: claimsDetail(claims, description) };
        }
      }),
    );
  }
  return result;
}

/** Which claims a `claims` problem is about, by the rule that reported it. */
function claimsDetail(claims: Record<string, unknown>, description: string): string {
  const { exp, iat } = claims;
  if (description.includes('lifetime')) {
    return `exp - iat is ${Number(exp) - Number(iat)} s; Baton issues lifetimes from 1 s to 24 h`;
  }
  const time = description.includes('time claims');
  const names = time ? ['exp', 'iat'] : ['sub', 'sid', 'jti', 'client_id'];
  const wrong = names.flatMap((name) => {
    const value = claims[name];
    if (value === undefined) return [`${name} is missing`];
    const ok = time
      ? typeof value === 'number' && Number.isFinite(value) && value >= 0
      : typeof value === 'string' && value !== '';
    return ok
      ? []
      : [`${name} is ${quote(value).slice(0, 40)}, not ${time ? 'a time in seconds' : 'a non-empty string'}`];
  });
  return wrong.join('; ');
}

/** What the store says about the session and id of a token. */
export interface SessionFacts {
  session: SessionRecord | null;
  accessTokenRevoked: boolean;
  now: number;
  refreshIdleTtl: number;
}

/**
 * The revocation side of a token with well-formed `sub`, `sid` and `jti`: the rule
 * `Sessions.authenticate` applies (`sessionEndForAccessToken`), explained.
 */
export function diagnoseSession(
  claims: { sub: string; sid: string; jti: string },
  facts: SessionFacts,
): TokenFinding[] {
  const findings: TokenFinding[] = [];
  const { session } = facts;
  const ended = 'The session of this access token has ended.';
  switch (sessionEndForAccessToken(session, claims.sub, facts.now, facts.refreshIdleTtl)) {
    case 'unknown':
      findings.push({
        problem: 'revoked',
        description: ended,
        detail: `session ${claims.sid} is not in the store: it ended and was pruned, or this server never issued it`,
      });
      break;
    case 'other_user':
      findings.push({
        problem: 'revoked',
        description: ended,
        detail: `session ${claims.sid} belongs to another user than ${claims.sub}`,
      });
      break;
    case 'revoked':
      findings.push({
        problem: 'revoked',
        description: ended,
        detail: `session ${claims.sid} was revoked (${session!.revokeReason ?? 'no reason recorded'})`,
        at: session!.revokedAt!,
      });
      break;
    case 'expired':
      findings.push({
        problem: 'revoked',
        description: ended,
        detail: `session ${claims.sid} expired`,
        at: sessionEndsAt(session!, facts.refreshIdleTtl),
      });
      break;
    default:
  }
  if (facts.accessTokenRevoked) {
    findings.push({
      problem: 'revoked',
      description: 'The access token was revoked.',
      detail: `access token ${claims.jti} was revoked on its own (RFC 7009)`,
    });
  }
  return findings;
}
