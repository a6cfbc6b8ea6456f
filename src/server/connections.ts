import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Which of a server's connections are in the middle of a request. Closing a server waits for
 * every connection to end, and Node's closeIdleConnections() leaves alone a connection that
 * has not sent a request yet (a client reconnecting after an aborted long-poll opens exactly
 * that): it would hold a stopping server open until the client gives up, for ever.
 */
export function trackRequests(server: Server): { closeIdle(): void } {
  const active = new Map<Socket, number>();
  server.on('connection', (socket: Socket) => {
    active.set(socket, 0);
    socket.once('close', () => active.delete(socket));
  });
  server.on('request', (req, res) => {
    const socket = req.socket;
    active.set(socket, (active.get(socket) ?? 0) + 1);
    res.once('close', () => {
      if (active.has(socket)) active.set(socket, Math.max(0, (active.get(socket) ?? 1) - 1));
    });
  });
  return {
    closeIdle() {
      for (const [socket, requests] of active) if (requests === 0) socket.destroy();
    },
  };
}
