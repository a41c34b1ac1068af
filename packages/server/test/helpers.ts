import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { type ServerOptions, startServer } from '../src/server.js';
import { freePort } from './processes.js';

export interface TestServer {
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

/** Starts a real Baton on an ephemeral port with a fresh data dir (unless one is given). */
export async function startTestServer(
  env: Record<string, string> = {},
  options: ServerOptions & { dataDir?: string; keepDataDir?: boolean } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'baton-test-'));
  // A known port, so that the issuer (and RFC 8414 metadata) names the real address.
  const port = env.PORT ?? String(await freePort());
  const config = loadConfig({
    HOST: '127.0.0.1',
    BATON_DATA_DIR: dataDir,
    BATON_ISSUER: `http://127.0.0.1:${port}`,
    ...env,
    PORT: port,
  });
  const server = await startServer(config, options);
  return {
    url: server.url,
    dataDir,
    async close() {
      await server.close();
      if (!options.keepDataDir && !options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test replies are inspected field by field
  data: any;
}

export async function call(
  base: string,
  method: string,
  path: string,
  init: { json?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(init.json);
  }
  if (init.raw !== undefined) body = init.raw;
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  return { status: res.status, headers: res.headers, text, data };
}

export const PASSWORD = 'correct horse battery staple';
export const newEmail = (): string => `user-${randomBytes(6).toString('hex')}@example.test`;

/** Registers a fresh user and logs in; returns the e-mail and the token response. */
export async function signIn(
  base: string,
  headers: Record<string, string> = {},
): Promise<{ email: string; tokens: Reply }> {
  const email = newEmail();
  const reg = await call(base, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
  if (reg.status !== 201) throw new Error(`register ${reg.status} ${reg.text}`);
  const tokens = await call(base, 'POST', '/auth/login', { json: { email, password: PASSWORD }, headers });
  if (tokens.status !== 200) throw new Error(`login ${tokens.status} ${tokens.text}`);
  return { email, tokens };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Sends `request` as raw bytes and returns everything the server wrote before closing. */
export function rawExchange(base: string, request: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(Number(port), hostname, () => socket.end(request));
    socket.on('data', (d) => {
      text += d;
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}
