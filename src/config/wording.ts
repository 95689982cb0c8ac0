/**
 * zod's issues in the configuration's own words: the key path (or the
 * environment variable that set it) and a rule in YAML's terms (mapping,
 * list, characters, items): `routers[0].port must be an integer 1-65535`.
 */
import { z } from 'zod';
import { childOf, keysOf, settingOf } from './settings.js';

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

/** The schema of the value at `path` below `schema` (a mapping, here). */
function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType {
  let node = schema;
  for (const key of path) node = childOf(node, key) as z.ZodType;
  return node;
}

/**
 * `<path> is not a known key`, with the known key it most likely meant:
 * one letter off (two for a key longer than four; a transposed pair counts
 * one; case aside), else the one known key it begins (`pasword` ->
 * `password`, `enabeld` -> `enabled`, `tokenfile` -> `tokenFile`, `cert` ->
 * `certFile`).
 */
export function unknownKey(path: string, key: string, known: readonly string[]): string {
  const typed = key.toLowerCase();
  let nearest: string | undefined;
  let best = (key.length > 4 ? 2 : 1) + 1;
  for (const candidate of known) {
    const distance = editDistance(typed, candidate.toLowerCase());
    if (distance < best) [nearest, best] = [candidate, distance];
  }
  const begun = known.filter((k) => typed.length >= 3 && k.toLowerCase().startsWith(typed));
  if (nearest === undefined && begun.length === 1) nearest = begun[0];
  return `${path} is not a known key${nearest === undefined ? '' : ` (did you mean ${nearest}?)`}`;
}

/** Edits from `a` to `b`: insert, delete, replace, or swap two neighbours (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = rows[i] as number[];
      const above = rows[i - 1] as number[];
      row[j] = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
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
      const known = keysOf(schemaAt(schema, issue.path));
      for (const key of issue.keys)
        problems.add(unknownKey(pathText([...at, ...issue.path, key]), key, known));
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
