import { isUtf8 } from 'node:buffer';
import { encodeText, readClientText } from '../protocol/index.js';

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
  return readClientText(bytes);
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

/**
 * The ways a client may write configured `text` as bytes: UTF-8, and
 * windows-1252 (node-routeros, Winbox on a Western PC) when it differs and
 * has a byte for every character. A legacy `=response=` is an MD5 over the
 * password's bytes, so rosgate checks it against each.
 */
export function textSpellings(text: string): Buffer[] {
  const utf8 = Buffer.from(text, 'utf8');
  const cp1252 = utf8.length === text.length ? undefined : encodeText(text, 'windows-1252');
  return cp1252 === undefined ? [utf8] : [utf8, cp1252];
}
