/**
 * The `shared:` section (issue 18): several rosgate replicas in front of
 * one router act as one through Redis. Absent (no `url`), nothing is shared
 * and every replica keeps its state in memory. Keys at their default are
 * left out of a loaded configuration; src/app.ts applies them.
 */
import { z } from 'zod';
import { env, flag, mapping, setting, text } from './settings.js';

/** `shared.prefix` when not set. */
export const DEFAULT_SHARED_PREFIX = 'rosgate:';

const URL_RULE = 'must be a redis:// or rediss:// URL';

export const sharedSchema = mapping({
  url: env(
    setting(
      text()
        .refine(
          (value) => {
            try {
              const url = new URL(value);
              return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.host !== '';
            } catch {
              return false;
            }
          },
          { error: URL_RULE },
        )
        .optional()
        .describe(
          'The Redis every replica of the group uses (redis://host:6379/0; rediss:// for TLS). Unset: nothing is shared.',
        ),
      { rule: URL_RULE },
    ),
    'REDIS_URL',
  ),
  password: env(
    text().optional().describe('The Redis password, when it is not in the URL (a secret).'),
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
}).describe(
  'Share the routers’ rate, session budget, lockout and cache invalidation with the other replicas through Redis.',
);

export type SharedConfig = Readonly<z.output<typeof sharedSchema>>;
