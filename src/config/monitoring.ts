import type { Checker, Mapping } from './checker.js';
import { joinPath } from './env.js';
import {
  ConfigWarningCode,
  DEFAULT_BUSINESS_POLL_MS,
  DEFAULT_MONITORING,
  MAX_TIMER_MS,
  OPEN_ENDPOINTS,
  type MonitoringConfig,
  type OpenEndpoint,
} from './schema.js';

const PATH = 'monitoring';
const KEYS = [
  'enabled',
  'host',
  'port',
  'token',
  'tokenEnv',
  'tokenFile',
  'requireTokenFor',
  'readiness',
  'businessPollMs',
];
const TOKEN_KEYS = ['token', 'tokenEnv', 'tokenFile'] as const;

/** Shorter tokens are refused: the admin port can change the configuration. */
const MIN_MONITORING_TOKEN_LENGTH = 16;

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The `monitoring` section: the admin port's address, its token and what
 * the token guards. The optional keys appear in the result only when they
 * differ from their defaults, so a configuration that leaves them out (or
 * writes the defaults) reads exactly as before they existed.
 */
export function checkMonitoring(
  c: Checker,
  raw: unknown,
  env: NodeJS.ProcessEnv,
): MonitoringConfig {
  const node = c.mapping(raw, PATH, KEYS);
  if (node === undefined) return DEFAULT_MONITORING;
  const d = DEFAULT_MONITORING;
  const out: Writable<MonitoringConfig> = {
    host: c.string(node, PATH, 'host', d.host) ?? d.host,
    port: c.integer(node, PATH, 'port', 0, 65535, d.port) ?? d.port,
  };
  const token = checkToken(c, node, env);
  if (token !== undefined) Object.assign(out, token);
  const requireTokenFor = checkOpenEndpoints(c, node);
  if (requireTokenFor.length > 0) out.requireTokenFor = requireTokenFor;
  const readinessPath = joinPath(PATH, 'readiness');
  const readiness = c.mapping(node['readiness'], readinessPath, ['requireRouter']) ?? {};
  if (c.boolean(readiness, readinessPath, 'requireRouter', false) === true) {
    out.readiness = { requireRouter: true };
  }
  const poll = DEFAULT_BUSINESS_POLL_MS;
  const businessPollMs = c.integer(node, PATH, 'businessPollMs', 0, MAX_TIMER_MS, poll) ?? poll;
  if (businessPollMs !== poll) out.businessPollMs = businessPollMs;
  if (c.boolean(node, PATH, 'enabled', true) === false) out.enabled = false;
  return out;
}

/** The one token source set, resolved; `MONITORING_TOKEN` wins over the file's. */
function checkToken(
  c: Checker,
  node: Mapping,
  env: NodeJS.ProcessEnv,
): Pick<MonitoringConfig, 'token' | 'tokenEnv' | 'tokenFile'> | undefined {
  const fromEnv = c.isFromEnv(joinPath(PATH, 'token'));
  const sources = fromEnv
    ? (['token'] as const)
    : TOKEN_KEYS.filter((key) => node[key] !== undefined && node[key] !== null);
  if (sources.length > 1) {
    c.problem(PATH, `must set only one of ${TOKEN_KEYS.join(', ')}`);
    return undefined;
  }
  const key = sources[0];
  if (key === undefined) return undefined;
  const at = joinPath(PATH, key);
  let token: string | undefined;
  if (key === 'token') {
    token = c.string(node, PATH, key);
    if (token !== undefined && !fromEnv) {
      c.warn(
        ConfigWarningCode.InlinePassword,
        at,
        'is a plaintext token in the configuration; prefer MONITORING_TOKEN, tokenEnv or tokenFile',
      );
    }
  } else if (key === 'tokenEnv') {
    const name = c.string(node, PATH, key);
    if (name === undefined) return undefined;
    token = env[name];
    if (token === undefined || token === '') {
      c.problem(at, `names the environment variable ${name}, which is not set or is empty`);
      return undefined;
    }
  } else {
    token = c.file(node, PATH, key)?.content.replace(/\r?\n$/, '');
  }
  if (token === undefined) return undefined;
  if (token.length < MIN_MONITORING_TOKEN_LENGTH) {
    c.problem(at, `must hold a token of at least ${MIN_MONITORING_TOKEN_LENGTH} characters`);
    return undefined;
  }
  return key === 'token' ? { token } : { token, [key]: node[key] as string };
}

function checkOpenEndpoints(c: Checker, node: Mapping): OpenEndpoint[] {
  const names = c.stringList(node, PATH, 'requireTokenFor', []);
  if (names.some((n) => !(OPEN_ENDPOINTS as readonly string[]).includes(n))) {
    c.problem(joinPath(PATH, 'requireTokenFor'), `must list only ${OPEN_ENDPOINTS.join(', ')}`);
    return [];
  }
  return names as OpenEndpoint[];
}
