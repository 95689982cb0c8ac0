/**
 * The shape of a loaded rosgate configuration, its defaults, and the codes of
 * the warnings loading can raise. YAML keys are the camelCase property names
 * below; environment variables override the first router (see `env.ts`).
 */

import type { SectionsConfig } from './sections.js';

/** Log levels pino understands, plus `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What to do with the `!empty` reply RouterOS 7.18+ sends for an empty print. */
export const EMPTY_REPLIES_MODES = ['strip', 'passthrough'] as const;
export type EmptyRepliesMode = (typeof EMPTY_REPLIES_MODES)[number];

/** How rosgate answers the `#` keepalive sentence node-routeros sends. */
export const KEEPALIVE_REPLIES = ['done', 'trap'] as const;
export type KeepaliveReply = (typeof KEEPALIVE_REPLIES)[number];

/** TLS protocol versions a listener may require as its minimum. */
export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

/**
 * How rosgate connects to a router (ROUTEROS-API §8): `off` plain TCP (api,
 * 8728); `verify` TLS checking the router's certificate against the system
 * CAs or `upstreamCaFile`; `insecure` TLS without checking it (a router's
 * self-signed certificate); `anonymous` anonymous Diffie-Hellman for a router
 * whose api-ssl service has `certificate=none`.
 */
export const UPSTREAM_TLS_MODES = ['off', 'verify', 'insecure', 'anonymous'] as const;
export type UpstreamTlsMode = (typeof UPSTREAM_TLS_MODES)[number];

/** A TCP address to listen on. */
export interface ListenConfig {
  /** Interface address. Env `PROXY_HOST`. @default '0.0.0.0' */
  readonly host: string;
  /** TCP port; 0 picks an ephemeral port. Env `PROXY_PORT`. @default 8728 */
  readonly port: number;
}

/**
 * A TLS (api-ssl) listener next to the plain one; clients reach the same
 * router through either. Without a certificate it offers only anonymous
 * Diffie-Hellman suites, which is what a RouterOS router with
 * `certificate=none` does (ROUTEROS-API §8).
 */
export interface TlsListenConfig {
  /** Interface address. @default the router's `listen.host` */
  readonly host: string;
  /** TCP port; 0 picks an ephemeral port. Env `PROXY_TLS_PORT`. @default 8729 */
  readonly port: number;
  /** PEM certificate (chain) file, relative to the config file; set with `keyFile`. */
  readonly certFile?: string;
  /** PEM private key file, relative to the config file; set with `certFile`. */
  readonly keyFile?: string;
  /** The contents of `certFile`, read at load time. */
  readonly cert?: Buffer;
  /** The contents of `keyFile`, read at load time. A secret: never log it. */
  readonly key?: Buffer;
  /**
   * Also offer anonymous DH suites (TLS 1.2, `@SECLEVEL=0`) for clients pinned
   * to `ADH` ciphers. @default true without a certificate, false with one
   */
  readonly allowAnonymous: boolean;
  /** Oldest TLS version accepted; `TLSv1.3` rules out `allowAnonymous`. @default 'TLSv1.2' */
  readonly minVersion: TlsVersion;
}

/** The pool of logged-in sessions rosgate keeps to one router. */
export interface PoolConfig {
  /** Sessions kept open even when idle. Env `MIN_CONNECTIONS`. @default 1 */
  readonly min: number;
  /**
   * Most sessions opened at once; 1-1000 and >= `min`. RouterOS allows 20 API
   * sessions by default (`/ip service set api max-sessions`), so values above
   * 19 raise the `ROSGATE_CONFIG_POOL_ABOVE_ROUTER_SESSIONS` warning.
   * Env `MAX_CONNECTIONS`. @default 5
   */
  readonly max: number;
  /** How long a command waits for a free session. Env `ACQUIRE_TIMEOUT`. @default 5000 */
  readonly acquireTimeoutMs: number;
  /** An idle session above `min` is closed after this long. Env `IDLE_TIMEOUT`. @default 60000 */
  readonly idleTimeoutMs: number;
  /** Interval between health checks of idle sessions. Env `HEALTH_CHECK_INTERVAL`. @default 30000 */
  readonly healthCheckIntervalMs: number;
  /** First reconnect delay; doubles up to `reconnectMaxDelayMs`. @default 100 */
  readonly reconnectInitialDelayMs: number;
  /** Longest reconnect delay; >= `reconnectInitialDelayMs`. @default 10000 */
  readonly reconnectMaxDelayMs: number;
  /** Commands running at once on one router session. @default 64 */
  readonly maxInFlightPerSession: number;
  /**
   * Bytes queued towards the router past which a session gets no new
   * command until the router reads them. @default 1048576 (1 MiB)
   */
  readonly maxWriteBufferBytes: number;
}

