/**
 * One router as the running app holds it: its pool, listener, flow stage and
 * pipeline, built from the configuration and the stages every router shares.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../admin/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { CacheStage, CacheStageOptions } from '../cache/index.js';
import { verifyPassword, type RosgateConfig, type RouterConfig } from '../config/index.js';
import { ErrorCode, type RosgateError } from '../errors.js';
import { createFlowStage, type FlowStage } from '../flow/index.js';
import { limitOptions, type LimitOptions } from '../limit-options.js';
import { compose, createPipeline, type CommandHandler, type Stage } from '../pipeline.js';
import type { PolicyStage } from '../policy/index.js';
import {
  RouterAuthenticator,
  UserListAuthenticator,
  type Authenticator,
} from '../proxy/authenticator.js';
import { ProxyListener } from '../proxy/listener.js';
import { createProxyStats, type ProxyStats } from '../proxy/stats.js';
import { ChallengeRelay } from '../upstream/challenge-relay.js';
import { Pool } from '../upstream/pool.js';
import { askRouterVersion } from '../upstream/router-version.js';
import { createUpstreamHandler } from '../upstream/upstream-handler.js';
import type { GroupWiring } from '../group-wiring.js';
import type { AppEvents } from './app-events.js';
import {
  loginBytes,
  loginEncodingHint,
  routerConnector,
  type RouterConnector,
  type ServiceAccount,
} from './router-login.js';
import { listenerTlsOptions, upstreamTlsOptions } from './tls-options.js';

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
  /** Applies a reloaded `users` section to the logins of clients that connect from now on. */
  applyUsers(next: RosgateConfig): void;
}

/** Stages and instruments one instance of which serves every router. */
export interface SharedStages {
  readonly policy: PolicyStage;
  cache: CacheStage;
  readonly audit: AuditTrail;
  readonly metrics: Metrics;
  readonly metricsStage: Stage;
  readonly events: AppEvents;
  /** The group of replicas this one shares state with, when `shared.url` is set. */
  readonly group: GroupWiring | undefined;
  /** What a cache built on a reload is given for the group (empty without one). */
  readonly cacheGroup: Pick<
    CacheStageOptions,
    'publish' | 'fallbackTtlMs' | 'listenRole' | 'menuVersion'
  >;
  /** Records what policy refuses: policy sits outside the audit stage. */
}

