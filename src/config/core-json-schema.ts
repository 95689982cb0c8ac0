/**
 * JSON Schema of the core sections: routers, users, limits, monitoring, log
 * and shutdown. validate.ts checks these by hand, because its problems name
 * the environment variable that set a value and some rules are more than a
 * schema can say (secrets that must resolve, files that must parse, unique
 * names and ports). Both are built from the constants in schema.ts (the
 * defaults, the modes and the ranges), and validate.ts takes its known keys
 * from the `properties` below, so each key is declared once.
 */
import {
  DEFAULT_BUSINESS_POLL_MS,
  DEFAULT_LIMITS,
  DEFAULT_LISTEN,
  DEFAULT_LOG_LEVEL,
  DEFAULT_MONITORING,
  DEFAULT_POOL,
  DEFAULT_ROUTER,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_TLS_LISTEN,
  EMPTY_REPLIES_MODES,
  KEEPALIVE_REPLIES,
  LIMIT_RANGES,
  LOG_LEVELS,
  MAX_TIMER_MS,
  OPEN_ENDPOINTS,
  POOL_RANGES,
  PORT_RANGES,
  ROUTER_NAME_PATTERN,
  ROUTER_TIMEOUT_RANGE,
  SHUTDOWN_GRACE_RANGE,
  TLS_VERSIONS,
  UPSTREAM_TLS_MODES,
  type IntegerRange,
} from './schema.js';

/** A JSON Schema (2020-12) object. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** A schema of a mapping with known keys. */
export interface MappingSchema extends JsonSchema {
  readonly properties: Readonly<Record<string, JsonSchema>>;
}

function integer([minimum, maximum]: IntegerRange, fallback: number): JsonSchema {
  return { type: 'integer', minimum, maximum, default: fallback };
}

/** A non-empty string, as `Checker.string()` wants. */
function text(fallback?: string): JsonSchema {
  return { type: 'string', minLength: 1, ...(fallback === undefined ? {} : { default: fallback }) };
}

function choice(options: readonly string[], fallback: string): JsonSchema {
  return { type: 'string', enum: [...options], default: fallback };
}

/**
 * Also null: rosgate reads an empty key (YAML's `pool:` with everything
 * under it commented out) as the defaults.
 */
export function nullable<S extends JsonSchema>(schema: S): S {
  return { ...schema, type: [schema['type'], 'null'] };
}

/** A mapping whose keys are `properties`, and no other. */
function object(properties: Record<string, JsonSchema>, rules: JsonSchema = {}): MappingSchema {
  return { type: 'object', properties, additionalProperties: false, ...rules };
}

/** An optional mapping: absent or null takes the defaults. */
function mapping(properties: Record<string, JsonSchema>, rules?: JsonSchema): MappingSchema {
  return nullable(object(properties, rules));
}

function integers<K extends string>(
  ranges: Readonly<Record<K, IntegerRange>>,
  defaults: Readonly<Record<NoInfer<K>, number>>,
): Record<string, JsonSchema> {
  return Object.fromEntries(
    (Object.entries(ranges) as [K, IntegerRange][]).map(([key, range]) => [
      key,
      integer(range, defaults[key]),
    ]),
  );
}

/**
 * These keys are all present. (Each is also named under `properties`, as
 * Ajv's strict mode wants of every `required` key.)
 */
function present(...keys: string[]): JsonSchema {
  return { properties: Object.fromEntries(keys.map((key) => [key, true])), required: keys };
}

/** No two of `keys` together: with one of them, the others are not allowed. */
function atMostOneOf(keys: readonly string[]): JsonSchema {
  const others = (key: string) => keys.filter((k) => k !== key).map((k) => [k, false]);
  return {
    dependentSchemas: Object.fromEntries(
      keys.map((key) => [key, { properties: Object.fromEntries(others(key)) }]),
    ),
  };
}

/** The ways a router or a user gives its password. */
const PASSWORD_SOURCES = {
  password: text(),
  passwordEnv: text(),
  passwordFile: text(),
};

export const LISTEN_SCHEMA = mapping({
  host: text(DEFAULT_LISTEN.host),
  port: integer(PORT_RANGES.listen, DEFAULT_LISTEN.port),
});

