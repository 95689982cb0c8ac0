import { compileGlob, isGlob, type GlobMatcher } from '../command/glob.js';

/** A menu path or a glob over menu paths, compiled once. */
export interface MenuPattern {
  readonly text: string;
  readonly isGlob: boolean;
  readonly matches: GlobMatcher;
}

/** Compiles a menu path or glob. */
export function menuPattern(text: string): MenuPattern {
  return { text, isGlob: isGlob(text), matches: compileGlob(text) };
}

/** A menu path taken literally, even if it holds a `*`. */
export function exactMenu(path: string): MenuPattern {
  return { text: path, isGlob: false, matches: (text) => text === path };
}
