import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { createConfigError } from './config-error.js';
import { filePathsIn } from './catalog.js';
import type { LoadedConfig } from './schema.js';
import { validateConfig, type SecretFiles } from './validate.js';

/** Options for `loadConfig()`. */
export interface LoadConfigOptions {
  /** A YAML file, relative to `cwd`. Without it only the environment and defaults apply. */
  readonly file?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default process.cwd() */
  readonly cwd?: string;
}

/**
 * The first line of a YAML error: what and where. The lines after it quote
 * the source, which may hold a password, so they are dropped.
 */
function yamlProblem(file: string, err: Error): string {
  const [first = ''] = err.message.split('\n');
  return `${file}: ${first.replace(/:$/, '')}`;
}

/** Parses YAML; every syntax error becomes one problem. */
export function parseConfigYaml(text: string, file: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw createConfigError(doc.errors.map((e) => yamlProblem(file, e)));
  try {
    return doc.toJS();
  } catch (err) {
    // An unresolved alias is found only when the document is converted.
    throw createConfigError([yamlProblem(file, err as Error)]);
  }
}

async function readSecretFiles(raw: unknown, baseDir: string): Promise<SecretFiles> {
  const files = new Map<string, string | Error>();
  for (const path of filePathsIn(raw)) {
    files.set(path, await readFile(resolve(baseDir, path), 'utf8').catch((err: Error) => err));
  }
  return files;
}

/**
 * Loads the configuration: the YAML `file` if given, defaults, then the
 * environment over both, then secrets (`passwordEnv` from `env`,
 * `passwordFile` relative to the file's directory, or `cwd` without a file)
 * and the PEM files of TLS settings (read the same way).
 * Throws one `RosgateError` (`ROSGATE_CONFIG`) listing every problem; print
 * it with `formatConfigError()`.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  let raw: unknown;
  let baseDir = cwd;
  if (options.file !== undefined) {
    const file = resolve(cwd, options.file);
    baseDir = dirname(file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw createConfigError([
        `config file ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`,
      ]);
    }
    raw = parseConfigYaml(text, file);
  }
  return validateConfig(raw, env, await readSecretFiles(raw, baseDir));
}
