import {
  type Clock,
  createKeySet,
  generateSigningKey,
  type KeyPolicy,
  loadSigningKey,
  type MutableKeySet,
  type Random,
  type RefreshTokenKey,
  type SigningAlgorithm,
  type StoredSigningKey,
} from '@baton/core';

/** The persisted key material: private, never served. */
export interface KeyDocument {
  version: 1;
  /** base64 of 32 random bytes: the refresh-token derivation key. */
  refreshTokenKey: string;
  signingKeys: StoredSigningKey[];
  /**
   * The longest access-token lifetime (ms) any server on this store was started with: how
   * long a key must stay published after it stopped signing. Tools such as `keys prune` use
   * it instead of their own configuration.
   */
  maxAccessTokenTtl?: number;
}

/**
 * Where the key document lives: a 0600 file beside SQLite, or a row in PostgreSQL so that
 * every instance of a cluster shares it. `create` never overwrites: of racing creators, one
 * wins and all read the winner's document.
 */
export interface KeyStore {
  read(): Promise<KeyDocument | null>;
  create(doc: KeyDocument): Promise<KeyDocument>;
  /** Replaces the document through `change`, atomically with respect to other writers where the backend allows. */
  update(change: (doc: KeyDocument) => KeyDocument): Promise<KeyDocument>;
  /** Calls `onChange` when the document may have changed; returns a function that stops watching. */
  watch(onChange: () => void): () => void;
}

export interface LoadedKeys {
  keySet: MutableKeySet;
  refreshKey: RefreshTokenKey;
  /** Re-reads the key document (after `baton keys rotate`, say) into `keySet`. */
  reload(): Promise<void>;
  /** Follows the key store; returns a function that stops following. */
  watch(): () => void;
}

export function parseKeyDocument(value: unknown, where: string): KeyDocument {
  const doc = value as KeyDocument;
  if (doc?.version !== 1 || !Array.isArray(doc.signingKeys) || typeof doc.refreshTokenKey !== 'string') {
    throw new Error(`${where} is not a Baton key document`);
  }
  if (Buffer.from(doc.refreshTokenKey, 'base64').length < 32)
    throw new Error(`${where} has a short refresh key`);
  return doc;
}

/**
 * Loads the keys, creating them on first start. When no key of the configured algorithm
 * exists (the operator switched algorithms), one is added and signs at once; older keys stay
 * published until their tokens have expired.
 */
export async function loadOrCreateKeys(
  store: KeyStore,
  policy: KeyPolicy,
  deps: { clock: Clock; random: Random },
): Promise<LoadedKeys> {
  const { alg } = policy;
  let doc =
    (await store.read()) ??
    (await store.create({
      version: 1,
      refreshTokenKey: Buffer.from(deps.random.bytes(32)).toString('base64'),
      signingKeys: [await generateSigningKey(alg, deps.clock.now())],
    }));
  if (!doc.signingKeys.some((k) => k.alg === alg)) {
    const key = await generateSigningKey(alg, deps.clock.now());
    doc = await store.update((d) =>
      d.signingKeys.some((k) => k.alg === alg) ? d : { ...d, signingKeys: [...d.signingKeys, key] },
    );
  }
  if ((doc.maxAccessTokenTtl ?? 0) < policy.accessTokenTtl) {
    doc = await store.update((d) => ({
      ...d,
      maxAccessTokenTtl: Math.max(d.maxAccessTokenTtl ?? 0, policy.accessTokenTtl),
    }));
  }
  const keySet = createKeySet(doc.signingKeys.map(loadSigningKey), policy, deps.clock);
  const reload = async (): Promise<void> => {
    const next = await store.read();
    if (next) keySet.replace(next.signingKeys.map(loadSigningKey));
  };
  return {
    keySet,
    refreshKey: Object.freeze({ key: Buffer.from(doc.refreshTokenKey, 'base64') }),
    reload,
    watch: () =>
      store.watch(() => {
        // A broken or half-written document keeps the keys we have; the next change retries.
        reload().catch(() => {});
      }),
  };
}

/** `keys rotate`: a new key, published at once, signing from `activatesAt`. */
export async function addSigningKey(
  store: KeyStore,
  alg: SigningAlgorithm,
  at: { createdAt: number; activatesAt: number },
): Promise<StoredSigningKey> {
  if (!(await store.read())) throw new Error('no keys yet: start the server once first');
  const key = await generateSigningKey(alg, at.createdAt, at.activatesAt);
  await store.update((d) => ({ ...d, signingKeys: [...d.signingKeys, key] }));
  return key;
}

/** Stops a key signing at `at`; it stays published one access-token lifetime longer. */
export async function retireSigningKey(store: KeyStore, kid: string, at: number): Promise<void> {
  await store.update((d) => {
    if (!d.signingKeys.some((k) => k.kid === kid)) throw new Error(`no key ${kid}`);
    return { ...d, signingKeys: d.signingKeys.map((k) => (k.kid === kid ? { ...k, retiredAt: at } : k)) };
  });
}

/** Removes keys (expired ones, or in an emergency a compromised one). */
export async function removeSigningKeys(store: KeyStore, kids: readonly string[]): Promise<void> {
  await store.update((d) => ({ ...d, signingKeys: d.signingKeys.filter((k) => !kids.includes(k.kid)) }));
}
