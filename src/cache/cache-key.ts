import type { Sentence } from '../protocol/index.js';

const PROPLIST = '.proplist';
const EQ = 0x3d; // '='

/**
 * The names in a `.proplist` as a sorted set (§6: order and duplicates do
 * not change the answer), or undefined when the print has none.
 */
export function proplistOf(sentence: Sentence): string[] | undefined {
  const value = sentence.attributeString(PROPLIST);
  if (value === undefined) return undefined;
  return [...new Set(value.split(',').filter((name) => name !== ''))].sort();
}

/**
 * The cache key of a print: router, command word, attributes in name order
 * (their order does not matter), `.proplist` as a sorted set, query words in
 * their order (they are a stack program, §2), and any other word in order.
 * The `.tag` word is left out. Strings are latin1, so distinct bytes never
 * share a key.
 */
export function cacheKey(router: string, sentence: Sentence): string {
  const attributes = sentence.attributes();
  const named: string[] = [];
  for (const [name, value] of attributes) {
    if (name === PROPLIST) continue;
    named.push(`${name}=${value.toString('latin1')}`);
  }
  named.sort();
  const proplist = proplistOf(sentence);
  if (proplist !== undefined) named.push(`${PROPLIST}=${proplist.join(',')}`);
  const ordered: string[] = [];
  const tagIndex = sentence.tagIndex;
  for (let i = 1; i < sentence.wordCount; i++) {
    if (i === tagIndex) continue;
    const first = sentence.word(i)[0];
    if (first === EQ) continue;
    ordered.push(sentence.wordString(i));
  }
  return JSON.stringify([router, sentence.command, named, ordered]);
}
