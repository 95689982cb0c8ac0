import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Legacy challenge login helpers (docs/routeros-api.md §3.2):
 * response = "00" + hex(MD5(0x00 || password || challenge)).
 */

/** A fresh 16-byte challenge. */
export function createChallenge(): Buffer {
  return randomBytes(16);
}

/** The challenge as the router sends it in `=ret=`: 32 lowercase hex digits. */
export function challengeToHex(challenge: Buffer): string {
  return challenge.toString('hex');
}

/** Parse a `=ret=` challenge; undefined unless it is exactly 32 hex digits. */
export function challengeFromHex(hex: string): Buffer | undefined {
  return /^[0-9a-fA-F]{32}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}

/**
 * The `=response=` value for `password`: bytes as given; a string is text,
 * taken as UTF-8 as clients send passwords (`pässword` is `70 c3 a4 ...`).
 */
export function computeResponse(password: Buffer | string, challenge: Buffer): string {
  const md5 = createHash('md5');
  md5.update(Buffer.of(0));
  md5.update(typeof password === 'string' ? Buffer.from(password, 'utf8') : password);
  md5.update(challenge);
  return `00${md5.digest('hex')}`;
}

/** Constant-time check of a client's `=response=` against the expected one. */
export function verifyResponse(
  password: Buffer | string,
  challenge: Buffer,
  response: Buffer | string,
): boolean {
  const expected = Buffer.from(computeResponse(password, challenge), 'latin1');
  const given =
    typeof response === 'string'
      ? Buffer.from(response.toLowerCase(), 'latin1')
      : Buffer.from(response.toString('latin1').toLowerCase(), 'latin1');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
