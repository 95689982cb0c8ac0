/**
 * Validation of a whole configuration: the schema checks every key (types,
 * ranges, known keys, rules within a mapping); this file adds what only
 * loading can tell (secrets from the environment and files, PEM files that
 * must parse, names and ports unique across routers) and the warnings.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { z } from 'zod';
import { encodeText } from '../protocol/code-pages.js';
import { ENV_BINDINGS } from './catalog.js';
import { createConfigError } from './config-error.js';
import { applyEnvironment, isMapping } from './env.js';
import {
  ConfigWarningCode,
  DEFAULT_PORT,
  DEFAULT_TLS_PORT,
  ROUTER_SECRET_KEYS,
  ROUTER_SESSIONS_WARN_ABOVE,
  configSchema,
  routerSchema,
  userSchema,
  MIN_MONITORING_TOKEN_LENGTH,
  TOKEN_RULE,
  type ConfigWarning,
  type LoadedConfig,
  DEFAULT_BUSINESS_POLL_MS,
  type MonitoringConfig,
  type ResolvedUser,
  type RosgateConfig,
  type RouterConfig,
  type TlsListenConfig,
} from './schema.js';
import { isPasswordHash } from './secrets.js';
import { SHARED_SOURCE_KEYS, type SharedConfig } from './shared.js';
import { parseSetting, unknownKey, type Origins } from './wording.js';

/**
 * Contents of the files the config names (`passwordFile`, `tls.certFile`,
 * `tls.keyFile`, `upstreamCaFile`, `monitoring.tokenFile`), keyed by the
 * path as written in the config; an Error when the file could not be read.
 */
export type SecretFiles = ReadonlyMap<string, string | Error>;

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Problems and warnings of one validation, each named by its path or its variable. */
class Report {
  readonly problems: string[] = [];
  readonly warnings: ConfigWarning[] = [];
  constructor(
    readonly origins: Origins,
    readonly env: NodeJS.ProcessEnv,
    readonly files: SecretFiles,
  ) {}

  label(path: string): string {
    return this.origins.get(path) ?? path;
  }

  problem(path: string, rule: string): void {
    this.problems.push(`${this.label(path)} ${rule}`);
  }

  warn(code: ConfigWarningCode, path: string, message: string): void {
    const at = this.label(path);
    this.warnings.push({ code, path: at, message: `${at} ${message}` });
  }

  /** The contents of a file the config names; undefined (and a problem) when unreadable. */
  file(path: string, name: string): string | undefined {
    const content = this.files.get(name);
    if (typeof content === 'string') return content;
    // Absent: the caller did not read it, as when validating without I/O.
    const reason =
      content === undefined ? 'ENOENT' : ((content as NodeJS.ErrnoException).code ?? 'error');
    this.problem(path, `cannot be read: ${name} (${reason})`);
    return undefined;
  }

  /** A secret read from the environment variable a key names. */
  fromEnv(path: string, name: string): string | undefined {
    const value = this.envSecret(path, this.env[name] ?? '');
    if (value !== '') return value;
    this.problem(path, `names the environment variable ${name}, which is not set or is empty`);
    return undefined;
  }

  /**
   * A secret an environment variable gave, one trailing newline dropped as
   * from a file (and said): a Kubernetes Secret made from a file keeps the
   * file's newline, and no password typed at a prompt ends with one.
   */
  envSecret(path: string, value: string): string {
    const secret = value.replace(/\r?\n$/, '');
    if (secret !== value) {
      this.warn(
        ConfigWarningCode.SecretTrailingNewline,
        path,
        'ends with a newline, which was dropped (a Secret made from a file keeps it)',
      );
    }
    return secret;
  }

  /** A secret read from a file, one trailing newline trimmed. */
  fromFile(path: string, name: string): string | undefined {
    const secret = this.file(path, name)?.replace(/\r?\n$/, '');
    if (secret === '') this.problem(path, `is an empty file: ${name}`);
    return secret === '' ? undefined : secret;
  }

