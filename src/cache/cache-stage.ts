import type { Logger } from 'pino';
import type { CacheConfig } from '../config/cache.js';
import type { CommandHandler, Stage, StageHandle } from '../pipeline.js';
import { commandKind } from './command-kind.js';
import type { CacheTimers, ListenRole } from './menu-watch.js';
import { RelatedMenus } from './related-menus.js';
import { RouterCache, type RouterCacheStats } from './router-cache.js';
import { TtlRules } from './ttl-rules.js';
import { monotonicNow } from '../clock.js';

/** What {@link createCacheStage} needs. */
export interface CacheStageOptions {
  /** The validated `cache` config section. */
  readonly config: CacheConfig;
  /** Stale serving is logged at debug, lost listens at warn. */
  readonly logger: Logger;
  /** Clock for lifetimes, in ms. @default monotonicNow (src/clock.ts: steps of the wall clock do not move it) */
  readonly now?: () => number;
  /** Timers for re-sending lost listens. @default the global ones, unref'd */
  readonly timers?: CacheTimers;
  /** Tells a group's other replicas of a write before its answer (issue 18). Never rejects. */
  readonly publish?: (
    router: string,
    path: string | undefined,
    rowKey: string | undefined,
  ) => Promise<unknown>;
  /** How long an unwatched reply may be served while the group cannot vouch for it (issue 18). */
  readonly fallbackTtlMs?: (router: string) => number | undefined;
  /** How a group shares the router's listens: one replica runs them, the others follow (issue 18). */
  readonly listenRole?: (router: string) => ListenRole | undefined;
  /**
   * Strict mode (issue 18): the group's version of `menus` on `router`;
   * a hit is served only while it equals the one its reply was filled under.
   */
  readonly menuVersion?: (router: string, menus: readonly string[]) => Promise<number | undefined>;
}

/** The reply cache stage and its controls. */
export interface CacheStage extends StageHandle<Record<string, RouterCacheStats>> {
  /** The pipeline stage: goes between audit and flow. */
  readonly stage: Stage;
  /** Counters and sizes by router name. */
  stats(): Record<string, RouterCacheStats>;
  /**
   * Drops kept replies (for the admin port): of `path` (a menu or a glob)
   * or of every menu, on `router` or on every router. Returns how many.
   */
  flush(path?: string, router?: string): number;
  /**
   * A write on another replica changed `path` (only the rows `rowKey` names,
   * when given): drops the replies that can show them and its related menus'.
   */
  invalidate(router: string, path: string, rowKey?: string): void;
  /**
   * Cancels every `listen` the cache runs; call it before the pool closes.
   * A reload passes the stage that replaces this one (`successor`): writes
   * still under way here drop what they reach there too when they end, so a
   * print kept there meanwhile cannot outlive them.
   */
  close(successor?: CacheStage): void;
}

const globalTimers: CacheTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * The reply cache (docs/architecture.md "The path of one command"): answers `print` and
 * `getall` from kept replies, shares identical prints in flight, drops
 * replies on writes and on changes the router reports, and serves expired
 * replies for a while when the router cannot be reached. Each router has
 * its own cache, bounds and counters.
 */
export function createCacheStage(options: CacheStageOptions): CacheStage {
  const { config, logger } = options;
  const now = options.now ?? monotonicNow;
  const timers = options.timers ?? globalTimers;
  const ttlRules = new TtlRules(config.ttlRules, config.defaultTtlMs, config.volatileProperties);
  const related = new RelatedMenus(config.related);
  const routers = new Map<string, RouterCache>();
  /** The stage a reload put in this one's place: where writes still under way here must reach too. */
  let successor: CacheStage | undefined;

  // A router's cache keeps the `next` of its first command for its fills,
  // writes and listens. That is safe only because `next` is the pipeline's
  // link to the chain in force, never the flow stage itself: a flow stage
  // replaced by a reload is retired, and what it would still get is refused.
  const cacheOf = (router: string, next: CommandHandler): RouterCache => {
    let cache = routers.get(router);
    if (cache === undefined) {
      const publish = options.publish?.bind(undefined, router);
      const fallbackTtlMs = options.fallbackTtlMs?.bind(undefined, router);
      const listenRole = options.listenRole?.(router);
      const menuVersion = options.menuVersion?.bind(undefined, router);
      cache = new RouterCache({
        router,
        next,
        config,
        ttlRules,
        related,
        now,
        timers,
        logger,
        publish,
        fallbackTtlMs,
        listenRole,
        menuVersion,
        writeEnded: (path, rowKey) => {
          if (path === undefined) successor?.flush(undefined, router);
          else successor?.invalidate(router, path, rowKey);
        },
      });
      routers.set(router, cache);
    }
    return cache;
  };

  const stage: Stage = (next) => {
    if (!config.enabled) return next;
    return {
      handle(context, sink) {
        switch (commandKind(context)) {
          case 'read':
            return cacheOf(context.router, next).read(context, sink);
          case 'write':
            return cacheOf(context.router, next).write(context, sink);
          case 'script':
            return cacheOf(context.router, next).write(context, sink, true);
          default:
            context.notes.cache = 'bypass';
            return next.handle(context, sink);
        }
      },
    };
  };

  return {
    stage,
    stats() {
      const out: Record<string, RouterCacheStats> = {};
      for (const [router, cache] of routers) out[router] = cache.stats();
      return out;
    },
    flush(path, router) {
      let dropped = 0;
      for (const [name, cache] of routers) {
        if (router === undefined || router === name) dropped += cache.flush(path);
      }
      return dropped;
    },
    invalidate(router, path, rowKey) {
      routers.get(router)?.invalidateMenu(path, rowKey);
      // Replaced meanwhile (a reload after a reload): the stage in force too.
      successor?.invalidate(router, path, rowKey);
    },
    close(next) {
      successor = next;
      for (const cache of routers.values()) cache.close();
    },
  };
}
