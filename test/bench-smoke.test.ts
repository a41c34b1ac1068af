// The benchmark is not a test: this runs its smoke mode (a few seconds per part) to prove it
// still works, and asserts only correctness under its load — no chain died, no 5xx — never
// a timing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

it('npm run bench -- --smoke runs every part and keeps every chain alive', { timeout: 240_000 }, () => {
  const run = spawnSync(process.execPath, ['bench/run.mjs', '--smoke'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 230_000,
  });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /refresh, SQLite/);
  const result = JSON.parse(readFileSync(`${root}/bench-results/smoke.json`, 'utf8'));
  for (const part of [
    'crypto',
    'verifier',
    'sqliteRotationWrite',
    'trivialHttp',
    'refresh',
    'me',
    'login',
    'memory',
    'storage',
  ]) {
    assert.ok(result[part], `the result has ${part}`);
  }
  assert.equal(result.refresh.sqlite.chainDeaths, 0);
  assert.equal(result.refresh.sqlite.serverErrors, 0);
  assert.ok(result.refresh.sqlite.rps > 0);
});
