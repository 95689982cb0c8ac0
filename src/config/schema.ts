/**
 * The whole configuration, declared once: every section's zod schema under
 * its YAML key, the types of a loaded configuration, its defaults, and the
 * codes of the warnings loading can raise. Environment variables and which
 * changes apply live are in each setting's registry entry (settings.ts).
 *
 * Adding a setting is one line in its section's schema, for example
 * `maxSize: env(integer(1, 100_000).default(1000).describe('...'), 'QUEUE_MAX_SIZE')`;
 * then `npm run schema`, and name it in config.yaml and the README
 * (test/config/docs.test.ts says where one is missing).
 */
import { z } from 'zod';
import { auditSchema, type AuditConfig } from './audit.js';
import { cacheSchema, type CacheConfig } from './cache.js';
import { flowSchema, type FlowConfig } from './flow.js';
import {
  limitsSchema,
  logSchema,
  shutdownSchema,
  type LimitsConfig,
  type LogConfig,
  type ShutdownConfig,
} from './limits.js';
import { monitoringSchema, type MonitoringConfig } from './monitoring.js';
import { policySchema, type PolicyConfig } from './policy.js';
import {
  DEFAULT_PORT,
  routerSchema,
  userSchema,
  type ListenConfig,
  type PoolConfig,
  type ResolvedUser,
  type RouterConfig,
  type TlsListenConfig,
} from './routers.js';
import { setting } from './settings.js';
import { sharedSchema, type SharedConfig } from './shared.js';

export { MAX_COUNT, MAX_TIMER_MS } from './settings.js';
export * from './limits.js';
export * from './monitoring.js';
export * from './routers.js';
export * from './shared.js';

const live = <S extends z.ZodType>(schema: S): S => setting(schema, { isLive: true });
/** An optional list: absent is empty. */
const list = <S extends z.ZodType>(item: S) =>
  z.array(item, { error: 'must be a list' }).default([]);

/** Every section by its YAML key; the order is the order of config.yaml and of its problems. */
export const configSchema = z.strictObject(
  {
    routers: list(routerSchema).describe(
      'The routers rosgate fronts; each has its own listener and pool. Only their pools change live.',
    ),
    users: list(userSchema).describe(
      'Client users. With none, clients log in with the routers’ own users, checked against the router. A reload (SIGHUP) applies a change to the logins that follow.',
    ),
    limits: live(limitsSchema.prefault({})),
    monitoring: monitoringSchema.prefault({}),
    log: live(logSchema.prefault({})),
    shutdown: live(shutdownSchema.prefault({})),
    audit: auditSchema.prefault({}),
    cache: live(cacheSchema.prefault({})),
    flow: live(flowSchema.prefault({})),
    policy: live(policySchema.prefault({})),
    shared: sharedSchema.optional(),
  },
  { error: 'must be a mapping' },
);

/** A top-level section's key. */
export type SectionKey = keyof typeof configSchema.shape;

/** A stage section: its key, schema and defaults. */
export interface StageSection<S extends z.ZodType> {
  readonly key: string;
  readonly schema: S;
  readonly defaults: z.output<S>;
}

function stage<S extends z.ZodType>(key: string, schema: S): StageSection<S> {
  return { key, schema, defaults: schema.parse({}) };
}

/** The sections owned by the pipeline stages, by key. */
export const SECTIONS = {
  audit: stage('audit', auditSchema),
  cache: stage('cache', cacheSchema),
  flow: stage('flow', flowSchema),
  policy: stage('policy', policySchema),
} as const;

/** A complete, validated configuration. */
export interface RosgateConfig {
  /** May be empty; `main.ts` then refuses to start (warning `ROSGATE_CONFIG_NO_ROUTERS`). */
  readonly routers: readonly RouterConfig[];
  /** Empty means clients are authenticated against the router itself. */
  readonly users: readonly ResolvedUser[];
  readonly limits: LimitsConfig;
  readonly monitoring: MonitoringConfig;
  readonly log: LogConfig;
  readonly shutdown: ShutdownConfig;
  readonly audit: AuditConfig;
  readonly cache: CacheConfig;
  readonly flow: FlowConfig;
  readonly policy: PolicyConfig;
  /** Sharing through Redis (issue 18); absent: every replica on its own. */
  readonly shared?: SharedConfig | undefined;
}

/** The stage sections of a configuration. */
export type SectionsConfig = Pick<RosgateConfig, keyof typeof SECTIONS>;

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
  /** A `shared` key (password, prefix, strict) is set but no Redis is named: nothing is shared. */
  SharedWithoutRedis: 'ROSGATE_CONFIG_SHARED_WITHOUT_REDIS',
  /** A router's port is the other API service's default: 8729 without TLS, 8728 with it. */
  UpstreamPortTls: 'ROSGATE_CONFIG_UPSTREAM_PORT_TLS',
  /** A secret from an environment variable ended with a newline, which was dropped. */
  SecretTrailingNewline: 'ROSGATE_CONFIG_SECRET_TRAILING_NEWLINE',
} as const;
export type ConfigWarningCode = (typeof ConfigWarningCode)[keyof typeof ConfigWarningCode];

/** What `loadConfig()` and `validateConfig()` return. */
export interface LoadedConfig {
  readonly config: RosgateConfig;
  readonly warnings: readonly ConfigWarning[];
}

const defaults = configSchema.parse({});
const { tls: defaultTls, ...defaultRouter } = routerSchema.parse({ host: 'x', tls: {} });

/** Pool defaults. */
export const DEFAULT_POOL: PoolConfig = Object.freeze(defaultRouter.pool);
/** Listener defaults. */
export const DEFAULT_LISTEN: ListenConfig = Object.freeze(defaultRouter.listen);
/** Router defaults (everything but `host`, `password` and the optional keys). */
export const DEFAULT_ROUTER: Omit<
  RouterConfig,
  'host' | 'password' | 'tls' | 'upstreamCaFile' | 'upstreamCa'
> = Object.freeze({
  name: defaultRouter.name,
  port: DEFAULT_PORT,
  upstreamTls: defaultRouter.upstreamTls,
  username: defaultRouter.username,
  loginEncoding: defaultRouter.loginEncoding,
  timeoutMs: defaultRouter.timeoutMs,
  listen: DEFAULT_LISTEN,
  pool: DEFAULT_POOL,
  emptyReplies: defaultRouter.emptyReplies,
});
/** TLS listener defaults (`host` follows `listen.host`; `allowAnonymous` the certificate). */
export const DEFAULT_TLS_LISTEN: Pick<TlsListenConfig, 'port' | 'minVersion'> = Object.freeze({
  port: (defaultTls as TlsListenConfig).port,
  minVersion: (defaultTls as TlsListenConfig).minVersion,
});
/** Client limit defaults. */
export const DEFAULT_LIMITS: LimitsConfig = Object.freeze(defaults.limits);
/** Monitoring port defaults. */
export const DEFAULT_MONITORING: MonitoringConfig = Object.freeze(defaults.monitoring);
export const DEFAULT_LOG_LEVEL = defaults.log.level;
export const DEFAULT_SHUTDOWN_GRACE_MS = defaults.shutdown.graceMs;
