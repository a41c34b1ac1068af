import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';

export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = Object.freeze(['EdDSA', 'ES256', 'RS256']);

/**
 * A signing key as persisted: the private key in PKCS#8 PEM plus its lifecycle instants.
 * A key is *pending* until `activatesAt` (published, not signing), then *active* (the newest
 * active key of the configured algorithm signs), then *superseded* when a newer key
 * activates or it is retired, and finally *expired* once no token it signed can still be
 * alive: only then does it leave the JWKS.
 */
export interface StoredSigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKeyPem: string;
  createdAt: number;
  /** When it may start signing; absent means at creation. */
  activatesAt?: number;
  /** When an operator stopped it signing; absent or null while it may sign. */
  retiredAt?: number | null;
}

/** A signing key ready for use; KeyObjects are parsed once, never per token. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: Readonly<JWK>;
  readonly createdAt: number;
  readonly activatesAt: number;
  readonly retiredAt: number | null;
}

export interface Jwks {
  keys: JWK[];
}

/** What the domain needs of the key set: a signer, a lookup by kid, the published set. */
export interface KeySet {
  signer(): SigningKey;
  /** A published key by kid; keys past their last token's lifetime are not found. */
  find(kid: string): SigningKey | undefined;
  jwks(): Jwks;
}

/** Generates a new key pair for `alg` and names it by its RFC 7638 thumbprint. */
export async function generateSigningKey(
  alg: SigningAlgorithm,
  createdAt: number,
  activatesAt: number = createdAt,
): Promise<StoredSigningKey> {
  const pair =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const kid = await calculateJwkThumbprint(pair.publicKey.export({ format: 'jwk' }) as JWK, 'sha256');
  return { kid, alg, privateKeyPem, createdAt, activatesAt, retiredAt: null };
}

