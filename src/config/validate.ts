import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { createConfigError } from './config-error.js';
import { applyEnvironment, joinPath } from './env.js';
import {
  ConfigWarningCode,
  DEFAULT_LIMITS,
  DEFAULT_LISTEN,
  DEFAULT_LOG_LEVEL,
  DEFAULT_POOL,
  DEFAULT_ROUTER,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_TLS_LISTEN,
  DEFAULT_TLS_PORT,
  EMPTY_REPLIES_MODES,
  KEEPALIVE_REPLIES,
  LIMIT_RANGES,
  LOG_LEVELS,
  POOL_RANGES,
  PORT_RANGES,
  ROUTER_NAME_PATTERN,
  ROUTER_SESSIONS_WARN_ABOVE,
  ROUTER_TIMEOUT_RANGE,
  SHUTDOWN_GRACE_RANGE,
  TLS_VERSIONS,
  UPSTREAM_TLS_MODES,
  type IntegerRange,
  type LimitsConfig,
  type ListenConfig,
  type LoadedConfig,
  type PoolConfig,
  type ResolvedUser,
  type RouterConfig,
  type TlsListenConfig,
} from './schema.js';
import { checkMonitoring } from './monitoring.js';
import { isPasswordHash } from './secrets.js';
import { Checker, type Mapping, type SecretFiles } from './checker.js';
import {
  CORE_SCHEMAS,
  LIMITS_SCHEMA,
  LISTEN_SCHEMA,
  LOG_SCHEMA,
  POOL_SCHEMA,
  ROUTER_SCHEMA,
  SHUTDOWN_SCHEMA,
  TLS_SCHEMA,
  USER_SCHEMA,
  type MappingSchema,
} from './core-json-schema.js';
import { SECTIONS, checkSections } from './sections.js';

export type { SecretFiles } from './checker.js';

/** The keys a section may have: those its JSON Schema declares. */
const keysOf = (schema: MappingSchema): string[] => Object.keys(schema.properties);

const TOP_KEYS = [...Object.keys(CORE_SCHEMAS), ...Object.keys(SECTIONS)];
const ROUTER_SECRET_KEYS = ['password', 'passwordEnv', 'passwordFile'] as const;
const USER_SECRET_KEYS = ['passwordHash', 'password', 'passwordEnv', 'passwordFile'] as const;

function setKeys<K extends string>(node: Mapping, keys: readonly K[]): K[] {
  return keys.filter((key) => node[key] !== undefined && node[key] !== null);
}

/** An integer key in its range; undefined (and a problem) when invalid. */
function integer(
  c: Checker,
  node: Mapping,
  path: string,
  key: string,
  [min, max]: IntegerRange,
  fallback: number,
): number | undefined {
  return c.integer(node, path, key, min, max, fallback);
}

/** Every key of `ranges` that is valid (its default when absent); invalid keys are left out. */
function integers<K extends string>(
  c: Checker,
  node: Mapping,
  path: string,
  ranges: Readonly<Record<K, IntegerRange>>,
  defaults: Readonly<Record<NoInfer<K>, number>>,
): Partial<Record<K, number>> {
  const valid: Partial<Record<K, number>> = {};
  for (const key of Object.keys(ranges) as K[]) {
    const value = integer(c, node, path, key, ranges[key], defaults[key]);
    if (value !== undefined) valid[key] = value;
  }
  return valid;
}

function checkPool(c: Checker, raw: unknown, path: string): PoolConfig {
  const node = c.mapping(raw, path, keysOf(POOL_SCHEMA));
  if (node === undefined) return DEFAULT_POOL;
  const pool = integers(c, node, path, POOL_RANGES, DEFAULT_POOL);
  const at = (key: keyof PoolConfig) => joinPath(path, key);
  c.atLeast(pool.max, at('max'), pool.min, at('min'));
  if (pool.max !== undefined && pool.max > ROUTER_SESSIONS_WARN_ABOVE) {
    c.warn(
      ConfigWarningCode.PoolAboveRouterSessions,
      at('max'),
      `is ${pool.max}: RouterOS allows 20 API sessions by default (/ip service api max-sessions), and one should stay free for administration`,
    );
  }
  c.atLeast(
    pool.reconnectMaxDelayMs,
    at('reconnectMaxDelayMs'),
    pool.reconnectInitialDelayMs,
    at('reconnectInitialDelayMs'),
  );
  return { ...DEFAULT_POOL, ...pool };
}

