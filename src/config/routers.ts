/**
 * The `routers:` and `users:` sections: each router rosgate fronts (its
 * address, listeners, pool) and the client users. Declared once: type,
 * range, default, description, environment variable and liveness side by
 * side. Secrets and files are resolved by validate.ts.
 */
import { z } from 'zod';
import { LOGIN_ENCODINGS } from '../protocol/code-pages.js';
import {
  MAX_COUNT,
  env,
  filePath,
  flag,
  hostName,
  integer,
  mapping,
  oneOf,
  setting,
  text,
  timerMs,
} from './settings.js';

/** How rosgate connects to a router (docs/routeros-api.md §8). */
export const UPSTREAM_TLS_MODES = ['off', 'verify', 'insecure', 'anonymous'] as const;
export type UpstreamTlsMode = (typeof UPSTREAM_TLS_MODES)[number];

/** What to do with the `!empty` reply RouterOS 7.18+ sends for an empty print. */
export const EMPTY_REPLIES_MODES = ['strip', 'passthrough'] as const;
export type EmptyRepliesMode = (typeof EMPTY_REPLIES_MODES)[number];

/** TLS protocol versions a listener may require as its minimum. */
export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

/** Largest `pool.max` accepted. */
export const MAX_POOL_SIZE = 1000;

/** `pool.max` above this raises `ROSGATE_CONFIG_POOL_ABOVE_ROUTER_SESSIONS`. */
export const ROUTER_SESSIONS_WARN_ABOVE = 19;

/** Router names become metric labels, so they are kept plain. */
export const ROUTER_NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;

/** The router API port: api, and api-ssl when `upstreamTls` is not `off`. */
export const DEFAULT_PORT = 8728;
export const DEFAULT_TLS_PORT = 8729;

const port = (min: 0 | 1) => integer(min, 65535);

/** A `must be >= <other key>` rule across two keys of one mapping, checked when both are valid. */
function atLeast(shape: Record<string, z.ZodType>, key: string, than: string) {
  return (value: Record<string, unknown>, ctx: z.core.$RefinementCtx) => {
    const a = shape[key]?.safeParse(value[key]);
    const b = shape[than]?.safeParse(value[than]);
    if (a?.success && b?.success && (a.data as number) < (b.data as number)) {
      ctx.addIssue({ code: 'custom', path: [key], message: 'must be >=', params: { than } });
    }
  };
}

const listenSchema = mapping({
  host: env(
    hostName('listen.port (PROXY_PORT)').default('0.0.0.0').describe('Interface address.'),
    'PROXY_HOST',
  ),
  port: env(port(0).default(DEFAULT_PORT).describe('TCP port; 0 picks a free one.'), 'PROXY_PORT'),
}).describe('Where clients connect. Ports are unique across routers (0 excepted).');

const tlsSchema = mapping({
  host: hostName('tls.port (PROXY_TLS_PORT)')
    .optional()
    .describe("Interface address; default: the router's listen.host."),
  port: env(
    port(0).default(DEFAULT_TLS_PORT).describe('TCP port; 0 picks a free one.'),
    'PROXY_TLS_PORT',
  ),
  certFile: filePath().describe(
    'PEM certificate (chain), relative to the config file; set with keyFile.',
  ),
  keyFile: filePath().describe('PEM private key, relative to the config file; set with certFile.'),
  allowAnonymous: flag()
    .optional()
    .describe(
      'Also offer anonymous DH suites (TLS 1.2); default: true without a certificate, false with one.',
    ),
  minVersion: z.enum(TLS_VERSIONS).default('TLSv1.2').describe('Oldest TLS version accepted.'),
})
  .meta({ dependentRequired: { certFile: ['keyFile'], keyFile: ['certFile'] } })
  .superRefine((tls, ctx) => {
    const hasCert = tls.certFile !== undefined;
    if (hasCert !== (tls.keyFile !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'must set both certFile and keyFile, or neither',
      });
      return;
    }
    if (tls.allowAnonymous === false && !hasCert) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowAnonymous'],
        message:
          'must be true without certFile and keyFile (a TLS listener needs a certificate or anonymous suites)',
      });
    } else if ((tls.allowAnonymous ?? !hasCert) && tls.minVersion !== 'TLSv1.2') {
      ctx.addIssue({
        code: 'custom',
        path: ['minVersion'],
        message: 'must be TLSv1.2 when allowAnonymous is true (TLS 1.3 has no anonymous suites)',
      });
    }
  })
  .describe(
    'A TLS (api-ssl) listener next to the plain one; off unless set. Without a certificate it offers only anonymous Diffie-Hellman suites, as a router with certificate=none does.',
  );

