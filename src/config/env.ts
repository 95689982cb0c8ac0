/**
 * Environment variables that override the configuration file, as the
 * schema's settings name them (catalog.ts). Router variables apply to the
 * first router; when the file has no router and a variable sets a key a
 * router requires (`MIKROTIK_HOST`), they create one named `default`. An
 * empty variable counts as unset (`FOO=` in a compose file).
 */
import { ENV_BINDINGS, type EnvBinding, type EnvType } from './catalog.js';
import { pathText } from './wording.js';

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
  const out: Mapping = {};
  for (const [key, child] of Object.entries(value)) {
    if (child !== null && child !== undefined) out[key] = withoutNulls(child);
  }
  return out;
}

/**
 * Applies `env` over `raw` (a parsed YAML document) without changing `raw`,
 * through `bindings` (the configuration's);
 * a null in a mapping counts as absent. Values are not validated here;
 * `origins` lets validation name the variable.
 */
export function applyEnvironment(
  raw: unknown,
  env: NodeJS.ProcessEnv,
  bindings: readonly EnvBinding[] = ENV_BINDINGS,
): EnvOverlay {
  const origins = new Map<string, string>();
  if (raw === undefined || raw === null) raw = {};
  if (!isMapping(raw)) return { raw, origins };
  const root = withoutNulls(raw) as Mapping;
  // Required keys first, so a variable that creates a list's first item comes before the rest.
  const ordered = [...bindings].sort((a, b) => Number(b.isRequired) - Number(a.isRequired));
  for (const binding of ordered) {
    const value = env[binding.name];
    if (value === undefined || value === '') continue;
    if (set(root, binding, typedValue(binding.type, value))) {
      origins.set(pathText(binding.keys), binding.name);
    }
  }
  return { raw: root, origins };
}