  /** A PEM certificate file; the first certificate in it is parsed to prove it is one. */
  certificate(path: string, name: string) {
    const content = this.file(path, name);
    if (content === undefined) return undefined;
    try {
      return { pem: Buffer.from(content), x509: new X509Certificate(content) };
    } catch {
      this.problem(path, `is not a PEM certificate: ${name}`);
      return undefined;
    }
  }

  /** A PEM private key file. The key's own parse error is not repeated: it could quote the key. */
  privateKey(path: string, name: string) {
    const content = this.file(path, name);
    if (content === undefined) return undefined;
    try {
      return { pem: Buffer.from(content), key: createPrivateKey(content) };
    } catch {
      this.problem(path, `is not a PEM private key: ${name}`);
      return undefined;
    }
  }
}

type RouterFields = z.output<typeof routerSchema>;
type UserFields = z.output<typeof userSchema>;

/** The password a router or user gives in `source`; the inline one is warned about. */
function secretOf(
  r: Report,
  at: string,
  fields: {
    password?: string | undefined;
    passwordEnv?: string | undefined;
    passwordFile?: string | undefined;
  },
): string | undefined {
  if (fields.password !== undefined) {
    const path = `${at}.password`;
    if (r.origins.has(path)) return r.envSecret(path, fields.password);
    r.warn(
      ConfigWarningCode.InlinePassword,
      path,
      'is a plaintext password in the configuration; prefer passwordEnv or passwordFile',
    );
    return fields.password;
  }
  if (fields.passwordEnv !== undefined) return r.fromEnv(`${at}.passwordEnv`, fields.passwordEnv);
  if (fields.passwordFile !== undefined)
    return r.fromFile(`${at}.passwordFile`, fields.passwordFile);
  return undefined;
}

function resolveTls(r: Report, at: string, router: RouterFields): TlsListenConfig | undefined {
  const { tls } = router;
  if (tls === undefined) return undefined;
  const { certFile, keyFile, ...rest } = tls;
  const hasCertificate = certFile !== undefined && keyFile !== undefined;
  const out: Writable<TlsListenConfig> = {
    ...rest,
    host: tls.host ?? router.listen.host,
    allowAnonymous: tls.allowAnonymous ?? !hasCertificate,
  };
  if (!hasCertificate) return out;
  const certificate = r.certificate(`${at}.certFile`, certFile);
  const privateKey = r.privateKey(`${at}.keyFile`, keyFile);
  if (certificate === undefined || privateKey === undefined) return out;
  if (!certificate.x509.checkPrivateKey(privateKey.key)) {
    r.problem(`${at}.keyFile`, `does not match ${r.label(`${at}.certFile`)}`);
    return out;
  }
  return { ...out, certFile, keyFile, cert: certificate.pem, key: privateKey.pem };
}

/**
 * The router's username and password can be written in its `loginEncoding`
 * (a code page lacks most characters). The password's characters are never
 * named: a config error is logged.
 */
function checkLoginEncoding(r: Report, at: string, router: RouterFields, password: string): void {
  const encoding = router.loginEncoding;
  if (encoding === 'utf-8') return;
  const unwritable = [...router.username].filter((c) => encodeText(c, encoding) === undefined);
  if (unwritable.length > 0) {
    r.problem(
      `${at}.username`,
      `has characters ${encoding} (loginEncoding) cannot write: ${[...new Set(unwritable)].join(' ')}`,
    );
  }
  if (encodeText(password, encoding) !== undefined) return;
  // Named by where it came from (one source: the schema allows no more).
  for (const key of ROUTER_SECRET_KEYS.filter((k) => router[k] !== undefined)) {
    r.problem(
      `${at}.${key}`,
      `gives a password with characters ${encoding} (loginEncoding) cannot write: set loginEncoding to the code page the password was set in`,
    );
  }
}

/**
 * A router port that is the other service's default (`api-ssl` 8729
 * without TLS, `api` 8728 with it) is most likely a mix-up: the login then
 * times out with nothing better to say. Warned, since a router may run
 * either service on any port.
 */
