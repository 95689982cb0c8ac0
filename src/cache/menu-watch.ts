import type { Logger } from 'pino';
import type { RosgateError } from '../errors.js';
import {
  describeCommand,
  toRosgateError,
  type CommandContext,
  type CommandHandler,
  type Exchange,
} from '../pipeline.js';
import { Sentence } from '../protocol/index.js';

/** Timers the cache waits with; tests inject their own. */
export interface CacheTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What a {@link MenuWatch} needs. */
export interface MenuWatchOptions {
  readonly router: string;
  /** The menu watched: `/ip/hotspot/user`. */
  readonly path: string;
  /** Where the `listen` goes: the stage's inner handler. */
  readonly next: CommandHandler;
  readonly now: () => number;
  readonly timers: CacheTimers;
  /** First wait before a lost listen is sent again; doubles on every loss in a row. */
  readonly retryInitialMs: number;
  /** Longest wait between two tries. */
  readonly retryMaxMs: number;
  readonly logger: Logger;
  /** The router reported a change on the menu: `report` is its `!re` (`.id`, `name`, `.dead`). */
  onChange(report: Sentence): void;
  /** The listen ended: until it runs again, nothing it guarded may be trusted. */
  onLost(): void;
}

type WatchState = 'idle' | 'running' | 'waiting' | 'closed';

/**
 * One `listen` on a menu, so changes made around rosgate (Winbox, scripts,
 * other tools) invalidate its cached replies (ROUTEROS-API §5: `listen`
 * sends a `!re` per change and never ends by itself). When it ends anyway
 * (the router session was lost, or it was refused) it is sent again after a
 * wait that doubles on every loss in a row.
 */
export class MenuWatch {
  readonly #options: MenuWatchOptions;
  #state: WatchState = 'idle';
  /** Identifies the listen now running; replies of an older one are ignored. */
  #run: object | undefined;
  #exchange: Exchange | undefined;
  #timer: unknown;
  #losses = 0;

  constructor(options: MenuWatchOptions) {
    this.#options = options;
  }

  /** True while the listen is on its way or running: changes are being reported. */
  get isRunning(): boolean {
    return this.#state === 'running';
  }

  /** Sends the listen if it was never sent. */
  ensureStarted(): void {
    if (this.#state === 'idle') this.#start();
  }

  /** The router answered the menu's prints while the listen ran: the next loss waits the shortest time again. */
  markHealthy(): void {
    this.#losses = 0;
  }

  /** Cancels the listen for good. */
  close(): void {
    this.#state = 'closed';
    this.#run = undefined;
    if (this.#timer !== undefined) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#exchange?.cancel(() => undefined);
    this.#exchange = undefined;
  }

  #start(): void {
    const { router, path, next, now } = this.#options;
    this.#state = 'running';
    const run = {};
    this.#run = run;
    const context: CommandContext = {
      router,
      user: 'rosgate',
      clientId: 0,
      address: '',
      // Which row changed, its name, and whether it is gone: enough to drop
      // only the replies a one-row change can reach (row-scoped menus).
      ...describeCommand(Sentence.from([`${path}/listen`, '=.proplist=.id,name,.dead'])),
      receivedAt: now(),
      notes: {},
    };
    try {
      const exchange = next.handle(context, {
        reply: (sentence) => {
          if (this.#run === run && sentence.command === '!re') this.#options.onChange(sentence);
        },
        done: () => this.#lose(run, undefined),
        refuse: (error) => this.#lose(run, error),
      });
      if (this.#run === run) this.#exchange = exchange;
    } catch (err) {
      this.#lose(run, toRosgateError(err));
    }
  }

  #lose(run: object, error: RosgateError | undefined): void {
    if (this.#run !== run) return;
    const { router, path, timers, retryInitialMs, retryMaxMs, logger } = this.#options;
    this.#run = undefined;
    this.#exchange = undefined;
    this.#state = 'waiting';
    this.#options.onLost();
    const delayMs = Math.min(retryMaxMs, retryInitialMs * 2 ** this.#losses);
    // A router that stays away would log a line per try: only the first is a warning.
    const level = this.#losses === 0 ? 'warn' : 'debug';
    this.#losses++;
    logger[level](
      { router, path, code: error?.code, delayMs },
      'cache listen ended; its menu is not served from the cache until it runs again',
    );
    this.#timer = timers.setTimeout(() => {
      this.#timer = undefined;
      this.#start();
    }, delayMs);
  }
}