/** One router rosgate fronts; each has its own listener and pool. */
export interface RouterConfig {
  /** Unique name, `[a-zA-Z0-9_.-]+`; the `router` metric label. @default 'default' */
  readonly name: string;
  /** Router address. Env `MIKROTIK_HOST`. Required. */
  readonly host: string;
  /**
   * Router API port, 1-65535. Env `MIKROTIK_PORT`.
   * @default 8728, or 8729 (api-ssl) when `upstreamTls` is not 'off'
   */
  readonly port: number;
  /** How rosgate connects to the router. Env `MIKROTIK_TLS`. @default 'off' */
  readonly upstreamTls: UpstreamTlsMode;
  /** PEM CA file checked against with `upstreamTls: verify`, relative to the config file. */
  readonly upstreamCaFile?: string;
  /** The contents of `upstreamCaFile`, read at load time. */
  readonly upstreamCa?: Buffer;
  /** Router user rosgate logs in as. Env `MIKROTIK_USERNAME`. @default 'admin' */
  readonly username: string;
  /**
   * Router password, resolved from `password`, `passwordEnv` or
   * `passwordFile` in YAML, or env `MIKROTIK_PASSWORD`. Never log it: use
   * `redactConfig()`. @default '' (with the `ROSGATE_CONFIG_EMPTY_ROUTER_PASSWORD` warning)
   */
  readonly password: string;
  /** Connect, login and command-idle timeout. Env `MIKROTIK_TIMEOUT`. @default 10000 */
  readonly timeoutMs: number;
  /** Where clients connect. Ports are unique across routers (0 excepted). */
  readonly listen: ListenConfig;
  /** A TLS listener for api-ssl clients. @default none (off) */
  readonly tls?: TlsListenConfig;
  readonly pool: PoolConfig;
  /** `strip` drops RouterOS 7.18's `!empty` reply, which older clients reject. @default 'strip' */
  readonly emptyReplies: EmptyRepliesMode;
}

/**
 * A client user as written in the configuration. Exactly one of
 * `passwordHash`, `password`, `passwordEnv` and `passwordFile` is set.
 */
export interface UserConfig {
  /** Login name, unique. */
  readonly name: string;
  /** A hash from `hashPassword()`: `scrypt$N$r$p$saltB64$hashB64`. */
  readonly passwordHash?: string;
  /** Plaintext password; inline in a file it raises `ROSGATE_CONFIG_INLINE_PASSWORD`. */
  readonly password?: string;
  /** Read the password from this environment variable at load time. */
  readonly passwordEnv?: string;
  /**
   * Read the password from this file at load time, one trailing newline
   * trimmed. A relative path is taken from the config file's directory.
   */
  readonly passwordFile?: string;
  /** Names of the routers this user may use. @default every router */
  readonly routers?: readonly string[];
}

/**
 * A user after loading: its secret is resolved. `secret` is present only when
 * a plaintext password is known (`password`, `passwordEnv`, `passwordFile`);
 * the legacy MD5 challenge login (RouterOS < 6.43) needs it, so users given
 * only a `passwordHash` cannot use the challenge login, only the plaintext
 * `/login =name= =password=` form. The inline `password` itself is not kept.
 */
export interface ResolvedUser {
  readonly name: string;
  readonly passwordHash?: string;
  readonly passwordEnv?: string;
  readonly passwordFile?: string;
  readonly routers?: readonly string[];
  /** The plaintext password as UTF-8 bytes, when known. Never log it. */
  readonly secret?: Buffer;
}