function warnPortTls(r: Report, at: string, router: RouterFields): void {
  const isTls = router.upstreamTls !== 'off';
  const other = isTls ? DEFAULT_PORT : DEFAULT_TLS_PORT;
  if (router.port !== other) return;
  r.warn(
    ConfigWarningCode.UpstreamPortTls,
    `${at}.port`,
    isTls
      ? `is ${other}, the router's plain api port, but upstreamTls is ${router.upstreamTls}: use ${DEFAULT_TLS_PORT} (api-ssl), or upstreamTls off (MIKROTIK_TLS)`
      : `is ${other}, the router's api-ssl port, but upstreamTls is off: set upstreamTls (MIKROTIK_TLS) to verify, insecure or anonymous, or use ${DEFAULT_PORT}`,
  );
}

function resolveRouter(r: Report, at: string, router: RouterFields): RouterConfig {
  const {
    password: _p,
    passwordEnv: _e,
    passwordFile: _f,
    tls: _t,
    upstreamCaFile,
    ...rest
  } = router;
  const hasSecret = [_p, _e, _f].some((source) => source !== undefined);
  const password = secretOf(r, at, router) ?? '';
  if (!hasSecret) {
    r.warn(
      ConfigWarningCode.EmptyRouterPassword,
      at,
      'has no password (set MIKROTIK_PASSWORD, password, passwordEnv or passwordFile)',
    );
  }
  if (router.upstreamTls === 'insecure' || router.upstreamTls === 'anonymous') {
    r.warn(
      ConfigWarningCode.UpstreamTlsUnverified,
      `${at}.upstreamTls`,
      router.upstreamTls === 'insecure'
        ? "is insecure: the router's certificate is not checked; prefer verify with upstreamCaFile"
        : "is anonymous: the router's identity cannot be checked; give it a certificate and use verify where you can",
    );
  }
  warnPortTls(r, at, router);
  if (router.pool.max > ROUTER_SESSIONS_WARN_ABOVE) {
    r.warn(
      ConfigWarningCode.PoolAboveRouterSessions,
      `${at}.pool.max`,
      `is ${router.pool.max}: RouterOS allows 20 API sessions by default (/ip service api max-sessions), and one should stay free for administration`,
    );
  }
  checkLoginEncoding(r, at, router, password);
  const out: Writable<RouterConfig> = {
    ...rest,
    port: router.port ?? (router.upstreamTls === 'off' ? DEFAULT_PORT : DEFAULT_TLS_PORT),
    password,
  };
  const tls = resolveTls(r, `${at}.tls`, router);
  if (tls !== undefined) out.tls = tls;
  if (upstreamCaFile !== undefined) {
    const ca = r.certificate(`${at}.upstreamCaFile`, upstreamCaFile);
    if (ca !== undefined) Object.assign(out, { upstreamCaFile, upstreamCa: ca.pem });
  }
  return out;
}

function resolveUser(r: Report, at: string, user: UserFields, routerNames: ReadonlySet<string>) {
  const { password: _inline, ...rest } = user;
  const out: Writable<ResolvedUser> = { name: user.name };
  if (user.passwordHash !== undefined) {
    if (isPasswordHash(user.passwordHash)) out.passwordHash = user.passwordHash;
    else
      r.problem(`${at}.passwordHash`, 'must be a hash from hashPassword(): scrypt$N$r$p$salt$hash');
  } else {
    const secret = secretOf(r, at, user);
    if (secret === undefined) return out;
    out.secret = Buffer.from(secret, 'utf8');
    // The name of a variable or file is a reference, not a secret: keep it.
    if (rest.passwordEnv !== undefined) out.passwordEnv = rest.passwordEnv;
    if (rest.passwordFile !== undefined) out.passwordFile = rest.passwordFile;
  }
  if (user.routers !== undefined) {
    user.routers.forEach((name, i) => {
      if (!routerNames.has(name))
        r.problem(`${at}.routers[${i}]`, 'is not the name of a configured router');
    });
    out.routers = user.routers;
  }
  return out;
}

