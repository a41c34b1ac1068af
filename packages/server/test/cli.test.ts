// The `baton` CLI as an operator runs it: the real entry point, a real data directory, a
// running server over the same store, exit codes and output asserted.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type AccessTokenClaims,
  formatRefreshToken,
  generateSigningKey,
  loadSigningKey,
  signAccessToken,
} from '@baton/core';
import { makeSession } from '@baton/core/testing';
import Database from 'better-sqlite3';
import { table, visible } from '../src/cli/output.js';
import { createArgon2Hasher } from '../src/passwords.js';
import { openSqliteBackend } from '../src/sqlite/backend.js';
import { openDatabase } from '../src/sqlite/database.js';
import { createSqliteSessionStore } from '../src/sqlite/session-store.js';
import { bearer, call, newEmail, PASSWORD, startTestServer } from './helpers.js';
import { runCli, runCliAsync, type ServerProcess, spawnServer } from './processes.js';
import { createTestDatabase, postgresMissing, REDIS_URL, redisMissing } from './services.js';

// Asked before any test runs: runCli blocks the event loop while the CLI runs.
const pgMissing = await postgresMissing();
const noRedis = await redisMissing();

/** Runs the CLI for each argument list, a few at a time. */
async function runMany(argLists: string[][], env: Record<string, string>) {
  const results: Awaited<ReturnType<typeof runCliAsync>>[] = [];
  for (let i = 0; i < argLists.length; i += 4) {
    results.push(...(await Promise.all(argLists.slice(i, i + 4).map((a) => runCliAsync(a, env)))));
  }
  return results;
}

/** Every output of a run, for "never printed" checks. */
const printed = (r: { stdout: string; stderr: string }): string => r.stdout + r.stderr;

