import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { demoFileDocs } from './route-docs.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

// The demo may only talk to Baton itself and load its own files.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** The browser SDK's compiled files (never its TypeScript sources, whatever the export conditions). */
function sdkDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@baton/client/browser/index.js'));
}

/**
 * The demo app at `/` and the browser SDK at `/sdk/*.js`, read into memory once at start-up
 * (a fixed set of files: no path from the request ever reaches the file system).
 */
export function demoRoutes(app: FastifyInstance): void {
  const demoDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'demo');
  const files = new Map<string, { type: string; body: Buffer }>();
  const add = (urlPath: string, file: string): void => {
    const ext = file.slice(file.lastIndexOf('.'));
    files.set(urlPath, { type: TYPES[ext] ?? 'application/octet-stream', body: readFileSync(file) });
  };
  add('/', join(demoDir, 'index.html'));
  add('/demo/app.js', join(demoDir, 'app.js'));
  add('/demo/style.css', join(demoDir, 'style.css'));
  const sdk = sdkDir();
  for (const name of readdirSync(sdk)) if (name.endsWith('.js')) add(`/sdk/${name}`, join(sdk, name));

  for (const [path, file] of files) {
    app.get(path, { schema: demoFileDocs(path, file.type) }, async (_request, reply) => {
      reply.header('content-type', file.type).header('cache-control', 'no-cache');
      if (path === '/') reply.header('content-security-policy', CSP);
      return reply.send(file.body);
    });
  }
}