export function buildRouter(
  config: RosgateConfig,
  router: RouterConfig,
  shared: SharedStages,
  logger: Logger,
): RouterRuntime {
  // Read by every session each time, so a live pool change reaches open sessions too.
  let maxWriteBufferBytes = router.pool.maxWriteBufferBytes;
  const connect = routerConnector(router, () => maxWriteBufferBytes);
  const account = loginBytes(router);
  const pool = new Pool(router.pool, () => connect(account.nameBytes, account.password), {
    onAcquired: (waitMs) => shared.metrics.observeAcquire(router.name, waitMs / 1000),
    ...shared.group?.poolHooks(router.name), // the group's session budget
  });
  logRouterHealth(pool, logger, loginEncodingHint(router), (state, code) =>
    shared.events.routerChange(router.name, state, code),
  );
  const upstream = createUpstreamHandler(pool);
  const flow = newFlowStage(config, router, shared.events, logger, shared.group);
  // The pipeline's order (docs/architecture.md), outermost first: metrics -> policy -> audit -> cache -> flow -> upstream.
  // Every stage is given the pipeline's link to what follows it, so a
  // rebuilt chain is followed even by what a stage keeps (pipeline.ts).
  const stagesOf = (flowStage: FlowStage): Stage[] => [
    shared.policy.stage,
    shared.audit.stage,
    shared.cache.stage,
    flowStage.stage,
  ];
  const pipeline = createPipeline(stagesOf(flow), upstream);
  const handler = compose([shared.metricsStage], pipeline);
  const stats = createProxyStats();
  const limits = limitOptions(config.limits);
  let authenticator = authenticatorFor(config, router, pool, connect, limits, account);
  const listener = new ProxyListener({
    router: router.name,
    host: router.listen.host,
    port: router.listen.port,
    ...limits.listener,
    ...tlsListener(router),
    logger,
    stats,
    session: {
      handler,
      observer: shared.audit.observer,
      loginGate: shared.policy.loginGate(router.name),
      authenticator,
      emptyReplies: router.emptyReplies,
      ...limits.session,
      clientCodePage: limits.codePage,
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
    applyUsers(next) {
      // The code page is the one names are read in since the start (a restart-only key).
      const options = { ...limitOptions(next.limits), codePage: limits.codePage };
      authenticator = authenticatorFor(next, router, pool, connect, options, account);
      listener.updateSession({ authenticator });
    },
  };
  // What the pool knows of the router drives the breaker: losing it counts
  // once, and seeing it back ends the refusals at once.
  pool.on('routerLost', (err: RosgateError) => runtime.flow.routerLost(err));
  pool.on('routerReachable', (evidence: string) => runtime.flow.routerReachable(evidence));
  return runtime;
}

/** The router's API-SSL listener, when it has one. */
function tlsListener(router: RouterConfig) {
  const tls = router.tls;
  if (tls === undefined) return {};
  return { tls: { host: tls.host, port: tls.port, options: listenerTlsOptions(tls) } };
}

/**
 * One router's flow stage; its breaker changes go to the app's events. On a
 * reload it takes over from the stage it replaces (`previous`): its circuit
 * state and its bucket's tokens.
 */
export function newFlowStage(
  config: RosgateConfig,
  router: RouterConfig,
  events: AppEvents,
  logger: Logger,
  group?: GroupWiring,
  previous?: FlowStage,
): FlowStage {
  return createFlowStage({
    ...(group === undefined ? {} : { rateBucket: group.rateBucket(router.name, config.flow) }),
    ...(previous === undefined ? {} : { previous: previous.handOver() }),
    router: router.name,
    config: config.flow,
    routerTimeoutMs: router.timeoutMs,
    logger,
    onStateChange: (change) => events.breakerChange(change),
  });
}

/**
 * A flow stage that was replaced finishes what it holds (a minute at most),
 * then closes; a debug line says so, with what it still held.
 */
export function retire(flow: FlowStage, logger: Logger, router: string): void {
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

/**
 * One line when the router becomes unreachable and one when it is back,
 * each also told to `onChange` (the audit trail and the dashboard's events);
 * each session that ends is logged once with its reason, and each session
 * the router refuses beside working ones (its `max-sessions`) once, at info. Repeated connect
 * failures during an outage go to debug, not one warning per retry.
 */
function logRouterHealth(
  pool: Pool,
  logger: Logger,
  loginHint: string | undefined,
  onChange: (state: 'down' | 'up', code?: string) => void,
): void {
  let isDown = false;
  pool.on('connectError', (err: RosgateError) => {
    if (isDown) {
      logger.debug({ code: err.code, err: err.message }, 'router session failed to open');
      return;
    }
    isDown = true;
    // A router that answers and refuses the password is no network fault: say which it is.
    if (err.code === ErrorCode.UpstreamLogin) {
      logger.warn(
        {
          code: err.code,
          err: err.message,
          ...(loginHint === undefined ? {} : { hint: loginHint }),
        },
        "router refused rosgate's login (its username and password); retrying",
      );
    } else logger.warn({ code: err.code, err: err.message }, 'router unreachable; retrying');
    onChange('down', err.code);
  });
  pool.on('sessionOpened', () => {
    if (!isDown) return;
    isDown = false;
    logger.info('router reachable again');
    onChange('up');
  });
  // The router answers on the sessions the pool has; it refuses one more.
  pool.on('growthFailed', (err: RosgateError, delayMs: number) => {
    const fields = { code: err.code, err: err.message, delayMs };
    // A refused login is no session limit: the password changed, the account was disabled.
    if (err.code === ErrorCode.UpstreamLogin)
      logger.warn(
        fields,
        'router refused the service account a new session while others work: was its password changed?',
      );
    else
      logger.info(fields, 'router refused one more session; the pool goes on with the ones it has');
  });
  pool.on('sessionClosed', (err: RosgateError) =>
    logger.info({ code: err.code, reason: err.message }, 'router session closed'),
  );
}

function authenticatorFor(
  config: RosgateConfig,
  router: RouterConfig,
  pool: Pool,
  connect: RouterConnector,
  { loginChecks, codePage }: LimitOptions,
  account: ServiceAccount,
): Authenticator {
  if (config.users.length === 0) {
    return new RouterAuthenticator({
      connect,
      ...loginChecks,
      serviceAccount: account,
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
    codePage,
  );
}