describe('baton CLI: help, usage and exit codes', () => {
  it('answers --help on every command and subcommand with exit code 0', async () => {
    const overview = runCli(['--help']);
    assert.equal(overview.status, 0);
    const commands = [...overview.stdout.matchAll(/^ {2}([a-z]+(?: [a-z]+)?)\b/gm)].map((m) => m[1]!);
    for (const expected of [
      'migrate',
      'config check',
      'users create',
      'users disable',
      'users enable',
      'users delete',
      'sessions list',
      'sessions revoke',
      'inspect',
      'prune',
      'keys list',
      'audit tail',
    ])
      assert.ok(commands.includes(expected), `${expected} in the overview`);
    // No data directory or configuration is touched to give help.
    const env = { BATON_DATA_DIR: '/nonexistent/baton', BATON_SIGNING_ALG: 'HS256' };
    const all = [...commands, 'users', 'sessions', 'keys', 'audit', 'config'];
    const results = await runMany(
      all.map((c) => [...c.split(' '), '--help']),
      env,
    );
    for (const [i, command] of all.entries()) {
      const r = results[i]!;
      assert.equal(r.status, 0, `${command} --help: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: baton /, command);
    }
  });

  it('reports failures as JSON on stdout under --json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-cli-json-'));
    try {
      const [missing, usage] = await runMany(
        [
          ['sessions', 'list', '--user', 'nobody@example.test', '--json'],
          ['keys', 'retire', '--json'],
        ],
        { BATON_DATA_DIR: dir },
      );
      assert.equal(missing!.status, 1);
      assert.deepEqual(JSON.parse(missing!.stdout), {
        error: 'failed',
        problems: ['no user with e-mail address nobody@example.test'],
      });
      assert.equal(usage!.status, 2);
      assert.equal(JSON.parse(usage!.stdout).error, 'usage');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never echoes a token pasted where an e-mail address, id or option belongs', async () => {
    const jwt = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl';
    const dir = mkdtempSync(join(tmpdir(), 'baton-cli-echo-'));
    try {
      const cases = [
        ['users', 'disable', jwt],
        ['sessions', 'list', '--user', jwt],
        ['sessions', 'revoke', jwt],
        ['keys', 'retire', jwt],
        ['inspect', `--${jwt}`],
        ['keys', 'rotate', '--activate-in', jwt],
      ];
      const results = await runMany(cases, { BATON_DATA_DIR: dir });
      for (const [i, args] of cases.entries()) {
        const r = results[i]!;
        assert.ok(r.status === 1 || r.status === 2, `${args[0]} ${args[1]}: ${r.status}`);
        assert.doesNotMatch(printed(r), /c2lnbmF0dXJl|eyJzdWIi/, `${args[0]} ${args[1]} echoed the token`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers usage errors with exit code 2 and the usage, echoing no secret', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /Usage: baton <command>/],
      [['frobnicate'], /unknown command: frobnicate/],
      [['sesions', 'list'], /unknown command: sesions \(did you mean sessions\?\)/],
      [['sessions', 'lst'], /unknown sessions command: lst \(did you mean list\?\)/],
      [['audit', 'tail', '--jsn'], /unknown option --jsn \(did you mean --json\?\)/],
      [['users'], /users needs a command/],
      [['users', 'rename'], /unknown users command: rename/],
      [['users', '--json'], /unknown users command: --json/],
      [['audit', 'tail', '-n', '1000000'], /-n: expected a number of events from 1 to 100000/],
      [['sessions', 'list'], /--user <email> is required/],
      [['sessions', 'revoke'], /give a session id or --user/],
      [['sessions', 'list', '--user'], /--user needs a value/],
      [
        ['keys', 'rotate', '--activate-in', '-5m'],
        /--activate-in needs a value; one that starts with "-" is written --activate-in=VALUE/,
      ],
      [['inspect'], /missing argument/],
      [['prune', '--force'], /unknown option --force/],
      [
        ['users', 'create', 'a@example.test', '--password=hunter2hunter2'],
        /never taken from the command line/,
      ],
      [
        ['users', 'create', 'a@example.test', '--password', 'hunter2hunter2'],
        /never taken from the command line/,
      ],
      [['users', 'create', 'a@example.test'], /no terminal to ask for the password on: use --password-stdin/],
      [['users', 'delete', 'a@example.test'], /cannot be undone: add --yes/],
      [
        ['inspect', 'a', 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'],
        /unexpected argument: \(not shown\)/,
      ],
    ];
    const results = await runMany(
      cases.map(([args]) => args),
      { BATON_DATA_DIR: '/nonexistent/baton' },
    );
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i]!;
      assert.equal(r.status, 2, `${args.join(' ')}: ${printed(r)}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.match(r.stderr, /Usage: baton/);
      assert.doesNotMatch(printed(r), /hunter2|c2lnbmF0dXJl/);
    }
    // A failure whose text holds control or format characters is still JSON (escaped by JSON,
    // not shown as \u{…}); --json=… counts as --json.
    const jsonDir = mkdtempSync(join(tmpdir(), 'baton-cli-json-'));
    for (const args of [
      ['users', 'disable', 'ann\u202e@example.test', '--json'],
      ['sessions', 'revoke', 'abc\u007fdef', '--json'],
      ['users', 'create', 'a@example.test', '--json=yes'],
    ]) {
      const r = runCli(args, { BATON_DATA_DIR: jsonDir });
      assert.ok(r.status === 1 || r.status === 2, `${args.join(' ')}: ${r.status}`);
      const doc = JSON.parse(r.stdout);
      assert.ok(Array.isArray(doc.problems) && doc.problems.length > 0, r.stdout);
    }
    rmSync(jsonDir, { recursive: true, force: true });
    // A group's usage error is one JSON document under --json, like any other.
    const json = runCli(['users', '--json'], { BATON_DATA_DIR: '/nonexistent/baton' });
    assert.equal(json.status, 2);
    assert.deepEqual(JSON.parse(json.stdout), {
      error: 'usage',
      problems: ['unknown users command: --json'],
    });
  });
});

describe('baton CLI against a running server', () => {
  let dir: string;
  let server: ServerProcess;
  let env: Record<string, string>;
  const login = (email: string, password = PASSWORD, ua = 'cli-test/1.0') =>
    call(server.url, 'POST', '/auth/login', { json: { email, password }, headers: { 'user-agent': ua } });
  const createUser = (email: string, password = PASSWORD) =>
    runCli(['users', 'create', email, '--password-stdin'], env, { input: `${password}\n` });
  const me = async (token: string) =>
    (await call(server.url, 'GET', '/auth/me', { headers: bearer(token) })).status;
  const refresh = async (token: string) =>
    (await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: token } })).status;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-cli-'));
    const issuer = 'http://baton.cli.test';
    env = { BATON_DATA_DIR: dir, BATON_ISSUER: issuer };
    server = await spawnServer(env);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('users create: from stdin, policy enforced, never printing the password', async () => {
    const email = newEmail();
    const created = createUser(email.toUpperCase());
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`^created user ${email} \\([0-9a-f-]{36}\\)\\n$`));
    assert.equal((await login(email)).status, 200, 'the new user signs in over HTTP');

    const again = createUser(email);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already exists/);
    const short = createUser(newEmail(), 'short');
    assert.equal(short.status, 1);
    assert.match(short.stderr, /^baton: password must be at least 8 characters\.$/m);
    const badEmail = createUser('not an address');
    assert.equal(badEmail.status, 1);
    assert.match(badEmail.stderr, /not a valid e-mail address/);
    const json = runCli(['users', 'create', newEmail(), '--password-stdin', '--json'], env, {
      input: PASSWORD,
    });
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(Object.keys(JSON.parse(json.stdout)), ['id', 'email', 'created_at']);
    for (const r of [created, again, short, json]) assert.doesNotMatch(printed(r), /correct horse|short\n/);
  });

  it('sessions list and sessions revoke <id>: revoked through the domain, refused at once', async () => {
    const email = newEmail();
    assert.equal(createUser(email).status, 0);
    const first = (await login(email, PASSWORD, 'Phone/1')).data;
    const second = (await login(email, PASSWORD, 'Laptop/2')).data;

    const list = runCli(['sessions', 'list', '--user', email], env);
    assert.equal(list.status, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID +CLIENT +CREATED +LAST USED +EXPIRES +IP +USER AGENT$/);
    assert.equal(lines.length, 3);
    assert.ok(lines.some((l) => l.startsWith(first.session_id) && /baton .*127\.0\.0\.1 +Phone\/1$/.test(l)));
    assert.doesNotMatch(list.stdout, new RegExp(first.refresh_token.split('.')[2]));

    const json = JSON.parse(runCli(['sessions', 'list', '--user', email, '--json'], env).stdout);
    assert.equal(json.user.email, email);
    assert.deepEqual(Object.keys(json.sessions[0]).sort(), [
      'client_id',
      'created_at',
      'expires_at',
      'id',
      'ip',
      'last_used_at',
      'user_agent',
    ]);
    assert.match(json.sessions[0].expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const revoked = runCli(['sessions', 'revoke', first.session_id], env);
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`revoked session ${first.session_id}`));
    assert.equal(await me(first.access_token), 401, 'the access token is refused at once');
    assert.equal(await refresh(first.refresh_token), 401);
    assert.equal(await me(second.access_token), 200, 'the other session lives on');
    const repeat = runCli(['sessions', 'revoke', first.session_id], env);
    assert.equal(repeat.status, 0);
    assert.match(repeat.stdout, /already revoked \(admin/);
    const unknown = runCli(['sessions', 'revoke', 'no-such-session'], env);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /no session no-such-session/);
    const nobody = runCli(['sessions', 'list', '--user', newEmail()], env);
    assert.equal(nobody.status, 1);
    assert.match(nobody.stderr, /no user with e-mail address/);

    const audit = JSON.parse(runCli(['audit', 'tail', '-n=20', '--json'], env).stdout) as Array<{
      type: string;
      at: string;
      session_id: string;
      detail: { reason?: string } | null;
    }>;
    assert.ok(
      audit.some(
        (e) =>
          e.type === 'session_revoked' && e.session_id === first.session_id && e.detail?.reason === 'admin',
      ),
    );
    // The same shape as GET /admin/audit gives: snake_case, ISO times.
    assert.ok(audit.every((e) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(e.at)));
  });

  it('sessions revoke --user revokes every session of the user', async () => {
    const email = newEmail();
    assert.equal(createUser(email).status, 0);
    const a = (await login(email)).data;
    const b = (await login(email)).data;
    const r = runCli(['sessions', 'revoke', '--user', email, '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).revoked.sort(), [a.session_id, b.session_id].sort());
    assert.equal(await me(a.access_token), 401);
    assert.equal(await me(b.access_token), 401);
    assert.equal((await login(email)).status, 200, 'the user may sign in again');
  });

  it('users disable: every session revoked, access and refresh refused, sign-in refused; users enable undoes it', async () => {
    const email = newEmail();
    assert.equal(createUser(email).status, 0);
    const a = (await login(email)).data;
    const b = (await login(email)).data;
    const r = runCli(['users', 'disable', email], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^disabled ${email} \\(.+\\); revoked 2 sessions\\n$`));
    for (const t of [a, b]) {
      assert.equal(await me(t.access_token), 401);
      assert.equal(await refresh(t.refresh_token), 401);
    }
    const refused = await login(email);
    assert.equal(refused.status, 401);
    assert.equal(refused.data.error, 'invalid_credentials');
    const again = runCli(['users', 'disable', email, '--json'], env);
    assert.equal(again.status, 0);
    assert.equal(JSON.parse(again.stdout).already_disabled, true);
    const audit = runCli(['audit', 'tail', '-n', '30'], env).stdout;
    assert.match(audit, /user_disabled/);
    assert.match(audit, /session_revoked .*"reason":"user_disabled"/);

    // users enable: sign-in works again; the revoked sessions stay revoked.
    const enabled = runCli(['users', 'enable', email], env);
    assert.equal(enabled.status, 0, enabled.stderr);
    assert.match(enabled.stdout, new RegExp(`^enabled ${email} \\(.+\\)\\n$`));
    const back = await login(email);
    assert.equal(back.status, 200);
    assert.equal(await me(back.data.access_token), 200);
    for (const t of [a, b]) assert.equal(await refresh(t.refresh_token), 401);
    const twice = runCli(['users', 'enable', email, '--json'], env);
    assert.equal(twice.status, 0);
    assert.equal(JSON.parse(twice.stdout).already_enabled, true);
    assert.match(runCli(['audit', 'tail', '-n', '5'], env).stdout, /user_enabled/);
  });

  it('users delete: sessions revoked, account gone, the address free again', async () => {
    const email = newEmail();
    assert.equal(createUser(email).status, 0);
    const a = (await login(email)).data;
    const r = runCli(['users', 'delete', email, '--yes', '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.deepEqual([result.deleted, result.revoked_sessions], [true, [a.session_id]]);
    assert.equal(await me(a.access_token), 401);
    assert.equal(await refresh(a.refresh_token), 401);
    assert.equal((await login(email)).status, 401);
    assert.equal(runCli(['sessions', 'list', '--user', email], env).status, 1, 'no such user any more');
    assert.match(runCli(['audit', 'tail', '-n', '10'], env).stdout, /user_deleted/);
    // The revoked row stays, anonymised, for deny-set catch-up until pruning.
    const db = openDatabase(dir);
    try {
      const row = await createSqliteSessionStore(db).getSession(a.session_id);
      assert.deepEqual([row?.revokeReason, row?.ip, row?.userAgent], ['user_deleted', null, null]);
    } finally {
      db.close();
    }
    const reRegistered = await call(server.url, 'POST', '/auth/register', {
      json: { email, password: PASSWORD },
    });
    assert.equal(reRegistered.status, 201);
  });

  describe('inspect', () => {
    let key: ReturnType<typeof loadSigningKey>;
    let live: { access_token: string; refresh_token: string; session_id: string };
    let claims: AccessTokenClaims;
    before(async () => {
      const email = newEmail();
      assert.equal(createUser(email).status, 0);
      live = (await login(email)).data;
      const doc = JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8'));
      key = loadSigningKey(doc.signingKeys[0]);
      claims = JSON.parse(Buffer.from(live.access_token.split('.')[1]!, 'base64url').toString());
    });
    const inspect = (token: string, ...more: string[]) => runCli(['inspect', token, ...more], env);
    const signed = (over: Partial<AccessTokenClaims>) => signAccessToken(key, { ...claims, ...over });

    it('explains a valid token: exit 0, claims with human times, the token never printed', () => {
      const r = inspect(live.access_token);
      assert.equal(r.status, 0, printed(r));
      assert.match(r.stdout, /^token +signed JWT \(JWS\), signed with EdDSA key /m);
      assert.match(r.stdout, /^ {2}iss +http:\/\/baton\.cli\.test$/m);
      assert.match(r.stdout, /^ {2}exp +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in 1[45] min\)$/m);
      assert.match(r.stdout, /^ {2}iat +.*\((\d+ s ago|just now)\)$/m);
      assert.match(r.stdout, /^VALID: /m);
      assert.ok(!printed(r).includes(live.access_token.split('.')[2]!), 'no signature text');
      const viaStdin = runCli(['inspect', '-', '--json'], env, { input: `Bearer ${live.access_token}\n` });
      assert.equal(viaStdin.status, 0);
      const json = JSON.parse(viaStdin.stdout);
      assert.equal(json.valid, true);
      assert.equal(json.claims.sid, live.session_id);
      assert.deepEqual(json.problems, []);
    });

    it('expired, not yet valid, wrong audience, wrong issuer: each reason in plain words', () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = inspect(signed({ iat: now - 20 * 60, exp: now - 3 * 60 - 5 }));
      assert.equal(expired.status, 1);
      assert.match(
        expired.stdout,
        /^INVALID:\n {2}- expired 3 min ago \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$/m,
      );
      // Signed with the server's own key, yet a lifetime no Baton issues: shown, never a crash.
      const forever = inspect(signed({ exp: 1e300 }));
      assert.equal(forever.status, 1, printed(forever));
      assert.match(forever.stdout, /^ {2}exp +\(out of range: 1e\+300 s\) \(in over a century\)$/m);
      assert.match(
        forever.stdout,
        /- malformed claims: exp - iat is .* s; Baton issues lifetimes from 1 s to 24 h/,
      );
      const foreverJson = JSON.parse(inspect(signed({ exp: 1e300 }), '--json').stdout);
      assert.equal(foreverJson.valid, false);
      const future = inspect(signed({ iat: now + 10 * 60 + 30, exp: now + 25 * 60 }));
      assert.match(future.stdout, /- issued in the future: iat is in 10 min/);
      const audience = inspect(signed({ aud: 'orders-api' }), '--json');
      assert.equal(audience.status, 1);
      assert.deepEqual(
        JSON.parse(audience.stdout).problems.map((p: { explanation: string }) => p.explanation),
        ['wrong audience: aud is "orders-api"; this server expects "baton"'],
      );
      const both = inspect(signed({ iss: 'https://other.example', aud: 'x' }));
      assert.match(
        both.stdout,
        /- wrong issuer: iss is "https:\/\/other\.example"; this server is "http:\/\/baton\.cli\.test"/,
      );
      assert.match(both.stdout, /- wrong audience/);
    });

    it('unknown key, tampered, wrong algorithm: told apart', async () => {
      const stranger = loadSigningKey(await generateSigningKey('EdDSA', Date.now()));
      const unknown = inspect(signAccessToken(stranger, claims));
      assert.equal(unknown.status, 1);
      assert.match(
        unknown.stdout,
        new RegExp(`- unknown key: key ${stranger.kid} is not among this server's published keys`),
      );
      const [h, , s] = live.access_token.split('.');
      const payload = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
      const tampered = inspect(`${h}.${payload}.${s}`);
      assert.equal(tampered.status, 1);
      assert.match(tampered.stdout, /- bad signature \(tampered\?\): the signature does not match key /);
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: key.kid })).toString('base64url')}.${payload}.`;
      const alg = inspect(none);
      assert.equal(alg.status, 1);
      assert.match(alg.stdout, /- (algorithm not allowed|malformed)/);
    });

    it('text from the token cannot drive the terminal or fake a verdict line', () => {
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const evil = '\u001b[31mRED\u001b[0m\nVALID: fake\r\u202e\u009b2J';
      const forged = `${b64({ alg: 'EdDSA', typ: 'at+jwt', kid: `\u001b[8mX\nVALID: kid` })}.${b64({ ...claims, iss: evil, 'x\u001b]0;t\u0007': evil })}.${'A'.repeat(86)}`;
      const r = inspect(forged);
      assert.equal(r.status, 1);
      assert.doesNotMatch(r.stdout, /[\p{Cc}\p{Cf}](?<!\n)/u, 'no control character printed');
      assert.deepEqual(
        r.stdout.split('\n').filter((line) => /^(IN)?VALID/.test(line)),
        ['INVALID:'],
        'the only verdict line is the real one',
      );
      assert.match(r.stdout, /^ {2}iss +\\u\{1b\}\[31mRED\\u\{1b\}\[0m\\u\{a\}VALID: fake/m);
      assert.match(r.stdout, /unknown key: key \\u\{1b\}\[8mX\\u\{a\}VALID: kid/);
      // --json is for scripts: the claims as they are, escaped by JSON.
      assert.equal(JSON.parse(inspect(forged, '--json').stdout).claims.iss, evil);
    });

    it('not a JWT at all, a refresh token, a revoked session', () => {
      const junk = inspect('hello-world');
      assert.equal(junk.status, 1);
      assert.match(junk.stdout, /^token +not a JWT$/m);
      assert.match(junk.stdout, /- not a JWT at all/);
      const refresh = formatRefreshToken({
        sessionId: live.session_id,
        generation: 0,
        secret: randomBytes(32).toString('base64url'),
      });
      const r = inspect(refresh);
      assert.equal(r.status, 1);
      assert.match(r.stdout, /this is a Baton refresh token, not a JWT/);
      assert.ok(!printed(r).includes(refresh.split('.')[2]!), 'the secret part is never printed');

      assert.equal(runCli(['sessions', 'revoke', live.session_id], env).status, 0);
      const revoked = inspect(live.access_token);
      assert.equal(revoked.status, 1);
      assert.match(
        revoked.stdout,
        new RegExp(`- session ${live.session_id} was revoked \\(admin\\) (just now|\\d+ s ago)`),
      );
    });
  });

  it('prune deletes expired rows and old audit events now, and prints the counts', async () => {
    // A store of its own: the running server's pruner would race the command for these rows.
    const dir = mkdtempSync(join(tmpdir(), 'baton-prune-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const env = { BATON_DATA_DIR: dir };
    const backend = openSqliteBackend(dir, () => {});
    const past = Date.now() - 40 * 86_400_000;
    try {
      for (let i = 0; i < 1203; i++)
        await backend.sessions.createSession(makeSession({ createdAt: past, expiresAt: past + 1000 }));
      await backend.sessions.revokeAccessToken(randomBytes(8).toString('hex'), past);
      for (let i = 0; i < 7; i++) backend.audit.record({ type: 'login_failed', at: past - 100 * 86_400_000 });
    } finally {
      await backend.close();
    }
    const r = runCli(['prune', '--json'], env);
    assert.equal(r.status, 0, r.stderr);
    const counts = JSON.parse(r.stdout);
    assert.equal(counts.sessions_and_denied_tokens, 1204, r.stdout);
    assert.equal(counts.audit_events, 7);
    const again = runCli(['prune'], env);
    assert.equal(again.status, 0);
    assert.match(
      again.stdout,
      /^deleted 0 expired or revoked sessions and denied access tokens, 0 audit events$/m,
    );
    assert.equal(again.stderr, '', 'no progress bar when stderr is not a terminal');
  });

  it('migrate reports an up-to-date store; a fresh one gets every migration', () => {
    const current = runCli(['migrate'], env);
    assert.equal(current.status, 0, current.stderr);
    assert.match(current.stdout, /^sqlite .*baton\.db: up to date at schema version \d+, nothing to apply$/m);
    const fresh = mkdtempSync(join(tmpdir(), 'baton-migrate-'));
    try {
      const r = runCli(['migrate', '--json'], { BATON_DATA_DIR: fresh });
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.store, 'sqlite');
      assert.equal(report.from, 0);
      assert.equal(report.applied.length, report.to);
      assert.match(report.applied[0].summary, /create table users, sessions/);
      assert.equal(r.stderr, '');
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('keys rotate says where a key of another algorithm signs; keys retire twice leaves it as it was', () => {
    const other = runCli(['keys', 'rotate', '--alg', 'ES256', '--activate-in', '10m'], env);
    assert.equal(other.status, 0, other.stderr);
    assert.match(
      other.stdout,
      /signs from .* on servers with BATON_SIGNING_ALG=ES256 \(this configuration signs with EdDSA\)/,
    );
    const added = JSON.parse(runCli(['keys', 'rotate', '--activate-in', '10m', '--json'], env).stdout);
    assert.equal(added.signs_here, true);
    const first = runCli(['keys', 'retire', added.kid, '--json'], env);
    assert.equal(first.status, 0, first.stderr);
    const retiredAt = JSON.parse(first.stdout).retired_at;
    const again = runCli(['keys', 'retire', added.kid, '--json'], env);
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), {
      kid: added.kid,
      retired_at: retiredAt,
      already_retired: true,
    });
    const listed = JSON.parse(runCli(['keys', 'list', '--json'], env).stdout) as Array<{
      kid: string;
      retired_at?: string;
    }>;
    assert.ok(listed.some((k) => k.kid === added.kid));
    const rs = JSON.parse(
      runCli(['keys', 'rotate', '--alg', 'RS256', '--activate-in=0s', '--json'], env).stdout,
    );
    const states = JSON.parse(runCli(['keys', 'list', '--json'], env).stdout) as Array<{
      kid: string;
      state: string;
    }>;
    assert.equal(states.find((k) => k.kid === rs.kid)?.state, 'active on RS256 servers');
    assert.equal(states.filter((k) => k.state === 'active').length, 1, 'one key signs here');
  });
});

describe('baton migrate on PostgreSQL', () => {
  const missing = pgMissing;
  it('applies the PostgreSQL migrations once, hiding the URL password', {
    skip: missing || false,
  }, async () => {
    const db = await createTestDatabase();
    try {
      const url = new URL(db.url);
      url.password = 'not-the-password-anyway';
      const env = { BATON_STORE: 'postgres', DATABASE_URL: url.toString() };
      const first = runCli(['migrate'], env);
      assert.equal(first.status, 0, first.stderr);
      assert.match(
        first.stdout,
        /^postgres postgres:\/\/.*:\[hidden\]@.*: schema version 0 → \d+, applied \d+ migrations$/m,
      );
      assert.doesNotMatch(printed(first), /not-the-password-anyway/);
      const second = JSON.parse(runCli(['migrate', '--json'], env).stdout);
      assert.deepEqual(second.applied, []);
    } finally {
      await db.drop();
    }
  });
});

describe('baton CLI with Redis: a revocation reaches running servers', () => {
  const missing = noRedis;
  let dir: string;
  let server: ServerProcess;
  let env: Record<string, string>;
  before(async () => {
    if (missing) return;
    dir = mkdtempSync(join(tmpdir(), 'baton-cli-redis-'));
    env = { BATON_DATA_DIR: dir, BATON_ISSUER: 'http://baton.cli.test', REDIS_URL };
    server = await spawnServer(env);
  });
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is published on the bus: a fan-out server refuses at once what only the bus told it', {
    skip: missing || false,
  }, async () => {
    const deadline = Date.now() + 10_000;
    while ((await call(server.url, 'GET', '/readyz')).data?.revocation_checks !== 'fan-out') {
      assert.ok(Date.now() < deadline, 'the server reaches fan-out mode');
      await new Promise((r) => setTimeout(r, 50));
    }
    const email = newEmail();
    assert.equal(runCli(['users', 'create', email, '--password-stdin'], env, { input: PASSWORD }).status, 0);
    const login = () => call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
    const control = (await login()).data;
    const target = (await login()).data;
    // Control: revoked in the store behind the domain's back, the fan-out server still accepts
    // the access token (it checks its deny-set, not the store): a CLI that only wrote the store
    // would not be enough.
    const db = openDatabase(dir);
    await createSqliteSessionStore(db).revokeSession(control.session_id, 'admin', Date.now());
    db.close();
    assert.equal(
      (await call(server.url, 'GET', '/auth/me', { headers: bearer(control.access_token) })).status,
      200,
    );

    const r = runCli(['sessions', 'revoke', target.session_id], env);
    assert.equal(r.status, 0, r.stderr);
    let status = 0;
    for (let i = 0; i < 50 && status !== 401; i++) {
      status = (await call(server.url, 'GET', '/auth/me', { headers: bearer(target.access_token) })).status;
      if (status !== 401) await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal(status, 401);
    assert.equal((await call(server.url, 'GET', '/readyz')).data.revocation_checks, 'fan-out');
  });

  it('exits 1 with a warning when the bus cannot be reached; the store still has the revocation', {
    skip: missing || false,
  }, async () => {
    const email = newEmail();
    assert.equal(runCli(['users', 'create', email, '--password-stdin'], env, { input: PASSWORD }).status, 0);
    const s = (await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } })).data;
    const r = runCli(['users', 'disable', email], { ...env, REDIS_URL: 'redis://:sekrit-pw@127.0.0.1:1' });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /revoked 1 session/);
    assert.match(
      r.stderr,
      /warning: revoked in the store, but not announced: Redis at redis:\/\/:\[hidden\]@127\.0\.0\.1:1 did not answer/,
    );
    assert.doesNotMatch(printed(r), /sekrit/);
    assert.equal(
      (await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: s.refresh_token } })).status,
      401,
    );
    // Under --json: the document says what was done, and that it failed, as every failure does.
    const other = newEmail();
    assert.equal(runCli(['users', 'create', other, '--password-stdin'], env, { input: PASSWORD }).status, 0);
    const live = (
      await call(server.url, 'POST', '/auth/login', { json: { email: other, password: PASSWORD } })
    ).data;
    const j = runCli(['sessions', 'revoke', '--user', other, '--json'], {
      ...env,
      REDIS_URL: 'redis://127.0.0.1:1',
    });
    assert.equal(j.status, 1);
    const doc = JSON.parse(j.stdout);
    assert.equal(doc.error, 'not_announced');
    assert.match(doc.problems[0], /^revoked in the store, but not announced: /);
    assert.deepEqual(doc.revoked, [live.session_id]);
  });
});

describe('baton config check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-config-check-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the effective configuration with every secret hidden', () => {
    const file = join(dir, 'prod.json');
    writeFileSync(
      file,
      JSON.stringify({
        BATON_RESOURCE_SERVERS: ['orders:orders-secret-0123456789'],
        BATON_CLIENTS: ['mobile', 'backend:backend-secret-0123456789'],
        BATON_ACCESS_TOKEN_TTL: '10m',
        REDIS_URL: 'redis://:redis-pw-123@cache.internal:6379',
      }),
      { mode: 0o600 },
    );
    const env = {
      BATON_CONFIG: file,
      BATON_STORE: 'postgres',
      DATABASE_URL: 'postgres://baton:db-pw-456@db.internal:5432/baton',
    };
    const r = runCli(['config', 'check'], env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^configuration is valid$/m);
    assert.match(r.stdout, new RegExp(`^file +${file}$`, 'm'));
    assert.match(
      r.stdout,
      /^from file +BATON_ACCESS_TOKEN_TTL, BATON_CLIENTS, BATON_RESOURCE_SERVERS, REDIS_URL$/m,
    );
    assert.match(r.stdout, /^from env +BATON_STORE, DATABASE_URL$/m);
    assert.match(r.stdout, /^accessTokenTtl +10m$/m);
    assert.match(r.stdout, /^databaseUrl +postgres:\/\/baton:\[hidden\]@db\.internal:5432\/baton$/m);
    assert.match(r.stdout, /^redisUrl +redis:\/\/:\[hidden\]@cache\.internal:6379$/m);
    assert.match(r.stdout, /"id":"orders","secret":"\[hidden\]"/);
    assert.match(r.stdout, /"id":"mobile","secret":null/);
    const json = runCli(['config', 'check', '--json'], env);
    assert.equal(json.status, 0);
    assert.equal(JSON.parse(json.stdout).config.clients[1].secret, '[hidden]');
    for (const out of [r, json])
      for (const secret of ['orders-secret', 'backend-secret', 'redis-pw', 'db-pw'])
        assert.doesNotMatch(printed(out), new RegExp(secret));
  });

  it('exits 1 with one line per problem, secrets hidden there too', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({ BATON_ACCESS_TOKEN_TTL: 'soon', BATON_RESOURCE_SERVERS: 'api:tiny-secret' }),
    );
    const r = runCli(['config', 'check'], { BATON_CONFIG: file, PORT: 'eighty' });
    assert.equal(r.status, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 3, r.stderr);
    for (const line of lines) assert.match(line, /^baton: configuration error: /);
    assert.ok(lines.some((l) => l.includes(`${file}: BATON_ACCESS_TOKEN_TTL="soon" is invalid`)));
    assert.ok(lines.some((l) => l.includes('PORT="eighty" is invalid')));
    assert.doesNotMatch(r.stderr, /tiny-secret/);
    const json = runCli(['config', 'check', '--json'], { BATON_CONFIG: file });
    assert.equal(json.status, 1);
    assert.equal(JSON.parse(json.stdout).problems.length, 2);
    const missingFile = runCli(['config', 'check'], { BATON_CONFIG: join(dir, 'nope.json') });
    assert.equal(missingFile.status, 1);
    assert.match(missingFile.stderr, /BATON_CONFIG=.*nope\.json: no such file/);
  });
});

describe('an account changed while its password is being checked gets no session', () => {
  // The change comes at the worst moment: after the password check has read the account,
  // before the session is written.
  function hasherActingMidCheck() {
    const argon2 = createArgon2Hasher();
    const state: { during: (() => Promise<void>) | null } = { during: null };
    const hasher = {
      hash: (password: string) => argon2.hash(password),
      async verify(hash: string, password: string) {
        const ok = await argon2.verify(hash, password);
        const act = state.during;
        state.during = null;
        await act?.();
        return ok;
      },
    };
    return { hasher, state };
  }

  function revokeReasons(dataDir: string): unknown[] {
    const db = new Database(join(dataDir, 'baton.db'), { readonly: true });
    try {
      return db.prepare('SELECT revoke_reason AS reason FROM sessions ORDER BY created_at').all();
    } finally {
      db.close();
    }
  }

  it('a password change during sign-in with the old password: refused, and no live session is left', async () => {
    const { hasher, state } = hasherActingMidCheck();
    // The owner changes the password from another address than the sign-in's: attempts from
    // one address at one account take turns, so from the same one the change would wait for
    // the sign-in it is meant to overtake.
    const server = await startTestServer({ BATON_TRUSTED_PROXIES: '127.0.0.1' }, { hasher });
    try {
      const email = newEmail();
      const newPassword = 'a brand new passphrase';
      await call(server.url, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
      const owner = await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
      assert.equal(owner.status, 200);
      state.during = async () => {
        const changed = await call(server.url, 'POST', '/auth/password', {
          json: { current_password: PASSWORD, new_password: newPassword },
          headers: { authorization: `Bearer ${owner.data.access_token}`, 'x-forwarded-for': '198.51.100.9' },
        });
        assert.equal(changed.status, 204, changed.text);
      };
      const res = await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
      assert.equal(state.during, null, 'the password was changed mid-check');
      assert.equal(res.status, 401, res.text);
      assert.equal(res.data.error, 'invalid_credentials');
      // The owner's session (which made the change) lives on; the overtaken one is revoked.
      assert.deepEqual(revokeReasons(server.dataDir), [{ reason: null }, { reason: 'password_changed' }]);
      const fresh = await call(server.url, 'POST', '/auth/login', { json: { email, password: newPassword } });
      assert.equal(fresh.status, 200, 'the new password signs in');
    } finally {
      await server.close();
    }
  });

  for (const action of ['disable', 'delete'] as const) {
    it(`users ${action} during sign-in: the sign-in is refused and no live session is left`, async () => {
      const { hasher, state } = hasherActingMidCheck();
      const server = await startTestServer({}, { hasher });
      try {
        const email = newEmail();
        const env = { BATON_DATA_DIR: server.dataDir };
        assert.equal(
          (await call(server.url, 'POST', '/auth/register', { json: { email, password: PASSWORD } })).status,
          201,
        );
        state.during = async () => {
          const r = await runCliAsync(
            ['users', action, email, ...(action === 'delete' ? ['--yes'] : [])],
            env,
          );
          assert.equal(r.status, 0, r.stderr);
        };
        const res = await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
        assert.equal(state.during, null, 'the operator acted');
        assert.equal(res.status, 401, res.text);
        assert.equal(res.data.error, 'invalid_credentials');
        assert.deepEqual(revokeReasons(server.dataDir), [
          { reason: action === 'disable' ? 'user_disabled' : 'user_deleted' },
        ]);
      } finally {
        await server.close();
      }
    });
  }
});

describe('CLI output', () => {
  it('shows control characters from stored data escaped: a user agent cannot redraw the terminal', () => {
    const agent = 'curl\u009b2J\u001b[1A\rVALID\u202e';
    const [, row] = table(['session', 'user agent'], [['s1', agent]]);
    assert.equal(row, 's1       curl\\u{9b}2J\\u{1b}[1A\\u{d}VALID\\u{202e}');
    assert.equal(
      visible('two\nlines\tand\u0007'),
      'two\nlines\tand\\u{7}',
      'line breaks and tabs of our own stay',
    );
  });
});
