import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { encodeFatal } from '../protocol/index.js';
import type { SimulatorContext } from './context.js';
import { Session } from './session.js';

/** The API listener and its sessions. */
export interface ApiServer {
  readonly server: Server;
  readonly sessions: ReadonlySet<Session>;
  /** Close every connection now; returns how many. */
  dropAll(): number;
  /** Listen on `port` (0: a free one) and `host`; resolves once listening. */
  listen(port: number, host: string): Promise<void>;
  /**
   * Closes the listening socket (false: connects are refused by the OS,
   * open sessions stay) or opens it again on the port it had. Resolves once
   * it is so; rejects when the port cannot be had back (call again to retry).
   */
  setListening(isListening: boolean): Promise<void>;
  /** Sessions go on with what waited while `stopAnswering` was on. */
  resumeAnswering(): void;
  /** Stops listening and closes every connection; resolves once all are closed. */
  close(): Promise<void>;
}

/** Listens once; the listeners it adds are gone whether it succeeds or not. */
function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
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
    if (ctx.faults.refuseConnections !== false) {
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
  const dropAll = (): number => {
    const count = sessions.size;
    for (const session of [...sessions]) session.destroy();
    return count;
  };
  /** Where the first listen went: the listener reopens there. */
  let address = { port: 0, host: '' };
  let isWanted = true;
  /** A reopening under way. */
  let opening: Promise<void> | undefined;
  const setListening = (isListening: boolean): Promise<void> => {
    isWanted = isListening;
    if (opening !== undefined) return opening;
    if (!isListening) {
      if (server.listening) server.close();
      return Promise.resolve();
    }
    if (server.listening) return Promise.resolve();
    opening = listenOn(server, address.port, address.host).finally(() => {
      opening = undefined;
      // Refused again while it reopened.
      if (!isWanted) server.close();
    });
    return opening;
  };
  return {
    server,
    sessions,
    dropAll,
    async listen(port, host) {
      await listenOn(server, port, host);
      address = { port: (server.address() as AddressInfo).port, host };
    },
    setListening,
    resumeAnswering() {
      for (const session of [...sessions]) session.resume();
    },
    async close() {
      await setListening(false).catch(() => undefined);
      const closed = new Promise<void>((resolve) => {
        // Not listening any more: the callback still waits for the connections to close.
        server.close(() => resolve());
      });
      dropAll();
      await closed;
    },
  };
}
