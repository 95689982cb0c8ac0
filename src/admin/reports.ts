/**
 * The JSON bodies of the /monitoring pages, built from the sources and the
 * metrics when asked. Times are ISO 8601 strings; durations are ms.
 */
import { lockoutView } from './lockouts.js';
import type { Metrics } from './metrics.js';
import type { AdminSources, CacheSnapshot, RouterSource } from './sources.js';
import { OUTCOMES, type Percentiles } from './traffic.js';
import { VERB_CLASSES, type VerbClass } from './verb-class.js';

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** ms to two decimals: enough for people, short in JSON. */
function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

function withHitRate(cache: CacheSnapshot) {
  const asked = cache.hits + cache.misses;
  return { ...cache, hitRate: asked === 0 ? null : cache.hits / asked };
}

function poolOf(r: RouterSource) {
  const p = r.pool();
  return {
    ready: p.ready,
    busy: p.busy,
    idle: p.ready - p.busy,
    opening: p.opening,
    waiting: p.waiting,
    longestWaitMs: round(p.longestWaitMs),
    inFlight: p.inFlight,
    opened: p.opened,
    failedConnects: p.failedConnects,
  };
}

/** The group's state for a report; nothing when no group is configured. */
function groupOf(sources: AdminSources) {
  const group = sources.group?.();
  if (group === undefined) return {};
  return {
    replica: group.replicaId,
    shared: {
      up: group.isUp,
      replicas: group.replicas,
      reason: group.downReason ?? null,
      listenHolders: group.listenHolders, // which replica runs each router's listens
      // Each replica's breakers (not shared: each replica opens its own).
      members: (group.members ?? []).map(({ id, breakers }) => ({
        id,
        breakers: Object.fromEntries(
          Object.entries(breakers).map(([router, b]) => [
            router,
            { state: b.state, since: iso(b.since) },
          ]),
        ),
      })),
    },
  };
}

/** Why the replica serves, but not as it should (ready stays true): Redis away. */
export function degradedReasons(sources: AdminSources): string[] {
  const group = sources.group?.();
  if (group === undefined || group.isUp) return [];
  return [`shared state unreachable (${group.downReason ?? 'unknown'}): each replica on its share`];
}

/** Why `ready` fails; none when ready. */
export function readinessProblems(sources: AdminSources, isRouterRequired: boolean): string[] {
  const problems: string[] = [];
  if (sources.isDraining()) problems.push('draining');
  if (isRouterRequired) {
    for (const r of sources.routers()) {
      if (r.pool().ready === 0) problems.push(`no session to router ${r.name}`);
    }
  }
  return problems;
}

/** `/monitoring/health`: per router the pool, breaker, last router error, cache and queues. */
export function healthReport(sources: AdminSources) {
  const routers = sources.routers().map((r) => {
    const pool = r.pool();
    const breaker = r.breaker?.();
    const cache = r.cache?.();
    const flow = r.flow?.();
    return {
      name: r.name,
      up: pool.ready > 0,
      pool: poolOf(r),
      breaker: breaker ?? null,
      lastError:
        pool.lastError === undefined
          ? null
          : {
              code: pool.lastError,
              at: pool.lastErrorAt === undefined ? null : iso(pool.lastErrorAt),
            },
      cache: cache === undefined ? null : withHitRate(cache),
      queues: flow === undefined ? null : { ...flow.queued },
    };
  });
  const isHealthy = routers.every((r) => r.up && r.breaker?.state !== 'open');
  const reasons = degradedReasons(sources);
  return {
    status: isHealthy && reasons.length === 0 ? 'ok' : 'degraded',
    ...(reasons.length === 0 ? {} : { reasons }),
    ...groupOf(sources),
    routers,
  };
}

/** `/monitoring/status`: what runs, since when, and whether the last reload worked. */
export function statusReport(sources: AdminSources, metrics: Metrics, version: string) {
  const reload = metrics.lastReload();
  return {
    service: 'rosgate',
    version,
    startedAt: iso(metrics.startedAt),
    uptimeSeconds: Math.floor((metrics.now() - metrics.startedAt) / 1000),
    draining: sources.isDraining(),
    lastReload: { ok: reload.isOk, at: iso(reload.at) },
    ...groupOf(sources),
    routers: sources.routers().map((r) => ({
      name: r.name,
      up: r.pool().ready > 0,
      breaker: r.breaker?.().state ?? null,
    })),
  };
}