function checkListen(c: Checker, raw: unknown, path: string, fallback: ListenConfig): ListenConfig {
  const node = c.mapping(raw, path, keysOf(LISTEN_SCHEMA));
  if (node === undefined) return fallback;
  return {
    host: c.string(node, path, 'host', fallback.host) ?? fallback.host,
    port: integer(c, node, path, 'port', PORT_RANGES.listen, fallback.port) ?? fallback.port,
  };
}

/** A PEM certificate file; the first certificate in it is parsed to prove it is one. */
function certificateFile(c: Checker, node: Mapping, path: string, key: string) {
  const file = c.file(node, path, key);
  if (file === undefined) return undefined;
  try {
    return { pem: Buffer.from(file.content), x509: new X509Certificate(file.content) };
  } catch {
    c.problem(joinPath(path, key), `is not a PEM certificate: ${file.name}`);
    return undefined;
  }
}

/** A PEM private key file. The key's own parse error is not repeated: it could quote the key. */
function privateKeyFile(c: Checker, node: Mapping, path: string, key: string) {
  const file = c.file(node, path, key);
  if (file === undefined) return undefined;
  try {
    return { pem: Buffer.from(file.content), key: createPrivateKey(file.content) as KeyObject };
  } catch {
    c.problem(joinPath(path, key), `is not a PEM private key: ${file.name}`);
    return undefined;
  }
}

function checkTls(
  c: Checker,
  raw: unknown,
  path: string,
  listen: ListenConfig,
): TlsListenConfig | undefined {
  // Off unless set: `tls:` with nothing under it is off too.
  if (raw === undefined || raw === null) return undefined;
  const node = c.mapping(raw, path, keysOf(TLS_SCHEMA));
  if (node === undefined) return undefined;
  const d = DEFAULT_TLS_LISTEN;
  const files = setKeys(node, ['certFile', 'keyFile'] as const);
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  if (files.length === 1) {
    c.problem(path, 'must set both certFile and keyFile, or neither');
  } else if (files.length === 2) {
    const certificate = certificateFile(c, node, path, 'certFile');
    const privateKey = privateKeyFile(c, node, path, 'keyFile');
    if (certificate !== undefined && privateKey !== undefined) {
      if (certificate.x509.checkPrivateKey(privateKey.key)) {
        cert = certificate.pem;
        key = privateKey.pem;
      } else {
        c.problem(
          joinPath(path, 'keyFile'),
          `does not match ${c.label(joinPath(path, 'certFile'))}`,
        );
      }
    }
  }
  const hasCertificate = files.length === 2;
  const allowAnonymous = c.boolean(node, path, 'allowAnonymous', !hasCertificate);
  const minVersion = c.choice(node, path, 'minVersion', TLS_VERSIONS, d.minVersion);
  if (allowAnonymous === false && !hasCertificate) {
    c.problem(
      joinPath(path, 'allowAnonymous'),
      'must be true without certFile and keyFile (a TLS listener needs a certificate or anonymous suites)',
    );
  }
  if (allowAnonymous === true && minVersion !== 'TLSv1.2') {
    c.problem(
      joinPath(path, 'minVersion'),
      'must be TLSv1.2 when allowAnonymous is true (TLS 1.3 has no anonymous suites)',
    );
  }
  const config: { -readonly [K in keyof TlsListenConfig]: TlsListenConfig[K] } = {
    host: c.string(node, path, 'host', listen.host) ?? listen.host,
    port: integer(c, node, path, 'port', PORT_RANGES.listen, d.port) ?? d.port,
    allowAnonymous: allowAnonymous ?? !hasCertificate,
    minVersion,
  };
  if (cert !== undefined && key !== undefined) {
    config.certFile = node['certFile'] as string;
    config.keyFile = node['keyFile'] as string;
    config.cert = cert;
    config.key = key;
  }
  return config;
}

