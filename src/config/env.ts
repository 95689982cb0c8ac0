/**
 * Environment variables that override the configuration file. Router
 * variables apply to the first router; when the file has no router and
 * `MIKROTIK_HOST` is set, they create one named `default`. An empty variable
 * counts as unset (`FOO=` in a compose file).
 */

import { sectionEnvVariables, type EnvType } from './sections.js';

/** Environment variables for the first router, and the router key each sets. */
export const ROUTER_ENV_VARIABLES = Object.freeze({
  MIKROTIK_HOST: ['host'],
  MIKROTIK_PORT: ['port'],
  MIKROTIK_USERNAME: ['username'],
  MIKROTIK_PASSWORD: ['password'],
  MIKROTIK_TIMEOUT: ['timeoutMs'],
  /** `off`, `verify`, `insecure` or `anonymous`: how rosgate connects to the router. */
  MIKROTIK_TLS: ['upstreamTls'],
  PROXY_HOST: ['listen', 'host'],
  PROXY_PORT: ['listen', 'port'],
  /** Turns on the TLS (api-ssl) listener on this port. */
  PROXY_TLS_PORT: ['tls', 'port'],
  MIN_CONNECTIONS: ['pool', 'min'],
  MAX_CONNECTIONS: ['pool', 'max'],
  ACQUIRE_TIMEOUT: ['pool', 'acquireTimeoutMs'],
  IDLE_TIMEOUT: ['pool', 'idleTimeoutMs'],
  HEALTH_CHECK_INTERVAL: ['pool', 'healthCheckIntervalMs'],
} as const satisfies Record<string, readonly string[]>);

/** Environment variables for global settings, and the key each sets. */
export const GLOBAL_ENV_VARIABLES = Object.freeze({
  MONITORING_PORT: ['monitoring', 'port'],
  /** The admin port's bearer token; wins over `monitoring.token`, `tokenEnv` and `tokenFile`. */
  MONITORING_TOKEN: ['monitoring', 'token'],
  LOG_LEVEL: ['log', 'level'],
} as const satisfies Record<string, readonly string[]>);

/**
 * Variables of the MikroTik proxy guide whose setting rosgate has under
 * another name: each sets these keys (from the root). Applied before every
 * other variable, so rosgate's own name for a key wins when both are set
 * (and the guide's is then named in a warning).
 */
export const GUIDE_ENV_VARIABLES = Object.freeze({
  /** The guide's request queue is the flow stage's one queue (as MAX_RATE_LIMIT_QUEUE). */
  REQUEST_QUEUE_MAX_SIZE: { keys: [['flow', 'rateLimit', 'maxQueue']], type: 'number' },
  /** Idle logged-in clients are closed after this many ms. */
  SESSION_TIMEOUT: { keys: [['limits', 'clientIdleTimeoutMs']], type: 'number' },
  /** The policy's input rules on or off. */
  ENABLE_VALIDATION: { keys: [['policy', 'input', 'enabled']], type: 'boolean' },
  /** true: the XSS, SQL-injection and script-syntax checks refuse instead of flagging. */
  STRICT_VALIDATION: {
    keys: [
      ['policy', 'xss', 'mode'],
      ['policy', 'sqlInjection', 'mode'],
      ['policy', 'scriptSyntaxInData'],
    ],
    type: 'boolean',
    values: ['monitor', 'enforce'],
  },
  /** false: no admin port. */
  ENABLE_MONITORING: { keys: [['monitoring', 'enabled']], type: 'boolean' },
  /** How often rosgate counts active users itself, ms. */
  METRICS_COLLECTION_INTERVAL: { keys: [['monitoring', 'businessPollMs']], type: 'number' },
  /** false (wins over the interval): rosgate counts active users only from what clients print. */
  ENABLE_BUSINESS_METRICS: {
    keys: [['monitoring', 'businessPollMs']],
    type: 'boolean',
    values: [0, undefined],
  },
  /** A command with no reply for this many ms is cancelled and refused. */
  REQUEST_TIMEOUT: { keys: [['flow', 'commandIdleTimeoutMs']], type: 'number' },
  /** How long a graceful stop waits, ms. */
  SHUTDOWN_TIMEOUT: { keys: [['shutdown', 'graceMs']], type: 'number' },
} as const satisfies Record<string, GuideBinding>);

/** How a guide variable maps onto rosgate's keys. */
interface GuideBinding {
  readonly keys: readonly (readonly string[])[];
  readonly type: EnvType;
  /** A boolean's value for false and for true; undefined leaves the keys alone. */
  readonly values?: readonly [whenFalse: unknown, whenTrue: unknown];
}

/**
 * Variables of the guide that mean nothing in rosgate, and why: setting one
 * logs one warning at start, `NAME is ignored (why)`.
 */
export const GUIDE_IGNORED_VARIABLES: Readonly<Record<string, string>> = Object.freeze({
  PORT: "the guide's HTTP API port: rosgate speaks the RouterOS API on PROXY_PORT, HTTP on MONITORING_PORT",
  JWT_SECRET: "tokens of the guide's HTTP API: rosgate clients log in with RouterOS accounts",
  API_KEY: "the guide's HTTP API key: the admin port takes MONITORING_TOKEN",
  CORS_ORIGIN: "browsers calling the guide's HTTP API: rosgate has none",
  ENABLE_COMPRESSION: "the guide's HTTP answers: the RouterOS API is not compressed",
  LOG_FILE: 'rosgate writes JSON lines to stdout: redirect or collect them',
  METRICS_PREFIX: "series keep the guide's names (mikrotik_*) and rosgate's (rosgate_*)",
  ENABLE_HEALTH_CHECKS: 'router sessions are always checked, every HEALTH_CHECK_INTERVAL ms',
  ALERT_WEBHOOK_URL: 'alerting is left to Prometheus: the Helm chart ships the rules',
});

