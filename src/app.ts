/**
 * The composition root: the only place collaborators are built
 * (docs/architecture.md, code rule 1). Each router gets its own pool,
 * listener, flow stage and counters (src/app/router-runtime.ts); policy,
 * cache, audit and metrics are shared and keep their figures by router. Live
 * changes are src/app/live-config.ts; what the admin port reads is
 * src/app/admin-wiring.ts.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import {
  BusinessPoller,
  createAdminServer,
  createMetrics,
  createMetricsStage,
  type AdminServer,
  type ApplyConfigResult,
  type Metrics,
} from './admin/index.js';
import { createAuditStage, type AuditKeys, type AuditTrail } from './audit/index.js';
import { createCacheStage, type CacheStage } from './cache/index.js';
import {
  DEFAULT_BUSINESS_POLL_MS,
  MONITORING_LISTEN,
  listenError,
  routerListenSettings,
  type RosgateConfig,
} from './config/index.js';
import { createPolicyStage, type PolicyStage } from './policy/index.js';
import { createAppEvents, type AppEvents } from './app/app-events.js';
import { adminSources, auditFunctions, clientControl, lockoutClearer } from './app/admin-wiring.js';
import { createLiveConfig, type LiveConfig, type ReloadResult } from './app/live-config.js';
import { buildRouter, type RouterRuntime, type SharedStages } from './app/router-runtime.js';
import {
  auditedReplicaOf,
  groupWiringOf,
  isSharing,
  replicaIdOf,
  type GroupWiring,
} from './group-wiring.js';
import type { SharedGroupOptions } from './shared/index.js';
import { monotonicNow } from './clock.js';

export { ANONYMOUS_DH_CIPHERS } from './app/tls-options.js';
export { checkRouterLogin, type RouterLoginCheck } from './app/router-login.js';
export type { ReloadResult } from './app/live-config.js';
export type { RouterRuntime } from './app/router-runtime.js';

/** A running rosgate. */
export interface App {
  readonly routers: readonly RouterRuntime[];
  /** The policy stage every router shares (stats by router). */
  readonly policy: PolicyStage;
  /** The reply cache every router shares (stats by router; replaced on reload). */
  readonly cache: CacheStage;
  /** Metrics on the app's own Prometheus registry. */
  readonly metrics: Metrics;
  /** The configuration in force. */
  readonly config: RosgateConfig;
  /** The admin port (known after `start()`). */
  readonly adminPort: number | undefined;
  /** This replica's group, when `shared.url` is set. */
  readonly group: GroupWiring | undefined;
  /** Open pools, listeners and the admin port; `signal` ends a wait on the audit lock (rejects). */
  start(signal?: AbortSignal): Promise<void>;
  /**
   * Graceful stop: accept no one new, serve connected clients until they
   * leave or `graceMs` ends, then cancel what still runs and close.
   */
  stop(graceMs?: number): Promise<void>;
  /** Apply one section live (PUT /monitoring/config/<section>); a refusal changes nothing. */
  reconfigure(section: string, body: unknown): Promise<ApplyConfigResult>;
  /**
   * Apply a re-read configuration (SIGHUP); a refusal changes nothing. The
   * file wins for the keys it changed since it was last loaded; changes
   * made through the admin port to keys it did not change are kept.
   */
  reload(next: RosgateConfig): Promise<ReloadResult>;
}

/** What the composition root takes besides the configuration. */
export interface AppOptions {
  /** rosgate's version, for `/monitoring/status`. @default '0.0.0' */
  version?: string;
  /** The audit trail's keys, from `resolveAuditKeys()`. @default none */
  auditKeys?: AuditKeys;
  /** Where a relative `audit.dir` starts. @default process.cwd() */
  cwd?: string;
  /** Group options beyond the config's (tests: timeouts, clocks). */
  shared?: Partial<SharedGroupOptions>;
}