function checkRouter(c: Checker, raw: unknown, path: string): RouterConfig | undefined {
  const node = c.mapping(raw, path, keysOf(ROUTER_SCHEMA), false);
  if (node === undefined) return undefined;
  const d = DEFAULT_ROUTER;
  const name = c.string(node, path, 'name', d.name);
  if (name !== undefined && !ROUTER_NAME_PATTERN.test(name)) {
    c.problem(joinPath(path, 'name'), 'must match [a-zA-Z0-9_.-]+');
  }
  const sources = setKeys(node, ROUTER_SECRET_KEYS);
  let password = '';
  if (sources.length > 1) {
    c.problem(path, `must set only one of ${ROUTER_SECRET_KEYS.join(', ')}`);
  } else if (sources[0] !== undefined) {
    password = c.secret(node, path, sources[0]) ?? '';
  } else {
    c.warn(
      ConfigWarningCode.EmptyRouterPassword,
      path,
      'has no password (set MIKROTIK_PASSWORD, password, passwordEnv or passwordFile)',
    );
  }
  const upstreamTls = c.choice(node, path, 'upstreamTls', UPSTREAM_TLS_MODES, d.upstreamTls);
  if (upstreamTls === 'insecure' || upstreamTls === 'anonymous') {
    c.warn(
      ConfigWarningCode.UpstreamTlsUnverified,
      joinPath(path, 'upstreamTls'),
      upstreamTls === 'insecure'
        ? "is insecure: the router's certificate is not checked; prefer verify with upstreamCaFile"
        : "is anonymous: the router's identity cannot be checked; give it a certificate and use verify where you can",
    );
  }
  const defaultPort = upstreamTls === 'off' ? d.port : DEFAULT_TLS_PORT;
  const listen = checkListen(c, node['listen'], joinPath(path, 'listen'), DEFAULT_LISTEN);
  const router: { -readonly [K in keyof RouterConfig]: RouterConfig[K] } = {
    name: name ?? d.name,
    host: c.string(node, path, 'host') ?? '',
    port: integer(c, node, path, 'port', PORT_RANGES.router, defaultPort) ?? defaultPort,
    upstreamTls,
    username: c.string(node, path, 'username', d.username) ?? d.username,
    password,
    timeoutMs:
      integer(c, node, path, 'timeoutMs', ROUTER_TIMEOUT_RANGE, d.timeoutMs) ?? d.timeoutMs,
    listen,
    pool: checkPool(c, node['pool'], joinPath(path, 'pool')),
    emptyReplies: c.choice(node, path, 'emptyReplies', EMPTY_REPLIES_MODES, d.emptyReplies),
  };
  const tls = checkTls(c, node['tls'], joinPath(path, 'tls'), listen);
  if (tls !== undefined) router.tls = tls;
  if (node['upstreamCaFile'] !== undefined && node['upstreamCaFile'] !== null) {
    if (upstreamTls !== 'verify') {
      c.problem(joinPath(path, 'upstreamCaFile'), 'is only used with upstreamTls: verify');
    } else {
      const ca = certificateFile(c, node, path, 'upstreamCaFile');
      if (ca !== undefined) {
        router.upstreamCaFile = node['upstreamCaFile'] as string;
        router.upstreamCa = ca.pem;
      }
    }
  }
  return router;
}

function checkUser(c: Checker, raw: unknown, path: string, routerNames: ReadonlySet<string>) {
  const node = c.mapping(raw, path, keysOf(USER_SCHEMA), false);
  if (node === undefined) return undefined;
  const name = c.string(node, path, 'name');
  const sources = setKeys(node, USER_SECRET_KEYS);
  const user: { -readonly [K in keyof ResolvedUser]: ResolvedUser[K] } = { name: name ?? '' };
  if (sources.length !== 1) {
    c.problem(path, `must set exactly one of ${USER_SECRET_KEYS.join(', ')}`);
  } else if (sources[0] === 'passwordHash') {
    const hash = c.string(node, path, 'passwordHash');
    if (hash !== undefined && !isPasswordHash(hash)) {
      c.problem(
        joinPath(path, 'passwordHash'),
        'must be a hash from hashPassword(): scrypt$N$r$p$salt$hash',
      );
    } else if (hash !== undefined) {
      user.passwordHash = hash;
    }
  } else {
    const source = sources[0] as 'password' | 'passwordEnv' | 'passwordFile';
    const secret = c.secret(node, path, source);
    if (secret !== undefined) {
      user.secret = Buffer.from(secret, 'utf8');
      // The name of a variable or file is a reference, not a secret: keep it.
      if (source !== 'password') user[source] = node[source] as string;
    }
  }
  const routers = node['routers'];
  if (routers !== undefined && routers !== null) {
    const at = joinPath(path, 'routers');
    if (!Array.isArray(routers) || routers.some((r) => typeof r !== 'string')) {
      c.problem(at, 'must be a list of router names');
    } else {
      routers.forEach((r: string, i) => {
        if (!routerNames.has(r)) c.problem(`${at}[${i}]`, 'is not the name of a configured router');
      });
      user.routers = [...(routers as string[])];
    }
  }
  return user;
}

function checkLimits(c: Checker, raw: unknown): LimitsConfig {
  const node = c.mapping(raw, 'limits', keysOf(LIMITS_SCHEMA));
  if (node === undefined) return DEFAULT_LIMITS;
  const d = DEFAULT_LIMITS;
  return {
    ...d,
    ...integers(c, node, 'limits', LIMIT_RANGES, d),
    keepaliveReply: c.choice(node, 'limits', 'keepaliveReply', KEEPALIVE_REPLIES, d.keepaliveReply),
  };
}

