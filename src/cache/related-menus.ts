import { compileGlob, isGlob, type GlobMatcher } from '../command/glob.js';
import { exactMenu, menuPattern, type MenuPattern } from './menu-pattern.js';

/**
 * Which menus a write invalidates: the written menu itself and every menu
 * (or glob) declared related to it. Keys are globs over the written menu.
 */
export class RelatedMenus {
  readonly #rules: readonly {
    readonly path: string;
    readonly matches: GlobMatcher;
    readonly targets: readonly MenuPattern[];
  }[];

  constructor(related: Readonly<Record<string, readonly string[]>>) {
    this.#rules = Object.entries(related).map(([path, targets]) => ({
      path,
      matches: compileGlob(path),
      targets: targets.map(menuPattern),
    }));
  }

  /**
   * The written menus (rule keys that are plain paths, not globs) whose
   * writes invalidate `path` too: strict mode checks their versions with
   * the menu's own.
   */
  sourcesOf(path: string): string[] {
    return this.#rules
      .filter((rule) => !isGlob(rule.path) && rule.path !== path)
      .filter((rule) => rule.targets.some((target) => target.matches(path)))
      .map((rule) => rule.path);
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
