import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';

/**
 * Text written in a code page (docs/routeros-api.md §7). RouterOS keeps a
 * password as the bytes it was given, and Winbox gives it in the Windows
 * code page of the PC it runs on: `пароль` set from a Russian PC is
 * `ef e0 f0 ee eb fc`, not its UTF-8. rosgate logs in with the bytes the
 * router holds, so a router's configured text is written in the code page
 * it was set in.
 */

/**
 * The encodings a router's login text may be written in: UTF-8 and the
 * single-byte code pages of the WHATWG Encoding standard, by their
 * canonical names (Node's TextDecoder knows each).
 */
export const LOGIN_ENCODINGS = [
  'utf-8',
  'windows-1250',
  'windows-1251',
  'windows-1252',
  'windows-1253',
  'windows-1254',
  'windows-1255',
  'windows-1256',
  'windows-1257',
  'windows-1258',
  'windows-874',
  'ibm866',
  'iso-8859-2',
  'iso-8859-3',
  'iso-8859-4',
  'iso-8859-5',
  'iso-8859-6',
  'iso-8859-7',
  'iso-8859-8',
  'iso-8859-10',
  'iso-8859-13',
  'iso-8859-14',
  'iso-8859-15',
  'koi8-r',
  'koi8-u',
  'macintosh',
  'x-mac-cyrillic',
] as const;
export type LoginEncoding = (typeof LOGIN_ENCODINGS)[number];

/** The single-byte code pages: what a client's text that is not UTF-8 may be read in. */
export const CODE_PAGES = LOGIN_ENCODINGS.filter(
  (encoding): encoding is Exclude<LoginEncoding, 'utf-8'> => encoding !== 'utf-8',
);
export type CodePage = (typeof CODE_PAGES)[number];

/** The code page a client's text is read in when it is not UTF-8, unless `limits.clientCodePage` says otherwise. */
export const DEFAULT_CODE_PAGE: CodePage = 'windows-1252';

/**
 * windows-1252's characters for the bytes 0x80-0x9F, where it differs from
 * latin1 (€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ' ' " " • – — ˜ ™ š › œ ž Ÿ; the five
 * bytes it leaves undefined read as latin1 does, as in the WHATWG index).
 * Node's TextDecoder reads windows-1252 as latin1, so rosgate keeps its own.
 */
const CP1252_80_9F =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** `bytes` read as windows-1252: latin1 but for 0x80-0x9F. */
export function decodeWindows1252(bytes: Buffer): string {
  return bytes
    .toString('latin1')
    .replace(/[\x80-\x9f]/g, (c) => CP1252_80_9F[c.charCodeAt(0) - 0x80] as string);
}

/** One decoder per code page, made once it is asked for. */
const decoders = new Map<CodePage, TextDecoder>();

/** `bytes` read in the single-byte `codePage`, as Node's TextDecoder reads it (windows-1252: rosgate's table). */
function decodeCodePage(bytes: Buffer, codePage: CodePage): string {
  if (codePage === 'windows-1252') return decodeWindows1252(bytes);
  let decoder = decoders.get(codePage);
  if (decoder === undefined) {
    decoder = new TextDecoder(codePage);
    decoders.set(codePage, decoder);
  }
  return decoder.decode(bytes);
}

/**
 * Bytes a client sent, as text: the one rule wherever a client's bytes meet
 * configured text (rosgate's users and their passwords, policy roles and
 * conditions, lockouts, audit, logs). Valid UTF-8 reads as UTF-8, anything
 * else in the clients' `codePage` (`limits.clientCodePage`): by default
 * windows-1252, which is latin1 but for 0x80-0x9F. A client on Linux or a
 * recent library sends UTF-8, node-routeros and Winbox on a Western Windows
 * PC send windows-1252, so `josé` from either is the configured `josé`; a
 * PHP panel saving windows-1251 needs that page named. A check the router
 * makes gets the bytes themselves.
 */
export function readClientText(bytes: Buffer, codePage: CodePage = DEFAULT_CODE_PAGE): string {
  return isUtf8(bytes) ? bytes.toString('utf8') : decodeCodePage(bytes, codePage);
}

/**
 * A client's word as the UTF-8 bytes of its text ({@link readClientText}):
 * valid UTF-8 as it came, a code page's bytes re-encoded. What rosgate
 * compares with a password it was configured with as text, so `café` from
 * node-routeros (`63 61 66 e9`) and from a UTF-8 client (`63 61 66 c3 a9`)
 * is one password.
 */
export function clientTextBytes(bytes: Buffer, codePage: CodePage = DEFAULT_CODE_PAGE): Buffer {
  return isUtf8(bytes) ? bytes : Buffer.from(decodeCodePage(bytes, codePage), 'utf8');
}

/** The bytes 0x00-0xFF, in order. */
const EVERY_BYTE = Buffer.from(Array.from({ length: 256 }, (_, byte) => byte));

/** Each single-byte code page's byte for each character it writes, built once it is asked for. */
const tables = new Map<CodePage, ReadonlyMap<string, number>>();

function tableOf(encoding: CodePage): ReadonlyMap<string, number> {
  let table = tables.get(encoding);
  if (table === undefined) {
    // A single-byte code page turns each byte into one character.
    const chars = decodeCodePage(EVERY_BYTE, encoding);
    const built = new Map<string, number>();
    // A byte the code page leaves undefined decodes as U+FFFD: no character is written with it.
    for (let byte = 0; byte <= 0xff; byte++) {
      const c = chars[byte] as string;
      if (c !== '\ufffd') built.set(c, byte);
    }
    table = built;
    tables.set(encoding, table);
  }
  return table;
}

/**
 * `text` as bytes in `encoding`; undefined when the code page has no byte
 * for one of its characters.
 */
export function encodeText(text: string, encoding: LoginEncoding): Buffer | undefined {
  if (encoding === 'utf-8') return Buffer.from(text, 'utf8');
  const table = tableOf(encoding);
  const bytes = Buffer.allocUnsafe(text.length);
  let i = 0;
  for (const c of text) {
    const byte = table.get(c);
    if (byte === undefined) return undefined;
    bytes[i++] = byte;
  }
  return bytes.subarray(0, i);
}

/**
 * The ways a client may write configured `text` as bytes: UTF-8, and the
 * clients' `codePage` (windows-1252 by default: node-routeros, Winbox on a
 * Western PC) when it differs and has a byte for every character. A legacy
 * `=response=` is an MD5 over the password's bytes, so rosgate checks it
 * against each.
 */
export function textSpellings(text: string, codePage: CodePage = DEFAULT_CODE_PAGE): Buffer[] {
  const utf8 = Buffer.from(text, 'utf8');
  const paged = utf8.length === text.length ? undefined : encodeText(text, codePage);
  return paged === undefined ? [utf8] : [utf8, paged];
}
