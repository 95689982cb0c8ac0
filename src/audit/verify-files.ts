import { readLines, sortAuditFiles } from './audit-files.js';
import { NEWLINE, ZERO_HASH, digestLine, isRecordStart, parseLine } from './chain-line.js';

/** What is wrong with a line. */
export type ProblemKind =
  /** The line's bytes do not give its hash (or the head's hash at the head's seq). */
  | 'hash'
  /** `prev` is not the previous record's hash. */
  | 'link'
  /** Records are missing: seq jumps forward. */
  | 'gap'
  /** seq goes backwards or repeats. */
  | 'order'
  /** A record cut short by a crash; the chain continues from the record before it. */
  | 'torn'
  /** The log ends before the head's seq. */
  | 'truncated'
  /** A line that is not a record. */
  | 'parse';

/** One problem: where and what. */
export interface VerifyProblem {
  readonly file: string;
  /** 1-based line number in `file`. */
  readonly line: number;
  /** The seq of the line, or the seq expected where it has none (gap: the first missing). */
  readonly seq: number;
  readonly kind: ProblemKind;
}

/** Options of {@link verifyFiles}. */
export interface VerifyOptions {
  /** A head kept elsewhere: the log must reach its seq, with its hash. */
  readonly head?: { readonly seq: number; readonly hash: string };
  /** The integrity key: the chain is then checked as HMAC-SHA256. */
  readonly key?: Buffer;
  /** Problems listed at most; all are counted. @default 1000 */
  readonly maxProblems?: number;
}

/** The verdict on a set of files. */
export interface VerifyResult {
  /** True when no problem other than a torn line was found. */
  readonly ok: boolean;
  /** Lines that are records. */
  readonly records: number;
  /** The lowest seq that cannot be trusted. */
  readonly firstBadSeq?: number;
  readonly problems: readonly VerifyProblem[];
  /** Every problem, also those past `maxProblems`. */
  readonly problemCount: number;
  /** The last record: the head to keep elsewhere. */
  readonly last?: { readonly seq: number; readonly hash: string };
}

/** The seq a line (a cut one too) begins with, when its digits end before the cut. */
function seqOf(line: Buffer): number | undefined {
  const match = /^\{"seq":(\d{1,15}),/.exec(line.toString('latin1', 0, 24));
  return match === null ? undefined : Number(match[1]);
}

/**
 * True when `line` is a whole JSON value. A record cut short never is: its
 * outer `}` is its last byte, so no shorter part of it closes the object.
 */
function isCompleteJson(line: Buffer): boolean {
  try {
    JSON.parse(line.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks audit files line by line and link by link: each line's hash from
 * its bytes, each `prev` against the previous hash, seq continuity across
 * files (sorted by date and index when they are audit file names), and the
 * head when given. Streams the files; rejects only when a file cannot be
 * read.
 *
 * A torn line (a record cut short, never complete JSON) is reported but does not fail the check:
 * a crash leaves one, and the writer resumes the chain from the record
 * before it, so a line cut on purpose breaks the next link instead. The
 * very first record must link to 64 zeros; when earlier files are gone
 * (retention), the first record present is taken as it is.
 */
export async function verifyFiles(
  files: readonly string[],
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const { head, key, maxProblems = 1000 } = options;
  const problems: VerifyProblem[] = [];
  let problemCount = 0;
  let firstBadSeq: number | undefined;
  let records = 0;
  let last: { seq: number; hash: string } | undefined;
  let file = '';
  let lineNumber = 0;
  /** A cut record followed by a newline: torn if the next record resumes the chain. */
  let pendingTorn: VerifyProblem | undefined;
  /** The seq the pending torn line began to write, when its digits are all there. */
  let tornSeq: number | undefined;

  const report = (problem: VerifyProblem): void => {
    problemCount++;
    if (problems.length < maxProblems) problems.push(problem);
    if (problem.kind !== 'torn' && (firstBadSeq === undefined || problem.seq < firstBadSeq))
      firstBadSeq = problem.seq;
  };
  const settleTorn = (isResumed: boolean): void => {
    if (pendingTorn === undefined) return;
    report(isResumed ? pendingTorn : { ...pendingTorn, kind: 'parse' });
    pendingTorn = undefined;
  };

  for (const path of sortAuditFiles(files)) {
    file = path;
    lineNumber = 0;
    for await (const batch of readLines(path)) {
      for (const raw of batch) {
        lineNumber++;
        const isTerminated = raw[raw.length - 1] === NEWLINE;
        const line = isTerminated ? raw.subarray(0, raw.length - 1) : raw;
        const expected = (last?.seq ?? 0) + 1;
        const parsed = parseLine(line);
        if (parsed === undefined) {
          const here = { file, line: lineNumber, seq: expected };
          // Cut again: a write that failed again (a full disk) cuts the same record twice.
          settleTorn(tornSeq !== undefined && seqOf(line) === tornSeq);
          // A crash leaves a record cut short; a complete JSON line without
          // the record's shape was written by someone else.
          if (!isRecordStart(line) || isCompleteJson(line)) report({ ...here, kind: 'parse' });
          else if (isTerminated) {
            pendingTorn = { ...here, kind: 'torn' };
            tornSeq = seqOf(line);
          } else report({ ...here, kind: 'torn' });
          continue;
        }
        records++;
        // The writer rewrites the record a crash cut, under its seq. Before
        // the first record present (files before it may be gone: retention)
        // there is no hash to link to: the seq must match.
        settleTorn(
          last === undefined
            ? parsed.seq === tornSeq
            : parsed.seq === expected && parsed.prev === last.hash,
        );
        const here = { file, line: lineNumber, seq: parsed.seq };
        if (digestLine(line, parsed.bodyEnd, key) !== parsed.hash) {
          report({ ...here, kind: 'hash' });
        } else if (last !== undefined && parsed.seq <= last.seq) {
          report({ ...here, kind: 'order' });
          continue;
        } else if (last !== undefined && parsed.seq > expected) {
          report({ ...here, seq: expected, kind: 'gap' });
        } else if (
          last !== undefined
            ? parsed.prev !== last.hash
            : parsed.seq === 1 && parsed.prev !== ZERO_HASH
        ) {
          report({ ...here, kind: 'link' });
        } else if (head !== undefined && parsed.seq === head.seq && parsed.hash !== head.hash) {
          report({ ...here, kind: 'hash' });
        }
        last = { seq: parsed.seq, hash: parsed.hash };
      }
    }
    settleTorn(false);
  }
  if (head !== undefined && (last?.seq ?? 0) < head.seq) {
    report({ file, line: lineNumber + 1, seq: (last?.seq ?? 0) + 1, kind: 'truncated' });
  }
  return {
    ok: firstBadSeq === undefined,
    records,
    ...(firstBadSeq === undefined ? {} : { firstBadSeq }),
    problems,
    problemCount,
    ...(last === undefined ? {} : { last }),
  };
}
