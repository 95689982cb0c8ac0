/**
 * What a RouterOS version changes on the API (docs/routeros-api.md §3, §6, §11).
 */

/** Login methods a version accepts (§3). */
export const LoginMode = {
  /** Before 6.43: challenge only; a plain login is answered with a challenge. */
  Legacy: 'legacy',
  /** 6.43 - 6.45.0: plain and challenge. */
  Both: 'both',
  /** 6.45.1 and later: plain only; a bare `/login` still gets a challenge. */
  Plain: 'plain',
} as const;
export type LoginMode = (typeof LoginMode)[keyof typeof LoginMode];

export interface VersionProfile {
  /** The version as given, e.g. `7.19`. */
  readonly version: string;
  readonly loginMode: LoginMode;
  /** Whether prints without rows answer `!empty` before `!done` (7.18+). */
  readonly emptyReplies: boolean;
  /** The text of a refused login. */
  readonly loginFailedMessage: string;
  /** Whether dates read `2026-12-07` (7.10+) rather than `dec/07/2026`. */
  readonly isoDates: boolean;
}

const VERSION = /^(\d+)\.(\d+)(?:\.(\d+))?$/;

/** Parse `7.19` or `6.45.1` into numbers; undefined when it is not a version. */
export function parseVersion(
  text: string,
): [major: number, minor: number, patch: number] | undefined {
  const m = VERSION.exec(text);
  if (m === null) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

function atLeast(v: readonly number[], major: number, minor: number, patch: number): boolean {
  const [a = 0, b = 0, c = 0] = v;
  if (a !== major) return a > major;
  if (b !== minor) return b > minor;
  return c >= patch;
}

/** The profile of a version string (the caller has checked it parses). */
export function versionProfile(version: string): VersionProfile {
  const v = parseVersion(version) ?? [0, 0, 0];
  const loginMode = atLeast(v, 6, 45, 1)
    ? LoginMode.Plain
    : atLeast(v, 6, 43, 0)
      ? LoginMode.Both
      : LoginMode.Legacy;
  return {
    version,
    loginMode,
    emptyReplies: atLeast(v, 7, 18, 0),
    loginFailedMessage:
      loginMode === LoginMode.Legacy ? 'cannot log in' : 'invalid user name or password (6)',
    isoDates: atLeast(v, 7, 10, 0),
  };
}
