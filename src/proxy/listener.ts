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
  /** Pending connections the kernel queues before accept. @default 4096 */
  backlog: number;
  /** TCP keepalive probe delay on client sockets, so vanished peers are found. @default 60000 */
  keepAliveMs: number;
  /** How long a refused client may take to read its `!fatal` before its socket is cut. @default 250 */
  refusedLingerMs?: number;
  /** Refusals are logged as one line per this interval at most. @default 10000 */
  refusalLogIntervalMs?: number;
  /**
   * A TLS (api-ssl) port next to the plain one; its clients share the
   * plain port's sessions and connection caps. @default none
   */
  tls?: ProxyTlsOptions;
  logger: Logger;
  stats: ProxyStats;
  /** Everything a session needs except its id and address. */
  session: Omit<ClientSessionOptions, 'connId' | 'router' | 'address' | 'logger' | 'stats'>;
}

const DEFAULT_REFUSED_LINGER_MS = 250;
const DEFAULT_REFUSAL_LOG_INTERVAL_MS = 10_000;

/** Where and how the TLS listener accepts clients. */
export interface ProxyTlsOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Certificate, key, ciphers and versions, as `tls.createServer` takes them. */
  options: tls.TlsOptions;
}

let nextConnId = 1;

/** Binds `server`; resolves with the bound port. */
function bind(server: net.Server, port: number, host: string, backlog: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog }, () => {
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
 * ClientSession. Connection caps are checked on accept, TLS connections
 * included from their first byte: a client over a cap gets `!fatal` with the
 * reason and its socket is cut after a short linger (docs/architecture.md invariant 7).
 */
export class ProxyListener {
  #options: ProxyListenerOptions;
  readonly #server: net.Server;
  readonly #tls: { server: tls.Server; options: ProxyTlsOptions } | undefined;
  #tlsPort: number | undefined;
  /** TLS connections still in their handshake. */
  readonly #handshaking = new Set<net.Socket>();
  /** TLS connections refused before their handshake: their failing handshake is no news. */
  readonly #cut = new WeakSet<net.Socket>();
  #isClosing = false;
  readonly #sessions = new Set<ClientSession>();
  /**
   * Client sockets open, sessions' and those whose session ended but whose
   * peer has not closed yet (a `!fatal` lingering): each holds its slot
   * until its socket closes, so a flood of refused logins cannot pile up
   * sockets past the caps.
   */
  #openSockets = 0;
  /** Refused sockets flushing their `!fatal`: past maxClients of them, the next is cut at once. */
  #lingering = 0;
  readonly #perAddress = new Map<string, number>();
  /** Refusals since the last log line about them. */
  #refusedUnlogged = 0;
  #refusalLogTimer: NodeJS.Timeout | undefined;
  /** Stops waiting for the last counted socket's 'close'. */
  readonly #onNoConnections: (() => void)[] = [];

  constructor(options: ProxyListenerOptions) {
    this.#options = options;
    this.#server = net.createServer((socket) => this.#acceptPlain(socket));
    if (options.tls !== undefined) {
      const server = tls.createServer(
        // A handshake gets the same time as a login: 150 silent TLS
        // connections must not stay 120 s (Node's default).
        { ...options.tls.options, handshakeTimeout: options.session.preLoginTimeoutMs },
        (socket) => this.#acceptTls(socket),
      );
      // Counted against the caps from accept, before the handshake.
      server.on('connection', (raw: net.Socket) => this.#admitHandshake(raw));
      // A failed handshake (a plaintext client, a cipher mismatch, garbage,
      // a timeout) only costs that connection.
      server.on('tlsClientError', (err, socket) => {
        const address =
          (socket as { remoteAddress?: string }).remoteAddress ?? addressOfTls(socket);
        socket.destroy();
        // Handshakes a cap or close() cut short are rosgate's doing, not the
        // client's: they are counted as refusals, or not at all.
        if (this.#isClosing || this.#cut.has(rawOf(socket) as net.Socket)) return;
        options.stats.tlsHandshakeErrors++;
        options.logger.warn({ address, err: err.message }, 'TLS handshake with a client failed');
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

  /**
   * New limits (a live reload): the caps apply to the next accept, the
   * keepalive and session options to clients that connect from now on.
   * The backlog was given to the kernel when the port was bound: it changes
   * only with a restart.
   */
  reconfigure(limits: {
    maxClients: number;
    maxClientsPerAddress: number;
    keepAliveMs?: number;
    session: Partial<ProxyListenerOptions['session']>;
  }): void {
    this.#options = {
      ...this.#options,
      maxClients: limits.maxClients,
      maxClientsPerAddress: limits.maxClientsPerAddress,
      keepAliveMs: limits.keepAliveMs ?? this.#options.keepAliveMs,
      session: { ...this.#options.session, ...limits.session },
    };
  }

  /** Session options for clients that connect from now on (a reload's users: their authenticator). */
  updateSession(session: Partial<ProxyListenerOptions['session']>): void {
    this.#options = { ...this.#options, session: { ...this.#options.session, ...session } };
  }

  /** Open sessions. */
  get sessions(): ReadonlySet<ClientSession> {
    return this.#sessions;
  }

  /** Connections counted against the caps: sessions and TLS handshakes. */
  get connections(): number {
    return this.#openSockets + this.#handshaking.size;
  }

  /** True once `close()` has begun: no new clients are accepted. */
  get isDraining(): boolean {
    return this.#isClosing;
  }

  /** The bound TLS port, once `listen()` has resolved; undefined without TLS. */
  get tlsPort(): number | undefined {
    return this.#tlsPort;
  }

  /** Start listening (plain, then TLS); resolves with the bound plain port. */
  async listen(): Promise<number> {
    const { backlog } = this.#options;
    const port = await bind(this.#server, this.#options.port, this.#options.host, backlog);
    if (this.#tls !== undefined) {
      const { server, options } = this.#tls;
      this.#tlsPort = await bind(server, options.port, options.host, backlog);
    }
    return port;
  }

  #acceptPlain(socket: net.Socket): void {
    socket.on('error', ignoreSocketError);
    const address = String(socket.remoteAddress);
    if (!this.#hasRoomFor(address)) {
      this.#refuse(socket, address);
      return;
    }
    this.#startSession(socket, address);
  }

  /** A TLS connection's raw socket, before its handshake. */
  #admitHandshake(raw: net.Socket): void {
    raw.on('error', ignoreSocketError);
    const address = String(raw.remoteAddress);
    if (!this.#hasRoomFor(address)) {
      // No TLS yet, so no `!fatal` can be read: cut it.
      this.#countRefusal(address);
      this.#cut.add(raw);
      raw.destroy();
      return;
    }
    this.#handshaking.add(raw);
    this.#addAddress(address);
    raw.once('close', () => {
      if (this.#handshaking.delete(raw)) this.#removeAddress(address);
      this.#released();
    });
  }

  #acceptTls(socket: tls.TLSSocket): void {
    socket.on('error', ignoreSocketError);
    const raw = rawOf(socket);
    const address = String(socket.remoteAddress);
    // The handshake's slot passes to the session. (No handshake completes
    // once close() has begun: it destroys every socket still in one.)
    if (raw !== undefined && this.#handshaking.delete(raw)) this.#removeAddress(address);
    this.#startSession(socket, address);
  }

  #hasRoomFor(address: string): boolean {
    return (
      !this.#isClosing &&
      this.connections < this.#options.maxClients &&
      (this.#perAddress.get(address) ?? 0) < this.#options.maxClientsPerAddress
    );
  }

  #refuse(socket: net.Socket, address: string): void {
    this.#countRefusal(address);
    if (this.#lingering >= this.#options.maxClients) {
      // A flood: no more sockets held open to say why.
      socket.destroy();
      return;
    }
    this.#lingering++;
    socket.once('close', () => this.#lingering--);
    socket.end(encodeFatal('too many connections'));
    // The refused socket must not pin a descriptor until its peer closes.
    setTimeout(
      () => socket.destroy(),
      this.#options.refusedLingerMs ?? DEFAULT_REFUSED_LINGER_MS,
    ).unref();
  }

  /** Counted always; logged once per interval at most, with the count. */
  #countRefusal(address: string): void {
    const { stats, logger } = this.#options;
    const intervalMs = this.#options.refusalLogIntervalMs ?? DEFAULT_REFUSAL_LOG_INTERVAL_MS;
    stats.clientsRefused++;
    this.#refusedUnlogged++;
    if (this.#refusalLogTimer !== undefined) return;
    logger.warn(
      { address, refused: this.#refusedUnlogged },
      'client refused: too many connections',
    );
    this.#refusedUnlogged = 0;
    this.#refusalLogTimer = setTimeout(() => {
      this.#refusalLogTimer = undefined;
      if (this.#refusedUnlogged > 0) {
        logger.warn(
          { refused: this.#refusedUnlogged, intervalMs },
          'clients refused: too many connections',
        );
        this.#refusedUnlogged = 0;
      }
    }, intervalMs);
    this.#refusalLogTimer.unref();
  }

  #addAddress(address: string): void {
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
  }

  #removeAddress(address: string): void {
    const left = (this.#perAddress.get(address) as number) - 1;
    if (left === 0) this.#perAddress.delete(address);
    else this.#perAddress.set(address, left);
  }

  #startSession(socket: net.Socket, address: string): void {
    const { stats, logger } = this.#options;
    socket.setNoDelay(true);
    // A client that vanished without a FIN is found by TCP keepalive.
    socket.setKeepAlive(true, this.#options.keepAliveMs);
    this.#addAddress(address);
    stats.clientsAccepted++;
    stats.clientsConnected++;
    const session = new ClientSession(socket, {
      ...this.#options.session,
      connId: nextConnId++,
      router: this.#options.router,
      address,
      logger,
      stats,
    });
    this.#sessions.add(session);
    this.#openSockets++;
    void session.closed().then(() => this.#sessions.delete(session));
    socket.once('close', () => {
      this.#openSockets--;
      stats.clientsConnected--;
      this.#removeAddress(address);
      this.#released();
    });
  }

  /** A counted socket's slot came back: a stop waiting for the last one may end. */
  #released(): void {
    if (this.connections === 0) for (const resolve of this.#onNoConnections.splice(0)) resolve();
  }

  /**
   * Graceful stop: accept no new client, keep serving connected ones (new
   * commands too) until they leave or `graceMs` ends, then cancel what
   * still runs and close every session.
   */
  async close(graceMs: number): Promise<void> {
    this.#isClosing = true;
    const stopped = Promise.all([stop(this.#server), stop(this.#tls?.server)]);
    // A client still in its TLS handshake has no commands to finish.
    for (const raw of this.#handshaking) raw.destroy();
    await this.drain(graceMs);
    for (const session of [...this.#sessions]) session.shutdown();
    clearTimeout(this.#refusalLogTimer);
    await stopped;
    // The server counts a connection gone when its socket is destroyed; the
    // socket's 'close', which gives its slot back here, runs a moment later.
    // A stop ends with every slot back, whichever socket went last.
    if (this.connections > 0) {
      await new Promise<void>((resolve) => this.#onNoConnections.push(resolve));
    }
  }

  /** Resolves when every client has left, or after `graceMs`. */
  async drain(graceMs: number): Promise<void> {
    if (graceMs <= 0 || this.#sessions.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.#sessions].map((s) => s.closed())),
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }
}

/**
 * A socket error (a reset from a peer) is the session's or tlsClientError's
 * to report; without a listener it would end the process.
 */
function ignoreSocketError(): void {}

/** The TCP socket a server-side TLS socket wraps. */
function rawOf(socket: tls.TLSSocket): net.Socket | undefined {
  return (socket as unknown as { _parent?: net.Socket })._parent;
}

/** The peer address of a TLS socket whose own address is gone (destroyed early). */
function addressOfTls(socket: tls.TLSSocket): string {
  return String(rawOf(socket)?.remoteAddress);
}
