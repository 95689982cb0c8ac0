/**
 * A glob over command words: `/ip/hotspot/user/*`, `/system/**`, `/export`,
 * with the meaning every rule of rosgate gives a glob (src/command/glob.ts):
 * `*` is any text inside one segment, `**` any number of segments, none
 * included.
 */
import { compileGlob, type GlobMatcher } from '../command/glob.js';

/** True when a script word may abbreviate a command word matching `segment` (no `**`). */
function mayAbbreviate(segment: string, word: string): boolean {
  const star = segment.indexOf('*');
  if (star < 0) return segment.startsWith(word);
  // The text before the first `*` must be abbreviated by the word, or begin it.
  const literal = segment.slice(0, star);
  return literal.startsWith(word) || word.startsWith(literal);
}

export class CommandGlob {
  readonly source: string;
  readonly #segments: readonly string[];
  readonly #matches: GlobMatcher;

  constructor(source: string) {
    this.source = source;
    this.#segments = source.slice(1).split('/');
    this.#matches = compileGlob(source);
  }

  /** True when the command word (`/ip/hotspot/user/add`) matches. */
  matches(command: string): boolean {
    return this.#matches(command);
  }

  /**
   * True when words read from a script may name a command this glob
   * matches: each word may abbreviate a segment (RouterOS takes any
   * unambiguous prefix: `/sys sch` is `/system scheduler`).
   */
  mayMatch(words: readonly string[]): boolean {
    return this.#mayMatch(0, words, 0);
  }

  #mayMatch(at: number, words: readonly string[], wordAt: number): boolean {
    if (at === this.#segments.length) return wordAt === words.length;
    const segment = this.#segments[at] as string;
    if (segment === '**') {
      for (let next = wordAt; next <= words.length; next++) {
        if (this.#mayMatch(at + 1, words, next)) return true;
      }
      return false;
    }
    const word = words[wordAt];
    if (word === undefined) return false;
    if (!mayAbbreviate(segment, word)) return false;
    return this.#mayMatch(at + 1, words, wordAt + 1);
  }
}
