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

/**
 * Compiles a glob once: a literal is compared, a wildcard matched without
 * a regular expression. An expression backtracks: `[^/]*a[^/]*b` takes
 * time quadratic in the length of a segment without a `b` (minutes for a
 * 1 MiB word), and each `**` multiplies that again. Here each literal
 * piece between `*`s is found at its leftmost place, and each run of
 * segments between `**`s at its leftmost place: the leftmost choice leaves
 * the most room for what follows, so no choice is ever undone, and a match
 * costs at most the text's length times the pattern's. It matches what
 * {@link globToRegExp} matches.
 */
export function compileGlob(pattern: string): GlobMatcher {
  if (!isGlob(pattern)) return (text) => text === pattern;
  // Runs of whole segments between `**`s; each segment as its pieces around `*`.
  const groups: string[][][] = [[]];
  for (const segment of foldRepeats(pattern.split('/'))) {
    if (segment === '**') groups.push([]);
    else (groups.at(-1) as string[][]).push(segment.split('*'));
  }
  return (text) => matchGroups(groups, text.split('/'));
}

/** True when `segments` match `groups` with any run of segments between groups. */
function matchGroups(
  groups: readonly (readonly string[][])[],
  segments: readonly string[],
): boolean {
  const first = groups[0] as readonly string[][];
  if (groups.length === 1) {
    return first.length === segments.length && matchRun(first, segments, 0);
  }
  const last = groups.at(-1) as readonly string[][];
  const end = segments.length - last.length;
  if (end < first.length || !matchRun(first, segments, 0) || !matchRun(last, segments, end)) {
    return false;
  }
  let at = first.length;
  for (let g = 1; g < groups.length - 1; g++) {
    const group = groups[g] as readonly string[][];
    // The leftmost place this run fits, before the last run's.
    while (at + group.length <= end && !matchRun(group, segments, at)) at++;
    if (at + group.length > end) return false;
    at += group.length;
  }
  return true;
}

/** True when the segments from `at` on start with ones matching `run`. */
function matchRun(run: readonly string[][], segments: readonly string[], at: number): boolean {
  for (let i = 0; i < run.length; i++) {
    if (!matchSegment(run[i] as readonly string[], segments[at + i] as string)) return false;
  }
  return true;
}

/** True when `text` matches a segment given as its literal pieces around `*`s. */
function matchSegment(pieces: readonly string[], text: string): boolean {
  const head = pieces[0] as string;
  if (pieces.length === 1) return text === head;
  const tail = pieces.at(-1) as string;
  const end = text.length - tail.length;
  if (end < head.length || !text.startsWith(head) || !text.endsWith(tail)) return false;
  let at = head.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i] as string;
    // The leftmost place this piece fits, before the tail.
    const found = text.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}
