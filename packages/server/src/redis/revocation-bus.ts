import {
  createDenySet,
  type DenySet,
  type RevocationBus,
  type RevocationEvent,
  type SessionStore,
} from '@baton/core';
import { Redis } from 'ioredis';
import { REVOCATION_LEEWAY } from '../config.js';

/** The pub/sub channel, after `BATON_REDIS_PREFIX` (`baton:` by default). */
export const REVOCATION_CHANNEL = 'revocations';

export interface RedisBusOptions {
  url: string;
  store: SessionStore;
  denySet: DenySet;
  now: () => number;
  /** How far back a catch-up looks: one access-token lifetime plus leeway. */
  catchUpWindow: number;
  /** Prepended to the channel name (`BATON_REDIS_PREFIX`); `baton:` by default. */
  prefix?: string;
  onError(error: unknown): void;
  onStateChange?(healthy: boolean): void;
  /** Every event received from other instances. */
  onEvent?(event: RevocationEvent): void;
}

export interface RedisRevocationBus extends RevocationBus {
  /** Resolves once subscribed, caught up and able to publish (or rejects after `timeoutMs`). */
  ready(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Revocation fan-out over Redis pub/sub. One connection publishes, one subscribes. The bus
 * vouches for the deny-set (`healthy`) only while subscribed *and* caught up from the store:
 * after every (re)connect it subscribes first, then reads the recent revocations from the
 * store, then turns healthy — so nothing revoked while it was away is missed. While it is not
 * healthy, access-token checks go to the store.
 */
export function createRedisRevocationBus(options: RedisBusOptions): RedisRevocationBus {
  const channel = `${options.prefix ?? 'baton:'}${REVOCATION_CHANNEL}`;
  const connection = {
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2000,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 2000),
  };
  const pub = new Redis(options.url, connection);
  const sub = new Redis(options.url, { ...connection, enableOfflineQueue: true });
  let healthy = false;
  let closing = false;
  let generation = 0;
  const waiters: Array<() => void> = [];

  const setHealthy = (value: boolean): void => {
    if (healthy === value) return;
    healthy = value;
    if (!closing) options.onStateChange?.(value);
    if (value) for (const w of waiters.splice(0)) w();
  };

  sub.on('message', (_channel, message) => {
    try {
      const event = JSON.parse(message) as RevocationEvent;
      options.denySet.add(event);
      options.onEvent?.(event);
    } catch (error) {
      options.onError(error);
    }
  });
  sub.on('ready', () => {
    const mine = ++generation;
    sub
      .subscribe(channel)
      .then(() => options.store.listRecentRevocations(options.now() - options.catchUpWindow, options.now()))
      .then((events) => {
        for (const e of events) options.denySet.add(e);
        if (mine === generation && sub.status === 'ready') setHealthy(true);
      })
      .catch((error: unknown) => {
        options.onError(error);
        // Not caught up: stay unhealthy and try again shortly (the store may be away too).
        if (mine === generation) setTimeout(() => sub.status === 'ready' && sub.emit('ready'), 1000).unref();
      });
  });
  for (const event of ['close', 'end', 'reconnecting', 'error'] as const) {
    sub.on(event, (error?: unknown) => {
      if (event === 'error') options.onError(error);
      generation++;
      setHealthy(false);
    });
  }
  pub.on('error', options.onError);

  return {
    healthy: () => healthy,
    async publish(event) {
      await pub.publish(channel, JSON.stringify(event));
    },
    ready(timeoutMs = 5000) {
      // The publishing connection has no offline queue: a publish before it is up would fail.
      const publisher = (): boolean => pub.status === 'ready';
      if (healthy && publisher()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('redis revocation bus not ready')), timeoutMs);
        const check = (): void => {
          if (!healthy) waiters.push(check);
          else if (!publisher()) pub.once('ready', check);
          else {
            clearTimeout(timer);
            resolve();
          }
        };
        check();
      });
    },
    async close() {
      closing = true;
      setHealthy(false);
      sub.disconnect();
      pub.disconnect();
    },
  };
}

/**
 * The deny-set and bus of one process (a server, or the CLI publishing its revocations),
 * sized alike: revocations matter for an access-token lifetime plus the leeway.
 */
export function createRevocationFanOut(
  options: { url: string; accessTokenTtl: number; store: SessionStore; now: () => number } & Pick<
    RedisBusOptions,
    'onError' | 'onEvent' | 'onStateChange' | 'prefix'
  >,
): { denySet: DenySet; bus: RedisRevocationBus } {
  const { url, accessTokenTtl, store, now, ...hooks } = options;
  const denySet = createDenySet({ accessTokenTtl, leeway: REVOCATION_LEEWAY, now });
  const bus = createRedisRevocationBus({
    url,
    store,
    denySet,
    now,
    catchUpWindow: accessTokenTtl + REVOCATION_LEEWAY,
    ...hooks,
  });
  return { denySet, bus };
}
