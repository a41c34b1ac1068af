// The README's "Running Baton in production" commands, run as printed: a configuration file
// with secrets in the environment, config check, migrate, users and sessions through the CLI,
// then the audit trail, metrics and API docs of a server started with that configuration.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ServerProcess, spawnServer } from '../packages/server/test/processes.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

function block(marker: string): string {
  const m = new RegExp(`<!-- ${marker} -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(readme);
  assert.ok(m, `README has a block marked ${marker}`);
  return m[1]!;
}

/** The environment of a fresh shell: none of this test run's Baton settings. */
function shellEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BATON_')));
  return { ...env, ...extra };
}

let server: ServerProcess | undefined;
after(async () => {
  await server?.stop('SIGTERM');
  rmSync(`${root}/baton.production.json`, { force: true });
  rmSync(`${root}/data-production`, { recursive: true, force: true });
});

it('the README production commands work as printed', async () => {
  // The setup block, then what it exported, so that the watch block can use the same secrets.
  const setup = spawnSync(
    'bash',
    [
      '-euo',
      'pipefail',
      '-c',
      `${block('production-setup')}\nprintf 'TOKENS %s %s\\n' "$BATON_ADMIN_TOKEN" "$BATON_METRICS_TOKEN"`,
    ],
    { cwd: root, encoding: 'utf8', env: shellEnv(), timeout: 120_000 },
  );
  assert.equal(setup.status, 0, setup.stderr + setup.stdout);
  const [, admin, metrics] = /^TOKENS (\w{64}) (\w{64})$/m.exec(setup.stdout) ?? [];
  assert.ok(admin && metrics, setup.stdout);
  assert.match(setup.stdout, /https:\/\/auth\.example\.com/, 'config check printed the issuer');
  const printed = setup.stdout.slice(0, setup.stdout.indexOf('TOKENS '));
  assert.ok(!printed.includes(admin!) && !printed.includes(metrics!), 'config check hides the tokens');
  assert.match(printed, /adminToken +\[hidden\]/);
  assert.match(setup.stdout, /ops@example\.com/);

  const env = {
    BATON_CONFIG: `${root}/baton.production.json`,
    BATON_ADMIN_TOKEN: admin!,
    BATON_METRICS_TOKEN: metrics!,
  };
  server = await spawnServer(env, ['npx', 'baton', 'serve']);
  const watch = spawnSync('bash', ['-euo', 'pipefail', '-c', block('production-watch')], {
    cwd: root,
    encoding: 'utf8',
    env: shellEnv({ ...env, BATON_URL: server.url }),
    timeout: 60_000,
  });
  assert.equal(watch.status, 0, watch.stderr + watch.stdout);
  const [auditLine, ...rest] = watch.stdout.trimEnd().split('\n');
  const audit = JSON.parse(auditLine!);
  assert.equal(audit.events[0].type, 'user_disabled');
  assert.ok(
    rest.some((l) => /^baton_logins_total\{result="ok"\} 0$/.test(l)),
    watch.stdout,
  );
  assert.equal(rest.at(-1), '200');
});
