import { lengthSize, writeLength } from './length.js';

/** A word as code writes it: a Buffer, or a string taken byte for byte (latin1). */
export type WordInput = Buffer | string;

function wordBytes(word: WordInput): number {
  return typeof word === 'string' ? Buffer.byteLength(word, 'latin1') : word.length;
}

/** Bytes the encoded sentence will take, terminator included. */
export function sentenceSize(words: readonly WordInput[]): number {
  let size = 1;
  for (const word of words) {
    const n = wordBytes(word);
    size += lengthSize(n) + n;
  }
  return size;
}

/**
 * Write `words` as one sentence into `target` at `offset`.
 * Zero-length words are refused: on the wire one would end the sentence
 * early (docs/routeros-api.md §1).
 * @returns the offset just past the terminator.
 */
export function writeSentence(target: Buffer, offset: number, words: readonly WordInput[]): number {
  let at = offset;
  for (const word of words) {
    const n = wordBytes(word);
    if (n === 0) throw new RangeError('a word may not be empty');
    at = writeLength(target, at, n);
    if (typeof word === 'string') target.write(word, at, n, 'latin1');
    else word.copy(target, at);
    at += n;
  }
  target[at] = 0;
  return at + 1;
}

/**
 * Encode a sentence into one Buffer, sized first, ready for a single
 * `socket.write()` (docs/architecture.md code rule 4). An empty word list is refused: an empty
 * sentence crashes librouteros (docs/routeros-api.md §1).
 */
export function encodeSentence(words: readonly WordInput[]): Buffer {
  if (words.length === 0) throw new RangeError('a sentence needs at least one word');
  const out = Buffer.allocUnsafe(sentenceSize(words));
  writeSentence(out, 0, words);
  return out;
}

/** Encode several sentences into one Buffer (one write for a whole answer). */
export function encodeSentences(sentences: readonly (readonly WordInput[])[]): Buffer {
  let size = 0;
  for (const words of sentences) {
    if (words.length === 0) throw new RangeError('a sentence needs at least one word');
    size += sentenceSize(words);
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const words of sentences) at = writeSentence(out, at, words);
  return out;
}
