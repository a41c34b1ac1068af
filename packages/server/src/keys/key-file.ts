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
import { type KeyDocument, type KeyStore, parseKeyDocument } from './key-store.js';

export const KEY_FILE_NAME = 'keys.json';

/**
 * The key document as `keys.json` in the data directory, mode 0600. Creation is atomic and
 * never overwrites: the document is written under a temporary name and hard-linked into
 * place, so two processes starting at once on a fresh directory end up with the same keys.
 * Updates are written aside and renamed over the file (readers never see half a file).
 */
export function createFileKeyStore(dataDir: string): KeyStore {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, KEY_FILE_NAME);

  function read(): KeyDocument | null {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    chmodSync(path, 0o600);
    return parseKeyDocument(JSON.parse(text), path);
  }

  return {
    async read() {
      return read();
    },
    async create(doc) {
      const temp = writeAside(path, doc);
      try {
        linkSync(temp, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        unlinkSync(temp);
      }
      const winner = read();
      if (!winner) throw new Error(`${path} vanished while starting`);
      return winner;
    },
    async update(change) {
      const current = read();
      if (!current) throw new Error(`no key file at ${path}`);
      const next = change(current);
      renameSync(writeAside(path, next), path);
      return next;
    },
    watch(onChange) {
      const listener = (): void => onChange();
      watchFile(path, { interval: 1000, persistent: false }, listener);
      return () => unwatchFile(path, listener);
    },
  };
}

let tempCounter = 0;
/** Writes `doc` beside `path` under a name unique per process (pid) and call (counter). */
function writeAside(path: string, doc: KeyDocument): string {
  tempCounter += 1;
  const temp = `${path}.${process.pid}.${tempCounter}.tmp`;
  writeFileSync(temp, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return temp;
}
