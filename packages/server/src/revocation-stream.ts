import type { RevocationEvent } from '@baton/core';

/**
 * Fans revocation events out to in-process listeners (the `/oauth/revocations` streams of
 * resource servers). Events come from this instance's revocations and, with Redis, from the
 * other instances'.
 */
export interface RevocationStream {
  publish(event: RevocationEvent): void;
  subscribe(listener: (event: RevocationEvent) => void): () => void;
}

export function createRevocationStream(): RevocationStream {
  const listeners = new Set<(event: RevocationEvent) => void>();
  return {
    publish(event) {
      for (const l of listeners) l(event);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
