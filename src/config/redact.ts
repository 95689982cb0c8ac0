import type { RosgateConfig, RouterConfig, ResolvedUser } from './schema.js';

/** What replaces every secret. */
export const REDACTED = '***';

/** A router as `redactConfig()` shows it. */
export type RedactedRouter = Omit<RouterConfig, 'password'> & {
  readonly password: typeof REDACTED;
};

/** A user as `redactConfig()` shows it. */
export type RedactedUser = Omit<ResolvedUser, 'secret' | 'passwordHash'> & {
  readonly secret?: typeof REDACTED;
  readonly passwordHash?: typeof REDACTED;
};

/** A configuration safe to log or serve from the admin API. */
export type RedactedConfig = Omit<RosgateConfig, 'routers' | 'users'> & {
  readonly routers: readonly RedactedRouter[];
  readonly users: readonly RedactedUser[];
};

/**
 * Keys holding a secret. `passwordEnv` and `passwordFile` name where a secret
 * is kept, not the secret, so they stay visible.
 */
const SECRET_KEY = /(password|passwordhash|passphrase|secret|token)$/i;

function redact(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return REDACTED;
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    copy[key] =
      SECRET_KEY.test(key) && child !== undefined
        ? REDACTED
        : key === 'url' && typeof child === 'string'
          ? redactUrl(child)
          : key === 'nodes' && Array.isArray(child)
            ? child.map((node) => redactUrl(String(node)))
            : redact(child);
  }
  return copy;
}

/** A URL's password (`redis://:pw@host`) replaced: the rest stays readable. */
function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  if (url.password === '') return text;
  url.password = REDACTED;
  return url.href;
}

/**
 * A deep copy of `config` with every password, hash and secret replaced by
 * `'***'` (docs/architecture.md invariant 8), for logs and the admin API. Any Buffer is
 * taken to be a secret. Secrets added to the schema later are caught by
 * their key name.
 */
export function redactConfig(config: RosgateConfig): RedactedConfig {
  return redact(config) as RedactedConfig;
}
