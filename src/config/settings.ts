/**
 * What every section is declared with: the registry that holds each
 * setting's environment variable and whether a change applies live, the
 * shared bounds, and the builders of the core sections' rules (their
 * wording: `must be an integer 1-65535`). Imports no other file of
 * src/config, so every section can import it.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** Largest delay `setTimeout` and `setInterval` honour (2^31 - 1 ms). */
export const MAX_TIMER_MS = 2_147_483_647;

/** Every count without a tighter bound shares this upper bound. */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** What the JSON Schema does not carry about a setting. */
export interface Setting {
  /** The environment variable that overrides it (router variables: the first router). */
  readonly env?: string;
  /** Other names the same variable goes by (another guide's); `env` wins over them. */
  readonly envAliases?: readonly string[];
  /**
   * The MikroTik proxy guide's variable for this setting (`SESSION_TIMEOUT`), which
   * may be its only one. Applied before every other variable, so `env` wins when both
   * are set, and the guide's is then named in a warning.
   */
  readonly guideEnv?: string;
  /** A change applies while rosgate runs (PUT /monitoring/config, SIGHUP). @default the enclosing key's */
  readonly isLive?: boolean;
  /** When the variable sets this key, these sibling keys are dropped (the variable wins). */
  readonly replaces?: readonly string[];
  /** Every problem inside this key is reported at the key with this rule. */
  readonly rule?: string;
  /** The value names a file loading reads (relative to the config file's folder). */
  readonly isFile?: boolean;
}

/** Settings by schema; kept out of `.meta()` so the JSON Schema stays clean. */
export const settings = z.registry<Setting>();

/** Registers `schema` as a setting and returns it. */
export function setting<S extends z.ZodType>(schema: S, meta: Setting): S {
  settings.add(schema, meta);
  return schema;
}

/** `schema`, set by the environment variable `name` too (or any of `aliases`, which `name` beats). */
export function env<S extends z.ZodType>(schema: S, name: string, ...aliases: string[]): S {
  return setting(schema, aliases.length > 0 ? { env: name, envAliases: aliases } : { env: name });
}

/** A file's path, which `loadConfig()` reads for validation to check. */
export function filePath() {
  return setting(text().optional(), { isFile: true });
}

/** `must be an integer 1-65535`, or `>= 1` when only the lower bound counts. */
export function integer(min: number, max: number = MAX_COUNT) {
  const error =
    max === MAX_COUNT ? `must be an integer >= ${min}` : `must be an integer ${min}-${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

/** A delay in ms that becomes a timer: at most {@link MAX_TIMER_MS}. */
export function timerMs(min: number) {
  return integer(min, MAX_TIMER_MS);
}

const TEXT_RULE = 'must be a non-empty string (quote numbers in YAML)';

/** A non-empty string; YAML reads `password: 1234` as a number, so the rule says how to fix it. */
export function text() {
  return z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : TEXT_RULE) })
    .min(1, { error: TEXT_RULE });
}

/** One label of a DNS name (RFC 1123; `_` too, as some internal names have). */
const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const DNS_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);

function isHostName(value: string): boolean {
  return isIP(value) !== 0 || (value.length <= 253 && DNS_NAME.test(value));
}

/** Why `value` is no host, saying where a port or a scheme goes instead. */
function hostRule(value: string, portKey: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    return `must be a host name or IP address, not a URL (${value})`;
  }
  const withPort = /^\[?([^[\]]+?)\]?:(\d{1,5})$/.exec(value);
  if (withPort !== null && isHostName(withPort[1] as string)) {
    return `must be a host name or IP address without a port (${value}): put ${withPort[2]} in ${portKey}`;
  }
  if (value.startsWith('[') && value.endsWith(']') && isIP(value.slice(1, -1)) === 6) {
    return `must be an IPv6 address without brackets (${value.slice(1, -1)})`;
  }
  return `must be a host name or IP address (${JSON.stringify(value)})`;
}

/**
 * A host name or IP address, as `net.connect` and `listen` take it. A URL
 * or a `host:port` is refused at load, saying where the port goes, instead
 * of failing later as a name no resolver knows.
 */
export function hostName(portKey: string) {
  return text().superRefine((value, ctx) => {
    // An empty one has its own problem already (`must be a non-empty string`).
    if (value !== '' && !isHostName(value))
      ctx.addIssue({ code: 'custom', message: hostRule(value, portKey) });
  });
}

/** A boolean, in the core sections' wording. */
export function flag() {
  return z.boolean({ error: 'must be true or false' });
}

/** A mapping whose keys are `shape`, and no other. */
export function mapping<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape, { error: 'must be a mapping' });
}

/**
 * At most one of `keys` (or exactly one, when required) is set in the
 * mapping: checked by rosgate and said in the JSON Schema, from here.
 */
export function oneOf<S extends z.ZodObject>(
  schema: S,
  keys: readonly string[],
  isRequired: boolean,
): S {
  const which = isRequired ? 'exactly one' : 'only one';
  const others = (key: string) =>
    Object.fromEntries(keys.filter((k) => k !== key).map((k) => [k, false]));
  const json = isRequired
    ? { oneOf: keys.map((key) => ({ properties: { [key]: true }, required: [key] })) }
    : {
        dependentSchemas: Object.fromEntries(keys.map((key) => [key, { properties: others(key) }])),
      };
  return schema
    .superRefine((value, ctx) => {
      const count = keys.filter(
        (key) => (value as Record<string, unknown>)[key] !== undefined,
      ).length;
      if (count > 1 || (isRequired && count === 0)) {
        ctx.addIssue({
          code: 'custom',
          path: [],
          message: `must set ${which} of ${keys.join(', ')}`,
        });
      }
    })
    .meta(json) as S;
}

type Wrapper = { readonly innerType?: z.ZodType; readonly in?: z.ZodType };

/** `schema` and the schemas it wraps (default, optional, pipe, ...), outer first. */
function* wrapped(schema: z.ZodType): Generator<z.ZodType> {
  let node: z.ZodType | undefined = schema;
  while (node !== undefined) {
    yield node;
    const def = node._zod.def as Wrapper;
    node = def.innerType ?? def.in;
  }
}

/** The schema with its wrappers taken off. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let last = schema;
  for (const layer of wrapped(schema)) last = layer;
  return last;
}

/** The settings of `schema` and its wrappers, outer first winning. */
export function settingOf(schema: z.ZodType): Setting {
  const found: Setting[] = [];
  for (const layer of wrapped(schema)) {
    // `.describe()` and `.meta()` copy a schema; the copy keeps its original as parent.
    for (let at: z.core.$ZodType | undefined = layer; at !== undefined; at = at._zod.parent) {
      const meta = settings.get(at as z.ZodType);
      if (meta !== undefined) found.push(meta);
    }
  }
  return Object.assign({}, ...found.reverse()) as Setting;
}

/**
 * The schema of the key below `schema`: a mapping's key, a list's item (any
 * segment: an index or a name), a record's value. Undefined when there is none.
 */
export function childOf(schema: z.ZodType, key: PropertyKey): z.ZodType | undefined {
  const node = unwrap(schema);
  if (node instanceof z.ZodObject) return (node.shape as Record<string, z.ZodType>)[String(key)];
  if (node instanceof z.ZodArray) return node.element as z.ZodType;
  if (node instanceof z.ZodRecord) return node.valueType as z.ZodType;
  return undefined;
}

/** The keys of a mapping schema, in declaration order; none for anything else. */
export function keysOf(schema: z.ZodType): string[] {
  const node = unwrap(schema);
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}
