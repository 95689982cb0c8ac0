import { compileGlob, type GlobMatcher } from '../command/glob.js';
import { exactMenu, menuPattern, type MenuPattern } from './menu-pattern.js';

/**
 * Which menus a write invalidates: the written menu itself and every menu
 * (or glob) declared related to it. Keys are globs over the written menu.
 */
export class RelatedMenus {
  readonly #rules: readonly {
    readonly matches: GlobMatcher;
    readonly targets: readonly MenuPattern[];
  }[];

  constructor(related: Readonly<Record<string, readonly string[]>>) {
    this.#rules = Object.entries(related).map(([path, targets]) => ({
      matches: compileGlob(path),
      targets: targets.map(menuPattern),
    }));
  }

  /** The written menu first, then the menus and globs related to it. */
  targetsOf(path: string): MenuPattern[] {
    const out = [exactMenu(path)];
    for (const rule of this.#rules) {
      if (rule.matches(path)) out.push(...rule.targets);
    }
    return out;
  }
}
