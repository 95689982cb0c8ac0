import { createHash } from 'node:crypto';
import { Decoder, type Sentence } from '../protocol/index.js';
import type { CommandSink } from '../pipeline.js';
import type { ReplyShape } from './row-change.js';

function sha256(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/**
 * What a kept sentence costs beyond its wire bytes: the Sentence view and
 * its word offsets (measured on Node 20: about 290 bytes for a row of one or
 * two words, 840 for thirty). The cache's byte bound counts it, so a reply
 * of many short rows is bounded by the memory it takes, not its wire size.
 */
export function sentenceOverheadBytes(sentence: Sentence): number {
  return 280 + 18 * sentence.wordCount;
}

/** When a reply was kept and until when it is fresh (ms, from the stage's clock). */
export interface ReplyTimes {
  readonly storedAt: number;
  readonly expiresAt: number;
}

/**
 * A finished print reply as the router sent it: its `!re` and `!empty`
 * sentences and the final `!done`, copied into one Buffer and served as
 * Sentence views over it, so a replay is byte for byte the router's (the
 * session rewrites only the tag, docs/architecture.md invariant 1).
 */
export class CachedReply {
  /** The menu the print ran on. */
  readonly path: string;
  /** Which rows it shows and how the print chose them. */
  readonly shape: ReplyShape;
  /** Every sentence's wire bytes, back to back. */
  readonly bytes: Buffer;
  /** What keeping it costs: its bytes and each sentence's overhead (not its key's). */
  readonly memoryBytes: number;
  readonly storedAt: number;
  #expiresAt: number;
  /** sha256 of `bytes` when integrity checks are on. */
  readonly #digest: Buffer | undefined;
  /** The sentences over `bytes`, read at the first replay. */
  #sentences: readonly Sentence[] | undefined;

  private constructor(
    path: string,
    shape: ReplyShape,
    bytes: Buffer,
    overheadBytes: number,
    times: ReplyTimes,
    hasDigest: boolean,
  ) {
    this.path = path;
    this.shape = shape;
    this.bytes = bytes;
    this.memoryBytes = bytes.length + overheadBytes;
    this.storedAt = times.storedAt;
    this.#expiresAt = times.expiresAt;
    this.#digest = hasDigest ? sha256(bytes) : undefined;
  }

  /**
   * The reply sentences, the `!done` last; views over `bytes`. Read from the
   * bytes when first asked: a reply dropped before any hit (a whole table a
   * write changes) is never decoded twice.
   */
  get sentences(): readonly Sentence[] {
    if (this.#sentences === undefined) {
      // The bytes already passed the upstream decoder's limits: here they only bound themselves.
      const { bytes } = this;
      const decoder = new Decoder({
        maxWordBytes: bytes.length,
        maxSentenceBytes: bytes.length,
        maxWordsPerSentence: bytes.length,
      });
      this.#sentences = decoder.decode(bytes);
    }
    return this.#sentences;
  }

  /** Copies `replies` and `done` into one reply; with `hasDigest`, remembers their sha256. */
  static of(
    path: string,
    shape: ReplyShape,
    replies: readonly Sentence[],
    done: Sentence,
    times: ReplyTimes,
    hasDigest: boolean,
  ): CachedReply {
    let length = done.byteLength;
    let overheadBytes = sentenceOverheadBytes(done);
    for (const reply of replies) {
      length += reply.byteLength;
      overheadBytes += sentenceOverheadBytes(reply);
    }
    const bytes = Buffer.allocUnsafe(length);
    let at = 0;
    for (const reply of replies) at = reply.copyTo(bytes, at);
    done.copyTo(bytes, at);
    return new CachedReply(path, shape, bytes, overheadBytes, times, hasDigest);
  }

  /** Until when the reply is fresh; past that it may only be served stale. */
  get expiresAt(): number {
    return this.#expiresAt;
  }

  /** Ends the reply's freshness at `at` if it would last longer: it can no longer be vouched for after that. */
  expireBy(at: number): void {
    this.#expiresAt = Math.min(this.#expiresAt, at);
  }

  /** False when integrity checks are on and the bytes no longer match their digest. */
  isIntact(): boolean {
    return this.#digest === undefined || sha256(this.bytes).equals(this.#digest);
  }

  /** Sends the reply to `sink`: every sentence as a reply, the last as `done`. */
  replay(sink: CommandSink): void {
    const last = this.sentences.length - 1;
    for (let i = 0; i < last; i++) sink.reply(this.sentences[i] as Sentence);
    sink.done(this.sentences[last] as Sentence);
  }
}
