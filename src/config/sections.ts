/**
 * Top-level configuration sections owned by the pipeline stages (flow,
 * cache, policy, audit, admin). Each is declared once, in its own file, as a
 * {@link ConfigSection}: its key, defaults, validation and environment
 * variables. `validateConfig()` checks every section listed in
 * {@link SECTIONS}, and `RosgateConfig` carries each under its key.
 */
import type { Checker } from './checker.js';

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
export const SECTIONS = {} as const satisfies Record<string, ConfigSection<unknown>>;

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
  for (const section of Object.values(SECTIONS) as ConfigSection<unknown>[]) {
    for (const [name, binding] of Object.entries(section.env ?? {})) {
      out.set(name, { keys: [section.key, ...binding.keys], type: binding.type });
    }
  }
  return out;
}
