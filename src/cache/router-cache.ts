import type { Logger } from 'pino';
import type { CacheConfig } from '../config/cache.js';
import { ErrorCode, type RosgateError } from '../errors.js';
import { boundedMemo } from '../bounded-memo.js';
import {
  SETTLED,
  SinkDecorator,
  answerInterrupted,
  type CommandContext,
  type CommandHandler,
  type CommandSink,
  type Exchange,
} from '../pipeline.js';
import { cacheKey } from './cache-key.js';
import { CachedReply } from './cached-reply.js';
import { MenuWatch, type CacheTimers, type ListenRole } from './menu-watch.js';
import { exactMenu, menuPattern, type MenuPattern } from './menu-pattern.js';
import type { RelatedMenus } from './related-menus.js';
import { ReplyStore } from './reply-store.js';
import {
  fillImpact,
  nameQueryOf,
  parseRowChange,
  replyShape,
  reportedChange,
  showsAny,
  writeChange,
  type RowChange,
} from './row-change.js';
import { SharedFill } from './shared-fill.js';
import type { TtlRules } from './ttl-rules.js';

/** Refusals that mean the router cannot be reached now: a kept reply may stand in. */
const STALE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.BreakerOpen,
  ErrorCode.AcquireTimeout,
  ErrorCode.UpstreamClosed,
]);

/** One router's cache counters and size. */
export interface RouterCacheStats {
  /** Prints answered from the cache. */
  hits: number;
  /** Prints sent to the router to fill the cache. */
  misses: number;
  /** Prints that shared an identical print already on its way. */
  coalesced: number;
  /** Expired replies served while the router could not be reached. */
  staleServed: number;
  /**
   * Replies dropped because their menu changed (writes, listen reports), or
   * expired because their menu's listen was lost.
   */
  invalidations: number;
  /** Replies dropped to stay within maxEntries and maxBytes. */
  evictions: number;
  /** Bytes of replies kept. */
  bytes: number;
  /** Replies kept. */
  entries: number;
  /** Replies whose bytes no longer matched their digest. */
  integrityFailures: number;
  /** Menus whose `listen` is running. */
  listensActive: number;
  /** Menus whose `listen` the router refused: served like unwatched ones until a later try. */
  listensRefused: number;
}

/** What a {@link RouterCache} shares with the others of its stage. */
export interface RouterCacheOptions {
  readonly router: string;
  /** The pipeline's link to the rest of the chain in force (it follows reloads). */
  readonly next: CommandHandler;
  readonly config: CacheConfig;
  readonly ttlRules: TtlRules;
  readonly related: RelatedMenus;
  readonly now: () => number;
  readonly timers: CacheTimers;
  readonly logger: Logger;
  /**
   * Tells the other replicas of a group (issue 18) that a write ended on
   * `path` (undefined: any menu); the write's answer waits for it. Never rejects.
   */
  readonly publish?:
    ((path: string | undefined, rowKey: string | undefined) => Promise<unknown>) | undefined;
  /**
   * A write ended on `path` (undefined: any menu): after a reload replaced
   * this cache, the one in force must drop what the write can reach too.
   */
  readonly writeEnded?: (path: string | undefined, rowKey: string | undefined) => void;
  /**
   * While the group cannot tell this replica of other replicas' writes
   * (Redis away), a reply of a menu no listen watches is served only this
   * many ms after it was kept; undefined while it can.
   */
  readonly fallbackTtlMs?: (() => number | undefined) | undefined;
  /**
   * The group's sharing of this router's listens (issue 18): while another
   * replica runs them, this one runs none and follows its reports. When
   * this replica runs them for a group, it runs every configured one.
   */
  readonly listenRole?: ListenRole | undefined;
  /**
   * Strict mode (issue 18): the group's version of these menus together
   * (one Redis call), undefined when it cannot be read. A reply is kept with
   * the version read before its print was sent, and served only while the
   * version is still that. Unset: no version is read (the default).
   */
  readonly menuVersion?: ((menus: readonly string[]) => Promise<number | undefined>) | undefined;
}

