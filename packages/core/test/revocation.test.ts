import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createDenySet, type DenySet, type RevocationEvent } from '../src/revocation.js';
import { systemRandom } from '../src/runtime.js';
import { createSessions } from '../src/sessions.js';
import type { SessionStore } from '../src/store.js';
import { createManualClock } from '../src/testing/manual-clock.js';
import { createMemoryStores } from '../src/testing/memory-store.js';
import { CONFIG, codeOf, MINUTE, makeKeySet } from './helpers.js';

/** Two instances on one store, joined by an in-memory bus that can be cut. */
async function cluster() {
  const clock = createManualClock();
  const backing = createMemoryStores().sessions;
  let storeReads = 0;
  const store: SessionStore = {
    ...backing,
    getSession: (id) => {
      storeReads++;
      return backing.getSession(id);
    },
  };
  const keys = await makeKeySet();
  const refreshKey = { key: randomBytes(32) };
  const sets: DenySet[] = [];
  const bus = {
    up: true,
    healthy: () => bus.up,
    publish: async (event: RevocationEvent) => {
      if (!bus.up) throw new Error('bus down');
      for (const s of sets) s.add(event);
    },
  };
  const make = () => {
    const denySet = createDenySet({ accessTokenTtl: CONFIG.accessTokenTtl, now: clock.now });
    sets.push(denySet);
    return createSessions(
      { store, keys, refreshKey, clock, random: systemRandom, revocations: { denySet, bus } },
      CONFIG,
    );
  };
  return { a: make(), b: make(), bus, clock, sets, reads: () => storeReads };
}

describe('revocation fan-out', () => {
  it('a logout on one instance is refused on another from its deny-set, with no store read', async () => {
    const { a, b, reads } = await cluster();
    const t = await a.start('u1', {});
    const before = reads();
    await b.authenticate(t.accessToken);
    assert.equal(reads(), before, 'a healthy bus means no store read per request');
    await a.revoke(t.sessionId, 'logout');
    assert.equal(await codeOf(b.authenticate(t.accessToken)), 'invalid_token');
  });

  it('falls back to the store while the bus is down, so nothing revoked slips through', async () => {
    const { a, b, bus, reads } = await cluster();
    const t = await a.start('u1', {});
    bus.up = false;
    await a.revokeUser('u1', 'logout_all'); // the publish fails; the store has it
    const before = reads();
    assert.equal(await codeOf(b.authenticate(t.accessToken)), 'invalid_token');
    assert.ok(reads() > before, 'checked the store');
  });

  it('fans out reuse revocations and single access-token revocations', async () => {
    const { a, b, clock } = await cluster();
    const t = await a.start('u1', {});
    await a.refresh(t.refreshToken, {});
    clock.advance(11_000);
    await codeOf(a.refresh(t.refreshToken, {}));
    assert.equal(await codeOf(b.authenticate(t.accessToken)), 'invalid_token');
    const u = await a.start('u2', {});
    await a.revokeToken(u.accessToken, {});
    assert.equal(await codeOf(b.authenticate(u.accessToken)), 'invalid_token');
  });

  it('drops deny-set entries once no token of theirs can be alive', () => {
    const clock = createManualClock();
    const set = createDenySet({ accessTokenTtl: 15 * MINUTE, leeway: MINUTE, now: clock.now });
    set.add({ kind: 'session', id: 's', at: clock.now() });
    set.add({ kind: 'access_token', jti: 'j', until: clock.now() + 5 * MINUTE });
    assert.equal(set.size(), 2);
    clock.advance(5 * MINUTE);
    assert.equal(set.isAccessTokenRevoked('j', clock.now()), false);
    assert.equal(set.isSessionRevoked('s', clock.now()), true);
    clock.advance(11 * MINUTE);
    assert.equal(set.isSessionRevoked('s', clock.now()), false);
    assert.equal(set.size(), 0);
  });
});
