/**
 * Live configuration changes (PUT /monitoring/config/<section>, SIGHUP):
 * which sections may change while clients stay connected, how a change is
 * merged onto the configuration in force and checked before anything is
 * applied, and what the answer says about each key. A failed check changes
 * nothing.
 */
import { isDeepStrictEqual } from 'node:util';
import { ErrorCode, isRosgateError } from './errors.js';
import {
  redactConfig,
  validateConfig,
  type PoolConfig,
  type RosgateConfig,
  type RouterConfig,
} from './config/index.js';
import type { ChangeApplies, ConfigChange } from './admin/sources.js';
import { isSharing } from './group-wiring.js';

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

/**
 * Sections a reload (SIGHUP) applies from the file but a PUT cannot change:
 * `users`, whose secrets live in the file, in its variables and in files it
 * names, and never travel over the admin port. A change reaches the logins
 * of clients that connect after it; sessions logged in already stay.
 */
export const RELOADED_SECTIONS = ['users'] as const;
/** A section a change applies: live, or reloaded from the file. */
export type AppliedSection = LiveSection | (typeof RELOADED_SECTIONS)[number];

/** Every section a change may apply, in the order they are applied and described. */
const APPLIED_SECTIONS: readonly AppliedSection[] = [...LIVE_SECTIONS, ...RELOADED_SECTIONS];

/** What a checked change gives: the next configuration, or every problem. */
export type Reconfiguration =
  | {
      readonly isOk: true;
      readonly config: RosgateConfig;
      /** Sections to apply: the one a PUT named, or those a reload found different. */
      readonly changed: readonly AppliedSection[];
      /** Every key that differs, its old and new value (redacted) and when it applies. */
      readonly changes: readonly ConfigChange[];
    }
  | { readonly isOk: false; readonly errors: readonly string[] };

/** What a checked reload (SIGHUP) gives besides a change. */
export type Reload =
  | (Extract<Reconfiguration, { isOk: true }> & {
      /** Keys changed through the admin port that the file did not change: kept. */
      readonly kept: readonly string[];
      /** Keys changed through the admin port that the file changed too: the file's value won. */
      readonly overridden: readonly string[];
    })
  | Extract<Reconfiguration, { isOk: false }>;

/** Router keys that may change live: the pool's sizes and timings. */
const LIVE_ROUTER_KEYS = new Set(['pool']);

/**
 * Keys of live sections that the running rosgate cannot apply: the listen
 * backlog is given to the kernel when the port is bound, the clients' code
 * page is how logins, users and policy rules built at start read text (one
 * page for all, or a name would mean two users), and the number of
 * sources and users a lockout gate tracks sizes its tables at start (the
 * rest of `policy.lockout` applies at once). A change is recorded and named
 * in the answer as needing a restart. Prefixes cover every key below them.
 */
export const RESTART_ONLY_KEYS = [
  'limits.listenBacklog',
  'limits.clientCodePage',
  'policy.lockout.maxTracked',
] as const;

/** `limits` keys in force at once; the other `limits` keys apply to clients that connect next. */
const LIMITS_IN_FORCE_AT_ONCE = new Set([
  'limits.maxClients',
  'limits.maxClientsPerAddress',
  'limits.loginCacheTtlMs',
  'limits.loginFailureCacheTtlMs',
  'limits.maxConcurrentLoginChecks',
  'limits.maxRelayedLoginChallenges',
]);

/**
 * With replicas sharing state (`shared`), the group's lockout counts and
 * locks by the limits it started with, in every replica alike: a live
 * change would reach this replica's own gate only.
 */
const RESTART_ONLY_WHEN_SHARED = ['policy.lockout'] as const;

const isUnder = (key: string, prefixes: readonly string[]): boolean =>
  prefixes.some((prefix) => key === prefix || key.startsWith(`${prefix}.`));

/**
 * When a change to `key` (a path such as `flow.maxConcurrency`) takes
 * effect; `isShared` when the replicas share state through Redis.
 */
export function appliesOf(key: string, isShared = false): ChangeApplies {
  if (isUnder(key, RESTART_ONLY_KEYS)) return 'restart';
  if (isShared && isUnder(key, RESTART_ONLY_WHEN_SHARED)) return 'restart';
  if (key.startsWith('limits.') && !LIMITS_IN_FORCE_AT_ONCE.has(key)) return 'new-clients';
  if (isReloadedSection(key)) return 'new-clients';
  return 'now';
}

