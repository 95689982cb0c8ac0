/**
 * A command's record as facts: what the audit stage knows at the command's
 * outcome, before any of it is turned into text. {@link commandEvent} makes
 * the record from them, wherever it runs: on the proxy's thread for the
 * writers that live there, on the writer's own thread for the threaded one,
 * which gets the facts as bytes ({@link writeFacts}, {@link FactsReader}). The
 * proxy's thread then copies the command's bytes and a few numbers per
 * record, and the redaction, the JSON and the id are made off its path
 * (issue 19).
 */
import { randomUUID } from 'node:crypto';
import { Decoder, type Sentence } from '../protocol/index.js';
import { isoTimestamp } from './audit-files.js';
import type { CommandNotes } from '../pipeline.js';
import {
  AuditKind,
  AuditResult,
  categoryOf,
  type AuditEvent,
  type AuditValue,
} from './audit-record.js';
import type { Redactor } from './redactor.js';

/** The kinds of record a command makes. */
export type CommandRecordKind =
  typeof AuditKind.Command | typeof AuditKind.PolicyDenied | typeof AuditKind.Flag;

/** A record's fields but its id and time, which the writer's side adds. */
export type EventFields = Omit<AuditEvent, 'id' | 'timestamp'>;

/** What a command's record holds, as the audit stage knows it at the outcome. */
export interface CommandFacts {
  /** The wall clock when the record was made (ms since epoch). */
  readonly timestamp: number;
  readonly kind: CommandRecordKind;
  readonly level: 'metadata' | 'request' | 'full';
  readonly result: AuditResult;
  readonly user: string;
  readonly address: string;
  readonly router: string;
  readonly connId: number;
  /** The command as the client sent it: action, tag, attributes and queries come from it. */
  readonly sentence: Sentence;
  /** The menu and verb the session classified it as. */
  readonly path: string;
  readonly verb: string;
  readonly rule: string | undefined;
  readonly verdict: CommandNotes['verdict'];
  readonly cache: CommandNotes['cache'];
  readonly rows: number;
  readonly duration: number;
  /** rosgate's refusal, when it refused. */
  readonly error: { readonly code: string; readonly message: string } | undefined;
  /** Why the command was flagged; undefined when it was not. */
  readonly flags: readonly string[] | undefined;
  /** The `.id` an add's `!done` gave back. */
  readonly ret: string | undefined;
  /** The router's `!trap`, when it trapped. */
  readonly trap: { readonly category?: string; readonly message?: string } | undefined;
}

/**
 * `fields` made a whole event: a random id, the time, and the replica when
 * in a group. The caller hands a fresh object: completed in place, not
 * copied (a spread of a record's twenty fields costs more than the record).
 */
export function stamped(
  fields: EventFields,
  time: number,
  replica: string | undefined,
): AuditEvent {
  const event = fields as EventFields & { id: string; timestamp: string; replica?: string };
  event.id = randomUUID();
  event.timestamp = isoTimestamp(time);
  if (replica !== undefined) event.replica = replica;
  return event;
}

/** The reply rows a `full` record keeps (redacted already). */
export interface KeptReply {
  readonly rows: readonly AuditValue[];
  readonly isTruncated: boolean;
}

/** No rows kept: what a record below `full` is made with. */
export const NO_REPLY: KeptReply = Object.freeze({ rows: [], isTruncated: false });

/**
 * The record of `facts`: secrets redacted by `redactor`; at `full`, the
 * reply rows `reply` kept ({@link NO_REPLY} below it). Byte for byte the
 * same record on either thread.
 */
