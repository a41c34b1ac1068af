import { type KeyObject, sign, verify } from 'node:crypto';
import { base64url, fromBase64url } from './encoding.js';
import { BatonError } from './errors.js';
import type { KeySet, SigningAlgorithm, SigningKey } from './keys.js';

/** The claims of a Baton access token (RFC 9068). Times are in seconds, as JWT wants. */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
}

/** Upper bound on a token we are willing to parse at all. */
export const MAX_ACCESS_TOKEN_LENGTH = 4096;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const headerSegments = new WeakMap<SigningKey, string>();

function signatureParams(alg: SigningAlgorithm): { digest: string | null; dsaEncoding?: 'ieee-p1363' } {
  if (alg === 'EdDSA') return { digest: null };
  if (alg === 'ES256') return { digest: 'sha256', dsaEncoding: 'ieee-p1363' };
  return { digest: 'sha256' };
}

/**
 * Signs with node:crypto on a pre-parsed KeyObject: synchronous, no thread-pool hop, and the
 * header segment is encoded once per key rather than once per token.
 */
export function signAccessToken(key: SigningKey, claims: AccessTokenClaims): string {
  let header = headerSegments.get(key);
  if (header === undefined) {
    header = base64url(Buffer.from(JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid })));
    headerSegments.set(key, header);
  }
  const input = `${header}.${base64url(Buffer.from(JSON.stringify(claims)))}`;
  const { digest, dsaEncoding } = signatureParams(key.alg);
  const signature = sign(
    digest,
    Buffer.from(input),
    dsaEncoding ? { key: key.privateKey, dsaEncoding } : key.privateKey,
  );
  return `${input}.${base64url(signature)}`;
}

export interface VerifyOptions {
  keys: KeySet;
  issuer: string;
  audience: string;
  /** Current time in ms. */
  now: number;
  /** Allowed clock skew in seconds. */
  leewaySeconds?: number;
}

/** Why an access token was refused: stable, for code; the description is for people. */
export type AccessTokenProblem =
  | 'malformed'
  | 'unknown_key'
  | 'algorithm'
  | 'type'
  | 'signature'
  | 'issuer'
  | 'audience'
  | 'expired'
  | 'not_yet_valid'
  | 'claims'
  | 'revoked'
  | 'keys_unavailable';

/** A refused access token: `code` is always `invalid_token`; `problem` says why. */
export class AccessTokenError extends BatonError {
  readonly problem: AccessTokenProblem;
  constructor(problem: AccessTokenProblem, description: string) {
    super('invalid_token', description, { description });
    this.name = 'AccessTokenError';
    this.problem = problem;
  }
}

function reject(problem: AccessTokenProblem, description: string): never {
  throw new AccessTokenError(problem, description);
}

/**
 * Where a check sends a problem. Verification passes `reject`, which throws at the first;
 * `diagnoseAccessToken` passes a collector, to explain every reason a token fails. One set
 * of rules, two uses.
 */
export type ProblemReport = (problem: AccessTokenProblem, description: string) => void;

function parseSegment(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(fromBase64url(segment).toString('utf8'));
  } catch {
    reject('malformed', 'The access token is malformed.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    reject('malformed', 'The access token is malformed.');
  }
  return value as Record<string, unknown>;
}

// Every token of one key has the same header segment, so its parse is kept (a parse, not a
// verdict: the checks below still run on every token).
const headerCache = new Map<string, Record<string, unknown>>();
function parseHeader(segment: string): Record<string, unknown> {
  let header = headerCache.get(segment);
  if (!header) {
    header = Object.freeze(parseSegment(segment));
    if (headerCache.size >= 256) headerCache.clear();
    headerCache.set(segment, header);
  }
  return header;
}

const isNumericDate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** A compact JWS split and its header checked; nothing of the payload is trusted yet. */
export interface DecodedAccessToken {
  header: { alg: string; kid: string } & Record<string, unknown>;
  signingInput: string;
  payloadSegment: string;
  signature: Buffer;
}

/**
 * The checks that need no key: size, the compact form (base64url and two dots only: no
 * padding, whitespace or JSON serialization), a JSON header naming a `kid`, an allowed `alg`,
 * `typ` at+jwt, no `crit`, and a canonically encoded signature. Runs before any key lookup.
 */
export function decodeAccessToken(token: unknown, algorithms: readonly string[]): DecodedAccessToken {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_ACCESS_TOKEN_LENGTH) {
    reject('malformed', 'The access token is missing or malformed.');
  }
  if (!COMPACT_JWS.test(token)) reject('malformed', 'The access token is malformed.');
  const [h, p, s] = token.split('.') as [string, string, string];
  const header = parseHeader(h);
  checkHeader(header, algorithms, reject);
  const signature = fromBase64url(s);
  checkSignatureEncoding(signature, s, reject);
  return {
    header: header as DecodedAccessToken['header'],
    signingInput: `${h}.${p}`,
    payloadSegment: p,
    signature,
  };
}