/** Bounds on what one client may send or hold (DESIGN invariant 7). */
export interface LimitsConfig {
  /** Largest word a client may send. @default 1048576 (1 MiB) */
  readonly maxWordBytes: number;
  /** Most words in one client sentence. @default 1024 */
  readonly maxWordsPerSentence: number;
  /** Largest client sentence in bytes. @default 4194304 (4 MiB) */
  readonly maxSentenceBytes: number;
  /** Commands one client may have running. @default 32 */
  readonly maxInFlightPerClient: number;
  /** Clients connected from one source address. @default 100 */
  readonly maxClientsPerAddress: number;
  /** Clients connected in total. @default 1000 */
  readonly maxClients: number;
  /** Bytes queued for a slow client before it is disconnected. @default 8388608 (8 MiB) */
  readonly maxOutputBufferBytes: number;
  /** Sentences a client may send before it has logged in. @default 4 */
  readonly preLoginMaxSentences: number;
  /** Time a client has to log in. @default 10000 */
  readonly preLoginTimeoutMs: number;
  /** How long a login the router verified is remembered; 0 disables. @default 60000 */
  readonly loginCacheTtlMs: number;
  /** How long a password the router refused is remembered; 0 disables. @default 5000 */
  readonly loginFailureCacheTtlMs: number;
  /** Logins checked against the router at once. @default 4 */
  readonly maxConcurrentLoginChecks: number;
  /** Largest word and sentence a client may send before it has logged in. @default 8192 */
  readonly preLoginMaxSentenceBytes: number;
  /** A logged-in client with nothing running is closed after this long silent; 0 never. @default 0 */
  readonly clientIdleTimeoutMs: number;
  /** TCP keepalive delay on client sockets (vanished peers are found). @default 60000 */
  readonly clientKeepAliveMs: number;
  /** Connections the kernel queues before rosgate accepts them. @default 4096 */
  readonly listenBacklog: number;
  /** Answer to node-routeros' `#` keepalive. @default 'done' */
  readonly keepaliveReply: KeepaliveReply;
}

/** Endpoints of the admin port that answer without a token unless listed in `requireTokenFor`. */
export const OPEN_ENDPOINTS = ['live', 'ready', 'health', 'metrics'] as const;
export type OpenEndpoint = (typeof OPEN_ENDPOINTS)[number];

/**
 * The HTTP port for /monitoring and Prometheus metrics. The keys after
 * `port` are present only when set to something other than their default;
 * src/admin applies the defaults.
 */
export interface MonitoringConfig {
  /** False: no admin port at all. Env `ENABLE_MONITORING`. @default true (left out when true) */
  readonly enabled?: boolean;
  /** @default '0.0.0.0' */
  readonly host: string;
  /** Env `MONITORING_PORT`. @default 9728 */
  readonly port: number;
  /**
   * The bearer token every endpoint but the open ones requires, resolved
   * from env `MONITORING_TOKEN` (which wins), `token`, `tokenEnv` or
   * `tokenFile`; at least 16 characters. Never log it: use `redactConfig()`.
   * @default none (only the open endpoints answer)
   */
  readonly token?: string;
  /** The environment variable `token` was read from, when set that way. */
  readonly tokenEnv?: string;
  /** The file `token` was read from (one trailing newline trimmed), when set that way. */
  readonly tokenFile?: string;
  /** Open endpoints that require the token too. @default [] */
  readonly requireTokenFor?: readonly OpenEndpoint[];
  readonly readiness?: {
    /** `ready` also needs a logged-in session to every router. @default false */
    readonly requireRouter: boolean;
  };
  /**
   * Every this many ms rosgate counts `/ip/hotspot/active` and `/ppp/active`
   * itself (`count-only` prints); 0 counts only what clients print.
   * @default 30000 ({@link DEFAULT_BUSINESS_POLL_MS}; left out when at the default)
   */
  readonly businessPollMs?: number;
}

export interface LogConfig {
  /** Env `LOG_LEVEL`. @default 'info' */
  readonly level: LogLevel;
}

export interface ShutdownConfig {
  /** How long a graceful drain waits for running commands. @default 10000 */
  readonly graceMs: number;
}

/** A complete, validated configuration. */
export interface RosgateConfig extends SectionsConfig {
  /** May be empty; `main.ts` then refuses to start (warning `ROSGATE_CONFIG_NO_ROUTERS`). */
  readonly routers: readonly RouterConfig[];
  /** Empty means clients are authenticated against the router itself. */
  readonly users: readonly ResolvedUser[];
  readonly limits: LimitsConfig;
  readonly monitoring: MonitoringConfig;
  readonly log: LogConfig;
  readonly shutdown: ShutdownConfig;
}

/** A legal but risky setting; log it with its code. */
export interface ConfigWarning {
  readonly code: ConfigWarningCode;
  /** The config path or environment variable the warning is about. */
  readonly path: string;
  readonly message: string;
}

