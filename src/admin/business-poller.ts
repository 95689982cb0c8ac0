/**
 * Counts active users itself, for deployments where no client prints the
 * whole of `/ip/hotspot/active` or `/ppp/active`: every `intervalMs` it sends
 * `count-only` prints through each router's handler (every 30 s by default,
 * `monitoring.businessPollMs`; 0 turns it off).
 */
import type { Logger } from 'pino';
import { describeCommand, type CommandHandler, type Exchange } from '../pipeline.js';
import { Sentence } from '../protocol/index.js';
import { ACTIVE_USER_MENUS, activeUserCount } from './business.js';
import type { Metrics } from './metrics.js';
import type { ActiveUserKind } from './traffic.js';

/** Interval timers, injectable for tests. */
export interface IntervalTimers {
  setInterval(run: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const NODE_TIMERS: IntervalTimers = {
  setInterval: (run, ms) => setInterval(run, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export interface BusinessPollerOptions {
  /**
   * Each router's handler. Give the chain inside the metrics stage, so the
   * polls are not counted as client commands.
   */
  readonly routers: readonly { readonly name: string; readonly handler: CommandHandler }[];
  readonly metrics: Metrics;
  /** Time between rounds; a print still running is not sent again. */
  readonly intervalMs: number;
  readonly logger: Logger;
  /** The user name the polls carry through policy and audit. @default 'rosgate' */
  readonly user?: string;
  /** @default Node's timers, unref'ed */
  readonly timers?: IntervalTimers;
}

/** The client id of rosgate's own commands (sessions count from 1). */
const OWN_CLIENT_ID = 0;

export class BusinessPoller {
  readonly #options: BusinessPollerOptions;
  readonly #timers: IntervalTimers;
  readonly #pending = new Map<string, Exchange>();
  #timer: unknown;

  constructor(options: BusinessPollerOptions) {
    this.#options = options;
    this.#timers = options.timers ?? NODE_TIMERS;
  }

  /** Polls every `intervalMs` until `stop()`. */
  start(): void {
    if (this.#timer !== undefined) return;
    const { intervalMs, logger } = this.#options;
    this.#timer = this.#timers.setInterval(() => this.poll(), intervalMs);
    logger.info({ intervalMs }, 'counting active users with count-only prints');
  }

  /** Stops polling and cancels the prints still running. */
  stop(): void {
    if (this.#timer !== undefined) this.#timers.clearInterval(this.#timer);
    this.#timer = undefined;
    const running = [...this.#pending.values()];
    this.#pending.clear();
    for (const exchange of running) exchange.cancel(() => undefined);
  }

  /** One round: a `count-only` print of each menu on each router. */
  poll(): void {
    for (const router of this.#options.routers) {
      for (const [path, kind] of ACTIVE_USER_MENUS)
        this.#ask(router.name, router.handler, path, kind);
    }
  }

  #ask(router: string, handler: CommandHandler, path: string, kind: ActiveUserKind): void {
    const key = `${router} ${path}`;
    if (this.#pending.has(key)) return;
    const { metrics, logger } = this.#options;
    const sentence = Sentence.from([`${path}/print`, '=count-only=']);
    let hasTrap = false;
    let isSettled = false;
    const settle = (): void => {
      isSettled = true;
      this.#pending.delete(key);
    };
    try {
      const exchange = handler.handle(
        {
          router,
          user: this.#options.user ?? 'rosgate',
          clientId: OWN_CLIENT_ID,
          address: '127.0.0.1',
          ...describeCommand(sentence),
          receivedAt: metrics.now(),
          notes: {},
        },
        {
          reply(reply) {
            if (reply.command === '!trap') hasTrap = true;
          },
          done(done) {
            settle();
            const count = hasTrap ? undefined : activeUserCount(sentence, done, 0);
            if (count !== undefined) metrics.setActiveUsers(router, kind, count);
          },
          refuse(error) {
            settle();
            logger.debug({ router, cmd: path, code: error.code }, 'business poll refused');
          },
        },
      );
      // A cache hit answers before handle() returns.
      if (!isSettled) this.#pending.set(key, exchange);
    } catch (err) {
      settle();
      logger.warn({ router, cmd: path, err }, 'business poll failed');
    }
  }
}
