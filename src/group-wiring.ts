/**
 * How the composition root joins a rosgate to its group of replicas (issue
 * 18): one {@link SharedGroup} per app when `shared.url` (or `.sentinel`,
 * `.cluster`) is set, and per router the objects flow, the pool, the login
 * gate and the cache are given.
 * Without any of them none of this is built.
 */
import os from 'node:os';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import {
  DEFAULT_SHARED_PREFIX,
  type FlowConfig,
  type PolicyConfig,
  type RosgateConfig,
} from './config/index.js';
import type { ListenRole } from './cache/index.js';
import type { RateLimiter } from './flow/token-bucket.js';
import type { GroupLockout } from './policy/index.js';
import {
  BreakerView,
  FLUSH_ALL,
  ListenLease,
  SharedGroup,
  menusVersion,
  type InvalidationBus,
  type SessionBudget,
  type SharedGroupOptions,
  type ClearedLock,
  type GroupMember,
  type LocalBreaker,
  type SharedLockout,
  type SharedLockoutFilter,
  type SharedTokenBucket,
} from './shared/index.js';
import type { PoolHooks } from './upstream/pool.js';

/**
 * While a replica cannot hear the others' writes (Redis away), it serves a
 * cached reply of a menu no listen watches at most this long after it was kept.
 */
export const FALLBACK_TTL_MS = 5000;

/** How long the listen lease lives without a renewal, unless the group's replicaTtlMs says otherwise. */
const DEFAULT_LEASE_TTL_MS = 15_000;

/** This replica's id: `shared.replicaId`, else HOSTNAME (the pod name), else the host name. */
export function replicaIdOf(config: RosgateConfig): string {
  return config.shared?.replicaId ?? process.env['HOSTNAME'] ?? os.hostname();
}

/**
 * The replica the audit records name: this replica's id in a group (a
 * Redis URL, Sentinel or Cluster) or when `shared.replicaId` names it; none
 * for a lone rosgate.
 */
export function auditedReplicaOf(config: RosgateConfig): string | undefined {
  if (!isSharing(config) && config.shared?.replicaId === undefined) return undefined;
  return replicaIdOf(config);
}

/** The group's state as the admin port shows it. */
export interface GroupSnapshot {
  readonly replicaId: string;
  readonly isUp: boolean;
  /** Why Redis counts as down; undefined while up. */
  readonly downReason: string | undefined;
  /** Live replicas last seen. */
  readonly replicas: number;
  /** By router: the replica that runs its listens for the group, as last seen (null: none known). */
  readonly listenHolders: Readonly<Record<string, string | null>>;
  /** Every replica with its breakers, by router (this one's as they are now). */
  readonly members: readonly GroupMember[];
}

/** A lockout the group held in Redis and a clear ended, as the admin port names it. */
export interface GroupClearedLockout {
  readonly router: string;
  readonly scope: 'source' | 'user' | 'source-user';
  readonly source?: string;
  readonly user?: string;
  /** The limit that began it. */
  readonly failures: number;
  readonly untilMs: number;
}

/** Which group lockouts to clear: the admin port's filter. */
export interface GroupLockoutFilter {
  readonly router?: string | undefined;
  readonly source?: string | undefined;
  readonly user?: string | undefined;
}

/** Where the group's invalidations go: the cache stage in force. */
export interface GroupCacheTarget {
  invalidate(router: string, path: string, rowKey?: string): void;
  flush(path?: string, router?: string): number;
}

interface RouterParts {
  readonly bus: InvalidationBus;
  readonly lease: ListenLease;
  readonly lockout: SharedLockout | undefined;
  readonly budget: SessionBudget | undefined;
  readonly buckets: Set<SharedTokenBucket>;
}

/** One replica's membership of its group, and what each router is given. */
export class GroupWiring {
  readonly group: SharedGroup;
  readonly #routers = new Map<string, RouterParts>();
  /** The limits that begin a lockout, for the admin port's view of a cleared one. */
  readonly #limits: { readonly source: number; readonly user: number };
  readonly #replicaTtlMs: number;
  #breakers: BreakerView | undefined;

