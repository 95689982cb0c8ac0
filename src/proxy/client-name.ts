import { isUtf8 } from 'node:buffer';

/**
 * windows-1252's characters for the bytes 0x80-0x9F, where it differs from
 * latin1 (€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ' ' " " • – — ˜ ™ š › œ ž Ÿ; the five
 * bytes it leaves undefined read as latin1 does, as in the WHATWG index).
 */
const CP1252_80_9F =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/**
 * A client's login name as text, the one rule wherever a name becomes text
 * (rosgate's users, policy roles, lockouts, audit, logs): bytes that are
 * valid UTF-8 read as UTF-8, others as windows-1252, which is latin1 but
 * for 0x80-0x9F. RouterOS names are bytes (docs/routeros-api.md §1): a
 * client on Linux or a recent library sends UTF-8, node-routeros and Winbox
 * on a Western Windows PC send windows-1252, so `josé` from either is the
 * configured `josé`. A check the router makes gets the bytes themselves.
 */
export function decodeClientName(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  return bytes
    .toString('latin1')
    .replace(/[\x80-\x9f]/g, (c) => CP1252_80_9F[c.charCodeAt(0) - 0x80] as string);
}

/**
 * A client's password as the UTF-8 bytes of its text, read as its name is
 * (`decodeClientName`): valid UTF-8 as it came, windows-1252 re-encoded.
 * What rosgate compares with a password it was configured with as text, so
 * `café` from node-routeros (`63 61 66 e9`) and from a UTF-8 client
 * (`63 61 66 c3 a9`) is one password.
 */
export function clientTextBytes(bytes: Buffer): Buffer {
  return isUtf8(bytes) ? bytes : Buffer.from(decodeClientName(bytes), 'utf8');
}

/** windows-1252's byte for each character it writes above 0x7f. */
const CP1252_BYTES: ReadonlyMap<string, number> = new Map([
  ...[...CP1252_80_9F].map((c, i): [string, number] => [c, 0x80 + i]),
  ...Array.from({ length: 0x60 }, (_, i): [string, number] => [
    String.fromCharCode(0xa0 + i),
    0xa0 + i,
  ]),
]);

/**
 * The ways a client may write configured `text` as bytes: UTF-8, and
 * windows-1252 (node-routeros, Winbox on a Western PC) when it differs and
 * has a byte for every character. A legacy `=response=` is an MD5 over the
 * password's bytes, so rosgate checks it against each.
 */
export function textSpellings(text: string): Buffer[] {
  const utf8 = Buffer.from(text, 'utf8');
  if (utf8.length === text.length) return [utf8];
  const bytes: number[] = [];
  for (const c of text) {
    const byte = c < '\x80' ? c.charCodeAt(0) : CP1252_BYTES.get(c);
    if (byte === undefined) return [utf8];
    bytes.push(byte);
  }
  return [utf8, Buffer.from(bytes)];
}
