import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { BatonError, ERROR_TABLE } from '@baton/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The one place an error becomes an HTTP response. The body always comes from the error
 * table (or a BatonError's public description), never from an internal message; anything
 * unexpected is a logged 500 with a generic body.
 */
export function toBatonError(error: unknown): BatonError {
  if (error instanceof BatonError) return error;
  const e = error as Partial<FastifyError> & { status?: number };
  if (e.validation) {
    return new BatonError('invalid_request', 'schema validation failed', {
      description: publicValidationText(e),
    });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BatonError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new BatonError('unsupported_media_type', undefined, {
        description:
          'Send application/json on /auth routes and application/x-www-form-urlencoded on /oauth routes.',
      });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new BatonError('invalid_request', undefined, { description: 'The body is not valid JSON.' });
  }
  const status = e.statusCode ?? e.status;
  if (error instanceof SyntaxError && status === 400) {
    return new BatonError('invalid_request', undefined, { description: 'The body is not valid JSON.' });
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 404) return new BatonError('not_found');
    if (status === 413) return new BatonError('payload_too_large');
    if (status === 415) return new BatonError('unsupported_media_type');
    return new BatonError('invalid_request', String(e.message ?? ''), {
      description: 'The request is malformed.',
    });
  }
  return new BatonError('server_error', 'unexpected error', { cause: error });
}

function publicValidationText(e: Partial<FastifyError>): string {
  // Fastify's text names the field and the rule (e.g. "body/email must be string"), never the value.
  const text = String(e.message ?? '').slice(0, 200);
  return /^(body|querystring|params|headers)\b/.test(text) ? text : 'The request is malformed.';
}

/** Sent on every response (by an onRequest hook) and on every error (here, for errors raised before hooks). */
export const SECURITY_HEADERS = Object.freeze({
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
});

/**
 * What a 5xx log line says about its cause: the error's class, code and where it was thrown,
 * but no message (it may quote request data) and no stack trace.
 */
export function describeFailure(error: unknown): Record<string, string> {
  const e = error as { name?: unknown; code?: unknown; stack?: unknown };
  const frame = /\n\s+at (?:.*\()?(.*?:\d+:\d+)\)?/.exec(String(e?.stack ?? ''))?.[1];
  return {
    type: String(e?.name ?? typeof error),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(frame ? { at: frame.replace(/^.*\/(packages|node_modules)\//, '$1/') } : {}),
  };
}

export function sendError(reply: FastifyReply, error: BatonError, { oauth = false } = {}): FastifyReply {
  const spec = ERROR_TABLE[error.code];
  const status = (oauth ? spec.oauthStatus : undefined) ?? spec.status;
  if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter));
  if (error.code === 'invalid_token') {
    reply.header(
      'www-authenticate',
      `Bearer realm="baton", error="invalid_token", error_description="${headerSafe(error.description)}"`,
    );
  }
  if (error.code === 'invalid_client') reply.header('www-authenticate', 'Basic realm="baton"');
  reply.headers(SECURITY_HEADERS);
  const description = status >= 500 ? spec.description : error.description;
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .send({ error: status === 500 ? 'server_error' : error.code, error_description: description });
}

const headerSafe = (text: string): string => text.replace(/[^\x20-\x7e]|["\\]/g, '');

export function errorHandler(
  this: unknown,
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  const baton = toBatonError(error);
  if (baton.status >= 500)
    request.log.error({ failure: describeFailure(baton.cause ?? baton) }, 'request failed');
  const oauth = (request.routeOptions?.config as { oauth?: boolean } | undefined)?.oauth === true;
  return sendError(reply, baton, { oauth });
}

/**
 * Node answers an `Expect` header other than `100-continue` with a bare 417 of its own, before
 * any route or hook: this one carries our headers and error body.
 */
export function answerUnmetExpectation(_request: IncomingMessage, response: ServerResponse): void {
  const { body, headers } = bareError('The Expect header is not supported (only 100-continue is).');
  response.writeHead(417, headers);
  response.end(body);
}

/** An `invalid_request` body and its headers, for answers written below Fastify. */
function bareError(description: string): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ error: 'invalid_request', error_description: description });
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
    'content-length': String(Buffer.byteLength(body)),
  };
  return { body, headers };
}

/**
 * Answers errors of Node's HTTP parser (headers over the size limit, malformed requests) with
 * our error body instead of Node's or Fastify's, then closes the connection.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  const [status, reason, description] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'The request headers are too large.']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'The request took too long to arrive.']
        : [400, 'Bad Request', 'The request is malformed.'];
  answerOnSocket(socket, status, reason, description);
}

/** Node hands a CONNECT request to 'connect' listeners, or drops it without a word: we answer. */
export function answerConnect(_request: IncomingMessage, socket: Socket): void {
  answerOnSocket(socket, 405, 'Method Not Allowed', 'CONNECT is not supported.');
}

/** An error written straight to the socket (no HTTP machinery is left to do it), then closed. */
function answerOnSocket(socket: Socket, status: number, reason: string, description: string): void {
  if (!socket.writable) return;
  const { body, headers } = bareError(description);
  const lines = Object.entries({ ...headers, connection: 'close' }).map(
    ([name, value]) => `${name}: ${value}\r\n`,
  );
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${lines.join('')}\r\n${body}`);
}