/** Off unless set; `host` follows `listen.host`, `allowAnonymous` the certificate. */
export const TLS_SCHEMA = mapping(
  {
    host: text(),
    port: integer(PORT_RANGES.listen, DEFAULT_TLS_LISTEN.port),
    certFile: text(),
    keyFile: text(),
    allowAnonymous: { type: 'boolean' },
    minVersion: choice(TLS_VERSIONS, DEFAULT_TLS_LISTEN.minVersion),
  },
  { dependentRequired: { certFile: ['keyFile'], keyFile: ['certFile'] } },
);

export const POOL_SCHEMA = mapping(integers(POOL_RANGES, DEFAULT_POOL));

/**
 * `host` is not required here: `MIKROTIK_HOST` may give the first router's
 * (as the Helm chart does). Without `MIKROTIK_PASSWORD` a router sets at
 * most one password source.
 */
export const ROUTER_SCHEMA = object(
  {
    name: { ...text(DEFAULT_ROUTER.name), pattern: ROUTER_NAME_PATTERN.source },
    host: text(),
    port: integer(PORT_RANGES.router, DEFAULT_ROUTER.port),
    username: text(DEFAULT_ROUTER.username),
    ...PASSWORD_SOURCES,
    timeoutMs: integer(ROUTER_TIMEOUT_RANGE, DEFAULT_ROUTER.timeoutMs),
    listen: LISTEN_SCHEMA,
    tls: TLS_SCHEMA,
    upstreamTls: choice(UPSTREAM_TLS_MODES, DEFAULT_ROUTER.upstreamTls),
    upstreamCaFile: text(),
    pool: POOL_SCHEMA,
    emptyReplies: choice(EMPTY_REPLIES_MODES, DEFAULT_ROUTER.emptyReplies),
  },
  atMostOneOf(Object.keys(PASSWORD_SOURCES)),
);

/** A client user: a name and exactly one password source. */
export const USER_SCHEMA = object(
  {
    name: text(),
    passwordHash: text(),
    ...PASSWORD_SOURCES,
    routers: { type: 'array', items: text() },
  },
  {
    required: ['name'],
    oneOf: ['passwordHash', ...Object.keys(PASSWORD_SOURCES)].map((key) => present(key)),
  },
);

export const LIMITS_SCHEMA = mapping({
  ...integers(LIMIT_RANGES, DEFAULT_LIMITS),
  keepaliveReply: choice(KEEPALIVE_REPLIES, DEFAULT_LIMITS.keepaliveReply),
});

/**
 * Kept in step with `checkMonitoring()` (monitoring.ts) by the tests, which
 * feed both the same documents: that file holds its own key list and the
 * token's minimum length.
 */
export const MONITORING_SCHEMA = mapping(
  {
    enabled: { type: 'boolean', default: true },
    host: text(DEFAULT_MONITORING.host),
    port: integer(PORT_RANGES.listen, DEFAULT_MONITORING.port),
    token: { type: 'string', minLength: 16 },
    tokenEnv: text(),
    tokenFile: text(),
    requireTokenFor: {
      type: 'array',
      items: { type: 'string', enum: [...OPEN_ENDPOINTS] },
      default: [],
    },
    readiness: mapping({ requireRouter: { type: 'boolean', default: false } }),
    businessPollMs: integer([0, MAX_TIMER_MS], DEFAULT_BUSINESS_POLL_MS),
  },
  atMostOneOf(['token', 'tokenEnv', 'tokenFile']),
);

export const LOG_SCHEMA = mapping({ level: choice(LOG_LEVELS, DEFAULT_LOG_LEVEL) });

export const SHUTDOWN_SCHEMA = mapping({
  graceMs: integer(SHUTDOWN_GRACE_RANGE, DEFAULT_SHUTDOWN_GRACE_MS),
});

/** The core sections, by top-level key. */
export const CORE_SCHEMAS = Object.freeze({
  routers: { type: ['array', 'null'], items: ROUTER_SCHEMA, default: [] },
  users: { type: ['array', 'null'], items: USER_SCHEMA, default: [] },
  limits: LIMITS_SCHEMA,
  monitoring: MONITORING_SCHEMA,
  log: LOG_SCHEMA,
  shutdown: SHUTDOWN_SCHEMA,
} satisfies Record<string, JsonSchema>);
