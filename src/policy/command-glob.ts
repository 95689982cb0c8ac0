/**
 * A glob over command words: `/ip/hotspot/user/*` (`*` is one segment),
 * `/system/**` (`**` is any depth, none included), `/export`.
 */

/** How a glob segment is compared with a word. */
type SegmentTest = (segment: string, word: string) => boolean;

const isEqual: SegmentTest = (segment, word) => segment === word;
/** RouterOS accepts any unambiguous prefix of a name: `/sys sch` is `/system scheduler`. */
const isAbbreviation: SegmentTest = (segment, word) => segment.startsWith(word);

export class CommandGlob {
  readonly source: string;
  readonly #segments: readonly string[];

  constructor(source: string) {
    this.source = source;
    this.#segments = source.slice(1).split('/');
  }

  /** True when the command's segments (`['ip', 'hotspot', 'user', 'add']`) match. */
  matches(segments: readonly string[]): boolean {
    return this.#match(0, segments, 0, isEqual);
  }

  /**
   * True when words read from a script may name a command this glob
   * matches: each word may abbreviate a segment (RouterOS takes any
   * unambiguous prefix).
   */
  mayMatch(words: readonly string[]): boolean {
    return this.#match(0, words, 0, isAbbreviation);
  }

  #match(at: number, words: readonly string[], wordAt: number, test: SegmentTest): boolean {
    if (at === this.#segments.length) return wordAt === words.length;
    const segment = this.#segments[at] as string;
    if (segment === '**') {
      for (let next = wordAt; next <= words.length; next++) {
        if (this.#match(at + 1, words, next, test)) return true;
      }
      return false;
    }
    const word = words[wordAt];
    if (word === undefined) return false;
    if (segment !== '*' && !test(segment, word)) return false;
    return this.#match(at + 1, words, wordAt + 1, test);
  }
}