/** Builds rosgate from `config`: nothing listens or connects until `start()`. */
export function createApp(config: RosgateConfig, logger: Logger, options: AppOptions = {}): App {
  // Sharing: every line says which replica wrote it.
  if (isSharing(config)) logger = logger.child({ replica: replicaIdOf(config) });
  const routers: RouterRuntime[] = [];
  const state = { isDraining: false, adminPort: undefined as number | undefined };
  // Read at scrape time, so they follow reloads and stages that are replaced.
  const sources = adminSources(
    routers,
    () => shared.cache,
    () => shared.policy,
    () => state.isDraining,
    config.audit.enabled ? () => shared.audit : undefined,
    () => shared.group?.snapshot(),
  );
  const metrics = createMetrics({
    registry: new Registry(),
    sources,
    // The value in force: `flow.slowCommandMs` is live.
    slowCommandMs: () => live.current.flow.slowCommandMs,
  });
  const group = groupWiringOf(config, logger, () => shared.cache, options.shared);
  group?.registerMetrics(metrics.registry);
  const shared = sharedStages(config, logger, metrics, options, group);
  for (const router of config.routers)
    routers.push(buildRouter(config, router, shared, logger.child({ router: router.name })));
  // The group's view shows each replica's breakers; they are not shared.
  group?.watchBreakers(() =>
    routers.map((r) => ({ router: r.config.name, state: r.flow.breakerState })),
  );
  const live = createLiveConfig(config, routers, shared, logger, () => state.isDraining);
  const admin = adminServer(config, routers, shared, live, sources, logger, options);
  const parts: Parts = { config, logger, options, routers, shared, live, admin, state };
  const poller = businessPoller(config, routers, metrics, logger);
  let isStarted = false;
  return {
    routers,
    policy: shared.policy,
    get cache() {
      return shared.cache;
    },
    metrics,
    get config() {
      return live.current;
    },
    get adminPort() {
      return state.adminPort;
    },
    group,
    async start(signal) {
      await startApp(parts, signal);
      poller?.start();
      shared.audit.events.start({ version: options.version ?? '0.0.0' });
      isStarted = true;
    },
    async stop(graceMs = live.current.shutdown.graceMs) {
      if (!isStarted) return;
      isStarted = false;
      poller?.stop();
      await stopApp(parts, graceMs);
    },
    reconfigure: (section, body) => Promise.resolve(live.reconfigure(section, body)),
    reload: (next) => Promise.resolve(live.reload(next)),
  };
}

/** What starting and stopping an app works on. */
interface Parts {
  readonly config: RosgateConfig;
  readonly logger: Logger;
  readonly options: AppOptions;
  readonly routers: readonly RouterRuntime[];
  readonly shared: SharedStages;
  readonly live: LiveConfig;
  readonly admin: AdminServer;
  readonly state: { isDraining: boolean; adminPort: number | undefined };
}

/** The stages and instruments one instance of which serves every router. */
function sharedStages(
  config: RosgateConfig,
  logger: Logger,
  metrics: Metrics,
  options: AppOptions,
  group: GroupWiring | undefined,
): SharedStages {
  const events: AppEvents = createAppEvents(() => audit, metrics);
  const audit: AuditTrail = createAuditStage({
    config: config.audit,
    logger,
    cwd: options.cwd ?? process.cwd(),
    ...(options.auditKeys === undefined ? {} : { keys: options.auditKeys }),
    onFileReplaced: (e) => events.auditFileReplaced(e),
    replica: auditedReplicaOf(config),
  });
  const policy: PolicyStage = createPolicyStage({
    config: config.policy,
    codePage: config.limits.clientCodePage, // at start: as the logins read names
    logger,
    onLockout: (e) => events.lockout(e),
    sharedLockout: (router) => group?.lockout(router),
    // Audit off (restart-only) records nothing.
    ...(config.audit.enabled ? { onDenied: audit.recordDenied, onFailed: audit.recordFailed } : {}),
  });
  // A write's answer waits until the group heard of it; unwatched menus are
  // served briefly while the group cannot vouch for them.
  const cacheGroup =
    group === undefined
      ? {}
      : {
          publish: group.publish.bind(group),
          fallbackTtlMs: group.fallbackTtlMs.bind(group),
          listenRole: group.listenRole.bind(group), // one replica runs the listens
          // Strict mode: a hit checks the menu's version in the group first.
          ...(config.shared?.strict === true ? { menuVersion: group.menuVersion.bind(group) } : {}),
        };
  const cache: CacheStage = createCacheStage({ config: config.cache, logger, ...cacheGroup });
  return {
    policy,
    cache,
    audit,
    metrics,
    metricsStage: createMetricsStage(metrics).stage,
    events,
    group,
    cacheGroup,
  };
}

