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

/**
 * How a group of replicas shares a router's listens (issue 18): one replica
 * (the holder of the group's lease) runs them and publishes what they
 * report; the others run none and follow it. Without a group there is none.
 */
export interface ListenRole {
  /** True while this replica runs the router's listens itself: it holds the lease, or cannot reach the group. */
  readonly runsListens: boolean;
  /** A follower: true while the holder's listen on `path` runs and this replica hears what it reports. */
  isFollowed(path: string): boolean;
  /** This replica's listen on `path` was sent: the group's followers may trust it. */
  listenStarted(path: string): void;
  /**
   * This replica's listen on `path` ended: `isLost` when it was lost or
   * refused (what it guarded is covered no more), false when it was stopped.
   */
  listenEnded(path: string, isLost: boolean): void;
  /** The listen on `path` reported a change (`rowKey`: its rows, as a write publishes them). */
  report(path: string, rowKey: string | undefined): void;
  /** Calls `listener` whenever `runsListens` may have changed; returns how to stop. */
  onChange(listener: () => void): () => void;
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
  /**
   * Wait before a listen the router refused, with and without `.proplist`,
   * is tried again; meanwhile the menu is served like an unwatched one.
   */
  readonly refusedRetryMs: number;
  readonly logger: Logger;
  /**
   * The router reported a change on the menu: `report` is its `!re`.
   * `hasRowFields`: the listen asked for `.id`, `name` and `.dead`, so the
   * report says which row changed; false when the router refused that
   * `.proplist` and the listen runs without one.
   */
  onChange(report: Sentence, hasRowFields: boolean): void;
  /** The listen ended: until it runs again, nothing it guarded may be trusted. */
  onLost(): void;
  /** The group's sharing of listens; none: this replica runs its own. */
  readonly role?: ListenRole | undefined;
}

/**
 * `unwatched`: the router refused the listen with and without `.proplist`;
 * the menu is served like one that is not watched until a slow retry.
 */
type WatchState = 'idle' | 'running' | 'waiting' | 'unwatched' | 'closed';

/** Category of the trap that ends a cancelled command (docs/routeros-api.md §5): a loss, not a refusal. */
const INTERRUPTED_CATEGORY = '2';

/**
 * One `listen` on a menu, so changes made around rosgate (Winbox, scripts,
 * other tools) invalidate its cached replies (docs/routeros-api.md §5: `listen`
 * sends a `!re` per change and never ends by itself).
 *
 * - Lost (the router session dropped, or the listen ended without a trap):
 *   sent again after a wait that doubles on every loss in a row; until then
 *   the menu is not served from the cache.
 * - Refused (the router answered with a `!trap`; the manual says listen "may
 *   not work everywhere"): sent again at once without `.proplist` (reports
 *   then drop the whole menu, not single rows). Refused again: the menu is
 *   served like an unwatched one (TTL and write invalidation), with one
 *   warning, and the listen is tried again after `refusedRetryMs`.
 */
export class MenuWatch {
  readonly #options: MenuWatchOptions;
  #state: WatchState = 'idle';
  /** Identifies the listen now running; replies of an older one are ignored. */
  #run: object | undefined;
  #exchange: Exchange | undefined;
  #timer: unknown;
  #losses = 0;
  /** Whether the next listen asks for `.proplist` (dropped after the router refused it). */
  #isWithProplist = true;
  #hasWarnedRefused = false;

  constructor(options: MenuWatchOptions) {
    this.#options = options;
  }

  /** True while this replica's listen is on its way or running. */
  get isRunning(): boolean {
    return this.#state === 'running';
  }

