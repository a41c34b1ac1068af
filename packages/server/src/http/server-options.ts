import type { Server } from 'node:http';
import type { FastifyHttpOptions } from 'fastify';
import {
  answerClientError,
  answerConnect,
  answerUnmetExpectation,
  sendError,
  toBatonError,
} from './errors.js';

/**
 * Bodies here are at most 16 KiB: ten seconds to send one is plenty, and a client trickling
 * bytes to hold connections open (slowloris) is answered 408 and cut off.
 */
export const REQUEST_TIMEOUT = 10_000;

/**
 * What every Baton listener (the app's, the metrics port's) answers the same way: errors of
 * Node's HTTP parser and of Fastify before routing get our headers and error body, and a
 * request must arrive whole within `requestTimeout` (else 408: slowloris).
 */
export function hardenedServerOptions(requestTimeout: number) {
  return {
    frameworkErrors: (error, _request, reply) => sendError(reply, toBatonError(error)),
    clientErrorHandler: answerClientError,
    requestTimeout,
    // Node would answer a Host-less HTTP/1.1 request itself, without our headers or body; an
    // onRequest hook gives the same 400 (RFC 9112 §3.2) the way every other error looks.
    // Node enforces the request timeout only when the headers timeout is no longer, and checks
    // both this often (its default, 30 s, would let a slow client stay three times as long).
    http: {
      requireHostHeader: false,
      connectionsCheckingInterval: 1000,
      headersTimeout: requestTimeout,
      requestTimeout,
    },
  } satisfies Partial<FastifyHttpOptions<Server>>;
}

/** Requests Node answers (or drops) on its own, before Fastify: answered like any other error. */
export function answerOddRequests(server: Server): void {
  server.on('checkExpectation', answerUnmetExpectation);
  server.on('connect', answerConnect);
}
