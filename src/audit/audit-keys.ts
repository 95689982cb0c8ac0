import type { AuditConfig } from '../config/audit.js';
import { createConfigError } from '../config/config-error.js';

/** The secrets of the audit trail; never logged. */
export interface AuditKeys {
  /** HMAC-SHA256 key of the hash chain, when `integrity.enabled`. */
  readonly integrityKey?: Buffer;
  /** AES-256-GCM key of `details`, when `encryption.enabled`. */
  readonly encryptionKey?: Buffer;
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;
const MIN_INTEGRITY_KEY_BYTES = 16;

/**
 * An integrity key as text: the UTF-8 bytes of the trimmed text, whatever
 * it looks like (so `rosgate audit verify --key-file` reads it the same way).
 */
export function integrityKeyOf(text: string): Buffer {
  return Buffer.from(text.trim(), 'utf8');
}

/** An encryption key as text: 64 hex digits or base64 of 32 bytes; undefined otherwise. */
export function encryptionKeyOf(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (HEX_KEY.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (BASE64_KEY.test(trimmed)) return Buffer.from(trimmed, 'base64');
  return undefined;
}

/**
 * Reads the keys the `audit:` section asks for: from `keyFile` when set,
 * else from the variable named by `keyEnv`. Throws one config error naming
 * every problem (never a key's value).
 * @param readFile reads a key file (the caller resolves relative paths).
 */
export async function resolveAuditKeys(
  config: AuditConfig,
  env: NodeJS.ProcessEnv,
  readFile: (path: string) => Promise<Buffer | string>,
): Promise<AuditKeys> {
  const problems: string[] = [];
  const load = async (section: 'integrity' | 'encryption'): Promise<string | undefined> => {
    const source = config[section];
    if (!source.enabled) return undefined;
    if (source.keyFile !== undefined) {
      try {
        return (await readFile(source.keyFile)).toString();
      } catch {
        problems.push(`audit.${section}.keyFile could not be read`);
        return undefined;
      }
    }
    const text = env[source.keyEnv];
    if (text === undefined || text.trim() === '') {
      problems.push(`audit.${section} is enabled but ${source.keyEnv} is not set (or set keyFile)`);
      return undefined;
    }
    return text;
  };
  const keys: { integrityKey?: Buffer; encryptionKey?: Buffer } = {};
  const integrity = await load('integrity');
  if (integrity !== undefined) {
    keys.integrityKey = integrityKeyOf(integrity);
    if (keys.integrityKey.length < MIN_INTEGRITY_KEY_BYTES)
      problems.push(`audit.integrity key must be at least ${MIN_INTEGRITY_KEY_BYTES} bytes`);
  }
  const encryption = await load('encryption');
  if (encryption !== undefined) {
    const key = encryptionKeyOf(encryption);
    if (key === undefined)
      problems.push('audit.encryption key must be 32 bytes as 64 hex digits or base64');
    else keys.encryptionKey = key;
  }
  if (problems.length > 0) throw createConfigError(problems);
  return keys;
}
