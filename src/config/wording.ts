/**
 * zod's issues in the configuration's own words: the key path (or the
 * environment variable that set it) and a rule in YAML's terms (mapping,
 * list, characters, items): `routers[0].port must be an integer 1-65535`.
 */
import { z } from 'zod';
import { childOf, settingOf } from './settings.js';

/** A config path (`routers[0].port`) -> the environment variable that set it. */
export type Origins = ReadonlyMap<string, string>;

/** `['cache', 'rules', 0, 'ttlMs']` -> `cache.rules[0].ttlMs`. */
export function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Types as the configuration's messages name them (YAML's words). */
const TYPE_NAMES: Readonly<Record<string, string>> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

/** `must be >= 1`, or for text and lists their length: `must have at least 1 item`. */
function boundRule(origin: string, bound: 'least' | 'most', limit: unknown, isInclusive: boolean) {
  const n = Number(limit);
  if (origin === 'string') {
    return n === 1 && bound === 'least'
      ? 'must not be empty'
      : `must have at ${bound} ${n} characters`;
  }
  if (origin === 'array') return `must have at ${bound} ${n} item${n === 1 ? '' : 's'}`;
  const sign = bound === 'least' ? '>' : '<';
  return `must be ${sign}${isInclusive ? '=' : ''} ${String(limit)}`;
}

/** A rule a schema wrote itself: `must ...`, `is ...`. */
const OWN_RULE = /^(must|is) /;

/** A zod issue as the config's own wording: `must be an integer`, `must be >= 1`. */
function ruleOf(issue: z.core.$ZodIssue): string {
  if (OWN_RULE.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'too_small':
      return boundRule(issue.origin, 'least', issue.minimum, issue.inclusive !== false);
    case 'too_big':
      return boundRule(issue.origin, 'most', issue.maximum, issue.inclusive !== false);
    case 'invalid_type':
      return `must be ${TYPE_NAMES[issue.expected] ?? `of type ${issue.expected}`}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    default:
      return `is invalid: ${issue.message}`;
  }
}

/** The first key on `path` whose setting words every problem inside it, and that rule. */
function keyRule(schema: z.ZodType, path: readonly PropertyKey[]) {
  let node: z.ZodType | undefined = schema;
  for (let i = 0; node !== undefined; i++) {
    const { rule } = settingOf(node);
    if (rule !== undefined) return { path: path.slice(0, i), rule };
    if (i === path.length) break;
    node = childOf(node, path[i] as PropertyKey);
  }
  return undefined;
}

/** What parsing a part of the document gives. */
export interface Parsed<T> {
  /** The value, when the part is valid. */
  readonly value?: T;
  readonly problems: string[];
  /**
   * When it is not: the value with its invalid keys at their defaults, if
   * that is valid, so that what only loading can tell (secrets, files) is
   * still checked and reported with the rest.
   */
  readonly salvaged?: T;
}

function salvage<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  issues: readonly z.core.$ZodIssue[],
) {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const copy: Record<string, unknown> = { ...raw };
  for (const issue of issues) {
    const [key] = issue.path;
    if (key !== undefined) delete copy[String(key)];
    else if (issue.code === 'unrecognized_keys') for (const name of issue.keys) delete copy[name];
  }
  const again = schema.safeParse(copy);
  return again.success ? again.data : undefined;
}

/**
 * Parses `raw` (a part of the document at `at`) with `schema`. Each problem
 * names its path, or the environment variable that set it; a rule across
 * keys names the other key through `params.than` (`must be >= pool.min`).
 */
export function parseSetting<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  at: readonly PropertyKey[],
  origins: Origins = new Map(),
): Parsed<z.output<S>> {
  const result = schema.safeParse(raw);
  if (result.success) return { value: result.data, problems: [] };
  const label = (path: readonly PropertyKey[]) => {
    const text = pathText([...at, ...path]);
    return origins.get(text) ?? text;
  };
  const problems = new Set<string>();
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        problems.add(`${pathText([...at, ...issue.path, key])} is not a known key`);
      continue;
    }
    const own = keyRule(schema, issue.path);
    if (own !== undefined) {
      problems.add(`${label(own.path)} ${own.rule}`);
      continue;
    }
    const than = (issue as { params?: { than?: string } }).params?.than;
    const rule = ruleOf(issue);
    const other = than === undefined ? '' : ` ${label([...issue.path.slice(0, -1), than])}`;
    problems.add(`${label(issue.path)} ${rule}${other}`);
  }
  const salvaged = salvage(schema, raw, result.error.issues);
  return { problems: [...problems], ...(salvaged === undefined ? {} : { salvaged }) };
}