/** Variables whose value is a number; the rest are taken as strings. */
const NUMERIC = new Set([
  'MIKROTIK_PORT',
  'MIKROTIK_TIMEOUT',
  'PROXY_PORT',
  'PROXY_TLS_PORT',
  'MIN_CONNECTIONS',
  'MAX_CONNECTIONS',
  'ACQUIRE_TIMEOUT',
  'IDLE_TIMEOUT',
  'HEALTH_CHECK_INTERVAL',
  'MONITORING_PORT',
]);

/** Boolean variables accept these spellings (any case). */
const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

/**
 * A section variable's text as its type; text that does not fit stays a
 * string so validation names the variable and the rule.
 */
function typedValue(type: EnvType, value: string): unknown {
  const trimmed = value.trim();
  if (type === 'number') return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : value;
  if (type === 'boolean') {
    const word = trimmed.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
  }
  return value;
}

/** The raw configuration with the environment applied. */
export interface EnvOverlay {
  readonly raw: unknown;
  /** Config path (`routers[0].port`) -> the variable that set it, for messages. */
  readonly origins: ReadonlyMap<string, string>;
  /** Guide variables that were set and had no effect: the variable and why. */
  readonly ignored: readonly { readonly variable: string; readonly reason: string }[];
}

type Mapping = Record<string, unknown>;

/** `routers[0]` + `pool` -> `routers[0].pool`; the root path is ''. */
export function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An integer-looking value becomes a number; anything else stays a string so
 * validation rejects it with the variable's name.
 */
function envValue(name: string, value: string): unknown {
  if (!NUMERIC.has(name)) return value;
  const trimmed = value.trim();
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : value;
}

function set(
  target: Mapping,
  keys: readonly string[],
  value: unknown,
  path: string,
  name: string,
  origins: Map<string, string>,
): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const child = node[key] ?? {};
    // A non-mapping here is reported by validation; the variable cannot apply.
    if (!isMapping(child)) return;
    node[key] = child;
    node = child;
    path = joinPath(path, key);
  }
  const last = keys[keys.length - 1] as string;
  node[last] = value;
  origins.set(joinPath(path, last), name);
}

/**
 * Applies `env` over `raw` (a parsed YAML document) without changing `raw`.
 * Values are not validated here; `origins` lets validation name the variable.
 */
export function applyEnvironment(raw: unknown, env: NodeJS.ProcessEnv): EnvOverlay {
  const origins = new Map<string, string>();
  const ignored: { variable: string; reason: string }[] = [];
  if (raw === undefined || raw === null) raw = {};
  if (!isMapping(raw)) return { raw, origins, ignored };
  const root: Mapping = structuredClone(raw);
  const given = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };

  /** [config path, guide variable] of each key a guide variable set. */
  const guideSet: [string, string][] = [];
  for (const [name, binding] of Object.entries(GUIDE_ENV_VARIABLES) as [string, GuideBinding][]) {
    const text = given(name);
    if (text === undefined) continue;
    let value = typedValue(binding.type, text);
    if (binding.values !== undefined && typeof value === 'boolean') {
      value = binding.values[value ? 1 : 0];
      if (value === undefined) continue;
    }
    for (const keys of binding.keys) {
      set(root, keys, value, '', name, origins);
      guideSet.push([keys.join('.'), name]);
    }
  }
  for (const [name, reason] of Object.entries(GUIDE_IGNORED_VARIABLES)) {
    if (given(name) !== undefined) ignored.push({ variable: name, reason });
  }

  for (const [name, keys] of Object.entries(GLOBAL_ENV_VARIABLES)) {
    const value = given(name);
    if (value !== undefined) set(root, keys, envValue(name, value), '', name, origins);
  }

  for (const [name, binding] of sectionEnvVariables()) {
    const value = given(name);
    if (value !== undefined)
      set(root, binding.keys, typedValue(binding.type, value), '', name, origins);
  }

  // A guide variable whose key another variable set after it had no effect.
  for (const [path, name] of guideSet) {
    const winner = origins.get(path);
    if (winner !== undefined && winner !== name)
      ignored.push({ variable: name, reason: `${winner} sets the same key` });
  }

  let routers = root['routers'];
  if (
    (routers === undefined ||
      routers === null ||
      (Array.isArray(routers) && routers.length === 0)) &&
    given('MIKROTIK_HOST') !== undefined
  ) {
    routers = [{}];
    root['routers'] = routers;
  }
  const first: unknown = Array.isArray(routers) ? routers[0] : undefined;
  if (!isMapping(first)) return { raw: root, origins, ignored };
  for (const [name, keys] of Object.entries(ROUTER_ENV_VARIABLES)) {
    const value = given(name);
    if (value === undefined) continue;
    set(first, keys, envValue(name, value), 'routers[0]', name, origins);
    if (name === 'MIKROTIK_PASSWORD') {
      // The environment beats the file, whichever way the file gave the password.
      delete first['passwordEnv'];
      delete first['passwordFile'];
    }
  }
  return { raw: root, origins, ignored };
}
