import { lengthSize, writeLength } from './length.js';

/**
 * A word as code writes it: a Buffer, or a string. A string whose characters
 * all fit a byte (U+0000-U+00FF) is a byte string, taken byte for byte
 * (latin1), as words read from the wire are made (docs/routeros-api.md §7).
 * Any other string is text and goes as UTF-8: latin1 would keep only the low
 * byte of each character (`пароль` would become `?0@>;L`). Text with
 * characters in U+0080-U+00FF (`pässword`) must be passed as a Buffer
 * (`Buffer.from(text, 'utf8')`) to go as UTF-8.
 */
export type WordInput = Buffer | string;

/** How a string word is written: latin1 when every character fits a byte, else UTF-8. */
export function stringEncoding(word: string): 'latin1' | 'utf8' {
  for (let i = 0; i < word.length; i++) if (word.charCodeAt(i) > 0xff) return 'utf8';
  return 'latin1';
}

/** Bytes of `word` on the wire, without its length prefix. */
export function wordByteLength(word: WordInput): number {
  return typeof word === 'string' ? Buffer.byteLength(word, stringEncoding(word)) : word.length;
}

/** Bytes the encoded sentence will take, terminator included. */
export function sentenceSize(words: readonly WordInput[]): number {
  let size = 1;
  for (const word of words) {
    const n = wordByteLength(word);
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
    // A string's characters are looked at once for both its size and its bytes.
    const encoding = typeof word === 'string' ? stringEncoding(word) : undefined;
    const n = encoding === undefined ? word.length : Buffer.byteLength(word, encoding);
    if (n === 0) throw new RangeError('a word may not be empty');
    at = writeLength(target, at, n);
    if (encoding === undefined) (word as Buffer).copy(target, at);
    else target.write(word as string, at, n, encoding);
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
