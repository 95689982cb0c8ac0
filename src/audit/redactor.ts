import type { Sentence } from '../protocol/index.js';

/** What replaces a secret value. */
export const REDACTED = '***';

/**
 * Attribute names whose values are secrets: passwords of every kind
 * (`password`, `new-password`, `auth-password`), secrets (`secret`,
 * `shared-secret`), passphrases, keys (`private-key`, `pre-shared-key`,
 * `wpa2-pre-shared-key`, `key`, the WEP keys `static-key-0` to
 * `static-key-3`), a SIM's `pin` and the challenge `response` of a legacy
 * login (docs/routeros-api.md §3.2).
 */
const BUILT_IN = /password|secret|passphrase|(?:^|-)key(?:-\d+)?$|^pin$|^response$/i;

/**
 * Turns a command's or reply's attributes into plain strings with every
 * secret value replaced by `***` (docs/architecture.md invariant 8). Values are latin1
 * strings: lossless, one byte one character.
 */
export class Redactor {
  readonly #extra: ReadonlySet<string>;

  /** @param extra attribute names to redact on top of the built-in ones (any case). */
  constructor(extra: readonly string[] = []) {
    this.#extra = new Set(extra.map((name) => name.toLowerCase()));
  }

  /** True when values of attribute `name` must never be written. */
  isSecret(name: string): boolean {
    return BUILT_IN.test(name) || this.#extra.has(name.toLowerCase());
  }

  /** `=name=value` attributes as an object, secrets redacted. */
  attributes(sentence: Sentence): Record<string, string> {
    // No prototype: a client's `=__proto__=` is an attribute like any other, not a setter.
    const out = Object.create(null) as Record<string, string>;
    for (const [name, value] of sentence.attributes()) {
      out[name] = this.isSecret(name) ? REDACTED : value.toString('latin1');
    }
    return out;
  }

  /**
   * Query words (`?name=value`, `?>name=value`, `?=name=value`, `?#|`) in
   * order, secret values redacted.
   */
  queries(sentence: Sentence): string[] {
    return sentence.queries().map((word) => {
      const text = word.toString('latin1');
      const nameAt = /[=<>-]/.test(text.charAt(1)) ? 2 : 1;
      const split = text.indexOf('=', nameAt);
      if (split < 0 || !this.isSecret(text.slice(nameAt, split))) return text;
      return `${text.slice(0, split + 1)}${REDACTED}`;
    });
  }
}