export const ConfigWarningCode = {
  /** No router is configured; rosgate cannot start. */
  NoRouters: 'ROSGATE_CONFIG_NO_ROUTERS',
  /** `pool.max` is above 19: the router's default `max-sessions` is 20. */
  PoolAboveRouterSessions: 'ROSGATE_CONFIG_POOL_ABOVE_ROUTER_SESSIONS',
  /** A plaintext password is written in the config file. */
  InlinePassword: 'ROSGATE_CONFIG_INLINE_PASSWORD',
  /** A router has no password set. */
  EmptyRouterPassword: 'ROSGATE_CONFIG_EMPTY_ROUTER_PASSWORD',
  /** `upstreamTls` is `insecure` or `anonymous`: the router's identity is not checked. */
  UpstreamTlsUnverified: 'ROSGATE_CONFIG_UPSTREAM_TLS_UNVERIFIED',
  /** A variable of the MikroTik proxy guide is set but has no effect (see `GUIDE_IGNORED_VARIABLES`). */
  IgnoredVariable: 'ROSGATE_CONFIG_IGNORED_VARIABLE',
} as const;
export type ConfigWarningCode = (typeof ConfigWarningCode)[keyof typeof ConfigWarningCode];

/** What `loadConfig()` and `validateConfig()` return. */
export interface LoadedConfig {
  readonly config: RosgateConfig;
  readonly warnings: readonly ConfigWarning[];
}

/** Largest delay `setTimeout` honours (2^31 - 1 ms). */
export const MAX_TIMER_MS = 2_147_483_647;

/** Largest `pool.max` accepted. */
export const MAX_POOL_SIZE = 1000;

/** Every count without a tighter bound shares this upper bound. */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** An inclusive integer range, `[min, max]`. */
export type IntegerRange = readonly [min: number, max: number];

/** TCP ports: a router's API port, and ports rosgate listens on (0 picks a free one). */
export const PORT_RANGES = Object.freeze({
  router: [1, 65535],
  listen: [0, 65535],
} as const satisfies Record<string, IntegerRange>);

/** `routers[].timeoutMs`. */
export const ROUTER_TIMEOUT_RANGE: IntegerRange = [1, MAX_TIMER_MS];

/** `shutdown.graceMs`; 0 stops without waiting. */
export const SHUTDOWN_GRACE_RANGE: IntegerRange = [0, MAX_TIMER_MS];

/** The range of every pool key, in the order they are checked. */
export const POOL_RANGES = Object.freeze({
  min: [0, MAX_POOL_SIZE],
  max: [1, MAX_POOL_SIZE],
  reconnectInitialDelayMs: [1, MAX_TIMER_MS],
  reconnectMaxDelayMs: [1, MAX_TIMER_MS],
  acquireTimeoutMs: [1, MAX_TIMER_MS],
  idleTimeoutMs: [1, MAX_TIMER_MS],
  healthCheckIntervalMs: [1, MAX_TIMER_MS],
  maxInFlightPerSession: [1, 65535],
  maxWriteBufferBytes: [1024, MAX_COUNT],
} as const satisfies Record<keyof PoolConfig, IntegerRange>);

/** The range of every numeric limit, in the order they are checked. */
export const LIMIT_RANGES = Object.freeze({
  /** A word's length prefix has 32 bits (ROUTEROS-API §1). */
  maxWordBytes: [1, 0xffffffff],
  maxWordsPerSentence: [1, MAX_COUNT],
  maxSentenceBytes: [1, MAX_COUNT],
  maxInFlightPerClient: [1, MAX_COUNT],
  maxClientsPerAddress: [1, MAX_COUNT],
  maxClients: [1, MAX_COUNT],
  maxOutputBufferBytes: [1, MAX_COUNT],
  preLoginMaxSentences: [1, MAX_COUNT],
  preLoginTimeoutMs: [1, MAX_TIMER_MS],
  loginCacheTtlMs: [0, MAX_TIMER_MS],
  loginFailureCacheTtlMs: [0, MAX_TIMER_MS],
  maxConcurrentLoginChecks: [1, 1000],
  preLoginMaxSentenceBytes: [256, 0xffffffff],
  clientIdleTimeoutMs: [0, MAX_TIMER_MS],
  clientKeepAliveMs: [1000, MAX_TIMER_MS],
  listenBacklog: [1, 65535],
} as const satisfies Record<Exclude<keyof LimitsConfig, 'keepaliveReply'>, IntegerRange>);

