import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How long a kept-alive connection must sit idle, once closing has begun, before it is closed.
 * A client in the middle of using it sends its next request far sooner than this.
 */
export const IDLE_GRACE_MS = 500;

/**
 * Before the listening socket closes, connections keep being accepted until none has come for
 * `ACCEPT_QUIET_MS` (at most `ACCEPT_WINDOW_MS`): the kernel resets whatever still waits in the
 * accept queue when it closes, and a busy server can have a queue.
 */
export const ACCEPT_QUIET_MS = 50;
export const ACCEPT_WINDOW_MS = 1000;

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
  let lastAccepted = 0;
  server.on('connection', (socket: Socket) => {
    lastAccepted = Date.now();
    connections.set(socket, { busy: 0, idleSince: lastAccepted });
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
      // the listening socket closes: accept until the queue is quiet, and serve them (their
      // answers say Connection: close). Each check follows a poll phase (timer, then
      // immediate), so a loop too busy to accept is not mistaken for an empty queue.
      const began = Date.now();
      let quietSince = began;
      while (Date.now() - began < ACCEPT_WINDOW_MS) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        await new Promise((resolve) => setImmediate(resolve));
        quietSince = Math.max(quietSince, lastAccepted);
        if (Date.now() - quietSince >= ACCEPT_QUIET_MS) break;
      }
    },
  };
}
