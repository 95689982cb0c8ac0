import { Sentence } from './sentence.js';

/** Slots kept for the next turn; a batch that used more gives them back. */
const REUSED_SLOTS = 64;

/**
 * What one socket is to send at the end of an event-loop turn: encoded
 * buffers and sentences with the tag they leave with, taken as ONE buffer
 * with one copy of each (issue 19). A socket written once per turn makes
 * one `write` system call where a corked socket made a `writev` of one
 * buffer per sentence, and no sentence is copied only to change its tag
 * and then copied again. A Sentence's bytes never change once decoded
 * (the decoder writes only past what it delivered), so holding views
 * until the turn ends is safe.
 */
export class WriteBatch {
  // Slots reused, up to REUSED_SLOTS, not replaced nor shortened (a
  // shortened array gives its room back and grows again on the next push):
  // a session takes a batch every turn, mostly of one part.
  readonly #parts: (Buffer | Sentence | undefined)[] = [];
  readonly #tags: (Buffer | string | undefined)[] = [];
  #count = 0;
  #bytes = 0;

  /** Bytes waiting. */
  get byteLength(): number {
    return this.#bytes;
  }

  /** True when nothing waits. */
  get isEmpty(): boolean {
    return this.#count === 0;
  }

  /** Adds encoded bytes. */
  push(bytes: Buffer): void {
    this.#add(bytes, undefined, bytes.length);
  }

  /** Adds `sentence` as `sentence.withTag(tag)` would write it. */
  pushSentence(sentence: Sentence, tag: Buffer | string | undefined): void {
    this.#add(sentence, tag, sentence.taggedByteLength(tag));
  }

  #add(part: Buffer | Sentence, tag: Buffer | string | undefined, bytes: number): void {
    this.#parts[this.#count] = part;
    this.#tags[this.#count++] = tag;
    this.#bytes += bytes;
  }

  /**
   * Adds `sentence` as `sentence.withSoleTag(tag)` would write it: in place
   * like {@link pushSentence}, or re-encoded when it has a second tag word.
   */
  pushSoleTagged(sentence: Sentence, tag: Buffer | string): void {
    if (sentence.hasOneTagAtMost) this.pushSentence(sentence, tag);
    else this.push(sentence.withSoleTag(tag));
  }

  /** Drops everything waiting. */
  clear(): void {
    if (this.#count > REUSED_SLOTS) {
      // A turn of many parts (a cached table's rows) gives its room back.
      this.#parts.length = 0;
      this.#tags.length = 0;
    } else {
      // Nothing taken is kept alive by its slot.
      for (let i = 0; i < this.#count; i++) {
        this.#parts[i] = undefined;
        this.#tags[i] = undefined;
      }
    }
    this.#count = 0;
    this.#bytes = 0;
  }

  /** Everything waiting, in order, as one buffer; the batch is empty after. */
  take(): Buffer {
    const parts = this.#parts;
    const tags = this.#tags;
    const count = this.#count;
    const only = count === 1 ? parts[0] : undefined;
    // One part alone needs no copy of its own when it is bytes already.
    if (only !== undefined && !(only instanceof Sentence)) return this.#taken(only);
    if (only instanceof Sentence && only.tagIndex < 0 && tags[0] === undefined)
      return this.#taken(only.raw);
    // The length is known: no second count of it, as withTag would make.
    const out = Buffer.allocUnsafe(this.#bytes);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const part = parts[i] as Buffer | Sentence;
      at = part instanceof Sentence ? part.writeWithTag(tags[i], out, at) : at + part.copy(out, at);
    }
    return this.#taken(out);
  }

  #taken(out: Buffer): Buffer {
    this.clear();
    return out;
  }
}
