import tls from 'node:tls';
import type { Logger } from 'pino';
import {
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
import { compose, type CommandHandler, type Stage } from './pipeline.js';
import { Pool } from './upstream/pool.js';
import { createUpstreamHandler } from './upstream/upstream-handler.js';
import { UpstreamConnection } from './upstream/upstream-connection.js';
import { ChallengeRelay } from './upstream/challenge-relay.js';
import { Sentence } from './protocol/index.js';
import type { RosgateError } from './errors.js';
import { createCacheStage, type CacheStage } from './cache/index.js';
import { createFlowStage, type FlowStage } from './flow/index.js';
import { createPolicyStage, type PolicyStage } from './policy/index.js';

/** One router as the running app holds it. */
export interface RouterRuntime {
  readonly config: RouterConfig;
  readonly pool: Pool;
  /** The router's command pipeline, outermost stage first. */
  readonly handler: CommandHandler;
  /** Rate limit, priority queue, concurrency cap, breaker and timeouts. */
  readonly flow: FlowStage;
  readonly listener: ProxyListener;
  readonly stats: ProxyStats;
  /** The port clients connect to (known after `start()`). */
  port: number;
  /** The TLS (api-ssl) port clients connect to, when `tls` is configured (known after `start()`). */
  tlsPort: number | undefined;
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
  /** The reply cache every router shares (stats by router). */
  readonly cache: CacheStage;
  /** Open pools and listeners. */
  start(): Promise<void>;
  /** Graceful stop: drain within `graceMs`, cancel streams, close sessions. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The composition root: the only place collaborators are built (STYLE 1).
 * Each router gets its own pool, listener and counters.
 */
export function createApp(config: RosgateConfig, logger: Logger): App {
  const policy = createPolicyStage({ config: config.policy, logger });
  const cache = createCacheStage({ config: config.cache, logger });
  const shared: SharedStages = { policy, cache };
  const routers = config.routers.map((router) =>
    buildRouter(config, router, shared, logger.child({ router: router.name })),
  );
  let isStarted = false;
  return {
    routers,
    policy,
    cache,
    async start() {
      // Bind every listener before opening any router session, so a port
      // conflict fails the start without leaving sessions behind.
      try {
        for (const runtime of routers) {
          runtime.port = await runtime.listener.listen();
          runtime.tlsPort = runtime.listener.tlsPort;
        }
      } catch (err) {
        await Promise.all(routers.map((r) => r.listener.close(0)));
        throw err;
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
      isStarted = true;
    },
    async stop(graceMs = config.shutdown.graceMs) {
      if (!isStarted) return;
      isStarted = false;
      // Drain: no new clients; connected ones are served until they leave
      // or the grace period ends; then what still runs is cancelled.
      await Promise.all(routers.map((r) => r.listener.close(graceMs)));
      cache.close();
      for (const r of routers) {
        r.flow.close();
        r.pool.close();
      }
    },
  };
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

/** Stages one instance of which serves every router. */
interface SharedStages {
  readonly policy: PolicyStage;
  readonly cache: CacheStage;
}

function buildRouter(
  config: RosgateConfig,
  router: RouterConfig,
  shared: SharedStages,
  logger: Logger,
): RouterRuntime {
  const upstreamTls = upstreamTlsOptions(router);
  const connect = (username: string, password: string): UpstreamConnection =>
    new UpstreamConnection({
      host: router.host,
      port: router.port,
      username,
      password,
      timeoutMs: router.timeoutMs,
      maxWriteBufferBytes: router.pool.maxWriteBufferBytes,
      ...(upstreamTls === undefined ? {} : { tls: upstreamTls }),
    });
  const pool = new Pool(router.pool, () => connect(router.username, router.password));
  logRouterHealth(pool, logger);
  const flow = createFlowStage({
    router: router.name,
    config: config.flow,
    routerTimeoutMs: router.timeoutMs,
    logger,
  });
  // A session that cannot connect or log in is a router failure no command saw.
  pool.on('connectError', (err: RosgateError) => flow.recordFailure(err));
  // DESIGN order, outermost first: policy -> audit -> cache -> flow -> upstream.
  const stages: Stage[] = [shared.policy.stage, shared.cache.stage, flow.stage];
  const handler = compose(stages, createUpstreamHandler(pool));
  const stats = createProxyStats();
  const { limits } = config;
  const listener = new ProxyListener({
    router: router.name,
    host: router.listen.host,
    port: router.listen.port,
    maxClients: limits.maxClients,
    maxClientsPerAddress: limits.maxClientsPerAddress,
    backlog: limits.listenBacklog,
    keepAliveMs: limits.clientKeepAliveMs,
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
      loginGate: shared.policy.loginGate(router.name),
      authenticator: authenticatorFor(config, router, pool, connect),
      decoderLimits: {
        maxWordBytes: limits.maxWordBytes,
        maxWordsPerSentence: limits.maxWordsPerSentence,
        maxSentenceBytes: limits.maxSentenceBytes,
      },
      preLoginDecoderLimits: {
        maxWordBytes: Math.min(limits.maxWordBytes, limits.preLoginMaxSentenceBytes),
        maxWordsPerSentence: Math.min(limits.maxWordsPerSentence, 32),
        maxSentenceBytes: Math.min(limits.maxSentenceBytes, limits.preLoginMaxSentenceBytes),
      },
      maxInFlightPerClient: limits.maxInFlightPerClient,
      maxOutputBufferBytes: limits.maxOutputBufferBytes,
      preLoginMaxSentences: limits.preLoginMaxSentences,
      preLoginTimeoutMs: limits.preLoginTimeoutMs,
      clientIdleTimeoutMs: limits.clientIdleTimeoutMs,
      emptyReplies: router.emptyReplies,
      keepaliveReply: limits.keepaliveReply,
    },
  });
  return {
    config: router,
    pool,
    handler,
    flow,
    listener,
    stats,
    port: router.listen.port,
    tlsPort: router.tls?.port,
  };
}

/**
 * One line when the router becomes unreachable and one when it is back;
 * each session that ends is logged once with its reason. Repeated connect
 * failures during an outage go to debug, not one warning per retry.
 */
function logRouterHealth(pool: Pool, logger: Logger): void {
  let isDown = false;
  pool.on('connectError', (err: RosgateError) => {
    if (isDown) {
      logger.debug({ code: err.code, err: err.message }, 'router session failed to open');
      return;
    }
    isDown = true;
    logger.warn({ code: err.code, err: err.message }, 'router unreachable; retrying');
  });
  pool.on('sessionOpened', () => {
    if (!isDown) return;
    isDown = false;
    logger.info('router reachable again');
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
): Authenticator {
  if (config.users.length === 0) {
    return new RouterAuthenticator({
      connect,
      ttlMs: config.limits.loginCacheTtlMs,
      failureTtlMs: config.limits.loginFailureCacheTtlMs,
      maxConcurrentChecks: config.limits.maxConcurrentLoginChecks,
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
