import type { Sentence } from '../protocol/index.js';

const PROPLIST = '.proplist';
const EQ = 0x3d; // '='

/**
 * The names in a `.proplist` as a sorted set (§6: order and duplicates do
 * not change the answer), or undefined when the print has none.
 */
export function proplistOf(sentence: Sentence): string[] | undefined {
  const value = sentence.attributeString(PROPLIST);
  return value === undefined ? undefined : proplistSet(value);
}

/** `.proplist` as {@link proplistOf} gives it, from its value. */
function proplistSet(value: string): string[] {
  return [...new Set(value.split(',').filter((name) => name !== ''))].sort();
}

/** `name=value` entries in name order; of a name given twice, the last value (as a Map keeps it). */
function namedInOrder(pairs: readonly (readonly [string, string])[]): string[] {
  if (pairs.length === 1) {
    const [name, value] = pairs[0] as readonly [string, string];
    return [`${name}=${value}`];
  }
  const byName = new Map(pairs);
  const named: string[] = [];
  for (const [name, value] of byName) named.push(`${name}=${value}`);
  return named.sort();
}

/**
 * The cache key of a print: router, command word, attributes in name order
 * (their order does not matter), `.proplist` as a sorted set, query words in
 * their order (they are a stack program, §2), and any other word in order.
 * The `.tag` word is left out. Strings are latin1, so distinct bytes never
 * share a key. One pass over the words: every read asks for its key.
 */
export function cacheKey(router: string, sentence: Sentence): string {
  const pairs: (readonly [string, string])[] = [];
  const ordered: string[] = [];
  let proplist: string | undefined;
  const tagIndex = sentence.tagIndex;
  for (let i = 1; i < sentence.wordCount; i++) {
    if (i === tagIndex) continue;
    const word = sentence.wordString(i);
    if (word.charCodeAt(0) !== EQ) {
      ordered.push(word);
      continue;
    }
    const split = word.indexOf('=', 1);
    const name = split < 0 ? word.slice(1) : word.slice(1, split);
    const value = split < 0 ? '' : word.slice(split + 1);
    // The first .proplist counts, as Sentence.attribute finds it.
    if (name === PROPLIST) proplist ??= value;
    else pairs.push([name, value]);
  }
  const named = pairs.length === 0 ? [] : namedInOrder(pairs);
  if (proplist !== undefined) named.push(`${PROPLIST}=${proplistSet(proplist).join(',')}`);
  return JSON.stringify([router, sentence.command, named, ordered]);
}