/** Reports the second and later uses of the same value. */
function checkUnique<T>(
  c: Checker,
  items: readonly (T | undefined)[],
  key: (item: T) => unknown,
  path: (i: number) => string,
  skip?: unknown,
) {
  const seen = new Map<unknown, number>();
  items.forEach((item, i) => {
    if (item === undefined) return;
    const value = key(item);
    if (value === skip) return;
    const first = seen.get(value);
    if (first === undefined) seen.set(value, i);
    else c.problem(path(i), `is duplicated (first at ${c.label(path(first))})`);
  });
}

interface ListenPort {
  readonly port: number;
  /** Its config path, as `routers[1].tls.port`. */
  readonly path: string;
}

/** Every port rosgate listens on for clients, plain and TLS, in config order. */
function listenPorts(routers: readonly (RouterConfig | undefined)[]): ListenPort[] {
  return routers.flatMap((r, i) => {
    if (r === undefined) return [];
    const plain = { port: r.listen.port, path: `routers[${i}].listen.port` };
    return r.tls === undefined
      ? [plain]
      : [plain, { port: r.tls.port, path: `routers[${i}].tls.port` }];
  });
}

/**
 * Validates a parsed configuration (a YAML document, or a plain object) with
 * `env` applied over it, and resolves secrets. Pure: `passwordEnv` is read
 * from `env`, and `passwordFile` contents come from `secretFiles` (which
 * `loadConfig()` reads). Throws one `RosgateError` (`ROSGATE_CONFIG`) that
 * lists every problem; messages never contain a configured value.
 */
export function validateConfig(
  raw: unknown,
  env: NodeJS.ProcessEnv = {},
  secretFiles: SecretFiles = new Map(),
): LoadedConfig {
  const overlay = applyEnvironment(raw, env);
  const c = new Checker(overlay.origins, env, secretFiles);
  for (const i of overlay.ignored)
    c.warn(ConfigWarningCode.IgnoredVariable, i.variable, `is ignored (${i.reason})`);
  const root = c.mapping(overlay.raw, '', TOP_KEYS);
  if (root === undefined) throw createConfigError(['the configuration must be a mapping']);

  const rawRouters = c.list(root, '', 'routers') ?? [];
  const routerResults = rawRouters.map((r, i) => checkRouter(c, r, `routers[${i}]`));
  const routers = routerResults.filter((r) => r !== undefined);
  checkUnique(
    c,
    routerResults,
    (r) => r.name,
    (i) => `routers[${i}].name`,
  );
  const ports = listenPorts(routerResults);
  checkUnique(
    c,
    ports,
    (p) => p.port,
    (i) => (ports[i] as ListenPort).path,
    0,
  );

  const routerNames = new Set(routers.map((r) => r.name));
  const userResults = (c.list(root, '', 'users') ?? []).map((u, i) =>
    checkUser(c, u, `users[${i}]`, routerNames),
  );
  checkUnique(
    c,
    userResults,
    (u) => u.name,
    (i) => `users[${i}].name`,
    '',
  );

  const monitoring = checkMonitoring(c, root['monitoring'], env);
  const clash = ports.find((p) => p.port === monitoring.port && monitoring.port !== 0);
  if (clash !== undefined)
    c.problem('monitoring.port', `is already used by ${c.label(clash.path)}`);

  // An invalid section is reported once; its settings fall back to defaults.
  const logNode = c.mapping(root['log'], 'log', keysOf(LOG_SCHEMA)) ?? {};
  const shutdownNode = c.mapping(root['shutdown'], 'shutdown', keysOf(SHUTDOWN_SCHEMA)) ?? {};
  const graceMs = integer(
    c,
    shutdownNode,
    'shutdown',
    'graceMs',
    SHUTDOWN_GRACE_RANGE,
    DEFAULT_SHUTDOWN_GRACE_MS,
  );
  const config = {
    routers,
    users: userResults.filter((u) => u !== undefined),
    limits: checkLimits(c, root['limits']),
    monitoring,
    log: { level: c.choice(logNode, 'log', 'level', LOG_LEVELS, DEFAULT_LOG_LEVEL) },
    shutdown: { graceMs: graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS },
    ...checkSections(c, root),
  };
  if (rawRouters.length === 0) {
    c.warn(
      ConfigWarningCode.NoRouters,
      'routers',
      'is empty: set MIKROTIK_HOST, or add a router under routers: in the config file',
    );
  }
  if (c.problems.length > 0) throw createConfigError(c.problems);
  return { config, warnings: c.warnings };
}