function latencyOf(metrics: Metrics, router: string): Record<VerbClass, Percentiles> {
  const out = {} as Record<VerbClass, Percentiles>;
  for (const verbClass of VERB_CLASSES) {
    const p = metrics.traffic.latency(router, verbClass);
    out[verbClass] = {
      count: p.count,
      p50: round(p.p50),
      p90: round(p.p90),
      p99: round(p.p99),
      max: round(p.max),
    };
  }
  return out;
}

function businessOf(metrics: Metrics, router: string) {
  const t = metrics.traffic.of(router);
  const figure = (kind: 'hotspot' | 'pppoe') => {
    const users = t.activeUsers[kind];
    return users === undefined ? null : { count: users.count, at: iso(users.at) };
  };
  return {
    activeUsersHotspot: figure('hotspot'),
    activeUsersPppoe: figure('pppoe'),
    vouchersCreated: t.vouchersCreated,
  };
}

/** `/monitoring/statistics`: everything the dashboard draws, per router. */
export function statisticsReport(sources: AdminSources, metrics: Metrics, version: string) {
  const audit = sources.audit?.();
  return {
    at: iso(metrics.now()),
    version,
    uptimeSeconds: Math.floor((metrics.now() - metrics.startedAt) / 1000),
    draining: sources.isDraining(),
    routers: sources.routers().map((r) => {
      const t = metrics.traffic.of(r.name);
      const byOutcome = Object.fromEntries(
        OUTCOMES.map((o) => [o, sum(VERB_CLASSES.map((c) => t.requests[c][o]))]),
      );
      const byClass = Object.fromEntries(
        VERB_CLASSES.map((c) => [c, sum(Object.values(t.requests[c]))]),
      );
      const cache = r.cache?.();
      return {
        name: r.name,
        up: r.pool().ready > 0,
        pool: poolOf(r),
        breaker: r.breaker?.() ?? null,
        flow: r.flow?.() ?? null,
        cache: cache === undefined ? null : withHitRate(cache),
        policy: r.policy?.() ?? null,
        proxy: r.proxy(),
        requests: { total: sum(Object.values(byOutcome)), byOutcome, byClass },
        errors: Object.fromEntries(t.errors),
        slowCommands: sum(Object.values(t.slow)),
        latency: latencyOf(metrics, r.name),
        business: businessOf(metrics, r.name),
      };
    }),
    audit: audit ?? null,
    lockouts: (sources.lockouts?.() ?? []).map(lockoutView),
    events: metrics.events().map((e) => ({ ...e, at: iso(e.at) })),
  };
}

/** `/monitoring/performance`: latency percentiles by verb class, and the latest slow commands. */
export function performanceReport(sources: AdminSources, metrics: Metrics) {
  return {
    slowCommandMs: metrics.traffic.slowCommandMs,
    routers: sources.routers().map((r) => ({ name: r.name, latency: latencyOf(metrics, r.name) })),
    slowCommands: metrics.traffic
      .slowCommands()
      .map((c) => ({ ...c, durationMs: round(c.durationMs), at: iso(c.at) })),
  };
}

/** `/monitoring/business`: active users and vouchers per router. */
export function businessReport(sources: AdminSources, metrics: Metrics) {
  return {
    routers: sources.routers().map((r) => ({ name: r.name, ...businessOf(metrics, r.name) })),
  };
}

/**
 * `/monitoring/pools`: one row per router in the manner of PgBouncer's SHOW
 * POOLS. `cl_waiting` counts commands waiting (for a session, or in the
 * rate-limit queue), since clients share sessions command by command.
 */
export function poolsReport(sources: AdminSources) {
  const replica = sources.group?.()?.replicaId;
  return {
    pools: sources.routers().map((r) => {
      const p = r.pool();
      const flow = r.flow?.();
      const queued = flow === undefined ? 0 : sum(Object.values(flow.queued));
      const waitUs = Math.round(p.longestWaitMs * 1000);
      return {
        router: r.name,
        ...(replica === undefined ? {} : { replica }),
        cl_active: r.proxy().clientsConnected,
        cl_waiting: p.waiting + queued,
        sv_active: p.busy,
        sv_idle: p.ready - p.busy,
        sv_login: p.opening,
        maxwait: Math.floor(waitUs / 1_000_000),
        maxwait_us: waitUs % 1_000_000,
      };
    }),
  };
}