  constructor(
    config: RosgateConfig,
    logger: Logger,
    cache: () => GroupCacheTarget,
    extra: Partial<SharedGroupOptions> = {},
  ) {
    // groupWiringOf builds one only with shared.url, .sentinel or .cluster set.
    const shared = config.shared as NonNullable<RosgateConfig['shared']>;
    const { maxAttempts, userMaxAttempts } = config.policy.lockout;
    this.#limits = { source: maxAttempts, user: userMaxAttempts };
    this.#replicaTtlMs = extra.replicaTtlMs ?? 15_000;
    this.group = new SharedGroup({
      url: shared.url,
      sentinel: shared.sentinel,
      cluster: shared.cluster,
      password: shared.password,
      prefix: shared.prefix ?? DEFAULT_SHARED_PREFIX,
      replicaId: replicaIdOf(config),
      logger,
      ...extra,
    });
    this.group.on('down', (reason) =>
      logger.warn({ reason }, 'shared state: Redis unreachable; each replica on its share'),
    );
    this.group.on('up', () => logger.info('shared state: Redis reachable; sharing again'));
    for (const router of config.routers) {
      const bus = this.group.invalidationBus(router.name);
      bus.on('invalidate', (e) => cache().invalidate(e.router, e.menu, e.rowKey));
      bus.on('flush', (e) => {
        logger.info({ router: e.router, reason: e.reason }, 'shared state: cache flushed');
        cache().flush(undefined, e.router);
      });
      this.#routers.set(router.name, {
        bus,
        // As long as a replica's registration: a crashed holder is replaced within it.
        lease: new ListenLease(this.group, router.name, {
          leaseTtlMs: extra.replicaTtlMs ?? DEFAULT_LEASE_TTL_MS,
        }),
        lockout: lockoutOf(this.group, router.name, config.policy),
        budget:
          router.maxSessions === undefined
            ? undefined
            : // Its leases, too, live as long as a replica's registration.
              this.group.sessionBudget(router.name, {
                maxSessions: router.maxSessions,
                leaseTtlMs: this.#replicaTtlMs,
              }),
        buckets: new Set(),
      });
    }
  }

  get replicaId(): string {
    return this.group.replicaId;
  }

  /** Joins the group; resolves whether Redis answered (never rejects). */
  start(): Promise<boolean> {
    return this.group.start();
  }

  /** Leaves the group: listen leases given up, sessions released, registry entry dropped. */
  async close(): Promise<void> {
    await Promise.all([...this.#routers.values()].map((parts) => parts.lease.close()));
    for (const parts of this.#routers.values()) {
      parts.bus.close();
      parts.lockout?.close();
    }
    await this.group.close();
    // After the group's close: its close tasks take this replica's breakers out of the view.
    this.#breakers?.close();
  }

  /**
   * Shows this replica's breakers (`read` at each heartbeat) in the group's
   * view, and the other replicas' here (called once, by the app). Breakers stay per replica: nothing
   * opens one because another replica's is open.
   */
  watchBreakers(read: () => readonly LocalBreaker[]): void {
    this.#breakers = new BreakerView(this.group, { read, ttlMs: this.#replicaTtlMs });
  }

  /** The flow stage's rate limiter for `router`: the group's bucket, shaped by `flow.rateLimit`. */
  rateBucket(router: string, flow: FlowConfig): (onAvailable: () => void) => RateLimiter {
    return (onAvailable) => {
      const { bucketSize, refillTokens, refillIntervalMs } = flow.rateLimit;
      const bucket = this.group.rateBucket(router, {
        capacity: bucketSize,
        refillTokens,
        refillIntervalMs,
        onAvailable,
      });
      const buckets = this.#parts(router).buckets;
      buckets.add(bucket);
      return {
        get tokens() {
          return bucket.tokens;
        },
        tryTake: () => bucket.tryTake(),
        msUntilNext: () => bucket.msUntilNext(),
        close() {
          buckets.delete(bucket);
          bucket.close();
        },
      };
    };
  }

  /**
   * The pool's hooks when the router has a group cap: a permit for each
   * session, and the cap that falls to this replica's share once Redis has
   * been away longer than a lease lives.
   */
  poolHooks(router: string): Pick<PoolHooks, 'sessionPermit' | 'sessionCap'> {
    const budget = this.#parts(router).budget;
    if (budget === undefined) return {};
    return {
      sessionPermit: () => budget.tryAcquire(),
      sessionCap: {
        current: () => budget.sessionCap,
        onChange: (listener) => budget.onSessionCapChange(listener),
      },
    };
  }

  /** The login gate's group lockout for `router`. */
  lockout(router: string): GroupLockout | undefined {
    return this.#routers.get(router)?.lockout;
  }

  /**
   * Ends the group's lockouts `filter` reaches, in Redis and on every
   * replica (DELETE /monitoring/lockouts); returns the locks Redis held.
   */
  async clearLockouts(filter: GroupLockoutFilter): Promise<GroupClearedLockout[]> {
    const { router: only, source, user } = filter;
    const which: SharedLockoutFilter = {
      ...(source === undefined ? {} : { address: source }),
      ...(user === undefined ? {} : { user }),
    };
    const out = new Map<string, GroupClearedLockout>();
    for (const [router, parts] of this.#routers) {
      if (parts.lockout === undefined || (only !== undefined && only !== router)) continue;
      for (const lock of await parts.lockout.clear(which)) {
        const view = this.#clearedView(router, lock);
        // A trusted source's pair is locked under two keys: one lockout.
        out.set(`${view.scope} ${view.source ?? ''} ${view.user ?? ''} ${router}`, view);
      }
    }
    return [...out.values()];
  }

  /**
   * Calls `listener` when another replica cleared lockouts of `router`
   * (this replica's login gate must forget them too), as long as the group lasts.
   */
  onLockoutsCleared(listener: (router: string, filter: SharedLockoutFilter) => void): void {
    for (const [router, parts] of this.#routers) {
      parts.lockout?.onClear((filter) => listener(router, filter));
    }
  }

  #clearedView(router: string, lock: ClearedLock): GroupClearedLockout {
    const { scope, address, user, untilMs } = lock;
    if (scope === 'user') {
      return { router, scope: 'user', user: user as string, failures: this.#limits.user, untilMs };
    }
    const source = address as string;
    const failures = this.#limits.source;
    return user === undefined
      ? { router, scope: 'source', source, failures, untilMs }
      : { router, scope: 'source-user', source, user, failures, untilMs };
  }

  /**
   * Tells the other replicas of a write on `path` (undefined: any menu), of
   * the rows `rowKey` names when given. Never rejects.
   */
  publish(router: string, path: string | undefined, rowKey?: string): Promise<unknown> {
    const bus = this.#routers.get(router)?.bus;
    if (bus === undefined) return Promise.resolve(false);
    return path === undefined ? bus.publish(FLUSH_ALL) : bus.publish(path, rowKey);
  }

  /**
   * Strict mode (`shared.strict`): the group's version of `menus` on
   * `router`, one Redis call; undefined while Redis is down or for a router
   * of no group (the cache then asks the router).
   */
  menuVersion(router: string, menus: readonly string[]): Promise<number | undefined> {
    if (!this.#routers.has(router)) return Promise.resolve(undefined);
    return menusVersion(this.group, router, menus);
  }

  /** How long an unwatched cached reply may be served now: undefined while the router's bus is live. */
  fallbackTtlMs(router: string): number | undefined {
    const bus = this.#routers.get(router)?.bus;
    return bus === undefined || bus.isLive ? undefined : FALLBACK_TTL_MS;
  }

  /**
   * The cache's part in sharing `router`'s listens: the lease decides which
   * replica runs them; the holder's start (and loss) of a listen and what it
   * reports go to the others through the lease and the invalidation bus.
   */
  listenRole(router: string): ListenRole | undefined {
    const parts = this.#routers.get(router);
    if (parts === undefined) return undefined;
    const { lease, bus } = parts;
    return {
      get runsListens() {
        return lease.runsListens;
      },
      isFollowed: (path) => bus.isLive && lease.isWatching(path),
      listenStarted: (path) => {
        // The followers drop what they kept of the menu: nothing reported its changes before.
        void lease.setRunning(path, true).then(() => lease.role === 'holder' && bus.publish(path));
      },
      listenEnded: (path, isLost) => {
        void lease.setRunning(path, false);
        // What it guarded is covered no more (kept for later while Redis is away).
        if (isLost) void bus.publish(path);
      },
      report: (path, rowKey) => void bus.publish(path, rowKey),
      onChange: (listener) => {
        lease.on('role', listener);
        return () => lease.off('role', listener);
      },
    };
  }

  snapshot(): GroupSnapshot {
    const stats = this.group.stats();
    const listenHolders: Record<string, string | null> = {};
    for (const [router, parts] of this.#routers) {
      listenHolders[router] = parts.lease.stats().holder ?? null;
    }
    return {
      replicaId: stats.replicaId,
      isUp: stats.isUp,
      downReason: stats.downReason,
      replicas: stats.replicas,
      listenHolders,
      members: this.#breakers?.members() ?? [],
    };
  }

  /** `rosgate_shared_*` on the app's registry. */
  registerMetrics(registry: Registry): void {
    const replica = this.replicaId;
    const group = this.group;
    const counters = group.counters;
    for (const [name, help, read] of [
      ['rosgate_shared_round_trips_total', 'Commands sent to Redis.', () => counters.roundTrips],
      [
        'rosgate_shared_timeouts_total',
        'Redis commands not answered in time.',
        () => counters.timeouts,
      ],
      [
        'rosgate_shared_fallbacks_total',
        'Operations answered locally: Redis down or slow.',
        () => counters.fallbacks,
      ],
      [
        'rosgate_shared_republished_total',
        'Lockout counts and locks re-published after an outage.',
        () => counters.republished,
      ],
    ] as const) {
      new Counter({
        name,
        help,
        labelNames: ['replica'],
        registers: [registry],
        collect() {
          this.reset();
          this.inc({ replica }, read());
        },
      });
    }
    const series: readonly RouterSeries[] = [
      [
        'gauge',
        'rosgate_shared_up',
        '1 while the group state in Redis is reachable.',
        () => (group.isUp ? 1 : 0),
      ],
      [
        'gauge',
        'rosgate_shared_replicas',
        'Live replicas of the group last seen.',
        () => group.replicas,
      ],
      [
        'counter',
        'rosgate_shared_leases_total',
        'Token leases Redis granted this replica.',
        (p) => sum(p.buckets, (b) => b.stats().leases),
      ],
      [
        'counter',
        'rosgate_shared_invalidations_sent_total',
        'Cache invalidations this replica published.',
        (p) => p.bus.stats().sent,
      ],
      [
        'counter',
        'rosgate_shared_invalidations_received_total',
        'Cache invalidations from other replicas applied here.',
        (p) => p.bus.stats().received + p.bus.stats().replayed,
      ],
      [
        'counter',
        'rosgate_shared_cache_flushes_total',
        'Whole-cache flushes: the invalidation log did not reach back.',
        (p) => p.bus.stats().flushes,
      ],
      [
        'gauge',
        'rosgate_shared_listen_holder',
        "1 while this replica runs the router's listens for the group (it holds the lease).",
        (p) => (p.lease.role === 'holder' ? 1 : 0),
      ],
      [
        'gauge',
        'rosgate_shared_sessions_held',
        'Router sessions this replica holds under the group cap.',
        (p) => p.budget?.stats().held ?? 0,
      ],
    ];
    for (const spec of series) routerSeries(registry, replica, this.#routers, spec);
  }

  #parts(router: string): RouterParts {
    return this.#routers.get(router) as RouterParts;
  }
}

/** A per-router series: its kind, name, help and how to read one router's value. */
type RouterSeries = readonly [
  kind: 'gauge' | 'counter',
  name: string,
  help: string,
  read: (parts: RouterParts) => number,
];

/** Registers one per-router series, read at scrape time. */
function routerSeries(
  registry: Registry,
  replica: string,
  routers: ReadonlyMap<string, RouterParts>,
  [kind, name, help, read]: RouterSeries,
): void {
  const options = { name, help, labelNames: ['router', 'replica'], registers: [registry] };
  if (kind === 'gauge') {
    new Gauge({
      ...options,
      collect() {
        this.reset();
        for (const [router, parts] of routers) this.set({ router, replica }, read(parts));
      },
    });
    return;
  }
  new Counter({
    ...options,
    collect() {
      this.reset();
      for (const [router, parts] of routers) this.inc({ router, replica }, read(parts));
    },
  });
}

function sum<T>(items: Iterable<T>, read: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += read(item);
  return total;
}

/** The group lockout of a router; none when lockouts last 0 ms (off). */
function lockoutOf(
  group: SharedGroup,
  router: string,
  policy: PolicyConfig,
): SharedLockout | undefined {
  const { maxAttempts, userMaxAttempts, windowMs, durationMs, maxTracked } = policy.lockout;
  if (durationMs === 0) return undefined;
  return group.lockout(router, { maxAttempts, userMaxAttempts, windowMs, durationMs, maxTracked });
}

/** True when `shared.url`, `.sentinel` or `.cluster` names a Redis: the replica is in a group. */
export function isSharing(config: RosgateConfig): boolean {
  const shared = config.shared;
  return (
    shared?.url !== undefined || shared?.sentinel !== undefined || shared?.cluster !== undefined
  );
}

/** The group when `shared.url`, `.sentinel` or `.cluster` is set. */
export function groupWiringOf(
  config: RosgateConfig,
  logger: Logger,
  cache: () => GroupCacheTarget,
  extra?: Partial<SharedGroupOptions>,
): GroupWiring | undefined {
  return isSharing(config) ? new GroupWiring(config, logger, cache, extra) : undefined;
}
