/**
 * The canonical form of a record and the line that carries it.
 *
 * Canonical form: the record without `hash`, as JSON text without
 * whitespace; top-level keys in the order `seq`, `prev`, `id`, `timestamp`,
 * `kind`, `level`, `category`, `action`, `result`, `userId`, `ipAddress`,
 * `router`, `replica`, `connId`, `path`, `verb`, `tag`, `rule`, `verdict`, `cache`,
 * `rows`, `duration`, `details`, absent keys left out; keys of nested
 * objects sorted by UTF-16 code units, arrays in order; strings escaped as
 * `JSON.stringify` escapes them; encoded as UTF-8.
 *
 * Line: the canonical form with `,"hash":"<64 hex>"` inserted before its
 * final `}`, then `\n`. `hash` is the SHA-256 of the canonical form, or its
 * HMAC-SHA256 under the integrity key. A verifier therefore hashes a line's
 * bytes up to the hash field plus one `}`, with no JSON parsing at all, and
 * any changed byte changes the hash.
 */
import * as crypto from 'node:crypto';
import { boundedMemo } from '../bounded-memo.js';
import type { AuditEvent, AuditValue } from './audit-record.js';

/** The `prev` of the very first record. */
export const ZERO_HASH = '0'.repeat(64);

const SEQ_PREFIX = Buffer.from('{"seq":', 'latin1');
const PREV_PREFIX = Buffer.from(',"prev":"', 'latin1');
const HASH_PREFIX = Buffer.from(',"hash":"', 'latin1');
/** `,"hash":"` + 64 hex + `"}`. */
const SUFFIX_BYTES = HASH_PREFIX.length + 64 + 2;
const QUOTE = 0x22;
const BRACE = 0x7d;
const COMMA = 0x2c;
/** Ends every line. */
export const NEWLINE = 0x0a;

function sortKeys(value: AuditValue): AuditValue {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  // No prototype: a key named `__proto__` (a client's attribute) is kept, not a setter call.
  const out = Object.create(null) as Record<string, AuditValue>;
  for (const key of Object.keys(value).sort()) {
    out[key] = sortKeys((value as Record<string, AuditValue>)[key] as AuditValue);
  }
  return out;
}

/** A value most records repeat (kind, user, address, menu), as JSON: made once each. */
const quoted = boundedMemo(1024, (value: string) => JSON.stringify(value));

/** Characters `JSON.stringify` leaves as they are, so the quotes are all it adds. */
const PLAIN = /^[\w .:+/-]*$/;

/** A value each record has its own of (id, timestamp, tag), as JSON. */
function unique(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}

