import { Sentence } from './sentence.js';

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
  // Emptied in place, not replaced: a session takes a batch every turn.
  readonly #parts: (Buffer | Sentence)[] = [];
  readonly #tags: (Buffer | string | undefined)[] = [];
  #bytes = 0;

  /** Bytes waiting. */
  get byteLength(): number {
    return this.#bytes;
  }

  /** True when nothing waits. */
  get isEmpty(): boolean {
    return this.#parts.length === 0;
  }

  /** Adds encoded bytes. */
  push(bytes: Buffer): void {
    this.#parts.push(bytes);
    this.#tags.push(undefined);
    this.#bytes += bytes.length;
  }

  /** Adds `sentence` as `sentence.withTag(tag)` would write it. */
  pushSentence(sentence: Sentence, tag: Buffer | string | undefined): void {
    this.#parts.push(sentence);
    this.#tags.push(tag);
    this.#bytes += sentence.taggedByteLength(tag);
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
    this.#parts.length = 0;
    this.#tags.length = 0;
    this.#bytes = 0;
  }

  /** Everything waiting, in order, as one buffer; the batch is empty after. */
  take(): Buffer {
    const parts = this.#parts;
    const tags = this.#tags;
    let out: Buffer;
    if (parts.length === 1) {
      const part = parts[0] as Buffer | Sentence;
      // One part alone needs no copy of its own when it is bytes already.
      out = part instanceof Sentence ? part.withTag(tags[0]) : part;
    } else {
      out = Buffer.allocUnsafe(this.#bytes);
      let at = 0;
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i] as Buffer | Sentence;
        at =
          part instanceof Sentence ? part.writeWithTag(tags[i], out, at) : at + part.copy(out, at);
      }
    }
    this.clear();
    return out;
  }
}
