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
