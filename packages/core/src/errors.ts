/**
 * The one error type of Baton. `code` is stable and is what clients see; `message` is for
 * logs only and may name a session or user id, never a token, secret or password.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_credentials'
  | 'email_taken'
  | 'invalid_grant'
  | 'invalid_token'
  | 'invalid_client'
  | 'unsupported_grant_type'
  | 'unauthorized_client'
  | 'csrf_rejected'
  | 'not_found'
  | 'rate_limited'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'temporarily_unavailable'
  | 'server_error';

interface ErrorSpec {
  /** HTTP status on the `/auth/*` routes. */
  status: number;
  /** HTTP status on the `/oauth/*` routes where RFC 6749 §5.2 says otherwise. */
  oauthStatus?: number;
  /** Text for humans sent when the thrower gives none meant for the public. */
  description: string;
}

/** The single table that maps each code to HTTP. */
export const ERROR_TABLE: Readonly<Record<ErrorCode, ErrorSpec>> = Object.freeze({
  invalid_request: { status: 400, description: 'The request is missing a field or has a malformed one.' },
  invalid_credentials: { status: 401, description: 'The e-mail address or password is wrong.' },
  email_taken: { status: 409, description: 'An account with this e-mail address already exists.' },
  invalid_grant: {
    status: 401,
    oauthStatus: 400,
    description: 'The refresh token is invalid, expired or revoked.',
  },
  invalid_token: { status: 401, description: 'The access token is missing, invalid, expired or revoked.' },
  invalid_client: { status: 401, description: 'Client authentication failed.' },
  unsupported_grant_type: { status: 400, description: 'This grant type is not supported.' },
  unauthorized_client: { status: 400, description: 'The token was not issued to this client.' },
  csrf_rejected: { status: 403, description: 'The request was refused by the CSRF guard.' },
  not_found: { status: 404, description: 'Not found.' },
  rate_limited: { status: 429, description: 'Too many attempts; retry later.' },
  payload_too_large: { status: 413, description: 'The request body is too large.' },
  unsupported_media_type: { status: 415, description: 'Unsupported content type.' },
  temporarily_unavailable: { status: 503, description: 'The service is temporarily unavailable.' },
  server_error: { status: 500, description: 'Internal server error.' },
});

export interface BatonErrorOptions {
  /** Public, human-readable text; must never contain token, secret or password text. */
  description?: string;
  /** Seconds a client should wait (429, 503). */
  retryAfter?: number;
  cause?: unknown;
}

export class BatonError extends Error {
  readonly code: ErrorCode;
  readonly description: string;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message?: string, options: BatonErrorOptions = {}) {
    super(message ?? options.description ?? ERROR_TABLE[code].description, { cause: options.cause });
    this.name = 'BatonError';
    this.code = code;
    this.description = options.description ?? ERROR_TABLE[code].description;
    this.retryAfter = options.retryAfter;
  }

  get status(): number {
    return ERROR_TABLE[this.code].status;
  }
}

/** True for a BatonError with the given code (or any code when none is given). */
export function isBatonError(error: unknown, code?: ErrorCode): error is BatonError {
  return error instanceof BatonError && (code === undefined || error.code === code);
}