/** A number as JSON (`null` for NaN and the infinities, as JSON.stringify writes them). */
function numeric(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/**
 * The part of `event`'s canonical form that does not depend on its place in
 * the chain: the fields from `id` on, as JSON without the outer braces,
 * absent (undefined) fields left out: byte for byte what JSON.stringify
 * makes of the fields in that order (a property test holds it to that).
 * Written out field by field, with the values records repeat turned into
 * JSON once: half the cost of JSON.stringify on the proxy's thread, where
 * each record is serialised once, as it is made (issue 19).
 */
export function eventBody(event: AuditEvent): string {
  const e = event;
  let body = '';
  if (e.id !== undefined) body += `,"id":${unique(e.id)}`;
  if (e.timestamp !== undefined) body += `,"timestamp":${unique(e.timestamp)}`;
  if (e.kind !== undefined) body += `,"kind":${quoted(e.kind)}`;
  if (e.level !== undefined) body += `,"level":${quoted(e.level)}`;
  if (e.category !== undefined) body += `,"category":${quoted(e.category)}`;
  if (e.action !== undefined) body += `,"action":${quoted(e.action)}`;
  if (e.result !== undefined) body += `,"result":${quoted(e.result)}`;
  if (e.userId !== undefined) body += `,"userId":${quoted(e.userId)}`;
  if (e.ipAddress !== undefined) body += `,"ipAddress":${quoted(e.ipAddress)}`;
  if (e.router !== undefined) body += `,"router":${quoted(e.router)}`;
  if (e.replica !== undefined) body += `,"replica":${quoted(e.replica)}`;
  if (e.connId !== undefined) body += `,"connId":${numeric(e.connId)}`;
  if (e.path !== undefined) body += `,"path":${quoted(e.path)}`;
  if (e.verb !== undefined) body += `,"verb":${quoted(e.verb)}`;
  if (e.tag !== undefined) body += `,"tag":${unique(e.tag)}`;
  if (e.rule !== undefined) body += `,"rule":${quoted(e.rule)}`;
  if (e.verdict !== undefined) body += `,"verdict":${quoted(e.verdict)}`;
  if (e.cache !== undefined) body += `,"cache":${quoted(e.cache)}`;
  if (e.rows !== undefined) body += `,"rows":${numeric(e.rows)}`;
  if (e.duration !== undefined) body += `,"duration":${numeric(e.duration)}`;
  if (e.details !== undefined) body += `,"details":${JSON.stringify(sortKeys(e.details))}`;
  // Without the first field's comma.
  return body.slice(1);
}

/**
 * One-shot SHA-256 (Node >= 20.12): about three times faster per record than
 * a Hash object, which is most of what verify costs.
 */
// The createHash arm runs on Node 20.0-20.11 only (no crypto.hash there).
// tsx's source map starts that arm at the end of the `?` line, so the
// ignore spans the whole choice.
/* c8 ignore start */
const sha256: (data: string | Buffer) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex');
/* c8 ignore stop */

/** True when `bytes` occur in `line` at `at` (for a few bytes a loop beats a native call). */
function bytesAt(line: Buffer, bytes: Buffer, at: number): boolean {
  for (let i = 0; i < bytes.length; i++) if (line[at + i] !== bytes[i]) return false;
  return true;
}

/** What {@link parseLine} finds in a complete line. */
export interface ChainLine {
  readonly seq: number;
  readonly prev: string;
  readonly hash: string;
  /** Where the hash field starts: the canonical form is `line[0, bodyEnd)` + `}`. */
  readonly bodyEnd: number;
}

/**
 * Reads `seq`, `prev` and `hash` from a line (no newline) by position, or
 * returns undefined when the line does not have a record's shape.
 */
export function parseLine(line: Buffer): ChainLine | undefined {
  const bodyEnd = line.length - SUFFIX_BYTES;
  if (bodyEnd < SEQ_PREFIX.length + 1 + PREV_PREFIX.length + 65) return undefined;
  if (!bytesAt(line, SEQ_PREFIX, 0)) return undefined;
  let at = SEQ_PREFIX.length;
  let seq = 0;
  for (let byte = line[at] as number; byte >= 0x30 && byte <= 0x39; byte = line[++at] as number) {
    seq = seq * 10 + byte - 0x30;
  }
  if (at === SEQ_PREFIX.length || at - SEQ_PREFIX.length > 15) return undefined;
  if (!bytesAt(line, PREV_PREFIX, at)) return undefined;
  at += PREV_PREFIX.length;
  if (line[at + 64] !== QUOTE || at + 65 > bodyEnd) return undefined;
  const hashAt = bodyEnd + HASH_PREFIX.length;
  const isSuffix =
    bytesAt(line, HASH_PREFIX, bodyEnd) &&
    line[hashAt + 64] === QUOTE &&
    line[hashAt + 65] === BRACE;
  if (!isSuffix) return undefined;
  return {
    seq,
    prev: line.toString('latin1', at, at + 64),
    hash: line.toString('latin1', hashAt, hashAt + 64),
    bodyEnd,
  };
}

/**
 * The chain hash a complete line should carry, from its bytes. The byte at
 * `bodyEnd` (the `,` before `"hash"`) is briefly replaced by `}` so the
 * canonical form is hashed in one piece, then restored.
 */
export function digestLine(line: Buffer, bodyEnd: number, key: Buffer | undefined): string {
  const canonical = line.subarray(0, bodyEnd + 1);
  line[bodyEnd] = BRACE;
  const digest =
    key === undefined
      ? sha256(canonical)
      : crypto.createHmac('sha256', key).update(canonical).digest('hex');
  line[bodyEnd] = COMMA;
  return digest;
}

/** Bytes a {@link ChainLines} buffer starts with. */
const LINES_BYTES = 64 * 1024;
/** `{"seq":` + 16 digits + `,"prev":"` + 64 hex + `",`: the most a line's head takes. */
const HEAD_BYTES = 7 + 16 + 9 + 64 + 2;

/**
 * Lines of the chain written straight into one buffer: the head
 * (`{"seq":N,"prev":"…",`), the body's bytes, then `}` for the hash, which
 * is then written over it with the line's end. The canonical form is hashed
 * where it lies; no text is built per record.
 */
export class ChainLines {
  #buffer = Buffer.allocUnsafe(LINES_BYTES);
  #length = 0;

  /** The bytes of the line of `body` at `seq` after `prev` (no newline before it). */
  static bytesOf(seq: number, body: Buffer | string): number {
    const head = SEQ_PREFIX.length + String(seq).length + PREV_PREFIX.length + 64 + 2;
    const bodyBytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    return head + bodyBytes + SUFFIX_BYTES + 1;
  }

  /** Appends a newline: the file ended in a torn line. */
  newline(): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = NEWLINE;
  }

  /** Appends the line of `body` at `seq` after `prev`, newline included; returns its hash. */
  add(seq: number, prev: string, body: Buffer | string, key: Buffer | undefined): string {
    const most =
      HEAD_BYTES + (typeof body === 'string' ? body.length * 3 : body.length) + SUFFIX_BYTES + 1;
    this.#reserve(most);
    const buffer = this.#buffer;
    const start = this.#length;
    let at = start + buffer.write(`{"seq":${seq},"prev":"${prev}",`, start, 'latin1');
    at += typeof body === 'string' ? buffer.write(body, at, 'utf8') : body.copy(buffer, at);
    buffer[at] = BRACE;
    const canonical = buffer.subarray(start, at + 1);
    const hash =
      key === undefined
        ? sha256(canonical)
        : crypto.createHmac('sha256', key).update(canonical).digest('hex');
    at += buffer.write(`,"hash":"${hash}"}\n`, at, 'latin1');
    this.#length = at;
    return hash;
  }

  /** The lines so far, and an empty builder again. */
  take(): Buffer {
    const lines = this.#buffer.subarray(0, this.#length);
    this.#buffer = Buffer.allocUnsafe(LINES_BYTES);
    this.#length = 0;
    return lines;
  }

  #reserve(bytes: number): void {
    if (this.#buffer.length - this.#length >= bytes) return;
    const larger = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#length + bytes));
    this.#buffer.copy(larger, 0, 0, this.#length);
    this.#buffer = larger;
  }
}

/**
 * True when a line that is not a complete record could be the start of
 * one cut short by a crash: it begins like a record (or is a prefix of that
 * beginning).
 */
export function isRecordStart(line: Buffer): boolean {
  const n = Math.min(line.length, SEQ_PREFIX.length);
  return n > 0 && line.compare(SEQ_PREFIX, 0, n, 0, n) === 0;
}