/** The section with its token read, and the keys at their default left out. */
function resolveMonitoring(r: Report, monitoring: MonitoringConfig): MonitoringConfig {
  const { host, port, token, tokenEnv, tokenFile, requireTokenFor, readiness, businessPollMs } =
    monitoring;
  const { enabled } = monitoring;
  const out: Writable<MonitoringConfig> = { host, port };
  let secret: string | undefined;
  let at = 'monitoring.token';
  if (token !== undefined && r.origins.has(at)) {
    secret = r.envSecret(at, token);
  } else if (token !== undefined) {
    secret = token;
    r.warn(
      ConfigWarningCode.InlinePassword,
      at,
      'is a plaintext token in the configuration; prefer MONITORING_TOKEN, tokenEnv or tokenFile',
    );
  } else if (tokenEnv !== undefined) {
    at = 'monitoring.tokenEnv';
    secret = r.fromEnv(at, tokenEnv);
    out.tokenEnv = tokenEnv;
  } else if (tokenFile !== undefined) {
    at = 'monitoring.tokenFile';
    secret = r.file(at, tokenFile)?.replace(/\r?\n$/, '');
    out.tokenFile = tokenFile;
  }
  if (secret !== undefined && secret.length < MIN_MONITORING_TOKEN_LENGTH) {
    r.problem(at, TOKEN_RULE);
  } else if (secret !== undefined) {
    out.token = secret;
  }
  if (requireTokenFor !== undefined && requireTokenFor.length > 0)
    out.requireTokenFor = requireTokenFor;
  if (readiness?.requireRouter === true) out.readiness = readiness;
  if (businessPollMs !== undefined && businessPollMs !== DEFAULT_BUSINESS_POLL_MS)
    out.businessPollMs = businessPollMs;
  if (enabled === false) out.enabled = false;
  return out;
}

/** The group's Redis passwords, a trailing newline dropped from one the environment gave. */
function resolveShared(r: Report, shared: SharedConfig): SharedConfig {
  const out: Writable<SharedConfig> = { ...shared };
  if (shared.password !== undefined && r.origins.has('shared.password'))
    out.password = r.envSecret('shared.password', shared.password);
  const { sentinel } = shared;
  if (sentinel?.password !== undefined && r.origins.has('shared.sentinel.password')) {
    const password = r.envSecret('shared.sentinel.password', sentinel.password);
    out.sentinel = { ...sentinel, password };
  }
  return out;
}

/** Keys of `shared` that only matter in a group, with no Redis named: each is a warning. */
function warnSharedWithoutRedis(r: Report, shared: SharedConfig | undefined): void {
  if (shared === undefined || SHARED_SOURCE_KEYS.some((key) => shared[key] !== undefined)) return;
  for (const key of ['password', 'prefix', 'strict'] as const) {
    if (shared[key] === undefined) continue;
    r.warn(
      ConfigWarningCode.SharedWithoutRedis,
      `shared.${key}`,
      'is set but nothing is shared: no Redis is named (REDIS_URL, REDIS_SENTINELS with REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES)',
    );
  }
}

/**
 * An unknown top-level key; one named as an environment variable
 * (`MAX_CONNECTIONS: 5` in the file) is told the key it sets there.
 */
function unknownTopKey(key: string, known: readonly string[]): string {
  const binding = ENV_BINDINGS.find((b) => b.name === key);
  if (binding === undefined) return unknownKey(key, key, known);
  const path = binding.keys.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
  return `${key} is not a known key: it is an environment variable; in this file it is ${path.slice(1)}`;
}

/** Reports the second and later uses of the same value. */
function checkUnique(r: Report, items: readonly { value: unknown; path: string }[]) {
  const seen = new Map<unknown, string>();
  for (const { value, path } of items) {
    const first = seen.get(value);
    if (first === undefined) seen.set(value, path);
    else r.problem(path, `is duplicated (first at ${r.label(first)})`);
  }
}