export function commandEvent(
  facts: CommandFacts,
  redactor: Redactor,
  reply: KeptReply,
): EventFields {
  const details: Record<string, AuditValue> = {};
  if (facts.error !== undefined) {
    details['code'] = facts.error.code;
    details['message'] = facts.error.message;
  }
  if (facts.flags !== undefined) details['flags'] = [...facts.flags];
  // At every level: it ties later set/remove records (`=.id=*1A`) to this add.
  if (facts.ret !== undefined) details['ret'] = facts.ret;
  if (facts.level !== 'metadata') {
    details['attributes'] = redactor.attributes(facts.sentence);
    const queries = redactor.queries(facts.sentence);
    if (queries.length > 0) details['queries'] = queries;
    if (facts.trap !== undefined) details['trap'] = { ...facts.trap };
  }
  if (facts.level === 'full') {
    details['reply'] = [...reply.rows];
    if (reply.isTruncated) details['replyTruncated'] = true;
  }
  return {
    kind: facts.kind,
    level: facts.level,
    category: facts.kind === AuditKind.Command ? categoryOf(facts.path) : 'security',
    action: facts.sentence.command,
    result: facts.result,
    userId: facts.user,
    ipAddress: facts.address,
    router: facts.router,
    connId: facts.connId,
    path: facts.path,
    verb: facts.verb,
    tag: facts.sentence.tagString,
    rule: facts.rule,
    verdict: facts.verdict,
    cache: facts.cache,
    rows: facts.rows,
    duration: facts.duration,
    details: Object.keys(details).length > 0 ? details : undefined,
  };
}

// -- as bytes ------------------------------------------------------------------
//
// One record: kind, level, result, cache, verdict and which optional fields
// follow (a byte each); the time and duration (float64); the connection id
// and rows (uint32); user, address, router, path, verb and rule as table
// strings; the sentence's length (uint32) and bytes; then error code and
// message, ret, trap category and message, flags (each a uint32 byte count
// and UTF-8). Little endian throughout.
//
// A table string is a uint16: the index of a string defined before in the
// same batch, or DEFINE followed by a new one (kept at the next index), or
// INLINE followed by one the table has no room for. A batch's strings are
// its own: each batch is read alone.

type LevelOfFacts = CommandFacts['level'];
type Verdict = NonNullable<CommandNotes['verdict']>;
type CacheNote = NonNullable<CommandNotes['cache']>;

// Every member of each union has a code: the compiler checks these maps are whole.
const KIND_CODES: Record<CommandRecordKind, number> = { command: 0, policyDenied: 1, flag: 2 };
const LEVEL_CODES: Record<LevelOfFacts, number> = { metadata: 0, request: 1, full: 2 };
const RESULT_CODES: Record<AuditResult, number> = {
  success: 0,
  failure: 1,
  denied: 2,
  error: 3,
  cancelled: 4,
};
/** 0 is none. */
const VERDICT_CODES: Record<Verdict, number> = { allow: 1, deny: 2, audit: 3, flag: 4 };
const CACHE_CODES: Record<CacheNote, number> = {
  hit: 1,
  stale: 2,
  coalesced: 3,
  miss: 4,
  bypass: 5,
};

/** The names of a code map by code. */
function byCode<K extends string>(codes: Record<K, number>): readonly K[] {
  const names: K[] = [];
  for (const [name, code] of Object.entries(codes) as [K, number][]) names[code] = name;
  return names;
}
const KINDS = byCode(KIND_CODES);
const LEVELS = byCode(LEVEL_CODES);
const RESULTS = byCode(RESULT_CODES);
const VERDICTS = byCode(VERDICT_CODES);
const CACHE_NOTES = byCode(CACHE_CODES);

// Which optional fields a record carries.
const HAS_RULE = 1;
const HAS_ERROR = 2;
const HAS_RET = 4;
const HAS_TRAP = 8;
const HAS_TRAP_CATEGORY = 16;
const HAS_TRAP_MESSAGE = 32;
const HAS_FLAGS = 64;

/** A table string defined here, kept at the next index. */
const DEFINE = 0xffff;
/** A string written out in place: the table is full. */
const INLINE = 0xfffe;
/** Indexes below this are table strings. */
export const TABLE_SIZE = INLINE;

/** The five code bytes, the presence byte, two float64 and two uint32. */
const FIXED_BYTES = 6 + 16 + 8;
/** A string's most bytes: its byte count and UTF-8 (three bytes at most per UTF-16 unit). */
const stringBound = (text: string): number => 6 + 3 * text.length;

