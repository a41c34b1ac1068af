import { timingSafeEqual } from 'node:crypto';
import { BatonError } from '@baton/core';
import type { FastifyRequest } from 'fastify';

/** The built-in public client: tokens issued through /auth/* belong to it. */
export const DEFAULT_CLIENT_ID = 'baton';

export interface ClientRegistry {
  isKnown(id: string): boolean;
  isConfidential(id: string): boolean;
  /**
   * Authenticates the caller of a token endpoint (RFC 6749 §2.3): HTTP Basic
   * (`client_secret_basic`), `client_secret` in the body (`client_secret_post`), or a bare
   * `client_id` for public clients; no client at all means the built-in public client.
   * Returns the client id, or throws `invalid_client` / `invalid_request`.
   */
  authenticate(request: FastifyRequest, params: Record<string, string | undefined>): string;
}

/** Compares secrets in constant time (lengths leak, which a 16+ character secret tolerates). */
export function secretEquals(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Decodes `Authorization: Basic` into id and secret (each form-urlencoded, RFC 6749 §2.3.1). */
export function basicCredentials(request: FastifyRequest): { id: string; secret: string } | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !/^\s*basic(\s|$)/i.test(header)) return null;
  const encoded = header.trim().slice(5).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw invalidClient('malformed basic credentials');
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw invalidClient('malformed basic credentials');
  try {
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    };
  } catch {
    throw invalidClient('malformed basic credentials');
  }
}

export function invalidClient(message: string): BatonError {
  return new BatonError('invalid_client', message, { description: 'Client authentication failed.' });
}

export function createClientRegistry(
  clients: ReadonlyArray<{ id: string; secret: string | null }>,
): ClientRegistry {
  const secrets = new Map<string, string | null>([
    [DEFAULT_CLIENT_ID, null],
    ...clients.map((c) => [c.id, c.secret] as const),
  ]);
  return {
    isKnown: (id) => secrets.has(id),
    isConfidential: (id) => typeof secrets.get(id) === 'string',
    authenticate(request, params) {
      const basic = basicCredentials(request);
      const postSecret = params.client_secret;
      if (basic && postSecret !== undefined) {
        throw new BatonError('invalid_request', 'two client authentication methods', {
          description: 'Use one client authentication method, not two.',
        });
      }
      if (basic && params.client_id !== undefined && params.client_id !== basic.id) {
        throw new BatonError('invalid_request', 'client_id differs from the basic credentials', {
          description: 'client_id does not match the authenticated client.',
        });
      }
      const id = basic?.id ?? params.client_id ?? DEFAULT_CLIENT_ID;
      const secret = basic?.secret ?? postSecret;
      if (!secrets.has(id)) throw invalidClient(`unknown client ${id.slice(0, 64)}`);
      const expected = secrets.get(id) ?? null;
      if (expected === null) {
        if (secret !== undefined && secret !== '') throw invalidClient(`public client ${id} sent a secret`);
        return id;
      }
      if (secret === undefined || !secretEquals(secret, expected))
        throw invalidClient(`client ${id} failed to authenticate`);
      return id;
    },
  };
}
