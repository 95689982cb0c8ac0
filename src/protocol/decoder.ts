import { ErrorCode, RosgateError } from '../errors.js';
import { prefixSize, readLength } from './length.js';
import { Sentence } from './sentence.js';

/** Limits a decoder enforces before it buffers anything (docs/architecture.md invariant 7). */
export interface DecoderLimits {
  /** Largest word in bytes. @default 16 MiB */
  maxWordBytes: number;
  /** Most words in one sentence. @default 4096 */
  maxWordsPerSentence: number;
  /** Largest sentence in bytes, prefixes included. @default 32 MiB */
  maxSentenceBytes: number;
}

export const DEFAULT_DECODER_LIMITS: Readonly<DecoderLimits> = Object.freeze({
  maxWordBytes: 16 * 1024 * 1024,
  maxWordsPerSentence: 4096,
  maxSentenceBytes: 32 * 1024 * 1024,
});

const EMPTY = Buffer.alloc(0);

/**
 * When a partial sentence is pending, only this many bytes of a new chunk
 * (beyond the pending word) are copied behind it; once the sentence is
 * complete the rest of the chunk is adopted in place instead of copied.
 */
const STITCH_BYTES = 1024;

/**
 * Streaming RouterOS API decoder (docs/routeros-api.md §1).
 *
 * It keeps one buffer and an offset (as pg-protocol does). A chunk is adopted
 * without copying when nothing is left over; otherwise the partial sentence
 * and the chunk are joined in a buffer sized for the largest pending word.
 * Bytes already handed out in sentences are never overwritten: new data is
 * only ever appended past the end of what was written.
 *
 * Parsing is incremental: word offsets of a partial sentence are kept, so a
 * sentence arriving one byte at a time is scanned once.
 *
 * Lone terminators (empty sentences) are skipped: the router ignores them
 * and they must never reach a client (§1).
 */
export class Decoder {
  #limits: Readonly<DecoderLimits>;
  #buf: Buffer = EMPTY;
  /** True when #buf is ours, so free space past #end may be written. */
  #owned = false;
  /** Start of the sentence being parsed. */
  #sentenceStart = 0;
  /** Next unparsed byte. */
  #pos = 0;
  /** End of valid bytes in #buf. */
  #end = 0;
  /** Absolute offset the pending word ends at, when known. */
  #need = 0;
  #offsets: number[] = [];
  #failed: unknown;
  #hasFailed = false;
  #isPaused = false;
  /** Empty sentences seen and skipped. */
  emptySentences = 0;

  constructor(limits: Partial<DecoderLimits> = {}) {
    this.#limits = { ...DEFAULT_DECODER_LIMITS, ...limits };
  }

  /** The limits in force. */
  get limits(): Readonly<DecoderLimits> {
    return this.#limits;
  }

  /**
   * Change the limits from the next word on: a session decodes with a
   * login-sized limit until its client has logged in (docs/architecture.md code rule 4a).
   */
  setLimits(limits: Partial<DecoderLimits>): void {
    this.#limits = { ...DEFAULT_DECODER_LIMITS, ...limits };
  }

  /** Bytes held for a sentence that has not ended yet. */
  get pendingBytes(): number {
    return this.#end - this.#sentenceStart;
  }

  /**
   * Bytes of memory the decoder holds now: its buffer, whether adopted from
   * a chunk or its own. It grows with the bytes that arrived, never with a
   * length a peer announced (docs/architecture.md code rule 4a).
   */
  get capacity(): number {
    return this.#buf.length;
  }

  /** The error that stopped this decoder, if any. */
  get error(): unknown {
    return this.#failed;
  }