/** The most bytes {@link writeFacts} may write for `facts`. */
export function factsBound(facts: CommandFacts): number {
  let bytes =
    FIXED_BYTES +
    stringBound(facts.user) +
    stringBound(facts.address) +
    stringBound(facts.router) +
    stringBound(facts.path) +
    stringBound(facts.verb) +
    4 +
    facts.sentence.byteLength;
  if (facts.rule !== undefined) bytes += stringBound(facts.rule);
  if (facts.error !== undefined)
    bytes += stringBound(facts.error.code) + stringBound(facts.error.message);
  if (facts.ret !== undefined) bytes += stringBound(facts.ret);
  if (facts.trap?.category !== undefined) bytes += stringBound(facts.trap.category);
  if (facts.trap?.message !== undefined) bytes += stringBound(facts.trap.message);
  if (facts.flags !== undefined) {
    bytes += 2;
    for (const flag of facts.flags) bytes += stringBound(flag);
  }
  return bytes;
}

/** A string's byte count and UTF-8 at `at`; the offset after it. */
function writeString(out: Buffer, at: number, text: string): number {
  const length = out.write(text, at + 4, 'utf8');
  out.writeUInt32LE(length, at);
  return at + 4 + length;
}

/** A table string: its index, or its definition (kept in `table` for the next time). */
function writeTableString(
  out: Buffer,
  at: number,
  text: string,
  table: Map<string, number>,
): number {
  const index = table.get(text);
  if (index !== undefined) {
    out.writeUInt16LE(index, at);
    return at + 2;
  }
  const isKept = table.size < TABLE_SIZE;
  if (isKept) table.set(text, table.size);
  out.writeUInt16LE(isKept ? DEFINE : INLINE, at);
  return writeString(out, at + 2, text);
}

/**
 * Writes `facts` into `out` at `at`, which has {@link factsBound} bytes of
 * room; `table` is the batch's strings so far. Returns the offset after it.
 */
export function writeFacts(
  out: Buffer,
  at: number,
  facts: CommandFacts,
  table: Map<string, number>,
): number {
  const { rule, error, ret, trap, flags } = facts;
  out[at] = KIND_CODES[facts.kind];
  out[at + 1] = LEVEL_CODES[facts.level];
  out[at + 2] = RESULT_CODES[facts.result];
  out[at + 3] = facts.cache === undefined ? 0 : CACHE_CODES[facts.cache];
  out[at + 4] = facts.verdict === undefined ? 0 : VERDICT_CODES[facts.verdict];
  out[at + 5] =
    (rule === undefined ? 0 : HAS_RULE) |
    (error === undefined ? 0 : HAS_ERROR) |
    (ret === undefined ? 0 : HAS_RET) |
    (trap === undefined ? 0 : HAS_TRAP) |
    (trap?.category === undefined ? 0 : HAS_TRAP_CATEGORY) |
    (trap?.message === undefined ? 0 : HAS_TRAP_MESSAGE) |
    (flags === undefined ? 0 : HAS_FLAGS);
  out.writeDoubleLE(facts.timestamp, at + 6);
  out.writeDoubleLE(facts.duration, at + 14);
  out.writeUInt32LE(facts.connId, at + 22);
  out.writeUInt32LE(facts.rows, at + 26);
  let next = at + FIXED_BYTES;
  next = writeTableString(out, next, facts.user, table);
  next = writeTableString(out, next, facts.address, table);
  next = writeTableString(out, next, facts.router, table);
  next = writeTableString(out, next, facts.path, table);
  next = writeTableString(out, next, facts.verb, table);
  if (rule !== undefined) next = writeTableString(out, next, rule, table);
  out.writeUInt32LE(facts.sentence.byteLength, next);
  next = facts.sentence.copyTo(out, next + 4);
  if (error !== undefined) {
    next = writeString(out, next, error.code);
    next = writeString(out, next, error.message);
  }
  if (ret !== undefined) next = writeString(out, next, ret);
  if (trap?.category !== undefined) next = writeString(out, next, trap.category);
  if (trap?.message !== undefined) next = writeString(out, next, trap.message);
  if (flags !== undefined) {
    out.writeUInt16LE(flags.length, next);
    next += 2;
    for (const flag of flags) next = writeString(out, next, flag);
  }
  return next;
}

