import { BatonError } from '@baton/core';

// SQLSTATE classes and codes that mean "the database is not answering right now".
const TRANSIENT_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '53400',
  '57014',
  '40001',
  '40P01',
  '55P03',
]);
const TRANSIENT_MESSAGES =
  /timeout|terminated|ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH|the database system is|Connection ended|not queryable|Client has encountered a connection error/i;

/** True for errors that a retry after a moment may cure: connection loss, shutdown, timeouts. */
export function isTransient(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (typeof e?.code === 'string' && (e.code.startsWith('08') || TRANSIENT_CODES.has(e.code))) return true;
  return TRANSIENT_MESSAGES.test(String(e?.message ?? ''));
}

/**
 * Runs a store operation; a transient database failure becomes a 503 with Retry-After (the
 * client may retry: every operation is one statement or one transaction, so nothing was
 * half applied). Anything else is a bug and stays a 500.
 */
export async function guard<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    // Text PostgreSQL cannot store (a NUL byte, say) came from the request: a client error.
    const code = (error as { code?: string })?.code;
    if (code === '22021' || code === '22P05') {
      throw new BatonError('invalid_request', `postgres refused the text of ${operation}`, {
        description: 'The request contains characters that are not allowed.',
      });
    }
    if (isTransient(error)) {
      throw new BatonError('temporarily_unavailable', `postgres unavailable during ${operation}`, {
        retryAfter: 1,
        cause: error,
      });
    }
    throw error;
  }
}
