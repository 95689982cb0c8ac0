import type { Logger } from 'pino';
import { verifyPassword, type RosgateConfig, type RouterConfig } from './config/index.js';
import {
  RouterAuthenticator,
  UserListAuthenticator,
  type Authenticator,
} from './proxy/authenticator.js';
import { ProxyListener } from './proxy/listener.js';
import { createProxyStats, type ProxyStats } from './proxy/stats.js';
import { Pool } from './upstream/pool.js';
import { UpstreamConnection } from './upstream/upstream-connection.js';

/** One router as the running app holds it. */
export interface RouterRuntime {
  readonly config: RouterConfig;
  readonly pool: Pool;
  readonly listener: ProxyListener;
  readonly stats: ProxyStats;
  /** The port clients connect to (known after `start()`). */
  port: number;
}

/** A running rosgate. */
export interface App {
  readonly routers: readonly RouterRuntime[];
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
  const routers = config.routers.map((router) =>
    buildRouter(config, router, logger.child({ router: router.name })),
  );
  let isStarted = false;
  return {
    routers,
    async start() {
      // Bind every listener before opening any router session, so a port
      // conflict fails the start without leaving sessions behind.
      try {
        for (const runtime of routers) runtime.port = await runtime.listener.listen();
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
            upstream: `${runtime.config.host}:${runtime.config.port}`,
          },
          'listening for RouterOS API clients',
        );
      }
      isStarted = true;
    },
    async stop(graceMs = config.shutdown.graceMs) {
      if (!isStarted) return;
      isStarted = false;
      await Promise.all(routers.map((r) => r.listener.close(graceMs)));
      for (const r of routers) r.pool.close();
    },
  };
}

function buildRouter(config: RosgateConfig, router: RouterConfig, logger: Logger): RouterRuntime {
  const connect = (username: string, password: string): UpstreamConnection =>
    new UpstreamConnection({
      host: router.host,
      port: router.port,
      username,
      password,
      timeoutMs: router.timeoutMs,
    });
  const pool = new Pool(router.pool, () => connect(router.username, router.password));
  pool.on('connectError', (err: Error) =>
    logger.warn({ err: err.message }, 'router session failed to open'),
  );
  const stats = createProxyStats();
  const { limits } = config;
  const listener = new ProxyListener({
    router: router.name,
    host: router.listen.host,
    port: router.listen.port,
    maxClients: limits.maxClients,
    maxClientsPerAddress: limits.maxClientsPerAddress,
    logger,
    stats,
    session: {
      upstream: pool,
      authenticator: authenticatorFor(config, router, connect),
      decoderLimits: {
        maxWordBytes: limits.maxWordBytes,
        maxWordsPerSentence: limits.maxWordsPerSentence,
        maxSentenceBytes: limits.maxSentenceBytes,
      },
      maxInFlightPerClient: limits.maxInFlightPerClient,
      maxOutputBufferBytes: limits.maxOutputBufferBytes,
      preLoginMaxSentences: limits.preLoginMaxSentences,
      preLoginTimeoutMs: limits.preLoginTimeoutMs,
      emptyReplies: router.emptyReplies,
      keepaliveReply: limits.keepaliveReply,
    },
  });
  return { config: router, pool, listener, stats, port: router.listen.port };
}

function authenticatorFor(
  config: RosgateConfig,
  router: RouterConfig,
  connect: (username: string, password: string) => UpstreamConnection,
): Authenticator {
  if (config.users.length === 0) {
    return new RouterAuthenticator({ connect, ttlMs: config.limits.loginCacheTtlMs });
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
