import tls from 'node:tls';
import type { Logger } from 'pino';
import {
  DEFAULT_BUSINESS_POLL_MS,
  verifyPassword,
  type RosgateConfig,
  type RouterConfig,
  type TlsListenConfig,
} from './config/index.js';
import {
  RouterAuthenticator,
  UserListAuthenticator,
  type Authenticator,
} from './proxy/authenticator.js';
import { ProxyListener } from './proxy/listener.js';
import { createProxyStats, type ProxyStats } from './proxy/stats.js';
import { compose, createPipeline, type CommandHandler, type Stage } from './pipeline.js';
import { Pool } from './upstream/pool.js';
import { createUpstreamHandler } from './upstream/upstream-handler.js';
import { UpstreamConnection } from './upstream/upstream-connection.js';
import { ChallengeRelay } from './upstream/challenge-relay.js';
import { Sentence } from './protocol/index.js';
import type { RosgateError } from './errors.js';
import { createCacheStage, type CacheStage } from './cache/index.js';
import { createFlowStage, type FlowStage } from './flow/index.js';
import { createPolicyStage, type Lockout, type PolicyStage } from './policy/index.js';
import {
  BusinessPoller,
  createAdminServer,
  createMetrics,
  createMetricsStage,
  type AdminSources,
  type ApplyConfigResult,
  type AuditFunctions,
  type LockoutSnapshot,
  type Metrics,
} from './admin/index.js';
import { Registry } from 'prom-client';
import { resolve } from 'node:path';
import {
  createAuditStage,
  reportAudit,
  searchAudit,
  type AuditKeys,
  type AuditTrail,
} from './audit/index.js';
import {
  reconfigureAll,
  reconfigureSection,
  type LiveSection,
  type Reconfiguration,
  type Reload,
} from './reconfigure.js';
import { limitOptions, type LimitOptions } from './limit-options.js';
import {
  groupWiringOf,
  replicaIdOf,
  type GroupSnapshot,
  type GroupWiring,
} from './group-wiring.js';
import type { SharedGroupOptions } from './shared/index.js';

/** One router as the running app holds it. */
export interface RouterRuntime {
  config: RouterConfig;
  readonly pool: Pool;
  /**
   * The router's command pipeline, outermost stage first. It stays the same
   * object across live reloads: new commands take the stages in force, and
   * running ones finish in the stages they entered.
   */
  readonly handler: CommandHandler;
  /**
   * The same pipeline inside the metrics stage, for rosgate's own commands
   * (the business poller's counts), which are not client traffic.
   */
  readonly ownHandler: CommandHandler;
  /** Rate limit, priority queue, concurrency cap, breaker and timeouts (replaced on reload). */
  flow: FlowStage;
  readonly listener: ProxyListener;
  readonly stats: ProxyStats;
  /** The port clients connect to (known after `start()`). */
  port: number;
  /** The TLS (api-ssl) port clients connect to, when `tls` is configured (known after `start()`). */
  tlsPort: number | undefined;
  /** Rebuild the chain from the stages in force (after a reload). */
  rebuild(): void;
  /** Applies a new `limits` section: every key but the listen backlog (see `limitOptions`). */
  applyLimits(limits: RosgateConfig['limits']): void;
}

/**
 * The anonymous Diffie-Hellman suites a RouterOS api-ssl service with
 * `certificate=none` speaks (ROUTEROS-API §8). They exist only up to TLS
 * 1.2, and OpenSSL 3 refuses them below `@SECLEVEL=0`.
 */
export const ANONYMOUS_DH_CIPHERS =
  'ADH-AES256-GCM-SHA384:ADH-AES128-GCM-SHA256:ADH-AES256-SHA256:ADH-AES128-SHA256:@SECLEVEL=0';

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
  /** This replica's group, when `shared.url` is set (issue 18). */
  readonly group: GroupWiring | undefined;
  /** Open pools, listeners and the admin port. */
  start(): Promise<void>;
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

/** What a reload (SIGHUP) answers: a change, and which admin-port changes it kept or overrode. */
export type ReloadResult =
  | (Extract<ApplyConfigResult, { ok: true }> & {
      readonly kept: readonly string[];
      readonly overridden: readonly string[];
    })
  | Extract<ApplyConfigResult, { ok: false }>;

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

