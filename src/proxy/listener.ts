import net from 'node:net';
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
  logger: Logger;
  stats: ProxyStats;
  /** Everything a session needs except its id. */
  session: Omit<ClientSessionOptions, 'connId' | 'router' | 'logger' | 'stats'>;
}

let nextConnId = 1;

/**
 * Accepts RouterOS API clients for one router and gives each a
 * ClientSession. Connection caps are checked on accept: a client over the
 * cap gets `!fatal` with the reason and is closed (DESIGN invariant 7).
 */
export class ProxyListener {
  readonly #options: ProxyListenerOptions;
  readonly #server: net.Server;
  readonly #sessions = new Set<ClientSession>();
  readonly #perAddress = new Map<string, number>();

  constructor(options: ProxyListenerOptions) {
    this.#options = options;
    this.#server = net.createServer((socket) => this.#accept(socket));
  }

  /** Open sessions. */
  get sessions(): ReadonlySet<ClientSession> {
    return this.#sessions;
  }

  /** Start listening; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.removeListener('error', reject);
        resolve((this.#server.address() as net.AddressInfo).port);
      });
    });
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
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
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
