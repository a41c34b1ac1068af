import type { AccessTokenClaims } from '../access-token.js';
import { createDenySet, type DenySet, type RevocationEvent } from '../revocation.js';

/** HTTP Basic credentials, each part form-urlencoded first (RFC 6749 §2.3.1). */
function basicAuthorization(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** Tells a verifier whether a token's session (or the token itself) was revoked. */
export interface RevocationCheck {
  /** `token` is the verified compact JWT (for checks that ask Baton about it). */
  isRevoked(claims: AccessTokenClaims, token: string, now: number): boolean | Promise<boolean>;
}

export interface RevocationFeedOptions {
  /** Baton's `/oauth/revocations` URL. */
  url: string | URL;
  /** A `BATON_RESOURCE_SERVERS` credential. */
  clientId: string;
  clientSecret: string;
  /** Baton's access-token lifetime (ms): how long a revoked session stays in the set. */
  accessTokenTtl: number;
  /**
   * Asked while the feed is down, in addition to the revocations already known (which are
   * always refused): for example `createIntrospectionCheck`. Without it, revocations made
   * while the feed is down reach this server only when it reconnects (catch-up).
   */
  fallback?: RevocationCheck;
  /**
   * `refuse`: while the feed is down (and no fallback is set), refuse every token (fail
   * closed: your API depends on Baton being reachable). Default `known-revocations`.
   */
  whileDisconnected?: 'known-revocations' | 'refuse';
  /** A connection silent this long (ms) is considered dead and reopened; Baton sends a heartbeat every 15 s. Default 45 s. */
  silenceTimeout?: number;
  fetch?: typeof fetch;
  now?: () => number;
  onStateChange?(connected: boolean): void;
}

export interface RevocationFeed extends RevocationCheck {
  /** True while connected and caught up. */
  healthy(): boolean;
  /** Resolves once connected and caught up (rejects after `timeoutMs`). */
  ready(timeoutMs?: number): Promise<void>;
  close(): void;
}

/**
 * Follows Baton's revocation stream (Server-Sent Events) into a local deny-set, so a
 * verification costs no I/O: each new connection opens with a catch-up of every revocation
 * whose tokens may still be alive, then receives each revocation as it happens. Reconnects
 * with back-off; while disconnected it asks `fallback`.
 */
export function createRevocationFeed(options: RevocationFeedOptions): RevocationFeed {
  const now = options.now ?? (() => Date.now());
  const doFetch = options.fetch ?? fetch;
  const denySet: DenySet = createDenySet({ accessTokenTtl: options.accessTokenTtl, now });
  let healthy = false;
  let closed = false;
  let controller: AbortController | undefined;
  const waiters: Array<() => void> = [];
  const auth = basicAuthorization(options.clientId, options.clientSecret);

  const setHealthy = (value: boolean): void => {
    if (healthy === value) return;
    healthy = value;
    options.onStateChange?.(value);
    if (value) for (const w of waiters.splice(0)) w();
  };

  function handle(event: string, data: string): void {
    if (event === 'catch-up') {
      for (const e of JSON.parse(data) as RevocationEvent[]) denySet.add(e);
      setHealthy(true);
    } else if (event === 'revoked') {
      denySet.add(JSON.parse(data) as RevocationEvent);
    }
  }

  async function connectOnce(): Promise<void> {
    controller = new AbortController();
    const res = await doFetch(options.url, {
      headers: { authorization: auth, accept: 'text/event-stream' },
      signal: controller.signal,
    });
    if (!res.ok || !res.body) throw new Error(`revocation feed answered ${res.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    // A half-open connection delivers nothing, not even heartbeats: reopen it.
    const silence = options.silenceTimeout ?? 45_000;
    let watchdog = setTimeout(() => controller?.abort(), silence);
    watchdog.unref?.();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => controller?.abort(), silence);
      watchdog.unref?.();
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) handle(event, data.join('\n'));
        end = buffer.indexOf('\n\n');
      }
    }
    clearTimeout(watchdog);
  }

  async function run(): Promise<void> {
    for (let attempt = 0; !closed; attempt++) {
      try {
        await connectOnce();
        attempt = 0;
      } catch {
        // fall through to the back-off
      }
      setHealthy(false);
      if (closed) return;
      await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)).unref());
    }
  }
  void run();

  return {
    healthy: () => healthy,
    isRevoked(claims, token, at) {
      // What is known stays refused, connected or not.
      if (denySet.isSessionRevoked(claims.sid, at) || denySet.isAccessTokenRevoked(claims.jti, at))
        return true;
      if (healthy) return false;
      if (options.fallback) return options.fallback.isRevoked(claims, token, at);
      return options.whileDisconnected === 'refuse';
    },
    ready(timeoutMs = 5000) {
      if (healthy) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('revocation feed not ready')), timeoutMs);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    close() {
      closed = true;
      controller?.abort();
      setHealthy(false);
    },
  };
}

export interface IntrospectionCheckOptions {
  /** Baton's `/oauth/introspect` URL. */
  url: string | URL;
  clientId: string;
  clientSecret: string;
  /** How long (ms) an answer is reused for the same token (default 5 s). */
  cacheTtl?: number;
  fetch?: typeof fetch;
}

/**
 * Revocation by RFC 7662 introspection, one request per token per `cacheTtl`: for
 * deployments without the feed, or as the feed's fallback. A failed call refuses the token
 * (fail closed).
 */
export function createIntrospectionCheck(options: IntrospectionCheckOptions): RevocationCheck {
  const ttl = options.cacheTtl ?? 5000;
  const doFetch = options.fetch ?? fetch;
  const cache = new Map<string, { revoked: boolean; until: number }>();
  const auth = basicAuthorization(options.clientId, options.clientSecret);
  return {
    async isRevoked(claims, token, now) {
      const hit = cache.get(claims.jti);
      if (hit && hit.until > now) return hit.revoked;
      let revoked = true;
      try {
        const res = await doFetch(options.url, {
          method: 'POST',
          headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token }).toString(),
        });
        revoked = !(res.ok && ((await res.json()) as { active?: boolean }).active === true);
      } catch {
        revoked = true;
      }
      if (cache.size > 10_000) cache.clear();
      cache.set(claims.jti, { revoked, until: now + ttl });
      return revoked;
    },
  };
}
