/**
 * The one glob language of rosgate's rules (policy, cache, flow, audit, the
 * admin port's flush and the audit search): a path is split at `/` into
 * segments, and
 *
 * - `**` as a whole segment stands for any number of segments, none
 *   included: `/ip/**` matches `/ip`, `/ip/address` and `/ip/hotspot/user`;
 *   `/ip/**` followed by `/print` matches `/ip/print` and
 *   `/ip/hotspot/user/print`;
 * - any other `*` stands for any text inside one segment, never a `/`:
 *   `/user/*` matches `/user/add` (not `/user`, not `/user/group/add`),
 *   `/ip/hot*` matches `/ip/hotspot`, `bytes-*` matches `bytes-in`;
 * - everything else, `.` included, matches itself.
 */

/** A compiled glob: true when `text` matches it as a whole. */
export type GlobMatcher = (text: string) => boolean;

/** True when `pattern` has a wildcard, so matching it needs a scan rather than a lookup. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}

/** One segment's expression: `*` is any text without `/`. */
function segmentSource(segment: string): string {
  return segment
    .split('*')
    .map((literal) => literal.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]*');
}

/** Most `**` segments a glob given at run time (an audit search) may have. */
export const MAX_ANY_SEGMENTS = 4;

/** How many `**` segments `pattern` has once repeats are folded (`a/**` + `/**` is one). */
export function anySegmentCount(pattern: string): number {
  return foldRepeats(pattern.split('/')).filter((segment) => segment === '**').length;
}

/** `**` right after `**` adds nothing, but each makes the expression backtrack more. */
function foldRepeats(segments: readonly string[]): string[] {
  return segments.filter((segment, i) => segment !== '**' || segments[i - 1] !== '**');
}

/** The regular expression of a glob, anchored at both ends. */
export function globToRegExp(pattern: string): RegExp {
  const segments = foldRepeats(pattern.split('/'));
  let source = '';
  let slash = '';
  for (const [i, segment] of segments.entries()) {
    if (segment !== '**') {
      source += slash + segmentSource(segment);
    } else if (i > 0) {
      // `**` takes the `/` before it along, so that it may stand for no segment.
      source += '(?:/[^/]*)*';
    } else if (segments.length === 1) {
      source += '.*';
    } else {
      // A leading `**` takes the `/` after it along instead.
      source += '(?:[^/]*/)*';
      continue;
    }
    slash = '/';
  }
  return new RegExp(`^${source}$`, 's');
}

/** Compiles a glob once: a literal is compared, a wildcard tested by its expression. */
export function compileGlob(pattern: string): GlobMatcher {
  if (!isGlob(pattern)) return (text) => text === pattern;
  const regex = globToRegExp(pattern);
  return (text) => regex.test(text);
}
