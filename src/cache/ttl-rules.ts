import type { TtlRule } from '../config/cache.js';
import type { Sentence } from '../protocol/index.js';
import { proplistOf } from './cache-key.js';
import { compileGlob, type GlobMatcher } from '../command/glob.js';

const QUERY_OPERATORS = new Set([0x3d, 0x3e, 0x3c, 0x2d]); // = > < -

/** The property a query word tests (`?name`, `?=name=v`, `?>name=v`, `?-name`); none for `?#` operators (§2). */
function queryProperty(word: Buffer): string | undefined {
  if (word[1] === 0x23) return undefined; // '#'
  const from = QUERY_OPERATORS.has(word[1] as number) ? 2 : 1;
  const to = word.indexOf(0x3d, from);
  return word.toString('latin1', from, to < 0 ? word.length : to);
}

interface CompiledRule {
  readonly matches: GlobMatcher;
  readonly ttlMs: number;
  readonly volatileTtlMs: number;
}

/**
 * How long a print's reply stays fresh: the first rule whose path glob
 * matches, else the default. A rule with `volatileTtlMs` gives that shorter
 * life to prints that may show a volatile property: those without a
 * `.proplist`, with one naming a volatile property, or with a query on one
 * (the rows it selects change with the counter). A `count-only` print shows
 * no property, so only its queries count.
 */
export class TtlRules {
  readonly #rules: readonly CompiledRule[];
  readonly #defaultTtlMs: number;
  readonly #isVolatile: readonly GlobMatcher[];

  constructor(
    rules: readonly TtlRule[],
    defaultTtlMs: number,
    volatileProperties: readonly string[],
  ) {
    this.#rules = rules.map((rule) => ({
      matches: compileGlob(rule.path),
      ttlMs: rule.ttlMs,
      volatileTtlMs: rule.volatileTtlMs ?? rule.ttlMs,
    }));
    this.#defaultTtlMs = defaultTtlMs;
    this.#isVolatile = volatileProperties.map(compileGlob);
  }

  /** Lifetime in ms of the reply to `sentence`, a print on `path`. */
  ttlFor(path: string, sentence: Sentence): number {
    const rule = this.#rules.find((r) => r.matches(path));
    if (rule === undefined) return this.#defaultTtlMs;
    if (rule.volatileTtlMs === rule.ttlMs) return rule.ttlMs;
    return this.#showsVolatile(sentence) ? rule.volatileTtlMs : rule.ttlMs;
  }

  #showsVolatile(sentence: Sentence): boolean {
    for (const word of sentence.queries()) {
      const name = queryProperty(word);
      if (name !== undefined && this.#volatile(name)) return true;
    }
    if (sentence.hasAttribute('count-only')) return false;
    const proplist = proplistOf(sentence);
    return proplist === undefined || proplist.some((name) => this.#volatile(name));
  }

  #volatile(name: string): boolean {
    return this.#isVolatile.some((matches) => matches(name));
  }
}