/**
 * The cache of one router: kept replies, prints in flight, and the
 * `listen`s that watch its menus. Consistency rests on three rules:
 * a write drops its menus' replies when it is sent and again before its
 * `!done` is passed on; a print in flight when such a write ends is neither
 * kept nor shared any more (the per-menu generation, held by each print);
 * and a watched menu is served only while its `listen` runs (what was kept
 * when it was lost is fresh no more: it may only be served stale), or while
 * the router refuses that listen (then it is served like an unwatched menu:
 * TTL and write invalidation).
 */
export class RouterCache {
  readonly #options: RouterCacheOptions;
  readonly #store: ReplyStore;
  readonly #maxEntryBytes: number;
  readonly #listenPaths: ReadonlySet<string>;
  readonly #rowScoped: ReadonlySet<string>;
  /** Every print in flight, for invalidation. */
  readonly #fills = new Set<SharedFill>();
  /** The print a new identical one may share, by key. */
  readonly #shared = new Map<string, SharedFill>();
  readonly #watches = new Map<string, MenuWatch>();
  /** Whether this replica ran the router's listens when the group's role was last applied. */
  #isRunner: boolean | undefined;
  readonly #stopRole: (() => void) | undefined;
  /** Strict mode: the version each reply was filled under, and each print in flight is filled under. */
  readonly #versions = new WeakMap<CachedReply | SharedFill, number>();
  /** Strict mode: the menus whose versions a print of a menu checks (itself, then its related sources). */
  readonly #menusOf = boundedMemo(1024, (path): readonly string[] => [
    path,
    ...this.#options.related.sourcesOf(path),
  ]);
  #isClosed = false;
  #hits = 0;
  #misses = 0;
  #coalesced = 0;
  #staleServed = 0;
  #invalidations = 0;
  #integrityFailures = 0;

  constructor(options: RouterCacheOptions) {
    const { config } = options;
    this.#options = options;
    this.#maxEntryBytes = Math.floor(config.maxBytes * config.maxEntryShare);
    this.#store = new ReplyStore({
      maxEntries: config.maxEntries,
      maxBytes: config.maxBytes,
      maxEntryBytes: this.#maxEntryBytes,
    });
    this.#listenPaths = new Set(config.listen.enabled ? config.listen.paths : []);
    this.#rowScoped = new Set(config.rowScoped);
    this.#stopRole = options.listenRole?.onChange(() => this.#applyRole());
    this.#applyRole();
  }

  /** A print: answered from the cache, joined to an identical one in flight, or sent. */
  read(context: CommandContext, sink: CommandSink): Exchange {
    const menuVersion = this.#options.menuVersion;
    if (menuVersion === undefined) return this.#read(context, sink, undefined);
    return this.#strictRead(context, sink, menuVersion);
  }

  /**
   * Strict mode: reads the menu's version in the group first, then serves a
   * reply kept under that same version, or sends the print (kept under it).
   * A cancel while the version is read is answered here.
   */
  #strictRead(
    context: CommandContext,
    sink: CommandSink,
    menuVersion: (menus: readonly string[]) => Promise<number | undefined>,
  ): Exchange {
    let exchange: Exchange | undefined;
    let isCancelled = false;
    void menuVersion(this.#menusOf(context.command.menu)).then((version) => {
      if (!isCancelled) exchange = this.#read(context, sink, version);
    });
    return {
      cancel: (onAnswered) => {
        if (exchange !== undefined) return exchange.cancel(onAnswered);
        if (!isCancelled) answerInterrupted(sink);
        isCancelled = true;
        onAnswered();
      },
    };
  }

  /**
   * A print, with the group's `version` of its menu in strict mode (a kept
   * reply is served only when it was filled under it; undefined: none is).
   */
  #read(context: CommandContext, sink: CommandSink, version: number | undefined): Exchange {
    const { router, next, now } = this.#options;
    const key = cacheKey(router, context.sentence);
    const { menu } = context.command;
    const watch = this.#watchOf(menu);
    const kept = this.#fresh(key, watch);
    if (kept !== undefined && this.#isCurrent(kept, version)) {
      context.notes.cache = 'hit';
      this.#hits++;
      kept.replay(sink);
      return SETTLED;
    }
    const shared = this.#shared.get(key);
    if (shared?.isJoinable === true && this.#isCurrent(shared, version)) {
      context.notes.cache = 'coalesced';
      this.#coalesced++;
      return shared.join(context, sink);
    }
    context.notes.cache = 'miss';
    this.#misses++;
    // Sent before the print, so the print's reply is covered by the listen.
    if (!this.#isClosed) watch?.ensureStarted();
    const nameQuery = this.#rowScoped.has(menu) ? nameQueryOf(context.sentence) : undefined;
    const fill = new SharedFill(key, menu, nameQuery, now(), this.#maxEntryBytes, {
      keep: (replies, done, changedIds) => {
        if (watch?.isServable === false || !this.#isCurrent(fill, version)) return;
        const ttlMs = this.#options.ttlRules.ttlFor(menu, context.sentence);
        if (ttlMs === 0) return;
        const shape = replyShape(context.sentence, replies);
        if (showsAny(shape, changedIds)) return;
        const storedAt = now();
        // Kept while writes elsewhere may go unheard: the group vouching later does not make it fresher.
        const capMs = this.#unvouchedCapMs(watch);
        const expiresAt = Math.min(fill.startedAt + ttlMs, storedAt + (capMs ?? Infinity));
        const times = { storedAt, expiresAt };
        const reply = CachedReply.of(
          menu,
          shape,
          replies,
          done,
          times,
          this.#options.config.integrity,
        );
        if (version !== undefined) this.#versions.set(reply, version);
        if (this.#store.set(key, reply)) watch?.markHealthy();
      },
      stale: (error) => this.#stale(key, error),
      servedStale: (waiter) => this.#noteStale(waiter),
      ended: () => {
        this.#fills.delete(fill);
        if (this.#shared.get(key) === fill) this.#shared.delete(key);
      },
    });
    if (version !== undefined) this.#versions.set(fill, version);
    this.#fills.add(fill);
    this.#shared.set(key, fill);
    return fill.start(next, context, sink);
  }

  /**
   * A command that may change the router: its menu and the related ones
   * (every menu, with `isAnyMenu`: a script) are invalidated when it is
   * sent, and again before its answer is passed on, so a client that sees
   * the `!done` and prints sees its write.
   */
  write(context: CommandContext, sink: CommandSink, isAnyMenu = false): Exchange {
    context.notes.cache = 'bypass';
    const { menu } = context.command;
    const change = this.#rowScoped.has(menu) ? writeChange(context) : undefined;
    const invalidate = isAnyMenu
      ? () => this.#invalidateAll()
      : () => this.#invalidateWrite(menu, change);
    invalidate();
    const target = isAnyMenu ? undefined : menu;
    // The other replicas drop only the rows the write touched, as this one does.
    const rowKey = change === undefined ? undefined : JSON.stringify(change);
    // The write's answer waits until the group heard of it (when there is one).
    const announcing: CommandSink = {
      reply: (sentence) => sink.reply(sentence),
      done: (sentence) => this.#announce(target, rowKey, () => sink.done(sentence)),
      refuse: (error) => this.#announce(target, rowKey, () => sink.refuse(error)),
    };
    const ended = (): void => {
      invalidate();
      this.#options.writeEnded?.(target, rowKey);
    };
    return this.#options.next.handle(context, new SinkDecorator(announcing, { onEnd: ended }));
  }

  /**
   * A change another replica made to `path` (a menu): drops the replies that
   * can show the rows `rowKey` names (a row-scoped menu), else the whole
   * menu, and its related menus.
   */
  invalidateMenu(path: string, rowKey?: string): void {
    const change = this.#rowScoped.has(path) ? parseRowChange(rowKey) : undefined;
    this.#invalidateWrite(path, change);
  }

  /** Publishes a write to the group, if any, then answers the client. */
  #announce(path: string | undefined, rowKey: string | undefined, answer: () => void): void {
    const published = this.#options.publish?.(path, rowKey);
    if (published === undefined) answer();
    else void published.then(answer, answer);
  }

  /** Drops the replies of `path` (a menu or a glob), or of every menu; returns how many. */
  flush(path?: string): number {
    if (path !== undefined) return this.#drop(menuPattern(path));
    for (const fill of this.#fills) fill.invalidate();
    return this.#store.clear();
  }

  stats(): RouterCacheStats {
    let listensActive = 0;
    let listensRefused = 0;
    for (const watch of this.#watches.values()) {
      if (watch.isRunning) listensActive++;
      if (watch.isRefused) listensRefused++;
    }
    return {
      hits: this.#hits,
      misses: this.#misses,
      coalesced: this.#coalesced,
      staleServed: this.#staleServed,
      invalidations: this.#invalidations,
      evictions: this.#store.evictions,
      bytes: this.#store.bytes,
      entries: this.#store.size,
      integrityFailures: this.#integrityFailures,
      listensActive,
      listensRefused,
    };
  }

  /** Cancels every listen; none is sent again. */
  close(): void {
    this.#isClosed = true;
    this.#stopRole?.();
    for (const watch of this.#watches.values()) watch.close();
  }

  /**
   * A group's replica that takes over the router's listens (it took the
   * lease, or lost the group) starts every one at once, after dropping what
   * it kept of their menus and related menus (another replica's listen, or
   * none, guarded those); one that hands them over stops its own.
   */
  #applyRole(): void {
    const role = this.#options.listenRole;
    if (role === undefined || role.runsListens === this.#isRunner) return;
    this.#isRunner = role.runsListens;
    for (const path of this.#listenPaths) {
      const watch = this.#watchOf(path) as MenuWatch;
      if (!this.#isRunner) {
        watch.stop();
        continue;
      }
      // As a report of its menu would: the related menus too (the others do the same on the holder's drop).
      this.#invalidateWrite(path, undefined);
      watch.ensureStarted();
    }
  }

  /** In strict mode, true only when `kept` (a reply or a print) was filled under `version`; always true otherwise. */
  #isCurrent(kept: CachedReply | SharedFill, version: number | undefined): boolean {
    if (this.#options.menuVersion === undefined) return true;
    return version !== undefined && this.#versions.get(kept) === version;
  }

  /** How long a reply of an unwatched menu may live while the group cannot vouch for it; undefined while it can. */
  #unvouchedCapMs(watch: MenuWatch | undefined): number | undefined {
    return watch?.isCovered === true ? undefined : this.#options.fallbackTtlMs?.();
  }

  /** The kept reply under `key` if it may be served now. */
  #fresh(key: string, watch: MenuWatch | undefined): CachedReply | undefined {
    if (watch?.isServable === false) return undefined;
    const reply = this.#store.get(key);
    if (reply === undefined) return undefined;
    const capMs = this.#unvouchedCapMs(watch);
    if (capMs !== undefined && this.#options.now() - reply.storedAt >= capMs) return undefined;
    if (this.#options.now() < reply.expiresAt) return this.#intact(key, reply);
    // Kept past its life only while it may still be served stale.
    if (!this.#isServableStale(reply)) this.#store.delete(key);
    return undefined;
  }

  /** An expired reply no older than maxStaleMs, to answer a print the router cannot take. */
  #stale(key: string, error: RosgateError): CachedReply | undefined {
    if (!STALE_CODES.has(error.code)) return undefined;
    const reply = this.#store.get(key);
    if (reply === undefined || !this.#isServableStale(reply)) return undefined;
    return this.#intact(key, reply);
  }

  #isServableStale(reply: CachedReply): boolean {
    const { maxStaleMs } = this.#options.config;
    return maxStaleMs > 0 && this.#options.now() - reply.expiresAt <= maxStaleMs;
  }

  #intact(key: string, reply: CachedReply): CachedReply | undefined {
    if (reply.isIntact()) return reply;
    this.#integrityFailures++;
    this.#store.delete(key);
    this.#options.logger.warn(
      { router: this.#options.router, path: reply.path },
      'cache reply failed its integrity check; dropped',
    );
    return undefined;
  }

  #noteStale(context: CommandContext): void {
    context.notes.cache = 'stale';
    this.#staleServed++;
    this.#options.logger.debug(
      { router: context.router, connId: context.clientId, cmd: context.sentence.command },
      'cache served a stale reply: the router cannot be reached',
    );
  }

  /** A write that may have changed any menu: every reply goes, counted as invalidations. */
  #invalidateAll(): void {
    this.#invalidations += this.flush();
  }

  /**
   * A write to `path`, or a change the router reported there: the menu's
   * replies go (only those `change` can reach, when its rows are known),
   * and those of the related menus.
   */
  #invalidateWrite(path: string, change: RowChange | undefined): void {
    const [menu, ...related] = this.#options.related.targetsOf(path);
    if (change === undefined) this.#invalidate(menu as MenuPattern);
    else this.#invalidateRows(path, change);
    for (const target of related) this.#invalidate(target);
  }

  /**
   * A change to known rows of a row-scoped menu: kept replies it can reach
   * go; prints on their way are given up, or kept only if they do not show
   * the changed rows.
   */
  #invalidateRows(path: string, change: RowChange): void {
    for (const fill of this.#fills) {
      if (fill.path !== path) continue;
      const impact = fillImpact(change, fill.nameQuery);
      if (impact === 'all') fill.invalidate();
      else if (impact === 'ids') fill.taint(change.ids);
    }
    this.#invalidations += this.#store.dropReached(path, change);
  }

  /** Drops a menu's replies and rules out its prints in flight; counts them as invalidations. */
  #invalidate(pattern: MenuPattern): void {
    this.#invalidations += this.#drop(pattern);
  }

  /**
   * The menu's `listen` is lost: its replies cannot be vouched for past this
   * moment, so they are fresh no more; they stay for serving stale (the
   * router is likely away) up to maxStaleMs from now. Its prints in flight
   * are not kept.
   */
  #expire(pattern: MenuPattern): void {
    for (const fill of this.#fills) if (pattern.matches(fill.path)) fill.invalidate();
    this.#invalidations += this.#store.expire(pattern, this.#options.now());
  }

  #drop(pattern: MenuPattern): number {
    for (const fill of this.#fills) if (pattern.matches(fill.path)) fill.invalidate();
    return this.#store.drop(pattern);
  }

  #watchOf(path: string): MenuWatch | undefined {
    if (!this.#listenPaths.has(path)) return undefined;
    let watch = this.#watches.get(path);
    if (watch === undefined) {
      const { router, next, now, timers, logger, config } = this.#options;
      watch = new MenuWatch({
        router,
        path,
        next,
        now,
        timers,
        logger,
        retryInitialMs: config.listen.retryInitialMs,
        retryMaxMs: config.listen.retryMaxMs,
        refusedRetryMs: config.listen.refusedRetryMs,
        onChange: (report, hasRowFields) => {
          const change =
            hasRowFields && this.#rowScoped.has(path) ? reportedChange(report) : undefined;
          this.#invalidateWrite(path, change);
          // The group's other replicas drop the same (only the rows, as for a write).
          this.#options.listenRole?.report(
            path,
            change === undefined ? undefined : JSON.stringify(change),
          );
        },
        onLost: () => this.#expire(exactMenu(path)),
        role: this.#options.listenRole,
      });
      this.#watches.set(path, watch);
    }
    return watch;
  }
}