/** Each item of the list at `key` parsed on its own, so one bad item hides nothing of the others. */
function parseList<S extends z.ZodType>(r: Report, raw: unknown, key: string, item: S) {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    r.problem(key, 'must be a list');
    return [];
  }
  return raw.map((value: unknown, i) => {
    const parsed = parseSetting(item, value, [key, i], r.origins);
    r.problems.push(...parsed.problems);
    return parsed;
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
  if (!isMapping(overlay.raw)) throw createConfigError(['the configuration must be a mapping']);
  const root = overlay.raw;
  const r = new Report(overlay.origins, env, secretFiles);
  for (const i of overlay.ignored)
    r.warn(ConfigWarningCode.IgnoredVariable, i.variable, `is ignored (${i.reason})`);
  const shape = configSchema.shape;
  for (const key of Object.keys(root)) {
    if (!Object.hasOwn(shape, key)) r.problems.push(unknownTopKey(key, Object.keys(shape)));
  }

  // An invalid item's secrets and files are still checked (salvaged), but only valid items count.
  const routerFields = parseList(r, root['routers'], 'routers', routerSchema);
  const routers = routerFields.map(({ value, salvaged }, i) => {
    const router = value ?? salvaged;
    const resolved = router === undefined ? undefined : resolveRouter(r, `routers[${i}]`, router);
    return value === undefined ? undefined : resolved;
  });
  checkUnique(
    r,
    routers.flatMap((router, i) =>
      router ? [{ value: router.name, path: `routers[${i}].name` }] : [],
    ),
  );
  const ports = routers.flatMap((router, i) => {
    if (router === undefined) return [];
    const plain = { value: router.listen.port, path: `routers[${i}].listen.port` };
    return router.tls === undefined
      ? [plain]
      : [plain, { value: router.tls.port, path: `routers[${i}].tls.port` }];
  });
  checkUnique(
    r,
    ports.filter((p) => p.value !== 0),
  );

  const valid = routers.filter((router) => router !== undefined);
  const routerNames = new Set(valid.map((router) => router.name));
  const userFields = parseList(r, root['users'], 'users', userSchema);
  const users = userFields.map(({ value, salvaged }, i) => {
    const user = value ?? salvaged;
    const resolved =
      user === undefined ? undefined : resolveUser(r, `users[${i}]`, user, routerNames);
    return value === undefined ? undefined : resolved;
  });
  checkUnique(
    r,
    users.flatMap((user, i) => (user ? [{ value: user.name, path: `users[${i}].name` }] : [])),
  );

  const sections: Record<string, unknown> = {};
  let isMonitoringValid = false;
  for (const key of Object.keys(shape) as (keyof typeof shape)[]) {
    if (key === 'routers' || key === 'users') continue;
    const { value, problems, salvaged } = parseSetting(shape[key], root[key], [key], r.origins);
    r.problems.push(...problems);
    sections[key] = value ?? salvaged;
    if (key === 'monitoring') isMonitoringValid = value !== undefined;
  }
  const monitoring = sections['monitoring'] as MonitoringConfig | undefined;
  if (monitoring !== undefined) sections['monitoring'] = resolveMonitoring(r, monitoring);
  const clash = ports.find(
    (p) => isMonitoringValid && p.value === monitoring?.port && p.value !== 0,
  );
  if (clash !== undefined)
    r.problem('monitoring.port', `is already used by ${r.label(clash.path)}`);
  const shared = sections['shared'] as SharedConfig | undefined;
  if (shared !== undefined) sections['shared'] = resolveShared(r, shared);
  warnSharedWithoutRedis(r, shared);
  if (routerFields.length === 0) {
    r.warn(
      ConfigWarningCode.NoRouters,
      'routers',
      'is empty: set MIKROTIK_HOST, or add a router under routers: in the config file',
    );
  }
  if (r.problems.length > 0) throw createConfigError(r.problems);
  const config = { routers: valid, users: users.filter((u) => u !== undefined), ...sections };
  return { config: config as unknown as RosgateConfig, warnings: r.warnings };
}
