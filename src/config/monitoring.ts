/**
 * The `monitoring:` section: the admin port's address, its token and what
 * the token guards. The optional keys have no default here: src/admin
 * applies them, and a loaded configuration leaves out those at their
 * default, so it reads exactly as before they existed.
 */
import { z } from 'zod';
import {
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

/** Endpoints of the admin port that answer without a token unless listed in `requireTokenFor`. */
export const OPEN_ENDPOINTS = ['live', 'ready', 'health', 'metrics'] as const;
export type OpenEndpoint = (typeof OPEN_ENDPOINTS)[number];

/** `monitoring.businessPollMs` when not set: rosgate counts active users itself every 30 s. */
export const DEFAULT_BUSINESS_POLL_MS = 30_000;

/** Shorter tokens are refused: the admin port can change the configuration. */
export const MIN_MONITORING_TOKEN_LENGTH = 16;

/** A token read from any source is refused, by the key or variable that gave it, with this rule. */
export const TOKEN_RULE = `must hold a token of at least ${MIN_MONITORING_TOKEN_LENGTH} characters`;

export const TOKEN_KEYS = ['token', 'tokenEnv', 'tokenFile'] as const;

const monitoringFields = mapping({
  enabled: setting(
    flag()
      .optional()
      .describe("false: no admin port at all (the guide's ENABLE_MONITORING). Default true."),
    { guideEnv: 'ENABLE_MONITORING' },
  ),
  host: hostName('port (MONITORING_PORT)').default('0.0.0.0').describe('Interface address.'),
  port: setting(integer(0, 65535).default(9728).describe('TCP port; 0 picks a free one.'), {
    env: 'MONITORING_PORT',
  }),
  token: setting(
    text()
      .min(MIN_MONITORING_TOKEN_LENGTH, { error: TOKEN_RULE })
      .optional()
      .describe(
        `The bearer token every endpoint but live, ready, health and metrics requires; at least ${MIN_MONITORING_TOKEN_LENGTH} characters. Inline it is warned about.`,
      ),
    { env: 'MONITORING_TOKEN', replaces: ['tokenEnv', 'tokenFile'] },
  ),
  tokenEnv: text().optional().describe('Read the token from this environment variable.'),
  tokenFile: filePath().describe('Read the token from this file (one trailing newline trimmed).'),
  requireTokenFor: setting(
    z
      .array(z.enum(OPEN_ENDPOINTS))
      .optional()
      .describe('Open endpoints that require the token too; default none.'),
    { rule: `must list only ${OPEN_ENDPOINTS.join(', ')}` },
  ),
  readiness: mapping({
    requireRouter: flag()
      .default(false)
      .describe('ready also needs a logged-in session to every router.'),
  }).optional(),
  businessPollMs: setting(
    timerMs(0)
      .optional()
      .describe(
        `Every this many ms rosgate counts hotspot and PPP users itself (count-only prints); 0 counts only what clients print. Default ${DEFAULT_BUSINESS_POLL_MS}.`,
      ),
    { guideEnv: 'METRICS_COLLECTION_INTERVAL' },
  ),
});

export const monitoringSchema = oneOf(monitoringFields, TOKEN_KEYS, false).describe(
  'The admin port: /monitoring, Prometheus metrics and live configuration.',
);

/** The section as loaded: a token read from its source, keys at their default left out. */
export type MonitoringConfig = Readonly<z.output<typeof monitoringSchema>>;