/**
 * JSON Merge Patch (RFC 7386): a patch that is an object changes only the
 * keys it names, recursively; `null` removes a key; anything else (arrays
 * included) replaces the target. Neither argument is changed.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  // No prototype: a body's `__proto__` key stays a key (an unknown one), not a setter call.
  const out = Object.create(null) as Record<string, unknown>;
  if (isPlainObject(target)) Object.assign(out, target);
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/**
 * Check a change to one section against the configuration in force. The
 * body is a merge patch onto the section in force, so keys it does not name
 * keep their value, whether it came from the file, the environment or an
 * earlier change, and `null` sets a key back to its default. `routers` takes
 * `{ <router name>: { pool } }`; every other key of a router needs a restart.
 */
export function reconfigureSection(
  current: RosgateConfig,
  section: string,
  body: unknown,
): Reconfiguration {
  if (isReloadedSection(section)) {
    return fail([
      `${section} cannot change through the admin port: change the file and reload it (SIGHUP), so that no secret travels over HTTP`,
    ]);
  }
  if (!isLiveSection(section)) {
    return fail([`${section} cannot change while rosgate runs: it needs a restart`]);
  }
  const next =
    section === 'routers' ? patchRouters(current, body) : patchSection(current, section, body);
  if (!next.isOk) return next;
  // A PUT applies its section even when no key changed (a new flow stage, a
  // new cache), as it always has; the answer's `changes` says what differs.
  return { ...describe(current, next.config), changed: [section] };
}

/**
 * Check a re-read configuration (SIGHUP) against the one in force. A
 * difference outside the live sections (or in a router's keys but its pool)
 * refuses the reload. In the live sections the file wins for every key it
 * changed since it was last loaded (`loaded`); a key changed through the
 * admin port that the file did not change keeps its value.
 */
export function reconfigureAll(
  current: RosgateConfig,
  loaded: RosgateConfig,
  fresh: RosgateConfig,
): Reload {
  const errors: string[] = [];
  for (const key of Object.keys(fresh) as (keyof RosgateConfig)[]) {
    if (isLiveSection(key) || isReloadedSection(key)) continue;
    if (isDeepStrictEqual(current[key], fresh[key])) continue;
    errors.push(`${key} changed: it needs a restart`);
  }
  errors.push(...routerRestartErrors(current.routers, fresh.routers));
  if (errors.length > 0) return fail(errors);

  const merged: Record<string, unknown> = {};
  for (const section of LIVE_SECTIONS) {
    if (section === 'routers') continue;
    merged[section] = mergeThreeWay(loaded[section], current[section], fresh[section]);
  }
  const checked = check(merged);
  if (!checked.isOk) return checked;
  const routers: RouterConfig[] = [];
  fresh.routers.forEach((router, i) => {
    const pool = mergeThreeWay(
      (loaded.routers[i] as RouterConfig).pool,
      (current.routers[i] as RouterConfig).pool,
      router.pool,
    );
    const result = checkPool(router, pool, `routers.${router.name}`);
    if ('errors' in result) errors.push(...result.errors);
    else routers.push({ ...router, pool: result });
  });
  if (errors.length > 0) return fail(errors);
  const live = Object.fromEntries(
    LIVE_SECTIONS.filter((s) => s !== 'routers').map((s) => [s, checked.config[s]]),
  );
  const next = { ...fresh, ...live, routers } as RosgateConfig;

  const result = describe(current, next);
  const nextView = liveView(next);
  const madeLive = leafDiffs(liveView(loaded), liveView(current)).map((d) => d.path);
  const overridden = madeLive.filter(
    (path) => !isDeepStrictEqual(valueAt(nextView, path), valueAt(liveView(current), path)),
  );
  return {
    ...result,
    kept: madeLive.filter((path) => !overridden.includes(path)).map(keyOf),
    overridden: overridden.map(keyOf),
  };
}

function isLiveSection(section: string): section is LiveSection {
  return (LIVE_SECTIONS as readonly string[]).includes(section);
}

function isReloadedSection(section: string): boolean {
  return (RELOADED_SECTIONS as readonly string[]).includes(section);
}

function patchSection(
  current: RosgateConfig,
  section: Exclude<LiveSection, 'routers'>,
  body: unknown,
): Checked {
  const checked = check({ [section]: mergePatch(current[section], body) });
  if (!checked.isOk) return checked;
  return { isOk: true, config: { ...current, [section]: checked.config[section] } };
}