/** The admin port, over the app's sources, live configuration and shared stages. */
function adminServer(
  config: RosgateConfig,
  routers: readonly RouterRuntime[],
  shared: SharedStages,
  live: LiveConfig,
  sources: ReturnType<typeof adminSources>,
  logger: Logger,
  options: AppOptions,
): AdminServer {
  const cwd = options.cwd ?? process.cwd();
  return createAdminServer({
    monitoring: config.monitoring,
    version: options.version ?? '0.0.0',
    sources,
    metrics: shared.metrics,
    config: () => live.current,
    applyConfig: (section, body): Promise<ApplyConfigResult> =>
      Promise.resolve(live.reconfigure(section, body)),
    ...(config.audit.enabled && config.audit.toFile
      ? { audit: auditFunctions(shared.audit, resolve(cwd, config.audit.dir)) }
      : {}),
    // The cache in force: a reload may turn it on or off.
    flushCache: (path?: string, router?: string) =>
      live.current.cache.enabled ? shared.cache.flush(path, router) : undefined,
    clearLockouts: lockoutClearer(
      () => shared.policy,
      shared.audit,
      shared.metrics,
      logger,
      shared.group,
    ),
    clients: clientControl(routers, shared.audit, logger),
    logger,
  });
}

/** rosgate counting active users itself, unless `monitoring.businessPollMs` is 0. */
function businessPoller(
  config: RosgateConfig,
  routers: readonly RouterRuntime[],
  metrics: Metrics,
  logger: Logger,
): BusinessPoller | undefined {
  const intervalMs = config.monitoring.businessPollMs ?? DEFAULT_BUSINESS_POLL_MS;
  if (intervalMs === 0) return undefined;
  return new BusinessPoller({
    routers: routers.map((r) => ({ name: r.config.name, handler: r.ownHandler })),
    metrics,
    intervalMs,
    logger,
  });
}

/**
 * Binds every port before opening any router session, so a port conflict
 * fails the start without leaving sessions behind; the audit folder is taken
 * first (one process per folder: a second one refuses before binding).
 */
async function startApp(
  { config, logger, routers, shared, admin, state }: Parts,
  signal?: AbortSignal,
): Promise<void> {
  await shared.audit.acquire(signal);
  try {
    // A stop that came while the lock was taken: nothing is bound.
    signal?.throwIfAborted();
    for (const [i, runtime] of routers.entries()) {
      runtime.port = await runtime.listener.listen().catch((err: unknown) => {
        const isTls = (err as { port?: number }).port === runtime.config.tls?.port;
        throw listenError(err, routerListenSettings(i, isTls));
      });
      runtime.tlsPort = runtime.listener.tlsPort;
    }
    // ENABLE_MONITORING=false: no admin port at all.
    if (config.monitoring.enabled !== false)
      state.adminPort = await admin.listen().catch((err: unknown) => {
        throw listenError(err, MONITORING_LISTEN);
      });
  } catch (err) {
    await Promise.all(routers.map((r) => r.listener.close(0)));
    await admin.close();
    await shared.audit.release();
    await shared.group?.close();
    throw err;
  }
  // Known before the first session opens: the group's session budget.
  if (shared.group !== undefined) {
    const isUp = await shared.group.start();
    // The logger is bound to the replica already (see createApp): a second `replica` repeats the key.
    logger.info({ isUp }, 'joined the group of replicas');
  }
  for (const runtime of routers) {
    runtime.pool.start();
    logger.info(
      {
        router: runtime.config.name,
        port: runtime.port,
        tlsPort: runtime.tlsPort,
        upstream: `${runtime.config.host}:${runtime.config.port}`,
        upstreamTls: runtime.config.upstreamTls,
      },
      'listening for RouterOS API clients',
    );
  }
  // The admin server said where it listens when it bound.
  if (state.adminPort === undefined) logger.info('admin port off (monitoring.enabled: false)');
}

/**
 * Graceful stop: no new clients; connected ones are served until they leave
 * or `graceMs` ends; then what still runs is cancelled and everything closes,
 * the audit trail last so every record up to the stop reaches the disk.
 */
async function stopApp(
  { logger, routers, shared, admin, state }: Parts,
  graceMs: number,
): Promise<void> {
  state.isDraining = true;
  const { metrics } = shared;
  metrics.recordEvent({ kind: 'drain', message: 'draining: no new clients' });
  const drainStartedAt = monotonicNow();
  const clients = routers.reduce((n, r) => n + r.stats.clientsConnected, 0);
  const commandsBefore = metrics.commandsFinished;
  logger.info({ clients, graceMs }, 'stopping: serving connected clients until they leave');
  await Promise.all(routers.map((r) => r.listener.close(graceMs)));
  logger.info(
    {
      clients,
      commandsFinished: metrics.commandsFinished - commandsBefore,
      durationMs: monotonicNow() - drainStartedAt,
    },
    'stopped: drained',
  );
  shared.cache.close();
  for (const r of routers) {
    r.flow.close();
    r.pool.close();
  }
  await admin.close();
  await shared.group?.close();
  shared.audit.events.stop({ reason: 'shutdown' });
  await shared.audit.writer.close();
  await shared.audit.release();
}