const poolShape = {
  min: env(
    integer(0, MAX_POOL_SIZE).default(1).describe('Sessions kept open even when idle.'),
    'MIN_CONNECTIONS',
  ),
  max: env(
    integer(1, MAX_POOL_SIZE)
      .default(5)
      .describe(
        'Most sessions open at once; RouterOS allows 20 API sessions by default, so above 19 warns.',
      ),
    'MAX_CONNECTIONS',
  ),
  reconnectInitialDelayMs: timerMs(1)
    .default(100)
    .describe(
      'Shortest reconnect delay; while the router stays unreachable the delay grows with the outage (a quarter of its length so far, with jitter).',
    ),
  reconnectMaxDelayMs: timerMs(1)
    .default(10_000)
    .describe('Cap of the reconnect delay; >= reconnectInitialDelayMs.'),
  acquireTimeoutMs: env(
    timerMs(1).default(5000).describe('How long a command waits for a free session.'),
    'ACQUIRE_TIMEOUT',
  ),
  idleTimeoutMs: env(
    timerMs(1).default(60_000).describe('An idle session above min is closed after this long.'),
    'IDLE_TIMEOUT',
  ),
  healthCheckIntervalMs: env(
    timerMs(1).default(30_000).describe('Interval between health checks of idle sessions.'),
    'HEALTH_CHECK_INTERVAL',
  ),
  maxInFlightPerSession: integer(1, 65535)
    .default(64)
    .describe('Commands running at once on one router session.'),
  // A bound below a socket's own high-water mark (16 KiB on Node 20) would
  // act as that mark: a session counts congestion from no less than it, or
  // a router that reads again would bring no 'drain'.
  maxWriteBufferBytes: integer(16 * 1024, MAX_COUNT)
    .default(1024 * 1024)
    .describe('Bytes queued towards the router past which a session gets no new command.'),
};

const poolSchema = mapping(poolShape)
  .superRefine(atLeast(poolShape, 'max', 'min'))
  .superRefine(atLeast(poolShape, 'reconnectMaxDelayMs', 'reconnectInitialDelayMs'))
  .describe('The pool of logged-in sessions rosgate keeps to the router; changes apply live.');

export const ROUTER_SECRET_KEYS = ['password', 'passwordEnv', 'passwordFile'] as const;
export const USER_SECRET_KEYS = ['passwordHash', ...ROUTER_SECRET_KEYS] as const;

const routerFields = mapping({
  name: text()
    .regex(ROUTER_NAME_PATTERN, { error: 'must match [a-zA-Z0-9_.-]+' })
    .default('default')
    .describe('Unique name; the `router` metric label.'),
  host: env(hostName('port (MIKROTIK_PORT)').describe('Router address.'), 'MIKROTIK_HOST'),
  port: env(
    port(1)
      .optional()
      .describe('Router API port; default 8728, or 8729 (api-ssl) when upstreamTls is not off.'),
    'MIKROTIK_PORT',
  ),
  upstreamTls: env(
    z
      .enum(UPSTREAM_TLS_MODES)
      .default('off')
      .describe(
        "How rosgate connects: off (plain api), verify (TLS, checking the router's certificate), insecure (TLS, any certificate), anonymous (ADH, for certificate=none).",
      ),
    'MIKROTIK_TLS',
  ),
  upstreamCaFile: filePath().describe('PEM CA file checked against with upstreamTls: verify.'),
  username: env(
    text().default('admin').describe('Router user rosgate logs in as.'),
    'MIKROTIK_USERNAME',
  ),
  password: setting(
    text()
      .optional()
      .describe('Inline password (warned about); prefer passwordEnv or passwordFile.'),
    {
      env: 'MIKROTIK_PASSWORD',
      replaces: ['passwordEnv', 'passwordFile'],
    },
  ),
  passwordEnv: text().optional().describe('Read the password from this environment variable.'),
  passwordFile: filePath().describe(
    'Read the password from this file (one trailing newline trimmed).',
  ),
  loginEncoding: env(
    z
      .enum(LOGIN_ENCODINGS)
      .default('utf-8')
      .describe(
        "How username and password are written to the router: utf-8, or the code page the password was set in (Winbox writes the PC's, e.g. windows-1251).",
      ),
    'MIKROTIK_LOGIN_ENCODING',
  ),
  timeoutMs: env(
    timerMs(1).default(10_000).describe('Connect, login and command-idle timeout.'),
    'MIKROTIK_TIMEOUT',
  ),
  listen: listenSchema.prefault({}),
  tls: tlsSchema.optional(),
  pool: setting(poolSchema.prefault({}), { isLive: true }),
  emptyReplies: z
    .enum(EMPTY_REPLIES_MODES)
    .default('strip')
    .describe("strip drops RouterOS 7.18's `!empty` reply, which older clients reject."),
  maxSessions: env(
    integer(1, MAX_POOL_SIZE * 100)
      .optional()
      .describe(
        'API sessions all replicas of a shared group (shared.url) may hold on this router together; default no group cap.',
      ),
    'ROUTER_MAX_SESSIONS',
  ),
});

