import { BatonError, type RevocationEvent, type SessionStore } from '@baton/core';
import type { FastifyInstance } from 'fastify';
import type { RevocationStream } from '../revocation-stream.js';
import { basicCredentials, invalidClient, secretEquals } from './clients.js';
import { SECURITY_HEADERS } from './errors.js';
import { revocationFeedDocs } from './route-docs.js';

export interface FeedDeps {
  store: SessionStore;
  stream: RevocationStream;
  resourceServers: ReadonlyArray<{ id: string; secret: string }>;
  now: () => number;
  /** How far back the catch-up goes: one access-token lifetime plus leeway. */
  window: number;
}

/**
 * `GET /oauth/revocations`: a Server-Sent Events stream for resource servers (HTTP Basic, a
 * `BATON_RESOURCE_SERVERS` credential). It opens with a `catch-up` event listing every
 * revocation whose tokens may still be alive, then sends each new one as a `revoked` event
 * the moment this instance learns of it, with a comment line every 15 s to keep proxies open.
 * Events carry session ids and token ids only.
 */
export function revocationFeedRoute(app: FastifyInstance, deps: FeedDeps): void {
  const servers = new Map(deps.resourceServers.map((r) => [r.id, r.secret]));
  // Open streams end when the server shuts down, so that SIGTERM is not held up by them;
  // their clients reconnect (to another instance, or to this one once it is back).
  const open = new Set<() => void>();
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const end of open) end();
  });
  const options = { schema: revocationFeedDocs, config: { oauth: true } };
  app.get('/oauth/revocations', options, async (request, reply) => {
    const caller = basicCredentials(request);
    const expected = caller ? servers.get(caller.id) : undefined;
    if (!caller || expected === undefined || !secretEquals(caller.secret, expected)) {
      throw invalidClient('revocation feed caller not authenticated');
    }
    // A stream that opened now would hold the shutdown open: its client goes elsewhere.
    if (closing) {
      throw new BatonError('temporarily_unavailable', 'feed refused while shutting down', {
        retryAfter: 1,
        description: 'This instance is shutting down; connect to another.',
      });
    }
    const pending: RevocationEvent[] = [];
    let ready = false;
    const raw = reply.raw;
    const send = (event: string, data: unknown): void => {
      raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const unsubscribe = deps.stream.subscribe((event) =>
      ready ? send('revoked', event) : pending.push(event),
    );
    const catchUp = await deps.store.listRecentRevocations(deps.now() - deps.window, deps.now());
    reply.hijack();
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      ...SECURITY_HEADERS, // hijacked: the app's hooks no longer add them
      connection: 'keep-alive',
    });
    send('catch-up', catchUp);
    for (const e of pending) send('revoked', e);
    ready = true;
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
    heartbeat.unref();
    const stop = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(end);
    };
    const end = (): void => {
      stop();
      raw.end();
    };
    open.add(end);
    raw.on('close', stop);
    request.raw.on('close', stop);
  });
}