/** Stages and instruments one instance of which serves every router. */
interface Shared {
  readonly policy: PolicyStage;
  cache: CacheStage;
  readonly audit: AuditTrail;
  readonly metrics: Metrics;
  readonly metricsStage: Stage;
  /** Records what policy refuses: policy sits outside the audit stage. */
  readonly deniedStage: Stage;
  /** The group of replicas this one shares state with (issue 18). */
  readonly group: GroupWiring | undefined;
}

/**
 * The composition root: the only place collaborators are built (STYLE 1).
 * Each router gets its own pool, listener, flow stage and counters; policy,
 * cache and metrics are shared and keep their figures by router.
 */
export function createApp(config: RosgateConfig, logger: Logger, options: AppOptions = {}): App {
  // Sharing: every line says which replica wrote it.
  if (config.shared?.url !== undefined) logger = logger.child({ replica: replicaIdOf(config) });
  let current = config;
  /** The configuration as the file and environment last gave it (at start, then each SIGHUP). */
  let loaded = config;
  let isDraining = false;
  let adminPort: number | undefined;
  const routers: RouterRuntime[] = [];
  // Read at scrape time, so they follow reloads and stages that are replaced.
  const sources = adminSources(
    routers,
    () => shared.cache,
    () => shared.policy,
    () => isDraining,
    config.audit.enabled ? () => shared.audit : undefined,
    () => shared.group?.snapshot(),
  );
  const metrics = createMetrics({
    registry: new Registry(),
    sources,
    slowCommandMs: config.flow.slowCommandMs,
  });
  const group = groupWiringOf(config, logger, () => shared.cache, options.shared);
  group?.registerMetrics(metrics.registry);
  const publish =
    group === undefined
      ? {}
      : { publish: group.publish.bind(group), fallbackTtlMs: group.fallbackTtlMs.bind(group) };
  const cwd = options.cwd ?? process.cwd();
  const audit = createAuditStage({
    config: config.audit,
    logger,
    cwd,
    ...(options.auditKeys === undefined ? {} : { keys: options.auditKeys }),
    onFileReplaced: (e) =>
      metrics.recordEvent({
        kind: 'audit',
        message: `audit file ${e.file} ${e.reason} on disk; the chain continues in ${e.next}`,
      }),
  });
  const shared: Shared = {
    policy: createPolicyStage({
      config: config.policy,
      logger,
      sharedLockout: (router) => group?.lockout(router),
      onLockout: (e) => {
        audit.events.lockout(e);
        metrics.recordEvent({
          kind: 'lockout',
          router: e.router,
          message:
            e.scope === 'source'
              ? `address ${String(e.address)} locked out`
              : e.scope === 'user'
                ? `user ${String(e.user)} locked out`
                : `user ${String(e.user)} from ${String(e.address)} locked out`,
        });
      },
    }),
    cache: createCacheStage({ config: config.cache, logger, ...publish }),
    audit,
    metrics,
    metricsStage: createMetricsStage(metrics),
    deniedStage: (next) => ({
      handle(context, sink) {
        return next.handle(context, {
          reply: (sentence) => sink.reply(sentence),
          done: (sentence) => sink.done(sentence),
          refuse(error) {
            if (context.notes.verdict === 'deny') audit.recordDenied(context, error);
            sink.refuse(error);
          },
        });
      },
    }),
    group,
  };
  for (const router of config.routers)
    routers.push(buildRouter(config, router, shared, logger.child({ router: router.name })));
  const businessPollMs = config.monitoring.businessPollMs ?? DEFAULT_BUSINESS_POLL_MS;
  const poller =
    businessPollMs === 0
      ? undefined
      : new BusinessPoller({
          routers: routers.map((r) => ({ name: r.config.name, handler: r.ownHandler })),
          metrics,
          intervalMs: businessPollMs,
          logger,
        });

  const apply = (next: RosgateConfig, changed: readonly LiveSection[]): void => {
    if (changed.includes('log')) logger.level = next.log.level;
    if (changed.includes('policy')) shared.policy.updateRules(next.policy);
    if (changed.includes('cache')) {
      const old = shared.cache;
      shared.cache = createCacheStage({ config: next.cache, logger, ...publish });
      old.close();
    }
    for (const runtime of routers) {
      const routerConfig = next.routers.find((r) => r.name === runtime.config.name) as RouterConfig;
      if (changed.includes('routers')) runtime.pool.reconfigure(routerConfig.pool);
      if (changed.includes('limits')) runtime.applyLimits(next.limits);
      if (changed.includes('flow')) {
        retire(runtime.flow, logger, runtime.config.name);
        runtime.flow = newFlowStage(next, routerConfig, metrics, audit, logger, group);
      }
      runtime.config = routerConfig;
      runtime.rebuild();
    }
    current = next;
  };
  const settle = (result: Reconfiguration, what: string): ApplyConfigResult => {
    if (!result.isOk) {
      logger.warn({ errors: result.errors }, `${what} refused; nothing changed`);
      metrics.recordReload(false, `${what} refused: ${result.errors.join('; ')}`);
      return { ok: false, errors: result.errors };
    }
    apply(result.config, result.changed);
    audit.events.configChange({ keys: [...result.changed], source: what });
    const { changes } = result;
    logger.info({ keys: changes.map((c) => c.key), sections: result.changed }, `${what} applied`);
    const later = changes.filter((c) => c.applies === 'restart').map((c) => c.key);
    if (later.length > 0)
      logger.warn({ keys: later }, `${what}: these keys take effect only after a restart`);
    metrics.recordReload(true, `${what} applied: ${result.changed.join(', ') || 'no change'}`);
    return { ok: true, changes };
  };
  const settleReload = (result: Reload, fresh: RosgateConfig): ReloadResult => {
    const settled = settle(result, 'configuration reload');
    if (!settled.ok) return settled;
    loaded = fresh;
    const { kept, overridden } = result as Extract<Reload, { isOk: true }>;
    if (overridden.length > 0)
      logger.warn(
        { keys: overridden },
        'configuration reload: the file changed keys that were changed through the admin port; the file wins',
      );
    if (kept.length > 0)
      logger.info(
        { keys: kept },
        'configuration reload keeps changes made through the admin port to keys the file did not change',
      );
    return { ...settled, kept, overridden };
  };

  const admin = createAdminServer({
    monitoring: config.monitoring,
    version: options.version ?? '0.0.0',
    sources,
    metrics,
    config: () => current,
    applyConfig: (section, body) =>
      Promise.resolve(
        settle(reconfigureSection(current, section, body), `configuration ${section}`),
      ),
    ...(config.audit.enabled && config.audit.toFile
      ? { audit: auditFunctions(audit, resolve(cwd, config.audit.dir)) }
      : {}),
    ...(config.cache.enabled
      ? { flushCache: (path?: string, router?: string) => shared.cache.flush(path, router) }
      : {}),
    clearLockouts: (filter, address) => {
      const { source, ...rest } = filter;
      const cleared = shared.policy
        .clearLockouts({ ...rest, ...(source === undefined ? {} : { address: source }) })
        .map(lockoutSnapshot);
      audit.events.lockoutsCleared({
        filter: { ...filter },
        cleared: cleared.map(({ failures: _f, untilMs: _u, ...lockout }) => lockout),
        address,
      });
      metrics.recordEvent({ kind: 'lockout', message: `${cleared.length} lockout(s) cleared` });
      logger.info({ filter, cleared: cleared.length }, 'lockouts cleared through the admin port');
      return cleared;
    },
    logger,
  });
  let isStarted = false;
  return {
    routers,
    policy: shared.policy,
    get cache() {
      return shared.cache;
    },
    metrics,
    get config() {
      return current;
    },
    get adminPort() {
      return adminPort;
    },
    group,
    async start() {
      // One process per audit folder: a second one refuses before binding anything.
      await audit.acquire();
      // Bind every port before opening any router session, so a port
      // conflict fails the start without leaving sessions behind.
      try {
        for (const runtime of routers) {
          runtime.port = await runtime.listener.listen();
          runtime.tlsPort = runtime.listener.tlsPort;
        }
        // ENABLE_MONITORING=false: no admin port at all.
        if (config.monitoring.enabled !== false) adminPort = await admin.listen();
      } catch (err) {
        await Promise.all(routers.map((r) => r.listener.close(0)));
        await admin.close();
        await audit.release();
        await group?.close();
        throw err;
      }
      // Known before the first session opens: the group's session budget.
      if (group !== undefined) {
        const isUp = await group.start();
        logger.info({ replica: group.replicaId, isUp }, 'joined the group of replicas');
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
      if (adminPort === undefined) logger.info('admin port off (monitoring.enabled: false)');
      else logger.info({ port: adminPort }, 'admin port listening on /monitoring');
      poller?.start();
      audit.events.start({ version: options.version ?? '0.0.0' });
      isStarted = true;
    },
    async stop(graceMs = current.shutdown.graceMs) {
      if (!isStarted) return;
      isStarted = false;
      isDraining = true;
      metrics.recordEvent({ kind: 'drain', message: 'draining: no new clients' });
      const drainStartedAt = Date.now();
      const clients = routers.reduce((n, r) => n + r.stats.clientsConnected, 0);
      const commandsBefore = metrics.commandsFinished;
      logger.info({ clients, graceMs }, 'stopping: serving connected clients until they leave');
      // Drain: no new clients; connected ones are served until they leave
      // or the grace period ends; then what still runs is cancelled.
      await Promise.all(routers.map((r) => r.listener.close(graceMs)));
      logger.info(
        {
          clients,
          commandsFinished: metrics.commandsFinished - commandsBefore,
          durationMs: Date.now() - drainStartedAt,
        },
        'stopped: drained',
      );
      poller?.stop();
      shared.cache.close();
      for (const r of routers) {
        r.flow.close();
        r.pool.close();
      }
      await admin.close();
      await group?.close();
      // Last: every record up to the stop reaches the disk.
      audit.events.stop({ reason: 'shutdown' });
      await audit.writer.close();
      await audit.release();
    },
    reconfigure: (section, body) =>
      Promise.resolve(
        settle(reconfigureSection(current, section, body), `configuration ${section}`),
      ),
    reload: (next) => Promise.resolve(settleReload(reconfigureAll(current, loaded, next), next)),
  };
}

/** The admin port's audit endpoints, over the files the writer keeps. */
function auditFunctions(audit: AuditTrail, dir: string): AuditFunctions {
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
 * A flow stage that was replaced finishes what it holds (a minute at most),
 * then closes; a debug line says so, with what it still held.
 */
function retire(flow: FlowStage, logger: Logger, router: string): void {
  let checks = 0;
  const timer = setInterval(() => {
    const stats = flow.stats();
    const running =
      stats.inFlight + stats.streams + stats.queued.high + stats.queued.normal + stats.queued.low;
    if (running > 0 && ++checks < 600) return;
    clearInterval(timer);
    flow.close();
    logger.debug({ router, running }, 'replaced flow stage closed');
  }, 100);
  timer.unref();
}

/** The admin port's view of every router, read at scrape time. */
function adminSources(
  routers: readonly RouterRuntime[],
  cache: () => CacheStage,
  policy: () => PolicyStage,
  isDraining: () => boolean,
  audit?: () => AuditTrail,
  group?: () => GroupSnapshot | undefined,
): AdminSources {
  return {
    isDraining,
    ...(group === undefined ? {} : { group }),
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
              inFlight: f.inFlight,
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
function lockoutSnapshot({ address, ...lockout }: Lockout & { router: string }): LockoutSnapshot {
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

/** One router's flow stage, its breaker changes on the dashboard. */
function newFlowStage(
  config: RosgateConfig,
  router: RouterConfig,
  metrics: Metrics,
  audit: AuditTrail,
  logger: Logger,
  group?: GroupWiring,
): FlowStage {
  return createFlowStage({
    ...(group === undefined ? {} : { rateBucket: group.rateBucket(router.name, config.flow) }),
    router: router.name,
    config: config.flow,
    routerTimeoutMs: router.timeoutMs,
    logger,
    onStateChange: (change) => {
      audit.events.breakerChange(change);
      metrics.recordEvent({
        kind: 'breaker',
        router: change.router,
        message: `circuit ${change.from} -> ${change.to}: ${change.reason}`,
      });
    },
  });
}

/** How the listener's TLS server is set up from the router's `tls` settings. */
function listenerTlsOptions(config: TlsListenConfig): tls.TlsOptions {
  const options: tls.TlsOptions = { minVersion: config.minVersion };
  const hasCertificate = config.cert !== undefined && config.key !== undefined;
  if (hasCertificate) {
    options.cert = config.cert;
    options.key = config.key;
  }
  if (config.allowAnonymous) {
    // The anonymous key exchange needs DH parameters; 'auto' picks well-known ones.
    options.dhparam = 'auto';
    if (hasCertificate) {
      // Node's defaults end with `!aNULL`, which would delete the anonymous
      // suites for good; `-aNULL` drops the others and lets ours back in.
      options.ciphers = `${tls.DEFAULT_CIPHERS.replace('!aNULL', '-aNULL')}:${ANONYMOUS_DH_CIPHERS}`;
    } else {
      options.ciphers = ANONYMOUS_DH_CIPHERS;
      // Without a certificate TLS 1.3 cannot succeed: make clients that
      // offer it settle on 1.2.
      options.maxVersion = 'TLSv1.2';
    }
  }
  return options;
}

/** How rosgate's sessions to the router use TLS; undefined is plain TCP. */
function upstreamTlsOptions(router: RouterConfig): tls.ConnectionOptions | undefined {
  switch (router.upstreamTls) {
    case 'off':
      return undefined;
    case 'verify':
      return router.upstreamCa === undefined ? {} : { ca: router.upstreamCa };
    case 'insecure':
      return { rejectUnauthorized: false };
    case 'anonymous':
      // An anonymous suite has no certificate to check.
      return { rejectUnauthorized: false, ciphers: ANONYMOUS_DH_CIPHERS, maxVersion: 'TLSv1.2' };
  }
}

function buildRouter(
  config: RosgateConfig,
  router: RouterConfig,
  shared: Shared,
  logger: Logger,
): RouterRuntime {
  const upstreamTls = upstreamTlsOptions(router);
  // Read when a session opens, so a live pool change reaches new sessions.
  let maxWriteBufferBytes = router.pool.maxWriteBufferBytes;
  const connect = (username: string, password: string): UpstreamConnection =>
    new UpstreamConnection({
      host: router.host,
      port: router.port,
      username,
      password,
      timeoutMs: router.timeoutMs,
      maxWriteBufferBytes,
      ...(upstreamTls === undefined ? {} : { tls: upstreamTls }),
    });
  const pool = new Pool(router.pool, () => connect(router.username, router.password), {
    onAcquired: (waitMs) => shared.metrics.observeAcquire(router.name, waitMs / 1000),
    ...shared.group?.poolHooks(router.name), // the group's session budget (issue 18)
  });
  logRouterHealth(pool, logger, (state, code) => {
    shared.audit.events.routerChange({
      router: router.name,
      state,
      ...(code === undefined ? {} : { code }),
    });
    shared.metrics.recordEvent({
      kind: 'router',
      router: router.name,
      message: state === 'down' ? `router unreachable (${code})` : 'router reachable again',
    });
  });
  const upstream = createUpstreamHandler(pool);
  const flow = newFlowStage(config, router, shared.metrics, shared.audit, logger, shared.group);
  // DESIGN order, outermost first: metrics -> policy -> audit -> cache -> flow -> upstream.
  // Every stage is given the pipeline's link to what follows it, so a
  // rebuilt chain is followed even by what a stage keeps (pipeline.ts).
  const stagesOf = (flowStage: FlowStage): Stage[] => [
    shared.deniedStage,
    shared.policy.stage,
    shared.audit.stage,
    shared.cache.stage,
    flowStage.stage,
  ];
  const pipeline = createPipeline(stagesOf(flow), upstream);
  const handler = compose([shared.metricsStage], pipeline);
  const stats = createProxyStats();
  const limits = limitOptions(config.limits);
  const authenticator = authenticatorFor(config, router, pool, connect, limits.loginChecks);
  const listener = new ProxyListener({
    router: router.name,
    host: router.listen.host,
    port: router.listen.port,
    ...limits.listener,
    ...(router.tls === undefined
      ? {}
      : {
          tls: {
            host: router.tls.host,
            port: router.tls.port,
            options: listenerTlsOptions(router.tls),
          },
        }),
    logger,
    stats,
    session: {
      handler,
      observer: shared.audit.observer,
      loginGate: shared.policy.loginGate(router.name),
      authenticator,
      emptyReplies: router.emptyReplies,
      ...limits.session,
    },
  });
  const runtime: RouterRuntime = {
    config: router,
    pool,
    handler,
    ownHandler: pipeline,
    flow,
    listener,
    stats,
    port: router.listen.port,
    tlsPort: router.tls?.port,
    rebuild() {
      maxWriteBufferBytes = runtime.config.pool.maxWriteBufferBytes;
      pipeline.rebuild(stagesOf(runtime.flow));
    },
    applyLimits(next) {
      const mapped = limitOptions(next);
      // The backlog went to the kernel with listen(): it changes on restart.
      const { backlog: _atStart, ...listenerLimits } = mapped.listener;
      listener.reconfigure({ ...listenerLimits, session: mapped.session });
      if (authenticator instanceof RouterAuthenticator)
        authenticator.reconfigure(mapped.loginChecks);
    },
  };
  // What the pool knows of the router drives the breaker: losing it counts
  // once, and seeing it back ends the refusals at once.
  pool.on('routerLost', (err: RosgateError) => runtime.flow.routerLost(err));
  pool.on('routerReachable', (evidence: string) => runtime.flow.routerReachable(evidence));
  return runtime;
}

/**
 * One line when the router becomes unreachable and one when it is back,
 * each also told to `onChange` (the audit trail and the dashboard's events);
 * each session that ends is logged once with its reason. Repeated connect
 * failures during an outage go to debug, not one warning per retry.
 */
function logRouterHealth(
  pool: Pool,
  logger: Logger,
  onChange: (state: 'down' | 'up', code?: string) => void,
): void {
  let isDown = false;
  pool.on('connectError', (err: RosgateError) => {
    if (isDown) {
      logger.debug({ code: err.code, err: err.message }, 'router session failed to open');
      return;
    }
    isDown = true;
    logger.warn({ code: err.code, err: err.message }, 'router unreachable; retrying');
    onChange('down', err.code);
  });
  pool.on('sessionOpened', () => {
    if (!isDown) return;
    isDown = false;
    logger.info('router reachable again');
    onChange('up');
  });
  pool.on('sessionClosed', (err: RosgateError) =>
    logger.info({ code: err.code, reason: err.message }, 'router session closed'),
  );
}

/** The router's version, asked on a pool session (`/system/resource`). */
function askRouterVersion(pool: Pool): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    pool.acquire((connection) => {
      let version: string | undefined;
      connection.send(Sentence.from(['/system/resource/print', '=.proplist=version']), {
        onReply(sentence, isFinal) {
          version ??= sentence.attributeString('version');
          if (!isFinal) return;
          pool.release();
          resolve(version);
        },
        onError(err) {
          pool.release();
          reject(err);
        },
      });
    }, reject);
  });
}

function authenticatorFor(
  config: RosgateConfig,
  router: RouterConfig,
  pool: Pool,
  connect: (username: string, password: string) => UpstreamConnection,
  loginChecks: LimitOptions['loginChecks'],
): Authenticator {
  if (config.users.length === 0) {
    return new RouterAuthenticator({
      connect,
      ...loginChecks,
      serviceAccount: { name: router.username, password: router.password },
      relay: {
        routerVersion: () => askRouterVersion(pool),
        open: () =>
          ChallengeRelay.open({
            host: router.host,
            port: router.port,
            tls: upstreamTlsOptions(router),
            timeoutMs: router.timeoutMs,
          }),
      },
    });
  }
  const users = config.users.filter(
    (u) => u.routers === undefined || u.routers.includes(router.name),
  );
  return new UserListAuthenticator(
    users.map((user) => ({
      name: user.name,
      secret: user.secret,
      verify: (password: Buffer) => verifyPassword(user, password),
    })),
  );
}
