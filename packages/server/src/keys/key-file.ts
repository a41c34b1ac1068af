import {
  chmodSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  unwatchFile,
  watchFile,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
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

/** On-disk form of `keys.json`: private material, mode 0600, never served. */
interface KeyFile {
  version: 1;
  /** base64 of 32 random bytes: the refresh-token derivation key. */
  refreshTokenKey: string;
  signingKeys: StoredSigningKey[];
}

export interface LoadedKeys {
  keySet: MutableKeySet;
  refreshKey: RefreshTokenKey;
  /** True when this start created the file. */
  created: boolean;
  /** Re-reads the key file (after `baton keys rotate`, say) into `keySet`. */
  reload(): void;
  /** Polls the key file and reloads on change; returns a function that stops watching. */
  watch(intervalMs?: number): () => void;
}

export const KEY_FILE_NAME = 'keys.json';

/**
 * Loads `keys.json` from the data directory, creating it on first start. Creation is atomic
 * and never overwrites: the file is written under a temporary name and hard-linked into place,
 * so two processes starting at once on a fresh directory end up with the same keys.
 */
export async function loadOrCreateKeys(
  dataDir: string,
  policy: KeyPolicy,
  deps: { clock: Clock; random: Random },
): Promise<LoadedKeys> {
  const { alg } = policy;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, KEY_FILE_NAME);
  let file = readKeyFile(path);
  let created = false;
  if (!file) {
    const fresh: KeyFile = {
      version: 1,
      refreshTokenKey: Buffer.from(deps.random.bytes(32)).toString('base64'),
      signingKeys: [await generateSigningKey(alg, deps.clock.now())],
    };
    created = createExclusive(path, fresh);
    file = readKeyFile(path);
    if (!file) throw new Error(`${path} vanished while starting`);
  }
  if (!file.signingKeys.some((k) => k.alg === alg)) {
    // The operator switched algorithms: add a key and keep the old ones published, so tokens
    // they signed keep verifying until they expire.
    file = { ...file, signingKeys: [...file.signingKeys, await generateSigningKey(alg, deps.clock.now())] };
    replace(path, file);
  }
  chmodSync(path, 0o600);
  const keySet = createKeySet(file.signingKeys.map(loadSigningKey), policy, deps.clock);
  const reload = (): void => {
    const next = readKeyFile(path);
    if (next) keySet.replace(next.signingKeys.map(loadSigningKey));
  };
  return {
    keySet,
    refreshKey: Object.freeze({ key: Buffer.from(file.refreshTokenKey, 'base64') }),
    created,
    reload,
    watch(intervalMs = 1000) {
      const listener = (): void => {
        try {
          reload();
        } catch {
          // A half-written or broken file keeps the keys we have; the next change retries.
        }
      };
      watchFile(path, { interval: intervalMs, persistent: false }, listener);
      return () => unwatchFile(path, listener);
    },
  };
}

/**
 * Adds a signing key to the key file (the `keys rotate` operation). The new key is published
 * at once and signs from `activatesAt` on; running servers pick it up by watching the file.
 */
export async function addSigningKey(
  dataDir: string,
  alg: SigningAlgorithm,
  at: { createdAt: number; activatesAt: number },
): Promise<StoredSigningKey> {
  const path = join(dataDir, KEY_FILE_NAME);
  const file = readKeyFile(path);
  if (!file) throw new Error(`no key file at ${path}: start the server once first`);
  const key = await generateSigningKey(alg, at.createdAt, at.activatesAt);
  replace(path, { ...file, signingKeys: [...file.signingKeys, key] });
  return key;
}

/** Removes keys from the key file; used to drop expired keys or, in an emergency, a compromised one. */
export function removeSigningKeys(dataDir: string, kids: readonly string[]): void {
  const path = join(dataDir, KEY_FILE_NAME);
  const file = readKeyFile(path);
  if (!file) throw new Error(`no key file at ${path}`);
  replace(path, { ...file, signingKeys: file.signingKeys.filter((k) => !kids.includes(k.kid)) });
}

/** The stored keys, for listing. */
export function readSigningKeys(dataDir: string): StoredSigningKey[] {
  return readKeyFile(join(dataDir, KEY_FILE_NAME))?.signingKeys ?? [];
}

function readKeyFile(path: string): KeyFile | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const file = JSON.parse(text) as KeyFile;
  if (file.version !== 1 || !Array.isArray(file.signingKeys) || typeof file.refreshTokenKey !== 'string') {
    throw new Error(`${path} is not a Baton key file`);
  }
  if (Buffer.from(file.refreshTokenKey, 'base64').length < 32)
    throw new Error(`${path} has a short refresh key`);
  return file;
}

let tempCounter = 0;
/** Unique per process (pid) and per call (counter); `wx` refuses any leftover. */
function tempPath(path: string): string {
  tempCounter += 1;
  return `${path}.${process.pid}.${tempCounter}.tmp`;
}

/** Writes `file` at `path` unless something is there already; true when this call wrote it. */
function createExclusive(path: string, file: KeyFile): boolean {
  const temp = tempPath(path);
  writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temp);
  }
}

function replace(path: string, file: KeyFile): void {
  const temp = tempPath(path);
  writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(temp, path);
}