/** An allowed `alg`, a `kid`, `typ` at+jwt and no `crit`: the header rules, reported in this order. */
export function checkHeader(
  header: Record<string, unknown>,
  algorithms: readonly string[],
  report: ProblemReport,
): void {
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
    report('algorithm', 'The access token uses an algorithm that is not allowed.');
  }
  if (typeof header.kid !== 'string' || header.kid.length > 256)
    report('unknown_key', 'The access token names no known key.');
  if (header.typ !== 'at+jwt' && header.typ !== 'application/at+jwt')
    report('type', 'The token is not an access token.');
  if (header.crit !== undefined) report('malformed', 'The access token has unsupported critical headers.');
}

/**
 * One spelling per signature: base64url's spare low bits in the last character would
 * otherwise give one token several string forms.
 */
export function checkSignatureEncoding(signature: Buffer, segment: string, report: ProblemReport): void {
  if (base64url(signature) !== segment) report('malformed', 'The access token is malformed.');
}

/** Checks the signature with `key`, whose algorithm must be the header's. */
export function checkSignature(
  decoded: DecodedAccessToken,
  key: { alg: string; publicKey: KeyObject },
): void {
  if (decoded.header.alg !== key.alg)
    reject('algorithm', 'The access token uses an algorithm that is not allowed.');
  const { digest, dsaEncoding } = signatureParams(key.alg as SigningAlgorithm);
  const ok = verify(
    digest,
    Buffer.from(decoded.signingInput),
    dsaEncoding ? { key: key.publicKey, dsaEncoding } : key.publicKey,
    decoded.signature,
  );
  if (!ok) reject('signature', 'The access token signature is invalid.');
}

/**
 * The longest access-token lifetime (`exp - iat`, seconds) Baton issues or accepts: a day.
 * Anything longer is a forgery or a mistake (`exp` in milliseconds, say), never a Baton token.
 */
export const MAX_ACCESS_TOKEN_LIFETIME = 24 * 60 * 60;

/** `iss`, `aud`, `exp`, `iat`, `nbf` as strict numbers, and the claims Baton relies on. */
export function checkClaims(
  decoded: DecodedAccessToken,
  options: { issuer: string; audience: string; now: number; leewaySeconds?: number },
): AccessTokenClaims {
  const claims = parseSegment(decoded.payloadSegment);
  checkClaimValues(claims, options, reject);
  return claims as unknown as AccessTokenClaims;
}

/** The claim rules of `checkClaims` on parsed claims, reported in this order. */
export function checkClaimValues(
  claims: Record<string, unknown>,
  options: { issuer: string; audience: string; now: number; leewaySeconds?: number },
  report: ProblemReport,
): void {
  const leeway = options.leewaySeconds ?? 0;
  const nowSeconds = options.now / 1000;
  if (claims.iss !== options.issuer) report('issuer', 'The access token was issued by someone else.');
  const aud = claims.aud;
  if (!(aud === options.audience || (Array.isArray(aud) && aud.includes(options.audience)))) {
    report('audience', 'The access token is meant for another audience.');
  }
  const { exp, iat, nbf } = claims;
  if (!isNumericDate(exp) || !isNumericDate(iat)) {
    report('claims', 'The access token has malformed time claims.');
  } else {
    if (nowSeconds >= exp + leeway) report('expired', 'The access token has expired.');
    if (iat > nowSeconds + leeway) report('not_yet_valid', 'The access token was issued in the future.');
    if (exp <= iat || exp - iat > MAX_ACCESS_TOKEN_LIFETIME)
      report('claims', 'The access token has a lifetime Baton never issues.');
  }
  if (nbf !== undefined && (!isNumericDate(nbf) || nbf > nowSeconds + leeway)) {
    report('not_yet_valid', 'The access token is not valid yet.');
  }
  for (const name of ['sub', 'sid', 'jti', 'client_id'] as const) {
    if (typeof claims[name] !== 'string' || claims[name] === '') {
      report('claims', 'The access token lacks required claims.');
      break;
    }
  }
}

/** What Baton itself accepts: the algorithms it can sign with, each only with a key of its own kind. */
export const ALL_ALGORITHMS: readonly string[] = ['EdDSA', 'ES256', 'RS256'];

/**
 * Verifies a Baton access token issued by this server: compact JWS only, the header's `alg`
 * must be the algorithm of the key its `kid` names (never `none`, never HMAC), `typ` must be
 * `at+jwt`, no `crit`; then `iss`, `aud`, `exp`, `iat`, `nbf` as strict numbers. Headers such
 * as `jku`, `x5u` and `jwk` are ignored: keys come only from our own key set.
 */
export function verifyAccessToken(token: unknown, options: VerifyOptions): AccessTokenClaims {
  const decoded = decodeAccessToken(token, ALL_ALGORITHMS);
  const key = options.keys.find(decoded.header.kid);
  if (!key) reject('unknown_key', 'The access token names no known key.');
  checkSignature(decoded, key);
  return checkClaims(decoded, options);
}