/** `pool.max` above this raises `ROSGATE_CONFIG_POOL_ABOVE_ROUTER_SESSIONS`. */
export const ROUTER_SESSIONS_WARN_ABOVE = 19;

/** Router names become metric labels, so they are kept plain. */
export const ROUTER_NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;

/** Pool defaults. @default see each field of {@link PoolConfig} */
export const DEFAULT_POOL: PoolConfig = Object.freeze({
  /** @default 1 */
  min: 1,
  /** @default 5 */
  max: 5,
  /** @default 5000 */
  acquireTimeoutMs: 5000,
  /** @default 60000 */
  idleTimeoutMs: 60_000,
  /** @default 30000 */
  healthCheckIntervalMs: 30_000,
  /** @default 100 */
  reconnectInitialDelayMs: 100,
  /** @default 10000 */
  reconnectMaxDelayMs: 10_000,
  /** @default 64 */
  maxInFlightPerSession: 64,
  /** @default 1048576 (1 MiB) */
  maxWriteBufferBytes: 1024 * 1024,
});

/** Listener defaults. */
export const DEFAULT_LISTEN: ListenConfig = Object.freeze({
  /** @default '0.0.0.0' */
  host: '0.0.0.0',
  /** @default 8728 */
  port: 8728,
});

/** Router defaults (everything but `host`, `password` and the optional keys). */
export const DEFAULT_ROUTER: Omit<
  RouterConfig,
  'host' | 'password' | 'tls' | 'upstreamCaFile' | 'upstreamCa'
> = Object.freeze({
  /** @default 'default' */
  name: 'default',
  /** @default 8728 */
  port: 8728,
  /** @default 'off' */
  upstreamTls: 'off',
  /** @default 'admin' */
  username: 'admin',
  /** @default 10000 */
  timeoutMs: 10_000,
  listen: DEFAULT_LISTEN,
  pool: DEFAULT_POOL,
  /** @default 'strip' */
  emptyReplies: 'strip',
});

/** The router API port over TLS (api-ssl), used when `upstreamTls` is not 'off'. */
export const DEFAULT_TLS_PORT = 8729;

/** TLS listener defaults (`host` follows `listen.host`; `allowAnonymous` the certificate). */
export const DEFAULT_TLS_LISTEN = Object.freeze({
  /** @default 8729 */
  port: DEFAULT_TLS_PORT,
  /** @default 'TLSv1.2' */
  minVersion: 'TLSv1.2' as TlsVersion,
});

/** Client limit defaults. */
export const DEFAULT_LIMITS: LimitsConfig = Object.freeze({
  /** @default 1048576 (1 MiB) */
  maxWordBytes: 1024 * 1024,
  /** @default 1024 */
  maxWordsPerSentence: 1024,
  /** @default 4194304 (4 MiB) */
  maxSentenceBytes: 4 * 1024 * 1024,
  /** @default 32 */
  maxInFlightPerClient: 32,
  /** @default 100 */
  maxClientsPerAddress: 100,
  /** @default 1000 */
  maxClients: 1000,
  /** @default 8388608 (8 MiB) */
  maxOutputBufferBytes: 8 * 1024 * 1024,
  /** @default 4 */
  preLoginMaxSentences: 4,
  /** @default 10000 */
  preLoginTimeoutMs: 10_000,
  /** @default 60000 */
  loginCacheTtlMs: 60_000,
  /** @default 5000 */
  loginFailureCacheTtlMs: 5000,
  /** @default 4 */
  maxConcurrentLoginChecks: 4,
  /** @default 8192 */
  preLoginMaxSentenceBytes: 8192,
  /** @default 0 */
  clientIdleTimeoutMs: 0,
  /** @default 60000 */
  clientKeepAliveMs: 60_000,
  /** @default 4096 */
  listenBacklog: 4096,
  /** @default 'done' */
  keepaliveReply: 'done',
});

/** `monitoring.businessPollMs` when not set: rosgate counts active users itself every 30 s. */
export const DEFAULT_BUSINESS_POLL_MS = 30_000;

/** Monitoring port defaults. */
export const DEFAULT_MONITORING: MonitoringConfig = Object.freeze({
  /** @default '0.0.0.0' */
  host: '0.0.0.0',
  /** @default 9728 */
  port: 9728,
});

/** @default 'info' */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** @default 10000 */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
