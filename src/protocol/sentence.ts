import { boundedMemo } from '../bounded-memo.js';
import { encodeSentence, wordByteLength, type WordInput } from './encoder.js';
import { lengthSize, writeLength } from './length.js';

const TAG_PREFIX = Buffer.from('.tag=', 'latin1');
const EQ = 0x3d; // '='
const QUESTION = 0x3f; // '?'
const BANG = 0x21; // '!'
const ZERO = 0x30; // '0'
const NINE = 0x39; // '9'
const LOWER_A = 0x61; // 'a'
const LOWER_Z = 0x7a; // 'z'

/** Reply words (§4), each with its bytes: {@link Sentence.command} of a reply makes no string. */
const REPLY_WORDS: readonly (readonly [string, Buffer])[] = [
  '!re',
  '!done',
  '!trap',
  '!empty',
  '!fatal',
].map((word) => [word, Buffer.from(word, 'latin1')] as const);

/** The bytes of the word `.tag=<tag>`, without its length prefix. */
function tagWordLength(tag: Buffer | string): number {
  return (
    TAG_PREFIX.length + (typeof tag === 'string' ? Buffer.byteLength(tag, 'latin1') : tag.length)
  );
}

/**
 * The bytes `=name` that an attribute word of `name` starts with; every reply
 * is asked for the same few names, so they are made once (256 at most).
 */
const attributeKey = boundedMemo(256, (name) => Buffer.from(`=${name}`, 'latin1'));

/** The bytes of the word `.tag=<tag>` with its length prefix; 0 without a tag. */

function tagWordSize(tag: Buffer | string | undefined): number {
  if (tag === undefined) return 0;
  const n = tagWordLength(tag);
  return lengthSize(n) + n;
}

/** Runs up to this long are copied byte by byte: Buffer#copy costs more than that (it makes a view per call). */
const SHORT_COPY = 32;

/** Copies `source[from, to)` into `out` at `at`; returns the offset after it. */
function copyRange(source: Buffer, from: number, to: number, out: Buffer, at: number): number {
  if (to - from > SHORT_COPY) return at + source.copy(out, at, from, to);
  for (let i = from; i < to; i++) out[at++] = source[i] as number;
  return at;
}

/**
 * One RouterOS API sentence, as a view over the bytes it arrived in.
 *
 * The decoder records only word offsets; a word becomes a Buffer view when
 * somebody asks for it, and strings are made only on demand (for policy,
 * cache keys and audit). `raw` is the exact wire form, terminator included,
 * so a sentence that passes through unchanged is forwarded as it came
 * (docs/architecture.md invariant 1).
 */
export class Sentence {
  /** Backing buffer; words and `raw` are views into it. */
  readonly #buf: Buffer;
  readonly #start: number;
  readonly #end: number;
  /** Pairs of [wordStart, wordEnd), relative to #start. */
  readonly #offsets: readonly number[];
  #words: Buffer[] | undefined;
  #command: string | undefined;
  #tagIndex = -2;

  /** @internal Used by the decoder; build sentences with `Sentence.from`. */
  constructor(buf: Buffer, start: number, end: number, offsets: readonly number[]) {
    this.#buf = buf;
    this.#start = start;
    this.#end = end;
    this.#offsets = offsets;
  }

  /** Build a sentence from words (encodes it once). */
  static from(words: readonly WordInput[]): Sentence {
    const raw = encodeSentence(words);
    const offsets: number[] = [];
    let at = 0;
    for (const word of words) {
      const n = wordByteLength(word);
      at += lengthSize(n);
      offsets.push(at, at + n);
      at += n;
    }
    return new Sentence(raw, 0, raw.length, offsets);
  }