function patchRouters(current: RosgateConfig, body: unknown): Checked {
  if (!isPlainObject(body)) return fail(['routers must be a mapping of router name to { pool }']);
  const errors: string[] = [];
  const routers = [...current.routers];
  for (const [name, entry] of Object.entries(body)) {
    const at = `routers.${name}`;
    const index = routers.findIndex((r) => r.name === name);
    if (index < 0) {
      errors.push(`${at} must name a running router`);
      continue;
    }
    if (!isPlainObject(entry)) {
      errors.push(`${at} must be a mapping`);
      continue;
    }
    for (const key of Object.keys(entry))
      if (!LIVE_ROUTER_KEYS.has(key))
        errors.push(`${at}.${key} cannot change live: it needs a restart`);
    const router = routers[index] as RouterConfig;
    const patch = entry['pool'] === undefined ? {} : entry['pool'];
    const pool = checkPool(router, mergePatch(router.pool, patch), at);
    if ('errors' in pool) errors.push(...pool.errors);
    else routers[index] = { ...router, pool };
  }
  if (errors.length > 0) return fail(errors);
  return { isOk: true, config: { ...current, routers } };
}

/** A router's pool, checked by the same rules as at start, on a stand-in router. */
function checkPool(
  router: RouterConfig,
  pool: unknown,
  at: string,
): PoolConfig | { readonly errors: readonly string[] } {
  const checked = check({ routers: [{ host: router.host, pool }] });
  if (!checked.isOk) return { errors: checked.errors.map((e) => e.replace(/^routers\[0\]/, at)) };
  return (checked.config.routers[0] as RouterConfig).pool;
}

/**
 * The file's value where the file changed since `base` (the last load),
 * else the value in force (`mine`), key by key; lists replace as a whole.
 */
function mergeThreeWay(base: unknown, mine: unknown, theirs: unknown): unknown {
  if (isDeepStrictEqual(base, theirs)) return mine;
  if (!isPlainObject(base) || !isPlainObject(mine) || !isPlainObject(theirs)) return theirs;
  const out: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(mine), ...Object.keys(theirs)])) {
    const value = mergeThreeWay(base[key], mine[key], theirs[key]);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** The accepted change: the sections and keys that differ, values redacted. */
function describe(
  current: RosgateConfig,
  next: RosgateConfig,
): Extract<Reconfiguration, { isOk: true }> {
  const changed = APPLIED_SECTIONS.filter((s) => !isDeepStrictEqual(current[s], next[s]));
  // Values are read from redacted copies: a secret never reaches an answer or a log.
  const shownBefore = liveView(redactConfig(current));
  const shownAfter = liveView(redactConfig(next));
  const changes = leafDiffs(liveView(current), liveView(next)).map(({ path }) => {
    const key = keyOf(path);
    return {
      key,
      old: valueAt(shownBefore, path) ?? null,
      new: valueAt(shownAfter, path) ?? null,
      applies: appliesOf(key, isSharing(current)),
    };
  });
  return { isOk: true, config: next, changed, changes };
}

/** The part of a configuration a change may apply, routers by name with only their pool. */
function liveView(config: Pick<RosgateConfig, AppliedSection> | ReturnType<typeof redactConfig>) {
  const view: Record<string, unknown> = {};
  for (const section of APPLIED_SECTIONS) {
    view[section] =
      section === 'routers'
        ? Object.fromEntries(config.routers.map((r) => [r.name, { pool: r.pool }]))
        : config[section];
  }
  return view;
}

/** Paths of the leaves (values that are not plain objects) where `a` and `b` differ. */
function leafDiffs(a: unknown, b: unknown, path: readonly string[] = []): { path: string[] }[] {
  if (isDeepStrictEqual(a, b)) return [];
  if (!isPlainObject(a) || !isPlainObject(b)) return [{ path: [...path] }];
  const out: { path: string[] }[] = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
    out.push(...leafDiffs(a[key], b[key], [...path, key]));
  return out;
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root;
  // Every path here comes from leafDiffs over live views of configurations
  // checked by one schema, whose steps but the last are mappings on every
  // side: the `: undefined` arm is a guard that no checked configuration reaches.
  /* c8 ignore start */
  for (const key of path) node = isPlainObject(node) ? node[key] : undefined;
  /* c8 ignore stop */
  return node;
}

function keyOf(path: readonly string[]): string {
  return path.join('.');
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

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