  /**
   * Feed a chunk; `onSentence` is called for each complete sentence, in
   * order. Throws a RosgateError on a framing error or a limit; sentences
   * completed before the bad bytes have already been delivered, and the
   * decoder ignores everything after.
   */
  push(chunk: Buffer, onSentence: (sentence: Sentence) => void): void {
    if (this.#hasFailed || chunk.length === 0) return;
    try {
      if (this.#end > this.#sentenceStart && chunk.length > STITCH_BYTES)
        this.#stitch(chunk, onSentence);
      else {
        this.#append(chunk);
        this.#parse(onSentence);
      }
    } catch (err) {
      throw this.#stop(err);
    }
  }

  /**
   * Deliver no sentence after the one being delivered: the bytes after it
   * (and any pushed meanwhile: pause the source too) wait for `resume()`,
   * so they are decoded with the limits in force then. A session pauses
   * while a login is checked: what follows a login is read with the limits
   * of a logged-in client, from the sentence boundary (docs/architecture.md code rule 4a).
   */
  pause(): void {
    this.#isPaused = true;
  }

  /** Deliver the sentences that waited, then go on as `push` does. Throws as `push` does. */
  resume(onSentence: (sentence: Sentence) => void): void {
    this.#isPaused = false;
    // A decoder that failed holds nothing more to parse.
    try {
      this.#parse(onSentence);
    } catch (err) {
      throw this.#stop(err);
    }
  }

  /** A framing error or a limit stops the decoder for good; returns `err`. */
  #stop(err: unknown): unknown {
    this.#hasFailed = true;
    this.#failed = err;
    this.#release();
    return err;
  }

  /** Convenience for tests and tools: decode a chunk into an array. */
  decode(chunk: Buffer): Sentence[] {
    const out: Sentence[] = [];
    this.push(chunk, (s) => out.push(s));
    return out;
  }

  /**
   * Finish the pending sentence from the head of a large chunk, then adopt
   * the chunk itself, so a stream of 64 KiB reads is not copied wholesale
   * just because sentences straddle the read boundaries.
   */
  #stitch(chunk: Buffer, onSentence: (sentence: Sentence) => void): void {
    const head = Math.min(chunk.length, Math.max(0, this.#need - this.#end) + STITCH_BYTES);
    this.#append(chunk.subarray(0, head));
    // Stop right after the sentence that straddles into the chunk.
    this.#parse(onSentence, this.#end - head);
    // Where chunk[0] sits in #buf (negative once everything was released).
    const base = this.#end - head;
    if (this.#sentenceStart >= base) {
      // The sentence in progress lies wholly inside the chunk: continue in the
      // chunk. Word offsets are relative to the sentence start, so they hold.
      this.#buf = chunk;
      this.#owned = false;
      this.#sentenceStart -= base;
      this.#pos -= base;
      this.#need = Math.max(0, this.#need - base);
      this.#end = chunk.length;
    } else {
      this.#append(chunk.subarray(head));
    }
    this.#parse(onSentence);
  }

  #append(chunk: Buffer): void {
    const pending = this.#end - this.#sentenceStart;
    if (pending === 0) {
      this.#buf = chunk;
      this.#owned = false;
      this.#sentenceStart = this.#pos = 0;
      this.#end = chunk.length;
      return;
    }
    if (this.#owned && this.#buf.length - this.#end >= chunk.length) {
      chunk.copy(this.#buf, this.#end);
      this.#end += chunk.length;
      return;
    }
    const total = pending + chunk.length;
    // Grow from the bytes that arrived, doubling, never from the length a
    // peer announced: a prefix promising 4 MiB must not reserve 4 MiB
    // before the bytes exist (docs/architecture.md code rule 4a).
    const size = Math.max(total, Math.min(total * 2, this.#need - this.#sentenceStart));
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, this.#sentenceStart, this.#end);
    chunk.copy(next, pending);
    this.#pos -= this.#sentenceStart;
    this.#need = Math.max(0, this.#need - this.#sentenceStart);
    this.#sentenceStart = 0;
    this.#end = total;
    this.#buf = next;
    this.#owned = true;
  }

  /**
   * Parse from #pos to #end. With `stopAt`, stop as soon as a sentence ends
   * at or past that offset (the stitch then switches to the chunk itself).
   */
  #parse(onSentence: (sentence: Sentence) => void, stopAt = Infinity): void {
    // Paused: read nothing. Only a sentence's consumer pauses, so the loop
    // checks again after each sentence, not on every word.
    if (this.#isPaused) return;
    const buf = this.#buf;
    const end = this.#end;
    const { maxWordBytes, maxWordsPerSentence, maxSentenceBytes } = this.#limits;
    let pos = this.#pos;
    let start = this.#sentenceStart;
    let offsets = this.#offsets;
    while (pos < end) {
      const first = buf[pos] as number;
      let length: number;
      let size: number;
      if (first < 0x80) {
        length = first;
        size = 1;
      } else {
        size = prefixSize(first);
        if (pos + size > end) break;
        length = readLength(buf, pos, size);
      }
      if (length === 0) {
        // A terminator may itself be non-minimal (`80 00`); step over all of it.
        pos += size;
        if (offsets.length === 0) this.emptySentences++;
        else {
          onSentence(new Sentence(buf, start, pos, offsets));
          offsets = [];
        }
        start = pos;
        if (start >= stopAt || this.#isPaused) break;
        continue;
      }
      const wordEnd = pos + size + length;
      if (length > maxWordBytes) {
        throw new RosgateError(ErrorCode.WordTooLong, 'word exceeds the size limit', {
          details: { length, limit: maxWordBytes },
        });
      }
      if (wordEnd + 1 - start > maxSentenceBytes) {
        throw new RosgateError(ErrorCode.SentenceTooLong, 'sentence exceeds the size limit', {
          details: { length: wordEnd + 1 - start, limit: maxSentenceBytes },
        });
      }
      if (offsets.length >> 1 >= maxWordsPerSentence) {
        throw new RosgateError(ErrorCode.TooManyWords, 'sentence exceeds the word limit', {
          details: { limit: maxWordsPerSentence },
        });
      }
      if (wordEnd > end) {
        // Where the word and the byte after it (at least the terminator) end;
        // buffers grow towards it only as bytes arrive.
        this.#need = wordEnd + 1;
        break;
      }
      offsets.push(pos + size - start, wordEnd - start);
      pos = wordEnd;
    }
    this.#pos = pos;
    this.#sentenceStart = start;
    this.#offsets = offsets;
    if (start === end) this.#release();
  }

  /** Drop the buffer once everything in it has been handed out. */
  #release(): void {
    this.#buf = EMPTY;
    this.#owned = false;
    this.#sentenceStart = this.#pos = this.#end = this.#need = 0;
    this.#offsets = [];
  }
}
