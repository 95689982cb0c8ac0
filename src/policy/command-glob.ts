/**
 * A glob over command words: `/ip/hotspot/user/*` (`*` is one segment),
 * `/system/**` (`**` is any depth, none included), `/export`.
 */

/** `/ip/**` -> `^/ip(?:/[^/]+)*$`: one regular expression per glob, for the hot path. */
function compile(segments: readonly string[]): string | RegExp {
  if (!segments.some((segment) => segment.includes('*'))) return `/${segments.join('/')}`;
  const parts = segments.map((segment) => {
    if (segment === '**') return '(?:/[^/]+)*';
    if (segment === '*') return '/[^/]+';
    return `/${segment.replace(/[.]/g, '\\.')}`;
  });
  return new RegExp(`^${parts.join('')}$`);
}

export class CommandGlob {
  readonly source: string;
  readonly #segments: readonly string[];
  /** The command itself when the glob has no wildcard, else its expression. */
  readonly #pattern: string | RegExp;

  constructor(source: string) {
    this.source = source;
    this.#segments = source.slice(1).split('/');
    this.#pattern = compile(this.#segments);
  }

  /** True when the command word (`/ip/hotspot/user/add`) matches. */
  matches(command: string): boolean {
    return typeof this.#pattern === 'string'
      ? command === this.#pattern
      : this.#pattern.test(command);
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
    if (segment !== '*' && !segment.startsWith(word)) return false;
    return this.#mayMatch(at + 1, words, wordAt + 1);
  }
}
