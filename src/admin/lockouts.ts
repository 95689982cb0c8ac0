/**
 * `GET /monitoring/lockouts` lists the login lockouts in force and `DELETE
 * /monitoring/lockouts` ends them by hand; `?router=`, `?source=` and
 * `?user=` narrow both. The lockouts come from the sources (the dashboard
 * shows them too), clearing from a function `app.ts` gives, which also
 * writes the audit record.
 */
import { HttpProblem } from './http-reply.js';
import { queryFilter } from './query-filter.js';

/** A source address (any user from it), a user (from anywhere), or one user from one trusted source. */
export type LockoutScope = 'source' | 'user' | 'source-user';

/** One lockout in force. */
export interface LockoutSnapshot {
  readonly router: string;
  readonly scope: LockoutScope;
  /** Set for `source` and `source-user`. */
  readonly source?: string;
  /** Set for `user` and `source-user`. */
  readonly user?: string;
  /** Failed logins that started it. */
  readonly failures: number;
  /** When it ends, ms since epoch. */
  readonly untilMs: number;
}

/** Which lockouts: each field given must match; none given means all. */
export interface LockoutFilter {
  readonly router?: string;
  readonly source?: string;
  readonly user?: string;
}

/**
 * Ends the lockouts that match; returns them. `address` is who asked (for
 * the audit record). A group's lockouts (issue 18) are ended in Redis too:
 * then the answer waits for it.
 */
export type ClearLockouts = (
  filter: LockoutFilter,
  address: string | undefined,
) => readonly LockoutSnapshot[] | Promise<readonly LockoutSnapshot[]>;

const FILTER_KEYS = ['router', 'source', 'user'] as const;

/** The filter in a query string; a 400 for anything else. */
export function lockoutFilter(url: URL): LockoutFilter {
  return queryFilter(url, FILTER_KEYS) as LockoutFilter;
}

/** True when `lockout` matches every field `filter` gives. */
export function matchesLockout(lockout: LockoutSnapshot, filter: LockoutFilter): boolean {
  return (
    (filter.router === undefined || lockout.router === filter.router) &&
    (filter.source === undefined || lockout.source === filter.source) &&
    (filter.user === undefined || lockout.user === filter.user)
  );
}

/** A lockout as the admin port answers it: every field present, the end as ISO 8601. */
export function lockoutView(lockout: LockoutSnapshot) {
  return {
    router: lockout.router,
    scope: lockout.scope,
    source: lockout.source ?? null,
    user: lockout.user ?? null,
    failures: lockout.failures,
    until: new Date(lockout.untilMs).toISOString(),
  };
}

/** `GET /monitoring/lockouts`: the lockouts in force that match the query. */
export function listLockouts(lockouts: readonly LockoutSnapshot[], url: URL) {
  const filter = lockoutFilter(url);
  const shown = lockouts.filter((l) => matchesLockout(l, filter)).map(lockoutView);
  return { lockouts: shown, count: shown.length };
}

/** `DELETE /monitoring/lockouts`: ends the lockouts that match the query, and says which. */
export async function clearLockouts(clear: ClearLockouts | undefined, url: URL, address?: string) {
  if (clear === undefined) throw new HttpProblem(404, 'path', 'lockouts cannot be cleared here');
  const cleared = (await clear(lockoutFilter(url), address)).map(lockoutView);
  return { cleared, count: cleared.length };
}
