/**
 * Live configuration changes (PUT /monitoring/config/<section>, SIGHUP):
 * which sections may change while clients stay connected, and how a change
 * is checked before anything is applied. A failed check changes nothing.
 */
import { isDeepStrictEqual } from 'node:util';
import { ErrorCode, isRosgateError } from './errors.js';
import { validateConfig, type RosgateConfig, type RouterConfig } from './config/index.js';

/** Sections applied live; the rest need a restart. */
export const LIVE_SECTIONS = [
  'log',
  'limits',
  'routers',
  'flow',
  'cache',
  'policy',
  'shutdown',
] as const;
export type LiveSection = (typeof LIVE_SECTIONS)[number];

/** What a checked change gives: the next configuration, or every problem. */
export type Reconfiguration =
  | {
      readonly isOk: true;
      readonly config: RosgateConfig;
      readonly changed: readonly LiveSection[];
    }
  | { readonly isOk: false; readonly errors: readonly string[] };

/** Router keys that may change live: the pool's sizes and timings. */
const LIVE_ROUTER_KEYS = new Set(['pool']);

/**
 * Check a new body for one section against the configuration in force.
 * `routers` takes `{ <router name>: { pool } }`, merged onto the running
 * routers; every other key of a router needs a restart.
 */
export function reconfigureSection(
  current: RosgateConfig,
  section: string,
  body: unknown,
): Reconfiguration {
  if (!(LIVE_SECTIONS as readonly string[]).includes(section)) {
    return fail([`${section} cannot change while rosgate runs: it needs a restart`]);
  }
  if (section === 'routers') return reconfigureRouters(current, body);
  const checked = check({ [section]: body });
  if (!checked.isOk) return checked;
  const next = { ...current, [section]: checked.config[section as keyof RosgateConfig] };
  return { isOk: true, config: next, changed: [section as LiveSection] };
}

/**
 * Check a whole new configuration (SIGHUP re-read the file): live sections
 * that differ are applied; a difference anywhere else refuses the reload.
 */
export function reconfigureAll(current: RosgateConfig, next: RosgateConfig): Reconfiguration {
  const errors: string[] = [];
  for (const key of Object.keys(next) as (keyof RosgateConfig)[]) {
    if (
      (LIVE_SECTIONS as readonly string[]).includes(key) ||
      isDeepStrictEqual(current[key], next[key])
    )
      continue;
    errors.push(`${key} changed: it needs a restart`);
  }
  errors.push(...routerRestartErrors(current.routers, next.routers));
  if (errors.length > 0) return fail(errors);
  const changed = LIVE_SECTIONS.filter((s) => !isDeepStrictEqual(current[s], next[s]));
  return { isOk: true, config: next, changed };
}

function reconfigureRouters(current: RosgateConfig, body: unknown): Reconfiguration {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return fail(['routers must be a mapping of router name to { pool }']);
  const errors: string[] = [];
  const routers = [...current.routers];
  for (const [name, entry] of Object.entries(body as Record<string, unknown>)) {
    const at = `routers.${name}`;
    const index = routers.findIndex((r) => r.name === name);
    if (index < 0) {
      errors.push(`${at} must name a running router`);
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      errors.push(`${at} must be a mapping`);
      continue;
    }
    for (const key of Object.keys(entry))
      if (!LIVE_ROUTER_KEYS.has(key))
        errors.push(`${at}.${key} cannot change live: it needs a restart`);
    const router = routers[index] as RouterConfig;
    // The pool is checked by the same rules as at start, on a stand-in router.
    const pool = (entry as Record<string, unknown>)['pool'];
    const checked = check({ routers: [{ host: router.host, pool }] });
    if (!checked.isOk) {
      errors.push(...checked.errors.map((e) => e.replace(/^routers\[0\]/, at)));
      continue;
    }
    routers[index] = { ...router, pool: (checked.config.routers[0] as RouterConfig).pool };
  }
  if (errors.length > 0) return fail(errors);
  return { isOk: true, config: { ...current, routers }, changed: ['routers'] };
}

function routerRestartErrors(
  current: readonly RouterConfig[],
  next: readonly RouterConfig[],
): string[] {
  if (current.length !== next.length) return ['routers were added or removed: it needs a restart'];
  const errors: string[] = [];
  current.forEach((router, i) => {
    const other = next[i] as RouterConfig;
    for (const key of Object.keys({ ...router, ...other }) as (keyof RouterConfig)[]) {
      if (key === 'pool' || isDeepStrictEqual(router[key], other[key])) continue;
      errors.push(`routers[${i}].${key} changed: it needs a restart`);
    }
  });
  return errors;
}

type Checked =
  | { readonly isOk: true; readonly config: RosgateConfig }
  | { readonly isOk: false; readonly errors: readonly string[] };

/** Validate a partial raw configuration with the environment left out. */
function check(raw: Record<string, unknown>): Checked {
  try {
    return { isOk: true, config: validateConfig(raw, {}).config };
  } catch (err) {
    /* c8 ignore next -- validateConfig throws only config errors, which list their problems */
    if (!isRosgateError(err, ErrorCode.Config)) throw err;
    return fail(err.details['problems'] as string[]);
  }
}

function fail(errors: readonly string[]): {
  readonly isOk: false;
  readonly errors: readonly string[];
} {
  return { isOk: false, errors };
}
