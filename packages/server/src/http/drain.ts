import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How long a kept-alive connection must sit idle, once closing has begun, before it is closed.
 * A client in the middle of using it sends its next request far sooner than this.
 */
export const IDLE_GRACE_MS = 500;

/**
 * Closing without resetting kept-alive connections under a client's feet.
 *
 * Node's `server.close()` destroys every idle keep-alive connection at once. A busy client
 * (a proxy's pool, a closed-loop benchmark) has often just sent its next request on one of
 * them; it gets ECONNRESET, and nobody retries a reset POST (a refresh). Instead, once
 * `begin()` is called: a connection carrying a request finishes it (the app answers it with
 * `Connection: close`, so Node closes the connection after the response), and a connection
 * that stays idle for `idleGrace` ms is closed then. Call `begin()` before the listening socket
 * closes (a `preClose` hook) and wait for it.
 */
export function drainGracefully(server: Server, idleGrace = IDLE_GRACE_MS): { begin(): Promise<void> } {
  const connections = new Map<Socket, { busy: number; idleSince: number }>();
  server.on('connection', (socket: Socket) => {
    connections.set(socket, { busy: 0, idleSince: Date.now() });
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (request, response) => {
    const state = connections.get(request.socket);
    if (!state) return;
    state.busy++;
    response.once('close', () => {
      state.busy--;
      state.idleSince = Date.now();
    });
  });

  return {
    async begin() {
      // server.close() calls this to destroy idle connections at once: the sweep below does it
      // once they have been idle long enough.
      server.closeIdleConnections = () => {};
      const sweep = setInterval(
        () => {
          const now = Date.now();
          for (const [socket, state] of connections) {
            if (state.busy === 0 && now - state.idleSince >= idleGrace) socket.destroy();
          }
          if (connections.size === 0) clearInterval(sweep);
        },
        Math.min(50, idleGrace),
      );
      sweep.unref();
      // Connections the kernel has completed but Node has not yet accepted would be reset when
      // the listening socket closes. The signal that began closing was handled in a poll phase;
      // two immediates later, another poll phase has accepted them, and they are served.
      for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    },
  };
}
