/**
 * The settings as a catalog, read from the schema: every key with an
 * environment variable, and whether a change to a key applies live. For env
 * loading, the docs tests and live reconfiguration.
 */
import { z } from 'zod';
import { configSchema, type SectionKey } from './schema.js';
import { childOf, keysOf, settingOf, unwrap, type Setting } from './settings.js';

/** How an environment variable's text becomes a config value. */
export type EnvType = 'number' | 'boolean' | 'string';

/** One environment variable and the key it sets. */
export interface EnvBinding {
  /** The variable's name, as `MAX_CONNECTIONS`. */
  readonly name: string;
  /** Keys from the root; a list's item is its first, 0: `['routers', 0, 'pool', 'max']`. */
  readonly keys: readonly (string | number)[];
  readonly type: EnvType;
  /** Sibling keys the variable's value replaces (a password's other sources). */
  readonly replaces: readonly string[];
  /** The key has no default: setting it may create the list's first item. */
  readonly isRequired: boolean;
}

function typeOf(schema: z.ZodType): EnvType {
  const node = unwrap(schema);
  if (node instanceof z.ZodNumber) return 'number';
  if (node instanceof z.ZodBoolean) return 'boolean';
  return 'string';
}

/** The bindings of `schema`'s settings: their own variables, or with `isGuide` the guide's. */
function* bindings(
  schema: z.ZodType,
  keys: (string | number)[],
  isGuide: boolean,
): Generator<EnvBinding> {
  const meta: Setting = settingOf(schema);
  const name = isGuide ? meta.guideEnv : meta.env;
  if (name !== undefined) {
    const isRequired = !(schema instanceof z.ZodDefault || schema.safeParse(undefined).success);
    const binding = { keys, type: typeOf(schema), replaces: meta.replaces ?? [], isRequired };
    // Aliases first, so that the main name, applied last, wins.
    for (const alias of isGuide ? [] : (meta.envAliases ?? [])) yield { name: alias, ...binding };
    yield { name, ...binding };
  }
  const node = unwrap(schema);
  if (node instanceof z.ZodArray) yield* bindings(node.element as z.ZodType, [...keys, 0], isGuide);
  for (const key of keysOf(node))
    yield* bindings(childOf(node, key) as z.ZodType, [...keys, key], isGuide);
}

/** The environment variables of the settings in `schema`, in the order it declares them. */
export function envBindings(schema: z.ZodType): EnvBinding[] {
  return [...bindings(schema, [], false)];
}

/**
 * The MikroTik proxy guide's variables of the settings in `schema` (their
 * `guideEnv`), each setting one key, in the order it declares them.
 */
export function guideEnvBindings(schema: z.ZodType): EnvBinding[] {
  return [...bindings(schema, [], true)];
}

/** Every environment variable of the configuration under rosgate's names. */
export const ENV_BINDINGS: readonly EnvBinding[] = Object.freeze(envBindings(configSchema));

/** The guide's variables that map onto one setting each, from the settings themselves. */
export const GUIDE_ENV_BINDINGS: readonly EnvBinding[] = Object.freeze(
  guideEnvBindings(configSchema),
);

/** One key of a section: its path below the section, and its variable if it has one. */
export interface SectionSetting {
  /** `rateLimit.bucketSize`; a list's items as `[]`: `rules[].path` (`routers`: `pool.max`). */
  readonly key: string;
  readonly env?: string;
  /** Other names of the variable, when it has some. */
  readonly envAliases?: readonly string[];
  /** The MikroTik proxy guide's variable for it, when it has one. */
  readonly guideEnv?: string;
  readonly isLive: boolean;
}

/** Every leaf key of a section (lists and records of free keys are leaves), in declaration order. */
export function sectionSettings(section: SectionKey): SectionSetting[] {
  return settingsIn(configSchema.shape[section]);
}

/** Every leaf key of `schema`, with the liveness of its nearest setting that says. */
export function settingsIn(schema: z.ZodType): SectionSetting[] {
  const out: SectionSetting[] = [];
  const walk = (schema: z.ZodType, key: string, isLive: boolean): void => {
    const meta = settingOf(schema);
    const live = meta.isLive ?? isLive;
    let node = unwrap(schema);
    let itemKey = key;
    if (node instanceof z.ZodArray && keysOf(node.element as z.ZodType).length > 0) {
      node = unwrap(node.element as z.ZodType);
      itemKey = key === '' ? '' : `${key}[]`;
    }
    const keys = keysOf(node);
    if (keys.length === 0) {
      const { env, envAliases, guideEnv } = meta;
      out.push({
        key,
        isLive: live,
        ...(env === undefined ? {} : { env }),
        ...(envAliases === undefined ? {} : { envAliases }),
        ...(guideEnv === undefined ? {} : { guideEnv }),
      });
      return;
    }
    for (const child of keys) {
      walk(childOf(node, child) as z.ZodType, itemKey === '' ? child : `${itemKey}.${child}`, live);
    }
  };
  walk(schema, '', false);
  return out;
}

/**
 * The paths, as written, of the files a document names: the values of the
 * settings declared as files (`passwordFile`, `tls.certFile`, ...), in
 * every item of a list.
 */
export function filePathsIn(raw: unknown, schema: z.ZodType = configSchema): Set<string> {
  const paths = new Set<string>();
  const walk = (node: z.ZodType, value: unknown): void => {
    if (settingOf(node).isFile === true && typeof value === 'string') paths.add(value);
    const item = childOf(node, 0);
    if (Array.isArray(value)) {
      if (item !== undefined) for (const element of value) walk(item, element);
    } else if (typeof value === 'object' && value !== null) {
      for (const key of keysOf(node))
        walk(childOf(node, key) as z.ZodType, (value as Record<string, unknown>)[key]);
    }
  };
  walk(schema, raw);
  return paths;
}

/** `routers[0].pool.max` or `routers.core.pool.max` -> its segments. */
function segments(path: string): string[] {
  return path.split(/[.[\]]+/).filter((part) => part !== '');
}

/**
 * Whether a change to the key at `path` applies while rosgate runs: the
 * nearest setting on the path that says so decides. A list's item is named
 * by index or by name (`routers.core.pool.max`). Unknown keys are not live.
 */
export function isLiveKey(path: string): boolean {
  let node: z.ZodType | undefined = configSchema;
  let isLive = false;
  for (const part of segments(path)) {
    node = childOf(node, part);
    if (node === undefined) return false;
    isLive = settingOf(node).isLive ?? isLive;
  }
  return isLive;
}
