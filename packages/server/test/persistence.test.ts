import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KEY_FILE_NAME } from '../src/keys/key-file.js';
import { bearer, call, signIn, startTestServer } from './helpers.js';

describe('persistence', () => {
  it('keeps keys and sessions across a restart on the same data dir', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'baton-restart-'));
    try {
      const first = await startTestServer({ BATON_ISSUER: 'http://baton.test' }, { dataDir });
      const { tokens } = await signIn(first.url);
      const jwksBefore = (await call(first.url, 'GET', '/.well-known/jwks.json')).data;
      await first.close();

      const second = await startTestServer({ BATON_ISSUER: 'http://baton.test' }, { dataDir });
      try {
        assert.deepEqual((await call(second.url, 'GET', '/.well-known/jwks.json')).data, jwksBefore);
        assert.equal(
          (await call(second.url, 'GET', '/auth/me', { headers: bearer(tokens.data.access_token) })).status,
          200,
        );
        const next = await call(second.url, 'POST', '/auth/refresh', {
          json: { refresh_token: tokens.data.refresh_token },
        });
        assert.equal(next.status, 200);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('creates the key file and the database owner-only (0600)', async () => {
    const server = await startTestServer();
    try {
      await signIn(server.url);
      for (const name of readdirSync(server.dataDir)) {
        assert.equal(statSync(join(server.dataDir, name)).mode & 0o777, 0o600, name);
      }
      const keyFile = JSON.parse(readFileSync(join(server.dataDir, KEY_FILE_NAME), 'utf8'));
      assert.equal(keyFile.signingKeys[0].alg, 'EdDSA');
      const jwks = (await call(server.url, 'GET', '/.well-known/jwks.json')).data;
      assert.equal(jwks.keys[0].kid, keyFile.signingKeys[0].kid);
      assert.equal(jwks.keys[0].crv, 'Ed25519');
      assert.equal(jwks.keys[0].d, undefined);
    } finally {
      await server.close();
    }
  });

  it('switching BATON_SIGNING_ALG adds a key and keeps the old one published', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'baton-alg-'));
    try {
      const env = { BATON_ISSUER: 'http://baton.test' };
      const ed = await startTestServer(env, { dataDir });
      const { tokens } = await signIn(ed.url);
      await ed.close();
      for (const alg of ['ES256', 'RS256']) {
        const server = await startTestServer({ ...env, BATON_SIGNING_ALG: alg }, { dataDir });
        try {
          const jwks = (await call(server.url, 'GET', '/.well-known/jwks.json')).data;
          assert.ok(jwks.keys.some((k: { alg: string }) => k.alg === 'EdDSA'));
          assert.ok(jwks.keys.some((k: { alg: string }) => k.alg === alg));
          const { tokens: fresh } = await signIn(server.url);
          const header = JSON.parse(
            Buffer.from(fresh.data.access_token.split('.')[0], 'base64url').toString(),
          );
          assert.equal(header.alg, alg);
          // The EdDSA token issued before the switch still works.
          assert.equal(
            (await call(server.url, 'GET', '/auth/me', { headers: bearer(tokens.data.access_token) })).status,
            200,
          );
        } finally {
          await server.close();
        }
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the database never holds a refresh token', () => {
  it('finds none of the issued tokens, nor their secrets, in any file of the data dir', async () => {
    const server = await startTestServer({}, { keepDataDir: true });
    const issued: string[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const { tokens } = await signIn(server.url);
        issued.push(tokens.data.refresh_token);
        let rt = tokens.data.refresh_token;
        for (let j = 0; j < 3; j++) {
          const next = await call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: rt } });
          rt = next.data.refresh_token;
          issued.push(rt);
        }
      }
    } finally {
      await server.close();
    }
    try {
      const files = readdirSync(server.dataDir).filter((f) => f.startsWith('baton.db'));
      assert.ok(files.includes('baton.db'));
      const blobs = files.map((f) => readFileSync(join(server.dataDir, f)));
      for (const token of issued) {
        const secret = token.split('.')[2]!;
        const secretBytes = Buffer.from(secret, 'base64url');
        for (const blob of blobs) {
          assert.equal(blob.includes(token), false, 'token text in the database');
          assert.equal(blob.includes(secret), false, 'secret text in the database');
          assert.equal(blob.includes(secretBytes), false, 'secret bytes in the database');
        }
      }
    } finally {
      rmSync(server.dataDir, { recursive: true, force: true });
    }
  });
});