/** Reads what {@link writeFacts} wrote; one per batch, as its strings are the batch's. */
export class FactsReader {
  readonly #table: string[] = [];
  /** Reads the sentences back; limits as large as a word's length can say. */
  readonly #decoder = new Decoder({
    maxWordBytes: Number.MAX_SAFE_INTEGER,
    maxWordsPerSentence: Number.MAX_SAFE_INTEGER,
    maxSentenceBytes: Number.MAX_SAFE_INTEGER,
  });
  readonly #bytes: Buffer;
  #at = 0;
  /** The sentence the decoder gave last. */
  #last: Sentence | undefined;
  readonly #decoded = (sentence: Sentence): void => {
    this.#last = sentence;
  };

  /** @param bytes a batch's bytes */
  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /** The facts at `at`, and the offset after them. */
  read(at: number): { readonly facts: CommandFacts; readonly end: number } {
    const bytes = this.#bytes;
    const present = bytes[at + 5] as number;
    this.#at = at + FIXED_BYTES;
    // One literal, every field in the order it is read: one shape for every record.
    const facts: CommandFacts = {
      kind: KINDS[bytes[at] as number] as CommandRecordKind,
      level: LEVELS[bytes[at + 1] as number] as LevelOfFacts,
      result: RESULTS[bytes[at + 2] as number] as AuditResult,
      cache: CACHE_NOTES[bytes[at + 3] as number],
      verdict: VERDICTS[bytes[at + 4] as number],
      timestamp: bytes.readDoubleLE(at + 6),
      duration: bytes.readDoubleLE(at + 14),
      connId: bytes.readUInt32LE(at + 22),
      rows: bytes.readUInt32LE(at + 26),
      user: this.#tableString(),
      address: this.#tableString(),
      router: this.#tableString(),
      path: this.#tableString(),
      verb: this.#tableString(),
      rule: (present & HAS_RULE) === 0 ? undefined : this.#tableString(),
      sentence: this.#sentence(),
      error:
        (present & HAS_ERROR) === 0 ? undefined : { code: this.#string(), message: this.#string() },
      ret: (present & HAS_RET) === 0 ? undefined : this.#string(),
      trap: (present & HAS_TRAP) === 0 ? undefined : this.#trap(present),
      flags: (present & HAS_FLAGS) === 0 ? undefined : this.#flags(),
    };
    return { facts, end: this.#at };
  }

  #trap(present: number): NonNullable<CommandFacts['trap']> {
    const category = (present & HAS_TRAP_CATEGORY) === 0 ? undefined : this.#string();
    const message = (present & HAS_TRAP_MESSAGE) === 0 ? undefined : this.#string();
    return {
      ...(category === undefined ? {} : { category }),
      ...(message === undefined ? {} : { message }),
    };
  }

  #string(): string {
    const length = this.#bytes.readUInt32LE(this.#at);
    const from = this.#at + 4;
    this.#at = from + length;
    return this.#bytes.toString('utf8', from, this.#at);
  }

  #tableString(): string {
    const index = this.#bytes.readUInt16LE(this.#at);
    this.#at += 2;
    if (index < TABLE_SIZE) return this.#table[index] as string;
    const text = this.#string();
    if (index === DEFINE) this.#table.push(text);
    return text;
  }

  #sentence(): Sentence {
    const length = this.#bytes.readUInt32LE(this.#at);
    const from = this.#at + 4;
    this.#at = from + length;
    this.#decoder.push(this.#bytes.subarray(from, this.#at), this.#decoded);
    // A whole sentence of one word or more, as every command's is (none has none).
    return this.#last as Sentence;
  }

  #flags(): string[] {
    const count = this.#bytes.readUInt16LE(this.#at);
    this.#at += 2;
    const flags: string[] = [];
    for (let i = 0; i < count; i++) flags.push(this.#string());
    return flags;
  }
}
