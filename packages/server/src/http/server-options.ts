import type { Server } from 'node:http';
import { BatonError } from '@baton/core';
import type { FastifyHttpOptions, FastifyReply, FastifyRequest } from 'fastify';
import {
  answerClientError,
  answerConnect,
  answerUnmetExpectation,
  SECURITY_HEADERS,
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

/**
 * What every request on every listener passes first (an onRequest hook): the security headers
 * go on its answer, whatever it is; HTTP/1.1 needs exactly one Host (RFC 9112 §3.2; Node keeps
 * the first of several, and cookie mode reads it); `*` names the server as a whole, which only
 * OPTIONS may ask about (RFC 9110 §9.3.7). True when this answered the request itself.
 */
export function checkRequestHead(request: FastifyRequest, reply: FastifyReply): boolean {
  reply.headers(SECURITY_HEADERS);
  let hosts = 0;
  const raw = request.raw.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'host') hosts++;
  if (hosts === 0 && request.raw.httpVersion === '1.1')
    throw new BatonError('invalid_request', 'no Host header', { description: 'The Host header is missing.' });
  if (hosts > 1)
    throw new BatonError('invalid_request', 'several Host headers', {
      description: 'The request must have exactly one Host header.',
    });
  if (request.raw.url === '*') {
    if (request.method !== 'OPTIONS')
      throw new BatonError('invalid_request', 'asterisk target', {
        description: 'Only OPTIONS may name the server as a whole (*); other requests need a path.',
      });
    reply.code(204).header('allow', 'GET, HEAD, POST, DELETE, OPTIONS').send();
    return true;
  }
  return false;
}

/** Requests Node answers (or drops) on its own, before Fastify: answered like any other error. */
export function answerOddRequests(server: Server): void {
  server.on('checkExpectation', answerUnmetExpectation);
  server.on('connect', answerConnect);
}
