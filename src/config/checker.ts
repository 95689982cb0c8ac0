import type { ConfigWarning, ConfigWarningCode } from './schema.js';
import { MAX_COUNT, ConfigWarningCode as WarningCode } from './schema.js';
import { isMapping, joinPath } from './env.js';

export type Mapping = Record<string, unknown>;

/**
 * Contents of the files the config names (`passwordFile`, `tls.certFile`,
 * `tls.keyFile`, `upstreamCaFile`), keyed by the path as written in the
 * config; an Error when the file could not be read.
 */
export type SecretFiles = ReadonlyMap<string, string | Error>;

function rangeText(min: number, max: number): string {
  return max === MAX_COUNT ? `an integer >= ${min}` : `an integer ${min}-${max}`;
}

/** Walks one raw configuration, collecting problems and warnings. */
export class Checker {
  readonly problems: string[] = [];
  readonly warnings: ConfigWarning[] = [];
  readonly #origins: ReadonlyMap<string, string>;
  readonly #env: NodeJS.ProcessEnv;
  readonly #files: SecretFiles;

  constructor(origins: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv, files: SecretFiles) {
    this.#origins = origins;
    this.#env = env;
    this.#files = files;
  }

  /** A path, or the environment variable that set it. */
  label(path: string): string {
    return this.#origins.get(path) ?? path;
  }

  isFromEnv(path: string): boolean {
    return this.#origins.has(path);
  }

  problem(path: string, rule: string): void {
    this.problems.push(`${this.label(path)} ${rule}`);
  }

  warn(code: ConfigWarningCode, path: string, message: string): void {
    this.warnings.push({ code, path: this.label(path), message: `${this.label(path)} ${message}` });
  }

  /**
   * A mapping with known keys; when optional, absent (or null, as YAML
   * writes `pool:`) is an empty mapping. Returns undefined when the value is
   * not a mapping. List items are never optional: `- ` alone is a mistake.
   */
  mapping(
    value: unknown,
    path: string,
    keys: readonly string[],
    isOptional = true,
  ): Mapping | undefined {
    if (isOptional && (value === undefined || value === null)) return {};
    if (!isMapping(value)) {
      this.problem(path, 'must be a mapping');
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) this.problems.push(`${joinPath(path, key)} is not a known key`);
    }
    return value;
  }

  /** An integer in [min, max]; undefined (and a problem) when invalid. */
  integer(node: Mapping, path: string, key: string, min: number, max: number, fallback: number) {
    const value = node[key];
    const at = joinPath(path, key);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.problem(at, `must be ${rangeText(min, max)}`);
      return undefined;
    }
    return value;
  }

  /** A finite number in [min, max] (ratios, fractions); undefined (and a problem) when invalid. */
  number(node: Mapping, path: string, key: string, min: number, max: number, fallback: number) {
    const value = node[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.problem(joinPath(path, key), `must be a number ${min}-${max}`);
      return undefined;
    }
    return value;
  }

  /** A list (absent or null is empty); undefined (and a problem) when not a list. */
  list(node: Mapping, path: string, key: string): unknown[] | undefined {
    const value = node[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.problem(joinPath(path, key), 'must be a list');
      return undefined;
    }
    return value;
  }

  /** A list of non-empty strings; the fallback when absent or invalid. */
  stringList(node: Mapping, path: string, key: string, fallback: readonly string[]): string[] {
    const value = node[key];
    if (value === undefined || value === null) return [...fallback];
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
      this.problem(joinPath(path, key), 'must be a list of non-empty strings');
      return [...fallback];
    }
    return value as string[];
  }

  /** A string; empty strings are refused unless allowed. */
  string(node: Mapping, path: string, key: string, fallback?: string): string | undefined {
    const value = node[key];
    const at = joinPath(path, key);
    if (value === undefined || value === null) {
      if (fallback === undefined) this.problem(at, 'is required');
      return fallback;
    }
    if (typeof value !== 'string' || value === '') {
      // YAML reads `password: 1234` as a number: say how to fix it.
      this.problem(at, 'must be a non-empty string (quote numbers in YAML)');
      return undefined;
    }
    return value;
  }

  choice<T extends string>(
    node: Mapping,
    path: string,
    key: string,
    options: readonly T[],
    fallback: T,
  ): T {
    const value = node[key];
    if (value === undefined || value === null) return fallback;
    if (!options.includes(value as T)) {
      this.problem(joinPath(path, key), `must be one of ${options.join(', ')}`);
      return fallback;
    }
    return value as T;
  }

  /** A boolean; undefined (and a problem) when invalid. */
  boolean(node: Mapping, path: string, key: string, fallback: boolean): boolean | undefined {
    const value = node[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') {
      this.problem(joinPath(path, key), 'must be true or false');
      return undefined;
    }
    return value;
  }

  /**
   * The contents of the file `node[key]` names, as `loadConfig()` read it;
   * undefined (and a problem) when the name is invalid or the file unreadable.
   */
  file(node: Mapping, path: string, key: string): { name: string; content: string } | undefined {
    const name = this.string(node, path, key);
    if (name === undefined) return undefined;
    const content = this.#files.get(name);
    if (content === undefined || content instanceof Error) {
      // Absent: the caller did not read it, as when validating without I/O.
      const reason =
        content === undefined ? 'ENOENT' : ((content as NodeJS.ErrnoException).code ?? 'error');
      this.problem(joinPath(path, key), `cannot be read: ${name} (${reason})`);
      return undefined;
    }
    return { name, content };
  }

  /** `a` must be >= `b` when both are valid. */
  atLeast(a: number | undefined, aPath: string, b: number | undefined, bPath: string): void {
    if (a !== undefined && b !== undefined && a < b) {
      this.problem(aPath, `must be >= ${this.label(bPath)}`);
    }
  }

  /**
   * Resolves the one secret source a router or user sets. Returns the
   * plaintext, or undefined when the source is not plaintext or is broken.
   */
  secret(node: Mapping, path: string, key: 'password' | 'passwordEnv' | 'passwordFile') {
    const at = joinPath(path, key);
    const value = this.string(node, path, key);
    if (value === undefined) return undefined;
    if (key === 'password') {
      if (!this.isFromEnv(at)) {
        this.warn(
          WarningCode.InlinePassword,
          at,
          'is a plaintext password in the configuration; prefer passwordEnv or passwordFile',
        );
      }
      return value;
    }
    if (key === 'passwordEnv') {
      const secret = this.#env[value];
      if (secret === undefined || secret === '') {
        this.problem(at, `names the environment variable ${value}, which is not set or is empty`);
        return undefined;
      }
      return secret;
    }
    const file = this.file(node, path, key);
    if (file === undefined) return undefined;
    const secret = file.content.replace(/\r?\n$/, '');
    if (secret === '') {
      this.problem(at, `is an empty file: ${value}`);
      return undefined;
    }
    return secret;
  }
}
