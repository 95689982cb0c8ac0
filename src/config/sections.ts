/**
 * Top-level configuration sections owned by the pipeline stages (flow,
 * cache, policy, audit, admin). Each is declared once, in its own file, as a
 * {@link ConfigSection}: its key, defaults, validation and environment
 * variables. `validateConfig()` checks every section listed in
 * {@link SECTIONS}, and `RosgateConfig` carries each under its key.
 */
import { z } from 'zod';
import type { Checker } from './checker.js';
import { auditSection } from './audit.js';
import { cacheSection } from './cache.js';
import { flowSection } from './flow.js';
import { policySection } from './policy.js';

/** How an environment variable's text becomes a config value. */
export type EnvType = 'number' | 'boolean' | 'string';

/** One environment variable and the config key (under the section) it sets. */
export interface EnvBinding {
  /** Keys below the section: `['rateLimit', 'bucketSize']`. */
  readonly keys: readonly string[];
  readonly type: EnvType;
}

/** A top-level configuration section. */
export interface ConfigSection<T> {
  /** Its YAML key, as `flow`. */
  readonly key: string;
  readonly defaults: T;
  /**
   * Validates the raw section (undefined or null when absent: defaults).
   * Problems go to `c.problem(path, rule)`; returns what was valid, with
   * defaults for the rest.
   */
  check(c: Checker, raw: unknown): T;
  /** Environment variables that override this section's keys. */
  readonly env?: Readonly<Record<string, EnvBinding>>;
}

/** Every section, by key. Add a line here when a stage adds its section. */
export const SECTIONS = {
  audit: auditSection,
  cache: cacheSection,
  flow: flowSection,
  policy: policySection,
} as const satisfies Record<string, ConfigSection<unknown>>;

type Sections = typeof SECTIONS;

/** The validated value of every section, by key. */
export type SectionsConfig = {
  readonly [K in keyof Sections]: Sections[K] extends ConfigSection<infer T> ? T : never;
};

/** Checks each section in `root`. */
export function checkSections(c: Checker, root: Record<string, unknown>): SectionsConfig {
  const out: Record<string, unknown> = {};
  for (const [key, section] of Object.entries(SECTIONS) as [string, ConfigSection<unknown>][]) {
    out[key] = section.check(c, root[key]);
  }
  return out as SectionsConfig;
}

/** Every section's environment variables, with the full key path from the root. */
export function sectionEnvVariables(): Map<string, EnvBinding> {
  const out = new Map<string, EnvBinding>();
  for (const section of Object.values(SECTIONS)) {
    for (const [name, binding] of Object.entries(section.env)) {
      out.set(name, { keys: [section.key, ...binding.keys], type: binding.type });
    }
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

/** A zod issue as the config's own wording: `must be an integer`, `must be >= 1`. */
function ruleOf(issue: z.core.$ZodIssue): string {
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
      return issue.message.startsWith('must ') ? issue.message : `is invalid: ${issue.message}`;
  }
}

/**
 * A section declared once as a zod schema: validation with the config's
 * wording, defaults from the schema, and JSON Schema for editors and the
 * Helm chart from the same declaration. The schema should be `.strict()`
 * so unknown keys are errors, and give every key a `.default()`.
 */
export function zodSection<S extends z.ZodType>(
  key: string,
  schema: S,
  env: Readonly<Record<string, EnvBinding>> = {},
): ConfigSection<z.output<S>> & {
  readonly schema: S;
  readonly env: Readonly<Record<string, EnvBinding>>;
} {
  return {
    key,
    schema,
    env,
    defaults: schema.parse({}),
    check(c, raw) {
      const result = schema.safeParse(raw ?? {});
      if (result.success) return result.data;
      for (const issue of result.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          for (const name of issue.keys)
            c.problem(pathText([key, ...issue.path, name]), 'is not a known key');
        } else {
          c.problem(pathText([key, ...issue.path]), ruleOf(issue));
        }
      }
      return schema.parse({});
    },
  };
}

/** `['cache', 'rules', 0, 'ttlMs']` -> `cache.rules[0].ttlMs`. */
function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}
