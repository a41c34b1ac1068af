// Starts Baton exactly as the README says (`npm start`, default settings) and runs the
// README's curl walk-through verbatim, comparing what it prints with the printed output:
// register → login → me → refresh → replay of the old token → session revoked.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, type ServerProcess, spawnServer } from '../packages/server/test/processes.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

function block(marker: string): string {
  const m = new RegExp(`<!-- ${marker} -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(readme);
  assert.ok(m, `README has a block marked ${marker}`);
  return m[1]!;
}

const dataDir = mkdtempSync(join(tmpdir(), 'baton-readme-'));
let server: ServerProcess;
before(async () => {
  const port = String(await freePort());
  // The issuer must name the address the OAuth client discovers; by default it is
  // http://127.0.0.1:PORT, exactly what the README's examples use.
  server = await spawnServer({ BATON_DATA_DIR: dataDir, PORT: port }, ['npm', 'start', '--silent']);
});
after(async () => {
  const code = await server?.stop('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
  assert.ok(code === 0 || code === null, `npm start exited with ${code}`);
});

function matchPrinted(stdout: string, marker: string): void {
  const printed = stdout.trimEnd().split('\n');
  const expected = block(marker).trimEnd().split('\n');
  assert.equal(printed.length, expected.length, stdout);
  expected.forEach((line, i) => {
    const pattern = new RegExp(
      `^${line
        .split('…')
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^"]+')}$`,
    );
    assert.match(printed[i]!, pattern, `line ${i + 1}`);
  });
}

it('the README OAuth example prints what the README shows', () => {
  // Written inside the repository so that its imports resolve from node_modules, as they
  // would in the user's folder after `npm install oauth4webapi jose`.
  const file = fileURLToPath(new URL('./oauth-client.tmp.mjs', import.meta.url));
  writeFileSync(file, block('oauth-example'));
  try {
    const run = spawnSync(process.execPath, [file], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, BATON_URL: server.url },
    });
    assert.equal(run.status, 0, run.stderr);
    matchPrinted(run.stdout, 'oauth-example-output');
  } finally {
    rmSync(file, { force: true });
  }
});

it('the README walk-through prints exactly what the README shows', () => {
  const script = block('walkthrough').replace('BASE=http://127.0.0.1:8080', `BASE=${server.url}`);
  assert.notEqual(script, block('walkthrough'), 'the walk-through sets BASE');
  const run = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  matchPrinted(run.stdout, 'walkthrough-output');
});
