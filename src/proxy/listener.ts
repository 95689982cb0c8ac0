import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { encodeFatal } from '../protocol/index.js';
import { ClientSession, type ClientSessionOptions } from './client-session.js';
import type { ProxyStats } from './stats.js';

/** Options of one router's client listener. */
export interface ProxyListenerOptions {
  router: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Clients connected at once. @default 1000 */
  maxClients: number;
  /** Clients from one source address at once. @default 100 */
  maxClientsPerAddress: number;
  /**
   * A TLS (api-ssl) port next to the plain one; its clients share the
   * plain port's sessions and connection caps. @default none
   */
  tls?: ProxyTlsOptions;
  logger: Logger;
  stats: ProxyStats;
  /** Everything a session needs except its id. */
  session: Omit<ClientSessionOptions, 'connId' | 'router' | 'logger' | 'stats'>;
}

/** Where and how the TLS listener accepts clients. */
export interface ProxyTlsOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Certificate, key, ciphers and versions, as `tls.createServer` takes them. */
  options: tls.TlsOptions;
}

let nextConnId = 1;

/** A connection's peer as `address:port`, the same for a TLS socket and the TCP socket under it. */
function peerOf(socket: net.Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

/** Binds `server`; resolves with the bound port. */
function bind(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Stops accepting; resolves once open connections are gone (or at once when not listening). */
function stop(server: net.Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (server === undefined) resolve();
    else server.close(() => resolve());
  });
}

/**
 * Accepts RouterOS API clients for one router and gives each a
 * ClientSession. Connection caps are checked on accept: a client over the
 * cap gets `!fatal` with the reason and is closed (DESIGN invariant 7).
 */
export class ProxyListener {
  readonly #options: ProxyListenerOptions;
  readonly #server: net.Server;
  readonly #tls: { server: tls.Server; options: ProxyTlsOptions } | undefined;
  #tlsPort: number | undefined;
  /** TLS connections still in their handshake, by peer address and port. */
  readonly #handshaking = new Map<string, net.Socket>();
  #isClosing = false;
  readonly #sessions = new Set<ClientSession>();
  readonly #perAddress = new Map<string, number>();

  constructor(options: ProxyListenerOptions) {
    this.#options = options;
    this.#server = net.createServer((socket) => this.#accept(socket));
    if (options.tls !== undefined) {
      const server = tls.createServer(options.tls.options, (socket) => {
        this.#handshaking.delete(peerOf(socket));
        this.#accept(socket);
      });
      // Tracked so that close() need not wait for a peer's handshake timeout.
      server.on('connection', (raw: net.Socket) => {
        const peer = peerOf(raw);
        this.#handshaking.set(peer, raw);
        raw.once('close', () => {
          if (this.#handshaking.get(peer) === raw) this.#handshaking.delete(peer);
        });
      });
      // A failed handshake (a plaintext client, a cipher mismatch, garbage)
      // only costs that connection; without this listener it is silent too,
      // but counting it tells a misconfigured client from a quiet one.
      server.on('tlsClientError', (err, socket) => {
        socket.destroy();
        // Handshakes close() cuts short are rosgate's doing, not the client's.
        if (this.#isClosing) return;
        options.stats.tlsHandshakeErrors++;
        options.logger.warn(
          { address: String(socket.remoteAddress), err: err.message },
          'TLS handshake with a client failed',
        );
      });
      this.#tls = { server, options: options.tls };
    }
    // A server error (a port taken at start, accept failing under EMFILE)
    // is logged; unhandled it would end the process.
    for (const server of [this.#server, this.#tls?.server]) {
      server?.on('error', (err: NodeJS.ErrnoException) =>
        options.logger.error({ code: err.code, err: err.message }, 'client listener error'),
      );
    }
  }

  /** Open sessions. */
  get sessions(): ReadonlySet<ClientSession> {
    return this.#sessions;
  }

  /** The bound TLS port, once `listen()` has resolved; undefined without TLS. */
  get tlsPort(): number | undefined {
    return this.#tlsPort;
  }

  /** Start listening (plain, then TLS); resolves with the bound plain port. */
  async listen(): Promise<number> {
    const port = await bind(this.#server, this.#options.port, this.#options.host);
    if (this.#tls !== undefined) {
      const { server, options } = this.#tls;
      this.#tlsPort = await bind(server, options.port, options.host);
    }
    return port;
  }

  #accept(socket: net.Socket): void {
    const { stats, logger } = this.#options;
    const address = String(socket.remoteAddress);
    const fromAddress = this.#perAddress.get(address) ?? 0;
    socket.on('error', () => {
      /* reported by the session; a reset from a peer must not crash us */
    });
    if (
      this.#sessions.size >= this.#options.maxClients ||
      fromAddress >= this.#options.maxClientsPerAddress
    ) {
      stats.clientsRefused++;
      logger.warn({ address }, 'client refused: too many connections');
      socket.end(encodeFatal('too many connections'));
      return;
    }
    socket.setNoDelay(true);
    this.#perAddress.set(address, fromAddress + 1);
    stats.clientsAccepted++;
    stats.clientsConnected++;
    const session = new ClientSession(socket, {
      ...this.#options.session,
      connId: nextConnId++,
      router: this.#options.router,
      logger,
      stats,
    });
    this.#sessions.add(session);
    void session.closed().then(() => {
      this.#sessions.delete(session);
      stats.clientsConnected--;
      const left = (this.#perAddress.get(address) as number) - 1;
      if (left === 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, left);
    });
  }

  /**
   * Graceful stop: refuse new clients, give open commands `graceMs` to
   * finish, then end every session (streams are cancelled on the router).
   */
  async close(graceMs: number): Promise<void> {
    const stopped = Promise.all([stop(this.#server), stop(this.#tls?.server)]);
    this.#isClosing = true;
    // A client still in its TLS handshake has no commands to finish.
    for (const raw of this.#handshaking.values()) raw.destroy();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.#sessions].map((s) => s.idle())),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const session of [...this.#sessions]) session.shutdown();
    await stopped;
  }
}
