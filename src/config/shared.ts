/**
 * The `shared:` section (issue 18): several rosgate replicas in front of
 * one router act as one through Redis. Absent (none of `url`, `sentinel`,
 * `cluster`), nothing is shared and every replica keeps its state in memory. Keys at their default are
 * left out of a loaded configuration; src/app.ts applies them.
 */
import { z } from 'zod';
import { env, flag, mapping, oneOf, setting, text } from './settings.js';

/** `shared.prefix` when not set. */
export const DEFAULT_SHARED_PREFIX = 'rosgate:';

const URL_RULE = 'must be a redis:// or rediss:// URL';

const HOST_PORT_RULE = 'must be a list of host:port (comma-separated in the variable)';
const NODE_URL_RULE =
  'must be a list of redis:// or rediss:// URLs (comma-separated in the variable)';

function isRedisUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.host !== '';
  } catch {
    return false;
  }
}

/** `host:port`, `[v6]:port`; port 1-65535. */
function isHostPort(value: string): boolean {
  const match = /^(\[[^\]]+\]|[^\s:[\]/]+):(\d{1,5})$/.exec(value);
  return match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 65535;
}

/** `a, b` (an environment variable) -> `['a', 'b']`. */
const splitList = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A non-empty list of `item`, or one string of them comma-separated (the variable). */
function nodeList(item: z.ZodString, rule: string) {
  const items = z.array(item).min(1);
  return setting(z.union([items, z.string().transform(splitList).pipe(items)], { error: rule }), {
    rule,
  });
}

const sharedFields = mapping({
  url: env(
    setting(
      text()
        .refine(isRedisUrl, { error: URL_RULE })
        .optional()
        .describe(
          'The Redis every replica of the group uses (redis://host:6379/0; rediss:// for TLS). Unset: nothing is shared.',
        ),
      { rule: URL_RULE },
    ),
    'REDIS_URL',
  ),
  sentinel: mapping({
    name: env(
      text().describe('The master group name the sentinels monitor (sentinel monitor <name> ...).'),
      'REDIS_SENTINEL_NAME',
    ),
    nodes: env(
      nodeList(z.string().refine(isHostPort), HOST_PORT_RULE).describe(
        'The sentinels to ask for the master, host:port each.',
      ),
      'REDIS_SENTINELS',
    ),
    password: env(
      text().optional().describe('The sentinels’ own password, when they have one (a secret).'),
      'REDIS_SENTINEL_PASSWORD',
    ),
  })
    .optional()
    .describe('Reach Redis through Sentinel (follows a failover). Instead of url and cluster.'),
  cluster: mapping({
    nodes: env(
      nodeList(z.string().refine(isRedisUrl), NODE_URL_RULE).describe(
        'Some nodes of the Redis Cluster (redis://host:port each); the client learns the rest.',
      ),
      'REDIS_CLUSTER_NODES',
    ),
  })
    .optional()
    .describe('Use a Redis Cluster. Instead of url and sentinel.'),
  password: env(
    text()
      .optional()
      .describe(
        'The Redis password, when it is not in the URL (a secret): of the master behind Sentinel, of every Cluster node.',
      ),
    'REDIS_PASSWORD',
  ),
  prefix: env(
    text()
      .optional()
      .describe(
        `Prefix of every Redis key, so several groups can share one Redis. Default ${DEFAULT_SHARED_PREFIX}.`,
      ),
    'REDIS_PREFIX',
  ),
  replicaId: env(
    text()
      .regex(/^[^:]+$/, { error: 'must be a non-empty string without ":"' })
      .optional()
      .describe(
        'This replica in logs, metrics and the admin views. Default: HOSTNAME (the pod name).',
      ),
    'REPLICA_ID',
  ),
  strict: env(
    flag()
      .optional()
      .describe(
        'Strict cache: a cached reply is served only while its menu’s version in Redis is the one it was filled under (one Redis call per hit; read-your-writes across replicas). Default false.',
      ),
    'REDIS_STRICT_CACHE',
  ),
});

/** Which Redis: one of these turns sharing on. */
export const SHARED_SOURCE_KEYS = ['url', 'sentinel', 'cluster'] as const;

export const sharedSchema = oneOf(sharedFields, SHARED_SOURCE_KEYS, false).describe(
  'Share the routers’ rate, session budget, lockout and cache invalidation with the other replicas through Redis.',
);

export type SharedConfig = Readonly<z.output<typeof sharedSchema>>;
