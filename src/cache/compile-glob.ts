/** A compiled glob: true when `text` matches it as a whole. */
export type GlobMatcher = (text: string) => boolean;

/** True when `pattern` has a wildcard, so matching it needs a scan rather than a lookup. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}

/**
 * Compiles a path or property glob: `*` stands for any text without `/`,
 * `**` for any text at all; everything else matches itself.
 */
export function compileGlob(pattern: string): GlobMatcher {
  if (!isGlob(pattern)) return (text) => text === pattern;
  const source = pattern
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((literal) => literal.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^/]*'),
    )
    .join('.*');
  const regex = new RegExp(`^${source}$`, 's');
  return (text) => regex.test(text);
}
