import { createServer, type Server, type Socket } from 'node:net';
import { encodeFatal } from '../protocol/index.js';
import type { SimulatorContext } from './context.js';
import { Session } from './session.js';

/** The API listener and its sessions. */
export interface ApiServer {
  readonly server: Server;
  readonly sessions: ReadonlySet<Session>;
  /** Close every connection now; returns how many. */
  dropAll(): number;
}

/** Create (not yet listening) the API server for `ctx`. */
export function createApiServer(ctx: SimulatorContext): ApiServer {
  const sessions = new Set<Session>();
  const sockets = new Set<Socket>();
  const { counters } = ctx;
  const server = createServer((socket) => {
    counters.connectionsAccepted++;
    socket.on('error', () => {
      // A peer reset; 'close' follows.
    });
    if (ctx.faults.refuseConnections) {
      counters.connectionsRefused++;
      socket.destroy();
      return;
    }
    if (sessions.size >= ctx.options.maxSessions) {
      // What a router does past max-sessions is unconfirmed (§8): configurable.
      counters.connectionsRefused++;
      if (ctx.options.tooManySessions === 'fatal') {
        socket.end(encodeFatal('too many sessions'));
        // Nothing reads the peer's words: discard them, so its FIN is seen
        // and the socket closes (else close() waits for it forever).
        socket.resume();
      } else socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    sockets.add(socket);
    const session = new Session(socket, ctx, () => {
      sessions.delete(session);
      sockets.delete(socket);
      counters.sessionsNow = sessions.size;
    });
    sessions.add(session);
    counters.sessionsNow = sessions.size;
    counters.sessionsPeak = Math.max(counters.sessionsPeak, sessions.size);
  });
  return {
    server,
    sessions,
    dropAll: () => {
      const count = sessions.size;
      for (const session of [...sessions]) session.destroy();
      return count;
    },
  };
}
