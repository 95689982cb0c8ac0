/**
 * Environment variables that override the configuration file, as the
 * schema's settings name them (catalog.ts), the MikroTik proxy guide's
 * included. Router variables apply to the first router; when the file has no
 * router and a variable sets a key a router requires (`MIKROTIK_HOST`), they
 * create one named `default`. An empty variable counts as unset (`FOO=` in a
 * compose file).
 */
import { ENV_BINDINGS, GUIDE_ENV_BINDINGS, type EnvBinding, type EnvType } from './catalog.js';
import { pathText } from './wording.js';

/**
 * Variables of the MikroTik proxy guide whose value is not the value of one
 * setting, so they cannot be declared with a setting (`guideEnv`, as the
 * guide's other variables are): each turns true or false into these values
 * of these keys (from the root). Applied after the guide's other variables
 * and before rosgate's, so rosgate's own name for a key wins when both are
 * set (and the guide's is then named in a warning).
 */
export const GUIDE_TRANSLATED_VARIABLES = Object.freeze({
  /** true: the XSS, SQL-injection and script-syntax checks refuse instead of flagging (three keys). */
  STRICT_VALIDATION: {
    keys: [
      ['policy', 'xss', 'mode'],
      ['policy', 'sqlInjection', 'mode'],
      ['policy', 'scriptSyntaxInData'],
    ],
    values: ['monitor', 'enforce'],
  },
  /**
   * false (wins over the guide's interval, METRICS_COLLECTION_INTERVAL): rosgate counts active
   * users only from what clients print, an interval of 0; true leaves the interval alone.
   */
  ENABLE_BUSINESS_METRICS: { keys: [['monitoring', 'businessPollMs']], values: [0, undefined] },
} as const satisfies Record<string, GuideTranslation>);

/** How a translated guide variable maps onto rosgate's keys. */
interface GuideTranslation {
  readonly keys: readonly (readonly string[])[];
  /** The keys' value for false and for true; undefined leaves the keys alone. */
  readonly values: readonly [whenFalse: unknown, whenTrue: unknown];
}

/**
 * Variables of the guide that mean nothing in rosgate, and why: setting one
 * logs one warning at start, `NAME is ignored (why)`.
 */
export const GUIDE_IGNORED_VARIABLES: Readonly<Record<string, string>> = Object.freeze({
  PORT: "the guide's HTTP API port: rosgate speaks the RouterOS API on PROXY_PORT, HTTP on MONITORING_PORT",
  JWT_SECRET: "tokens of the guide's HTTP API: rosgate clients log in with RouterOS accounts",
  API_KEY: "the guide's HTTP API key: the admin port takes MONITORING_TOKEN",
  CORS_ORIGIN: "browsers calling the guide's HTTP API: rosgate has none",
  ENABLE_COMPRESSION: "the guide's HTTP answers: the RouterOS API is not compressed",
  LOG_FILE: 'rosgate writes JSON lines to stdout: redirect or collect them',
  METRICS_PREFIX: "series keep the guide's names (mikrotik_*) and rosgate's (rosgate_*)",
  ENABLE_HEALTH_CHECKS: 'router sessions are always checked, every HEALTH_CHECK_INTERVAL ms',
  ALERT_WEBHOOK_URL: 'alerting is left to Prometheus: the Helm chart ships the rules',
});

/** Boolean variables accept these spellings (any case). */
const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

/**
 * A variable's text as its type; text that does not fit stays a string so
 * validation names the variable and the rule.
 */
function typedValue(type: EnvType, value: string): unknown {
  const trimmed = value.trim();
  if (type === 'number') return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : value;
  if (type === 'boolean') {
    const word = trimmed.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
  }
  return value;
}

/** The raw configuration with the environment applied. */
export interface EnvOverlay {
  readonly raw: unknown;
  /** Config path (`routers[0].port`) -> the variable that set it, for messages. */
  readonly origins: ReadonlyMap<string, string>;
  /** Guide variables that were set and have no effect, each with why (one warning each). */
  readonly ignored: readonly { readonly variable: string; readonly reason: string }[];
}

type Mapping = Record<string, unknown>;

export function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Sets `binding`'s key to `value` in `root`. A missing mapping on the way is
 * created; anything else there (validation reports it) stops the variable.
 */