export const routerSchema = oneOf(routerFields, ROUTER_SECRET_KEYS, false)
  .superRefine((router, ctx) => {
    if (router.upstreamCaFile !== undefined && router.upstreamTls !== 'verify') {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreamCaFile'],
        message: 'is only used with upstreamTls: verify',
      });
    }
  })
  .describe('A router rosgate fronts, with its own listener and pool.');

const userFields = mapping({
  name: text().describe('Login name, unique.'),
  passwordHash: text()
    .optional()
    .describe('A hash from `rosgate hash-password`: scrypt$N$r$p$salt$hash.'),
  password: text().optional().describe('Inline password (warned about).'),
  passwordEnv: text().optional().describe('Read the password from this environment variable.'),
  passwordFile: filePath().describe(
    'Read the password from this file (one trailing newline trimmed).',
  ),
  routers: setting(
    z.array(z.string()).optional().describe('Routers this user may use; default: all.'),
    {
      rule: 'must be a list of router names',
    },
  ),
});

export const userSchema = oneOf(userFields, USER_SECRET_KEYS, true)
  .meta({ required: ['name'] })
  .describe('A client user: a name and exactly one password source.');

export type ListenConfig = Readonly<z.output<typeof listenSchema>>;
export type PoolConfig = Readonly<z.output<typeof poolSchema>>;
/** A user as written in the configuration. */
export type UserConfig = Readonly<z.output<typeof userSchema>>;

/** A TLS listener after loading: its host and anonymous suites settled, its PEM files read. */
export type TlsListenConfig = Readonly<
  Omit<z.output<typeof tlsSchema>, 'host' | 'allowAnonymous'> & {
    host: string;
    allowAnonymous: boolean;
    /** The contents of `certFile`. */
    cert?: Buffer;
    /** The contents of `keyFile`. A secret: never log it. */
    key?: Buffer;
  }
>;

/** A router after loading: its password resolved, its port and PEM files settled. */
export type RouterConfig = Readonly<
  Omit<
    z.output<typeof routerSchema>,
    'port' | 'password' | 'passwordEnv' | 'passwordFile' | 'tls' | 'upstreamCaFile'
  > & {
    port: number;
    /** Resolved from password, passwordEnv, passwordFile or MIKROTIK_PASSWORD. Never log it. */
    password: string;
    tls?: TlsListenConfig;
    upstreamCaFile?: string;
    /** The contents of `upstreamCaFile`. */
    upstreamCa?: Buffer;
  }
>;

/**
 * A user after loading. `secret` is present only when a plaintext password
 * is known; the legacy MD5 challenge login needs it. The inline `password`
 * itself is not kept.
 */
export type ResolvedUser = Readonly<
  Omit<UserConfig, 'password'> & {
    /** The plaintext password as UTF-8 bytes, when known. Never log it. */
    secret?: Buffer;
  }
>;
