// The nightly-style fuzz run: the attack catalogue's fast-check properties with many more cases
// than CI runs (60 per property). Exit code 0 when every property held.
//   npm run fuzz                 5,000 cases per property (a few minutes)
//   npm run fuzz -- 50000        as many as you like; a failure prints fast-check's seed and path
import { spawnSync } from 'node:child_process';

const runs = process.argv[2] ?? '5000';
if (!/^\d{1,7}$/.test(runs)) {
  console.error('usage: npm run fuzz -- [cases per property]');
  process.exit(2);
}
console.log(`fuzzing every endpoint with ${runs} cases per property`);
const started = Date.now();
const result = spawnSync(process.execPath, ['scripts/test.mjs', 'attacks'], {
  cwd: new URL('..', import.meta.url).pathname,
  stdio: 'inherit',
  env: { ...process.env, BATON_FUZZ_RUNS: runs },
});
console.log(`fuzz run finished in ${Math.round((Date.now() - started) / 1000)} s, exit ${result.status}`);
process.exit(result.status ?? 1);