  /** The exact bytes of this sentence on the wire, terminator included. */
  get raw(): Buffer {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** Copies the sentence's bytes (`raw`) into `out` at `at`, no view made; returns the offset after them. */
  copyTo(out: Buffer, at: number): number {
    return copyRange(this.#buf, this.#start, this.#end, out, at);
  }

  /** Bytes on the wire. */
  get byteLength(): number {
    return this.#end - this.#start;
  }

  get wordCount(): number {
    return this.#offsets.length >> 1;
  }

  /** Word `i` as a view (no copy). */
  word(i: number): Buffer {
    const from = this.#offsets[2 * i];
    if (from === undefined) throw new RangeError(`no word ${i}`);
    return this.#buf.subarray(
      this.#start + from,
      this.#start + (this.#offsets[2 * i + 1] as number),
    );
  }

  /** Byte length of word `i`. */
  wordLength(i: number): number {
    return (this.#offsets[2 * i + 1] as number) - (this.#offsets[2 * i] as number);
  }

  /** All words as views. */
  get words(): readonly Buffer[] {
    if (this.#words === undefined) {
      const words: Buffer[] = [];
      for (let i = 0; i < this.wordCount; i++) words.push(this.word(i));
      this.#words = words;
    }
    return this.#words;
  }

  /** Word `i` as a latin1 string (lossless, one byte one char). */
  wordString(i: number): string {
    const from = this.#start + (this.#offsets[2 * i] as number);
    return this.#buf.toString('latin1', from, this.#start + (this.#offsets[2 * i + 1] as number));
  }

  /** The first word: a command (`/ip/address/print`) or a reply (`!done`). */
  get command(): string {
    if (this.#command === undefined)
      this.#command = this.wordCount === 0 ? '' : (this.#replyWord() ?? this.wordString(0));
    return this.#command;
  }

  /** The reply word, when the first word is one: the same string every time, none made. */
  #replyWord(): string | undefined {
    const buf = this.#buf;
    const from = this.#start + (this.#offsets[0] as number);
    if (buf[from] !== BANG) return undefined;
    const length = this.#start + (this.#offsets[1] as number) - from;
    next: for (const [word, bytes] of REPLY_WORDS) {
      if (bytes.length !== length) continue;
      for (let k = 1; k < length; k++) if (buf[from + k] !== bytes[k]) continue next;
      return word;
    }
    return undefined;
  }

  /** True when word `i` starts with `prefix`. */
  wordStartsWith(i: number, prefix: Buffer): boolean {
    const from = this.#start + (this.#offsets[2 * i] as number);
    const to = this.#start + (this.#offsets[2 * i + 1] as number);
    const n = prefix.length;
    if (to - from < n) return false;
    // A loop, not Buffer#compare: prefixes are a few bytes and most words
    // differ in the first two; this runs for every word of every command.
    const buf = this.#buf;
    for (let k = 0; k < n; k++) if (buf[from + k] !== prefix[k]) return false;
    return true;
  }

  /**
   * Index of the first tag word, or -1. Found anywhere after the first word
   * (§2). A tag word is `.tag=<value>`, or a bare `.tag`, which counts as an
   * empty tag as `=name` counts as an empty value (§2): both are untagged.
   */
  get tagIndex(): number {
    if (this.#tagIndex === -2) {
      this.#tagIndex = -1;
      for (let i = 1; i < this.wordCount; i++) {
        if (this.isTagWord(i)) {
          this.#tagIndex = i;
          break;
        }
      }
    }
    return this.#tagIndex;
  }

  /** True when word `i` is `.tag` or starts with `.tag=`: a tag word (§2). */
  isTagWord(i: number): boolean {
    // Hot path (every reply the proxy forwards): compare bytes in place
    // instead of making views or calling Buffer#compare per word.
    const buf = this.#buf;
    const from = this.#start + (this.#offsets[2 * i] as number);
    const length = (this.#offsets[2 * i + 1] as number) - (this.#offsets[2 * i] as number);
    return (
      length >= 4 &&
      buf[from] === 0x2e && // .tag
      buf[from + 1] === 0x74 &&
      buf[from + 2] === 0x61 &&
      buf[from + 3] === 0x67 &&
      (length === 4 || buf[from + 4] === EQ)
    );
  }

  /**
   * The tag value, or undefined when the sentence has none. An empty
   * `.tag=` counts as no tag: RouterOS answers it untagged (§4).
   */
  get tag(): Buffer | undefined {
    const i = this.tagIndex;
    if (i < 0) return undefined;
    const word = this.word(i);
    return word.length <= TAG_PREFIX.length ? undefined : word.subarray(TAG_PREFIX.length);
  }

  /** The tag as a latin1 string, or undefined. */
  get tagString(): string | undefined {
    const i = this.tagIndex;
    if (i < 0) return undefined;
    // Read in place: every reply from the router is routed by it (issue 19).
    const from = this.#start + (this.#offsets[2 * i] as number) + TAG_PREFIX.length;
    const to = this.#start + (this.#offsets[2 * i + 1] as number);
    return from >= to ? undefined : this.#buf.toString('latin1', from, to);
  }

  /**
   * The tag read as a base-36 number in the form `Number#toString(36)`
   * writes it (`1a` is 46; no leading zero, lower case, at most 10 digits),
   * or undefined for any other tag or none: rosgate's own upstream tags are
   * routed by it without a string per reply (issue 19).
   */
  get tagId(): number | undefined {
    const i = this.tagIndex;
    if (i < 0) return undefined;
    const buf = this.#buf;
    const from = this.#start + (this.#offsets[2 * i] as number) + TAG_PREFIX.length;
    const to = this.#start + (this.#offsets[2 * i + 1] as number);
    if (to <= from || to - from > 10 || buf[from] === ZERO) return undefined;
    let id = 0;
    for (let k = from; k < to; k++) {
      const c = buf[k] as number;
      if (c >= ZERO && c <= NINE) id = id * 36 + (c - ZERO);
      else if (c >= LOWER_A && c <= LOWER_Z) id = id * 36 + (c - LOWER_A + 10);
      else return undefined;
    }
    return id;
  }

  /**
   * Attribute `name` (`=name=value`, or `=name` as an empty value), or
   * undefined. Values may contain `=`: only the second `=` splits (§2).
   */
  attribute(name: string): Buffer | undefined {
    const key = attributeKey(name);
    for (let i = 1; i < this.wordCount; i++) {
      if (!this.wordStartsWith(i, key)) continue;
      const word = this.word(i);
      if (word.length === key.length) return word.subarray(key.length);
      if (word[key.length] === EQ) return word.subarray(key.length + 1);
    }
    return undefined;
  }

  /** Attribute `name` as a latin1 string, or undefined. */
  attributeString(name: string): string | undefined {
    const value = this.attribute(name);
    return value === undefined ? undefined : value.toString('latin1', 0, value.length);
  }

  /** True when the sentence carries attribute `name`. */
  hasAttribute(name: string): boolean {
    return this.attribute(name) !== undefined;
  }

  /**
   * All `=name=value` attributes in order, names as latin1 strings, values as
   * views. A later duplicate wins, as on the router.
   */
  attributes(): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (let i = 1; i < this.wordCount; i++) {
      const word = this.word(i);
      if (word[0] !== EQ) continue;
      const split = word.indexOf(EQ, 1);
      if (split < 0) out.set(word.toString('latin1', 1, word.length), word.subarray(word.length));
      else out.set(word.toString('latin1', 1, split), word.subarray(split + 1));
    }
    return out;
  }

  /** Query words (`?...`) in their order, which matters (§2). */
  queries(): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 1; i < this.wordCount; i++) {
      if (this.#buf[this.#start + (this.#offsets[2 * i] as number)] === QUESTION)
        out.push(this.word(i));
    }
    return out;
  }

  /**
   * The wire bytes with the tag replaced by `tag`, or removed when `tag` is
   * undefined. A tag that is there is rewritten where it stands, wherever the
   * router put it; a sentence without one gets it right after its first word,
   * where current RouterOS puts it (§2). Only the tag word is re-encoded; the
   * other bytes are copied as they are (docs/architecture.md invariant 1).
   */
  withTag(tag: Buffer | string | undefined): Buffer {
    if (this.tagIndex < 0 && tag === undefined) return this.raw;
    const out = Buffer.allocUnsafe(this.taggedByteLength(tag));
    this.writeWithTag(tag, out, 0);
    return out;
  }

  /**
   * The wire bytes with `tag` as the one and only tag word: the first tag
   * word is rewritten and any other is dropped. This is what goes to the
   * router: a client's second `.tag` must never reach a shared session,
   * where the router might answer on it (§4 proxy rule 1). A sentence with
   * one tag word at most costs what {@link withTag} costs; the rare one
   * with several is re-encoded word by word.
   */
  withSoleTag(tag: Buffer | string): Buffer {
    if (this.hasOneTagAtMost) return this.withTag(tag);
    const first = this.tagIndex;
    const tagWord = Buffer.concat([
      TAG_PREFIX,
      typeof tag === 'string' ? Buffer.from(tag, 'latin1') : tag,
    ]);
    const words: Buffer[] = [];
    for (let i = 0; i < this.wordCount; i++) {
      if (i === first) words.push(tagWord);
      else if (!this.isTagWord(i)) words.push(this.word(i));
    }
    return encodeSentence(words);
  }

  /** True unless the sentence carries a second tag word ({@link withSoleTag} drops it). */
  get hasOneTagAtMost(): boolean {
    const first = this.tagIndex;
    for (let i = first + 1; first >= 0 && i < this.wordCount; i++)
      if (this.isTagWord(i)) return false;
    return true;
  }

  /** The byte length of `withTag(tag)`, without building it. */
  taggedByteLength(tag: Buffer | string | undefined): number {
    return this.byteLength - (this.#cutTo() - this.#cutFrom()) + tagWordSize(tag);
  }

  /**
   * Writes the bytes of `withTag(tag)` into `out` at `at`, so that many
   * sentences leave in one buffer with one copy each (issue 19); returns
   * the offset after them.
   */
  writeWithTag(tag: Buffer | string | undefined, out: Buffer, at: number): number {
    const cutFrom = this.#cutFrom();
    const cutTo = this.#cutTo();
    at = copyRange(this.#buf, this.#start, cutFrom, out, at);
    if (tag !== undefined) {
      at = writeLength(out, at, tagWordLength(tag));
      at = copyRange(TAG_PREFIX, 0, TAG_PREFIX.length, out, at);
      if (typeof tag !== 'string') at = copyRange(tag, 0, tag.length, out, at);
      // latin1: one byte per character, its low byte, as Buffer#write does.
      else for (let i = 0; i < tag.length; i++) out[at++] = tag.charCodeAt(i) & 0xff;
    }
    return copyRange(this.#buf, cutTo, this.#end, out, at);
  }

  /**
   * Where the tag word starts: its length prefix starts where the previous
   * word ends (it may be non-minimal, so its size is not derived from the
   * length). Without a tag word, where the first word ends: a tag goes
   * right after the reply word (or the command word); a sentence without
   * words gets it before its terminator.
   */
  #cutFrom(): number {
    const index = this.tagIndex;
    return this.#start + ((index < 0 ? this.#offsets[1] : this.#offsets[2 * index - 1]) ?? 0);
  }

  /** Where the tag word ends (where it would be inserted, without one). */
  #cutTo(): number {
    const index = this.tagIndex;
    return index < 0 ? this.#cutFrom() : this.#start + (this.#offsets[2 * index + 1] as number);
  }

  /** A readable form for logs and tests; secrets must be redacted by the caller. */
  toString(): string {
    const parts: string[] = [];
    for (let i = 0; i < this.wordCount; i++) parts.push(this.wordString(i));
    return parts.join(' ');
  }
}
