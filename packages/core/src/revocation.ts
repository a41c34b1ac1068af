/**
 * Revocation fan-out between instances. Each instance keeps a local deny-set of revoked
 * session ids and access-token ids, fed by a bus (Redis pub/sub in the server), so that
 * checking an access token costs no network round trip. An entry is dropped once no token
 * it covers can still be alive. While the bus cannot vouch for the set (not connected, or
 * not yet caught up from the store), callers fall back to the store: the store stays the
 * source of truth.
 */
export type RevocationEvent =
  | { kind: 'session'; id: string; at: number }
  | { kind: 'access_token'; jti: string; until: number };

export interface RevocationBus {
  /** Sends the event to every other instance; resolves when handed to the bus. */
  publish(event: RevocationEvent): Promise<void>;
  /** True while events are being delivered and the local set has caught up with the store. */
  healthy(): boolean;
}

export interface DenySet {
  add(event: RevocationEvent): void;
  isSessionRevoked(sessionId: string, now: number): boolean;
  isAccessTokenRevoked(jti: string, now: number): boolean;
  /** Entries held now (expired ones are dropped as time passes). */
  size(): number;
}

/**
 * A deny-set whose session entries live one access-token lifetime (plus leeway) after the
 * revocation, and whose token entries live until the token's own expiry.
 */
export function createDenySet(options: {
  accessTokenTtl: number;
  leeway?: number;
  now: () => number;
}): DenySet {
  const keep = options.accessTokenTtl + (options.leeway ?? 60_000);
  // Maps keep insertion order; entries are inserted roughly in expiry order, so sweeping
  // from the front drops what has expired without scanning the rest.
  const sessions = new Map<string, number>();
  const tokens = new Map<string, number>();
  let adds = 0;

  function sweep(map: Map<string, number>, now: number): void {
    for (const [key, until] of map) {
      if (until > now) break;
      map.delete(key);
    }
  }

  return {
    add(event) {
      const now = options.now();
      if (event.kind === 'session') {
        const until = event.at + keep;
        if (until > now && (sessions.get(event.id) ?? 0) < until) {
          sessions.delete(event.id);
          sessions.set(event.id, until);
        }
      } else if (event.until > now) {
        tokens.delete(event.jti);
        tokens.set(event.jti, event.until);
      }
      if (++adds % 256 === 0) {
        sweep(sessions, now);
        sweep(tokens, now);
      }
    },
    isSessionRevoked(sessionId, now) {
      const until = sessions.get(sessionId);
      return until !== undefined && until > now;
    },
    isAccessTokenRevoked(jti, now) {
      const until = tokens.get(jti);
      return until !== undefined && until > now;
    },
    size() {
      const now = options.now();
      sweep(sessions, now);
      sweep(tokens, now);
      return sessions.size + tokens.size;
    },
  };
}
