import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { ResolvedUser } from './schema.js';

/** scrypt cost parameters for `hashPassword()`. */
export interface ScryptParams {
  /** CPU/memory cost N, a power of two. @default 16384 */
  readonly cost: number;
  /** Block size r. @default 8 */
  readonly blockSize: number;
  /** Parallelization p. @default 1 */
  readonly parallelization: number;
}

/** OWASP's scrypt floor for interactive logins: 16 MiB, about 50 ms. */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({
  /** @default 16384 */
  cost: 16384,
  /** @default 8 */
  blockSize: 8,
  /** @default 1 */
  parallelization: 1,
});

const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** A hash asking for more scrypt memory than this is refused as malformed. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DECIMAL = /^[1-9][0-9]{0,9}$/;

interface ParsedHash {
  readonly options: ScryptOptions;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function toBytes(password: string | Buffer): Buffer {
  return typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
}

function derive(
  password: Buffer,
  salt: Buffer,
  keyBytes: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyBytes, options, (err, key) => {
      /* c8 ignore next -- Node checks scrypt parameters before starting the job and throws */
      if (err) return reject(err);
      resolve(key);
    });
  });
}

function scryptOptions(params: ScryptParams): ScryptOptions {
  const { cost: N, blockSize: r, parallelization: p } = params;
  // Node refuses a job needing more than maxmem; allow what the parameters need.
  return { N, r, p, maxmem: 128 * N * r + 128 * r * p + 1024 * 1024 };
}

/**
 * Parses `scrypt$N$r$p$saltB64$hashB64`. Returns undefined for anything else,
 * including parameters scrypt would reject or that need over 256 MiB.
 */
export function parsePasswordHash(text: string): ParsedHash | undefined {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  if (!DECIMAL.test(n) || !DECIMAL.test(r) || !DECIMAL.test(p)) return undefined;
  if (!BASE64.test(salt) || !BASE64.test(hash)) return undefined;
  const params = { cost: Number(n), blockSize: Number(r), parallelization: Number(p) };
  const isPowerOfTwo = params.cost > 1 && (params.cost & (params.cost - 1)) === 0;
  if (!isPowerOfTwo || 128 * params.cost * params.blockSize > MAX_SCRYPT_MEMORY) return undefined;
  if (params.blockSize * params.parallelization > 1024) return undefined;
  const saltBytes = Buffer.from(salt, 'base64');
  const hashBytes = Buffer.from(hash, 'base64');
  if (saltBytes.length < 8 || hashBytes.length < 16) return undefined;
  return { options: scryptOptions(params), salt: saltBytes, hash: hashBytes };
}

/** True when `text` is a well-formed hash from `hashPassword()`. */
export function isPasswordHash(text: string): boolean {
  return parsePasswordHash(text) !== undefined;
}

/**
 * Hashes a password for a `users[].passwordHash` entry with scrypt and a
 * random 16-byte salt: `scrypt$N$r$p$saltB64$hashB64`. A string is taken as
 * UTF-8.
 */
export async function hashPassword(
  password: string | Buffer,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(toBytes(password), salt, KEY_BYTES, scryptOptions(params));
  const { cost, blockSize, parallelization } = params;
  return `scrypt$${cost}$${blockSize}$${parallelization}$${salt.toString('base64')}$${key.toString('base64')}`;
}

function digest(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/**
 * Checks a password a client sent against a configured user, in time that
 * does not depend on where the two differ. Pass the password word's bytes as
 * they came off the wire; a string is taken as UTF-8. A user with a plaintext
 * `secret` is compared through SHA-256 digests so lengths do not leak; a user
 * with a `passwordHash` is checked with scrypt. A user with neither never
 * matches.
 */
export async function verifyPassword(
  user: Pick<ResolvedUser, 'secret' | 'passwordHash'>,
  password: Buffer | string,
): Promise<boolean> {
  const given = toBytes(password);
  if (user.secret !== undefined) return timingSafeEqual(digest(user.secret), digest(given));
  if (user.passwordHash === undefined) return false;
  const parsed = parsePasswordHash(user.passwordHash);
  if (parsed === undefined) return false;
  const key = await derive(given, parsed.salt, parsed.hash.length, parsed.options);
  return timingSafeEqual(key, parsed.hash);
}
