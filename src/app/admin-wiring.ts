/**
 * What the admin port is given: its view of every router (read at scrape
 * time, so it follows reloads and replaced stages), the audit trail's
 * search and report, the clearing of lockouts, and the connected clients.
 */
import type { Logger } from 'pino';
import {
  matchesClient,
  type AdminSources,
  type AuditFunctions,
  type ClearLockouts,
  type ClientControl,
  type LockoutSnapshot,
  type Metrics,
} from '../admin/index.js';
import { reportAudit, searchAudit, type AuditTrail } from '../audit/index.js';
import type { CacheStage } from '../cache/index.js';
import type { Lockout, PolicyStage } from '../policy/index.js';
import type { GroupSnapshot, GroupWiring } from '../group-wiring.js';
import type { RouterRuntime } from './router-runtime.js';

/** The admin port's view of every router, read at scrape time. */
export function adminSources(
  routers: readonly RouterRuntime[],
  cache: () => CacheStage,
  policy: () => PolicyStage,
  isDraining: () => boolean,
  audit: (() => AuditTrail) | undefined,
  group: () => GroupSnapshot | undefined,
): AdminSources {
  return {
    isDraining,
    group,
    lockouts: () => policy().lockouts().map(lockoutSnapshot),
    ...(audit === undefined
      ? {}
      : {
          audit: () => {
            const stats = audit().stats();
            return {
              written: stats.written,
              dropped: stats.dropped,
              fileReplaced: stats.fileReplaced,
            };
          },
        }),
    routers: () =>
      routers.map((runtime) => {
        const name = runtime.config.name;
        return {
          name,
          pool: () => {
            const s = runtime.pool.stats;
            const error = runtime.pool.lastError;
            const at = runtime.pool.lastErrorAt;
            return {
              ready: s.ready,
              busy: s.busy,
              opening: s.connecting,
              waiting: s.waiting,
              longestWaitMs: s.longestWaitMs,
              inFlight: s.inFlight,
              opened: s.opened,
              failedConnects: s.failedConnects,
              ...(error === undefined ? {} : { lastError: error.code }),
              ...(at === undefined ? {} : { lastErrorAt: at }),
            };
          },
          proxy: () => runtime.stats,
          breaker: () => {
            const f = runtime.flow.stats();
            const t = f.breakerTransitions;
            return {
              state: runtime.flow.breakerState,
              failures: f.breakerFailures,
              transitions: t.open + t.halfOpen + t.closed,
            };
          },
          flow: () => {
            const f = runtime.flow.stats();
            return {
              queued: f.queued,
              refusals: f.refusals,
              tokens: f.tokens,
              // The router's: a stage a reload replaced may still finish some.
              inFlight: f.slotsInUse,
              timeouts: f.timeouts,
              slow: f.slowCommands,
            };
          },
          cache: () => cache().stats()[name] ?? EMPTY_CACHE_STATS,
          policy: () => policy().routerStats(name),
        };
      }),
  };
}

/** A gate's lockout as the admin port names it: the address is its `source`. */
export function lockoutSnapshot({
  address,
  ...lockout
}: Lockout & { router: string }): LockoutSnapshot {
  return { ...lockout, ...(address === undefined ? {} : { source: address }) };
}

const EMPTY_CACHE_STATS = Object.freeze({
  hits: 0,
  misses: 0,
  coalesced: 0,
  staleServed: 0,
  invalidations: 0,
  evictions: 0,
  bytes: 0,
  entries: 0,
});

/** The admin port's audit endpoints, over the files the writer keeps. */
export function auditFunctions(audit: AuditTrail, dir: string): AuditFunctions {
  return {
    async search(query) {
      const { limit, ...filters } = query;
      const records: unknown[] = [];
      for await (const record of searchAudit(dir, definedOnly(filters))) {
        records.push(record);
        if (records.length >= limit) break;
      }
      return { records, count: records.length, limit };
    },
    report: (query) => reportAudit(dir, { ...definedOnly(query), groupBy: query.groupBy }),
    head: () => Promise.resolve(audit.writer.head() ?? null),
  };
}

/** `{ a: 1, b: undefined }` -> `{ a: 1 }`: optional filters left out, as exactOptionalPropertyTypes wants. */
function definedOnly<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/**
 * DELETE /monitoring/lockouts: ends the lockouts `filter` names, records the
 * clearing in the audit trail, on the dashboard and in the log. With a
 * group (issue 18) they end in Redis and on every replica too: the answer
 * lists this replica's lockouts and the group's, once each; a clear another
 * replica made reaches this replica's login gate (logged, audited there).
 */
export function lockoutClearer(
  policy: () => PolicyStage,
  audit: AuditTrail,
  metrics: Metrics,
  logger: Logger,
  group?: GroupWiring,
): ClearLockouts {
  group?.onLockoutsCleared((router, { address, user }) => {
    const cleared = policy().clearLockouts({ router, address, user });
    logger.info(
      { router, filter: { source: address, user }, cleared: cleared.length },
      'lockouts cleared by another replica',
    );
  });
  return async (filter, address) => {
    const { source, ...rest } = filter;
    const local = policy()
      .clearLockouts({ ...rest, ...(source === undefined ? {} : { address: source }) })
      .map(lockoutSnapshot);
    const cleared = group === undefined ? local : union(local, await group.clearLockouts(filter));
    audit.events.lockoutsCleared({
      filter: { ...filter },
      cleared: cleared.map(({ failures: _f, untilMs: _u, ...lockout }) => lockout),
      address,
    });
    metrics.recordEvent({ kind: 'lockout', message: `${cleared.length} lockout(s) cleared` });
    logger.info({ filter, cleared: cleared.length }, 'lockouts cleared through the admin port');
    return cleared;
  };
}

/** `local` and the group's lockouts not already among them (same router, scope, source, user). */
function union(
  local: readonly LockoutSnapshot[],
  fromGroup: readonly LockoutSnapshot[],
): LockoutSnapshot[] {
  const keyOf = (l: LockoutSnapshot) => `${l.router} ${l.scope} ${l.source ?? ''} ${l.user ?? ''}`;
  const seen = new Set(local.map(keyOf));
  return [...local, ...fromGroup.filter((l) => !seen.has(keyOf(l)))];
}

/** Why an ended client is told it was ended. */
const ENDED_BY_ADMIN = 'session ended by an administrator';

/**
 * The connected clients of every router, and their ending by hand: each
 * one matched gets `!fatal session ended by an administrator` (its running
 * commands are cancelled on the router), one audit record says who asked
 * and whom it ended.
 */
export function clientControl(
  routers: readonly RouterRuntime[],
  audit: AuditTrail,
  logger: Logger,
): ClientControl {
  const connected = () =>
    routers.flatMap((r) =>
      [...r.listener.sessions].map((session) => ({
        session,
        client: { router: r.config.name, ...session.snapshot() },
      })),
    );
  return {
    list: () => connected().map(({ client }) => client),
    end(filter, address) {
      const ended = connected().filter(({ client }) => matchesClient(client, filter));
      for (const { session } of ended) session.shutdown(ENDED_BY_ADMIN);
      const clients = ended.map(({ client }) => client);
      audit.events.clientsEnded({
        filter: { ...filter },
        ended: clients.map(({ router, id, source, user }) => ({
          router,
          id,
          source,
          ...(user === undefined ? {} : { user }),
        })),
        address,
      });
      logger.info({ filter, ended: clients.length }, 'clients ended through the admin port');
      return clients;
    },
  };
}
