// Key rotation without downtime, end to end: `baton keys rotate` against a running server,
// verified by jose (cached remote JWKS) and jsonwebtoken. A manual clock moves the server
// through the rotation; the CLI is the real one, run as a separate process.
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { it } from 'node:test';
import { createManualClock } from '@baton/core/testing';
import { createRemoteJWKSet, type JWK, jwtVerify } from 'jose';
import jwt from 'jsonwebtoken';
import { call, signIn, startTestServer } from './helpers.js';
import { runCli } from './processes.js';

const MINUTE = 60_000;

const kidOf = (token: string): string =>
  JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('rotates keys with no failed verification, then retires the old key after its tokens expired', async () => {
  const clockStart = Date.now();
  const clock = createManualClock(clockStart);
  const env = { BATON_SIGNING_ALG: 'ES256' };
  const server = await startTestServer(env, { clock });
  try {
    const jwksUrl = new URL(`${server.url}/.well-known/jwks.json`);
    const verifyOpts = () => ({
      issuer: server.url,
      audience: 'baton',
      typ: 'at+jwt',
      currentDate: new Date(clock.now()),
    });
    // A verifier that refreshes its cache quickly (the real default is minutes; the
    // pre-publication delay must exceed whatever verifiers use, which is the point).
    const jwks = createRemoteJWKSet(jwksUrl, { cacheMaxAge: 300, cooldownDuration: 0 });
    const jwtLib = async (token: string) => {
      const key = (await call(server.url, 'GET', '/.well-known/jwks.json')).data.keys.find(
        (k: JWK) => k.kid === kidOf(token),
      );
      const pem = createPublicKey({ key, format: 'jwk' }).export({ format: 'pem', type: 'spki' });
      return jwt.verify(token, pem, {
        algorithms: ['ES256'],
        clockTimestamp: Math.floor(clock.now() / 1000),
      });
    };

    const t1 = (await signIn(server.url)).tokens.data.access_token as string;
    const oldKid = kidOf(t1);
    await jwtVerify(t1, jwks, verifyOpts());

    const rotated = runCli(['keys', 'rotate', '--activate-in', '10m'], {
      ...env,
      BATON_DATA_DIR: server.dataDir,
    });
    assert.equal(rotated.status, 0, rotated.stderr);
    assert.match(rotated.stdout, /added ES256 key .* published now/);
    let published: JWK[] = [];
    for (let i = 0; i < 50 && published.length < 2; i++) {
      await sleep(100);
      published = (await call(server.url, 'GET', '/.well-known/jwks.json')).data.keys;
    }
    assert.equal(published.length, 2, 'the running server publishes the new key');
    const newKid = published.map((k) => k.kid!).find((k) => k !== oldKid)!;
    // The rotation is in the audit trail, with the key it added.
    const audit = runCli(['audit', 'tail', '-n', '5', '--json'], { ...env, BATON_DATA_DIR: server.dataDir });
    const rotation = JSON.parse(audit.stdout).find((e: { type: string }) => e.type === 'key_rotated');
    assert.equal(rotation?.detail?.kid, newKid, audit.stdout);

    // Pre-publication: the new key is visible but does not sign yet.
    const t2 = (await signIn(server.url)).tokens.data.access_token as string;
    assert.equal(kidOf(t2), oldKid);
    await sleep(400); // the verifier's cache goes stale and it refetches on next use
    await jwtVerify(t2, jwks, verifyOpts());

    // The CLI set the activation from the wall clock, a second or two after this clock's start.
    clock.advance(10 * MINUTE + 10_000);
    const t3 = (await signIn(server.url)).tokens.data.access_token as string;
    assert.equal(kidOf(t3), newKid, 'the new key signs once active');
    // Tokens of both keys verify, with both libraries.
    for (const t of [t1, t2, t3]) {
      await jwtVerify(t, jwks, verifyOpts());
      await jwtLib(t);
    }

    const list = runCli(['keys', 'list', '--json'], { ...env, BATON_DATA_DIR: server.dataDir });
    const states = Object.fromEntries(
      JSON.parse(list.stdout).map((k: { kid: string; state: string }) => [k.kid, k.state]),
    );
    // The CLI reads the wall clock, which (unlike the server's manual clock) has not moved on.
    assert.deepEqual(states, { [oldKid]: 'active', [newKid]: 'pending' });

    // t2 (signed at the start) lives 15 minutes; the old key signed until the activation at
    // about 10 minutes, so it stays published until about 10 + 15 + 1 (leeway) minutes.
    clock.set(clockStart + 14 * MINUTE);
    await jwtLib(t2);
    await jwtVerify(t2, jwks, verifyOpts());
    clock.set(clockStart + 25 * MINUTE + 30_000);
    assert.equal((await call(server.url, 'GET', '/.well-known/jwks.json')).data.keys.length, 2);
    clock.set(clockStart + 26 * MINUTE + 30_000);
    const after = (await call(server.url, 'GET', '/.well-known/jwks.json')).data.keys;
    assert.deepEqual(
      after.map((k: JWK) => k.kid),
      [newKid],
      'retired once every token it signed has expired',
    );
    const pruned = runCli(['keys', 'prune'], { ...env, BATON_DATA_DIR: server.dataDir });
    assert.equal(pruned.status, 0);
  } finally {
    await server.close();
  }
});

it('the CLI answers usage errors with exit code 2 and help with 0', () => {
  const bad = runCli(['keys', 'spin'], {});
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown keys command: spin/);
  const help = runCli(['--help'], {});
  assert.equal(help.status, 0);
  assert.match(help.stdout, /keys rotate/);
  const badDelay = runCli(['keys', 'rotate', '--activate-in', 'soon'], { BATON_DATA_DIR: '/nonexistent' });
  assert.equal(badDelay.status, 2);
});