function set(root: Mapping, binding: EnvBinding, value: unknown): boolean {
  let node: Mapping | unknown[] = root;
  const { keys } = binding;
  for (const [i, key] of keys.slice(0, -1).entries()) {
    const record = node as Record<string | number, unknown>;
    if (typeof key === 'number') {
      const list = node as unknown[];
      if (list.length === 0 && binding.isRequired) list.push({});
    } else {
      record[key] ??= typeof keys[i + 1] === 'number' ? [] : {};
    }
    const child = record[key];
    if (!(isMapping(child) || (Array.isArray(child) && typeof keys[i + 1] === 'number')))
      return false;
    node = child;
  }
  const last = keys[keys.length - 1] as string;
  const parent = node as Mapping;
  parent[last] = value;
  for (const sibling of binding.replaces) delete parent[sibling];
  return true;
}

/** A document's nulls in mappings dropped: YAML's `pool:` with nothing under it is absent. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isMapping(value)) return value;
  // No prototype: a `__proto__:` key stays a key (an unknown one), not a setter call.
  const out = Object.create(null) as Mapping;
  for (const [key, child] of Object.entries(value)) {
    if (child !== null && child !== undefined) out[key] = withoutNulls(child);
  }
  return out;
}

/**
 * Applies `env` over `raw` (a parsed YAML document) without changing `raw`,
 * through `bindings` and the guide's `guides` (the configuration's);
 * a null in a mapping counts as absent. Values are not validated here;
 * `origins` lets validation name the variable.
 */
export function applyEnvironment(
  raw: unknown,
  env: NodeJS.ProcessEnv,
  bindings: readonly EnvBinding[] = ENV_BINDINGS,
  guides: readonly EnvBinding[] = GUIDE_ENV_BINDINGS,
): EnvOverlay {
  const origins = new Map<string, string>();
  const ignored: { variable: string; reason: string }[] = [];
  if (raw === undefined || raw === null) raw = {};
  if (!isMapping(raw)) return { raw, origins, ignored };
  const root = withoutNulls(raw) as Mapping;
  const given = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  // The guide's names first, so that rosgate's own name for a key wins.
  const guideSet = applyGuideVariables(root, given, origins, guides);
  for (const [name, reason] of Object.entries(GUIDE_IGNORED_VARIABLES)) {
    if (given(name) !== undefined) ignored.push({ variable: name, reason });
  }
  // Required keys first, so a variable that creates a list's first item comes before the rest.
  const ordered = [...bindings].sort((a, b) => Number(b.isRequired) - Number(a.isRequired));
  for (const binding of ordered) {
    const value = given(binding.name);
    if (value === undefined) continue;
    if (set(root, binding, typedValue(binding.type, value))) {
      origins.set(pathText(binding.keys), binding.name);
    }
  }
  // A guide variable whose key another variable set after it had no effect.
  for (const [path, name] of guideSet) {
    const winner = origins.get(path);
    if (winner !== undefined && winner !== name)
      ignored.push({ variable: name, reason: `${winner} sets the same key` });
  }
  return { raw: root, origins, ignored };
}

/**
 * Applies the guide's variables to `root`: those declared with a setting,
 * then the translated ones; returns [config path, variable] of each key set.
 */
function applyGuideVariables(
  root: Mapping,
  given: (name: string) => string | undefined,
  origins: Map<string, string>,
  guides: readonly EnvBinding[],
): [string, string][] {
  const guideSet: [string, string][] = [];
  const apply = (binding: EnvBinding, value: unknown): void => {
    if (!set(root, binding, value)) return;
    const path = pathText(binding.keys);
    origins.set(path, binding.name);
    guideSet.push([path, binding.name]);
  };
  for (const binding of guides) {
    const text = given(binding.name);
    if (text !== undefined) apply(binding, typedValue(binding.type, text));
  }
  for (const [name, guide] of Object.entries(GUIDE_TRANSLATED_VARIABLES) as [
    string,
    GuideTranslation,
  ][]) {
    const text = given(name);
    if (text === undefined) continue;
    const flag = typedValue('boolean', text);
    // Text that is no boolean goes to the keys as it is, for validation to name the variable.
    const value = typeof flag === 'boolean' ? guide.values[flag ? 1 : 0] : flag;
    if (value === undefined) continue;
    for (const keys of guide.keys)
      apply({ name, keys, type: 'boolean', replaces: [], isRequired: false }, value);
  }
  return guideSet;
}