/** Parses a stored key and checks that the key type fits its algorithm. */
export function loadSigningKey(stored: StoredSigningKey): SigningKey {
  const privateKey = createPrivateKey(stored.privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  const type = privateKey.asymmetricKeyType;
  const fits =
    (stored.alg === 'EdDSA' && type === 'ed25519') ||
    (stored.alg === 'ES256' &&
      type === 'ec' &&
      privateKey.asymmetricKeyDetails?.namedCurve === 'prime256v1') ||
    (stored.alg === 'RS256' && type === 'rsa');
  if (!fits) throw new Error(`signing key ${stored.kid} is not a ${stored.alg} key`);
  const publicJwk = Object.freeze({
    ...(publicKey.export({ format: 'jwk' }) as JWK),
    kid: stored.kid,
    alg: stored.alg,
    use: 'sig',
  });
  return Object.freeze({
    kid: stored.kid,
    alg: stored.alg,
    privateKey,
    publicKey,
    publicJwk,
    createdAt: stored.createdAt,
    activatesAt: stored.activatesAt ?? stored.createdAt,
    retiredAt: stored.retiredAt ?? null,
  });
}

export type KeyState = 'pending' | 'active' | 'superseded' | 'expired';

export interface KeyPolicy {
  /** The algorithm new tokens are signed with. */
  alg: SigningAlgorithm;
  /** Access-token lifetime (ms): how long a key stays published after it last signed. */
  accessTokenTtl: number;
  /** Extra time (ms) for verifiers' clock skew. */
  leeway?: number;
}

interface KeyView<K> {
  key: K;
  state: KeyState;
  /** When it stopped signing (superseded or retired), if it has. */
  endedAt: number | null;
}

/**
 * The pure lifecycle rule over a key list at `now`: which key signs, which are published.
 * The signer is the newest key of the policy's algorithm that has activated and is not
 * retired. A key stops signing when it is retired or when a newer key *of its own algorithm*
 * activates (a key of another algorithm may still be signing on instances configured for
 * it, so only its own successor or an explicit retirement ends it). It stays published for
 * one access-token lifetime (plus leeway) after that, then expires. A key whose end is not
 * known stays published.
 */
export function keyStates<K extends Pick<SigningKey, 'alg' | 'activatesAt' | 'retiredAt' | 'kid'>>(
  keys: readonly K[],
  now: number,
  policy: KeyPolicy,
): { signer: K | undefined; views: KeyView<K>[] } {
  const leeway = policy.leeway ?? 60_000;
  const live = (k: K): boolean => k.activatesAt <= now && (k.retiredAt === null || k.retiredAt > now);
  const byActivation = [...keys].sort((a, b) => b.activatesAt - a.activatesAt || (a.kid < b.kid ? -1 : 1));
  const signer = byActivation.find((k) => k.alg === policy.alg && live(k));
  const views = keys.map((key): KeyView<K> => {
    if (key.activatesAt > now) return { key, state: 'pending', endedAt: null };
    if (key === signer) return { key, state: 'active', endedAt: null };
    const successor = byActivation
      .filter((k) => k.alg === key.alg && k.activatesAt > key.activatesAt && k.activatesAt <= now)
      .at(-1);
    const ends = [key.retiredAt, successor?.activatesAt].filter(
      (t): t is number => typeof t === 'number' && t <= now,
    );
    if (ends.length === 0) return { key, state: 'superseded', endedAt: null };
    const endedAt = Math.min(...ends);
    const state = now < endedAt + policy.accessTokenTtl + leeway ? 'superseded' : 'expired';
    return { key, state, endedAt };
  });
  return { signer, views };
}

/** A key set whose keys can be replaced at run time (for example when the key file changes). */
export interface MutableKeySet extends KeySet {
  replace(keys: readonly SigningKey[]): void;
  keys(): readonly SigningKey[];
}

/**
 * The key set the server uses: evaluates the lifecycle rule at the clock's time. The JWKS
 * and the lookup map are cached and rebuilt when the published set changes.
 */
export function createKeySet(
  initial: readonly SigningKey[],
  policy: KeyPolicy,
  clock: { now(): number } = { now: () => 0 },
): MutableKeySet {
  let keys = [...initial];
  let cacheKey = '';
  let signer: SigningKey | undefined;
  let byKid = new Map<string, SigningKey>();
  let published: Jwks = { keys: [] };

  let nextChangeAt = Number.NEGATIVE_INFINITY;

  // Evaluated lazily: the lifecycle only changes at a few known instants (an activation, a
  // retirement, the end of a key's publication), so most calls are one comparison.
  function refresh(): void {
    const now = clock.now();
    if (now < nextChangeAt) return;
    const { signer: s, views } = keyStates(keys, now, policy);
    const leeway = policy.leeway ?? 60_000;
    const upcoming = views.flatMap((v) => [
      v.key.activatesAt,
      v.key.retiredAt ?? Number.POSITIVE_INFINITY,
      v.endedAt === null ? Number.POSITIVE_INFINITY : v.endedAt + policy.accessTokenTtl + leeway,
    ]);
    nextChangeAt = Math.min(Number.POSITIVE_INFINITY, ...upcoming.filter((t) => t > now));
    const visible = views.filter((v) => v.state !== 'expired').map((v) => v.key);
    const key = `${s?.kid}|${visible.map((k) => k.kid).join(',')}`;
    if (key === cacheKey) return;
    cacheKey = key;
    signer = s;
    byKid = new Map(visible.map((k) => [k.kid, k]));
    published = Object.freeze({ keys: visible.map((k) => k.publicJwk as JWK) }) as Jwks;
  }

  refresh();
  if (!signer) throw new Error(`no active ${policy.alg} signing key in the key set`);
  return {
    signer() {
      refresh();
      if (!signer) throw new Error(`no active ${policy.alg} signing key`);
      return signer;
    },
    find(kid) {
      refresh();
      return byKid.get(kid);
    },
    jwks() {
      refresh();
      return published;
    },
    replace(next) {
      // A key list that cannot sign right now is refused: the caller keeps serving with the
      // keys it has (a broken edit of the key store must not take the service down).
      if (!keyStates(next, clock.now(), policy).signer) {
        throw new Error(`refusing a key set with no active ${policy.alg} signing key`);
      }
      keys = [...next];
      cacheKey = '';
      nextChangeAt = Number.NEGATIVE_INFINITY;
      refresh();
    },
    keys: () => keys,
  };
}
