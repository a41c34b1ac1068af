import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';

export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = Object.freeze(['EdDSA', 'ES256', 'RS256']);

/** A signing key as persisted: the private key in PKCS#8 PEM plus its lifecycle instants. */
export interface StoredSigningKey {
  kid: string;
  alg: SigningAlgorithm;
  privateKeyPem: string;
  createdAt: number;
}

/** A signing key ready for use; KeyObjects are parsed once, never per token. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: Readonly<JWK>;
  readonly createdAt: number;
}

export interface Jwks {
  keys: JWK[];
}

/** What the domain needs of the key set: a signer, a lookup by kid, the published set. */
export interface KeySet {
  signer(): SigningKey;
  find(kid: string): SigningKey | undefined;
  jwks(): Jwks;
}

/** Generates a new key pair for `alg` and names it by its RFC 7638 thumbprint. */
export async function generateSigningKey(
  alg: SigningAlgorithm,
  createdAt: number,
): Promise<StoredSigningKey> {
  const pair =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const kid = await calculateJwkThumbprint(pair.publicKey.export({ format: 'jwk' }) as JWK, 'sha256');
  return { kid, alg, privateKeyPem, createdAt };
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
  });
}

/**
 * A fixed key set: signs with the newest key of `alg`, verifies with any of them, and
 * publishes them all. (Scheduled rotation and retirement build on this; see issue 3.)
 */
export function createKeySet(keys: readonly SigningKey[], alg: SigningAlgorithm): KeySet {
  const byKid = new Map(keys.map((k) => [k.kid, k]));
  const candidates = keys.filter((k) => k.alg === alg).sort((a, b) => b.createdAt - a.createdAt);
  const signer = candidates[0];
  if (!signer) throw new Error(`no ${alg} signing key in the key set`);
  const published: Jwks = Object.freeze({ keys: keys.map((k) => k.publicJwk as JWK) }) as Jwks;
  return Object.freeze({
    signer: (): SigningKey => signer,
    find: (kid: string): SigningKey | undefined => byKid.get(kid),
    jwks: (): Jwks => published,
  });
}