  /**
   * True while changes to the menu are being reported to this replica: its
   * own listen runs, or (a follower) the group's holder runs one.
   */
  get isCovered(): boolean {
    const role = this.#options.role;
    return role?.runsListens === false ? role.isFollowed(this.#options.path) : this.isRunning;
  }

  /** True while the router refuses the listen: the menu is served like an unwatched one. */
  get isRefused(): boolean {
    return this.#state === 'unwatched';
  }

  /**
   * True when the menu's kept replies may be served and new ones kept: its
   * listen runs, or the router refused it (then TTL and writes guard them).
   */
  get isServable(): boolean {
    // A follower serves the menu like an unwatched one while the holder's listen does not cover it.
    if (this.#options.role?.runsListens === false) return true;
    return this.#state === 'running' || this.#state === 'unwatched';
  }

  /** Sends the listen if it was never sent (and this replica runs the router's listens). */
  ensureStarted(): void {
    if (this.#state === 'idle' && this.#options.role?.runsListens !== false) this.#start();
  }

  /**
   * Cancels the listen, which may be sent again later: another replica runs
   * the router's listens now.
   */
  stop(): void {
    if (this.#state === 'idle' || this.#state === 'closed') return;
    this.#cancel('idle');
  }

  /** The router answered the menu's prints while the listen ran: the next loss waits the shortest time again. */
  markHealthy(): void {
    this.#losses = 0;
  }

  /** Cancels the listen for good. */
  close(): void {
    this.#cancel('closed');
  }

  #cancel(state: 'idle' | 'closed'): void {
    const wasRunning = this.#state === 'running';
    this.#state = state;
    this.#run = undefined;
    if (this.#timer !== undefined) this.#options.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#exchange?.cancel(() => undefined);
    this.#exchange = undefined;
    if (wasRunning) this.#options.role?.listenEnded(this.#options.path, false);
  }

  #start(): void {
    const { router, path, next, now } = this.#options;
    this.#state = 'running';
    this.#options.role?.listenStarted(path);
    const run = {};
    this.#run = run;
    const hasRowFields = this.#isWithProplist;
    const context: CommandContext = {
      router,
      user: 'rosgate',
      clientId: 0,
      address: '',
      // Which row changed, its name, and whether it is gone: enough to drop
      // only the replies a one-row change can reach (row-scoped menus).
      ...describeCommand(
        Sentence.from(
          hasRowFields ? [`${path}/listen`, '=.proplist=.id,name,.dead'] : [`${path}/listen`],
        ),
      ),
      receivedAt: now(),
      notes: {},
    };
    /** The router's trap: the listen was refused, not lost. */
    let refusal: string | undefined;
    try {
      const exchange = next.handle(context, {
        reply: (sentence) => {
          if (this.#run !== run) return;
          if (sentence.command === '!re') this.#options.onChange(sentence, hasRowFields);
          else if (
            sentence.command === '!trap' &&
            sentence.attributeString('category') !== INTERRUPTED_CATEGORY
          )
            refusal ??= sentence.attributeString('message') ?? '';
        },
        done: () => {
          if (refusal === undefined) this.#lose(run, undefined);
          else this.#refused(run, refusal);
        },
        refuse: (error) => this.#lose(run, error),
      });
      if (this.#run === run) this.#exchange = exchange;
    } catch (err) {
      this.#lose(run, toRosgateError(err));
    }
  }

  /** The router answered the listen with a trap. */
  #refused(run: object, message: string): void {
    if (this.#run !== run) return;
    const { router, path, timers, refusedRetryMs, logger } = this.#options;
    this.#run = undefined;
    this.#exchange = undefined;
    this.#options.role?.listenEnded(path, true);
    if (this.#isWithProplist) {
      // Replies kept while it was on its way were covered by nothing; a
      // menu already served as unwatched keeps them (TTL and writes guard them).
      if (!this.#hasWarnedRefused) this.#options.onLost();
      this.#isWithProplist = false;
      logger[this.#hasWarnedRefused ? 'debug' : 'info'](
        { router, path, reason: message },
        'cache listen with .proplist refused; listening without it (changes drop the whole menu)',
      );
      this.#start();
      return;
    }
    this.#state = 'unwatched';
    // One warning per menu: a router that refuses listen refuses it every time.
    const level = this.#hasWarnedRefused ? 'debug' : 'warn';
    this.#hasWarnedRefused = true;
    logger[level](
      { router, path, reason: message, delayMs: refusedRetryMs },
      'cache listen refused; its menu is served like an unwatched one (TTL and writes) until a later try',
    );
    this.#timer = timers.setTimeout(() => {
      this.#timer = undefined;
      this.#isWithProplist = true;
      this.#start();
    }, refusedRetryMs);
  }

  #lose(run: object, error: RosgateError | undefined): void {
    if (this.#run !== run) return;
    const { router, path, timers, retryInitialMs, retryMaxMs, logger } = this.#options;
    this.#run = undefined;
    this.#exchange = undefined;
    this.#state = 'waiting';
    this.#options.role?.listenEnded(path, true);
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
