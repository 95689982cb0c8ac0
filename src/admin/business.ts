/**
 * Business figures from what passes through: the rows of the latest full
 * print of `/ip/hotspot/active` and `/ppp/active` (or the `=ret=` of a
 * `count-only` print of them), and every successful `/ip/hotspot/user/add`.
 */
import type { CommandContext } from '../pipeline.js';
import type { Sentence } from '../protocol/index.js';
import type { ActiveUserKind } from './traffic.js';

/** The menus whose full prints count active users. */
export const ACTIVE_USER_MENUS: ReadonlyMap<string, ActiveUserKind> = new Map([
  ['/ip/hotspot/active', 'hotspot'],
  ['/ppp/active', 'pppoe'],
]);

/** What a command means for the business figures. */
export type BusinessKind = ActiveUserKind | 'voucher';

/**
 * The figure a command feeds, if any. A print counts only when it lists the
 * whole menu: no query, no `=from=`, no streaming; `.proplist` does not
 * change the row count, so it may be there.
 */
export function businessKindOf({
  command,
  sentence,
}: Pick<CommandContext, 'command' | 'sentence'>): BusinessKind | undefined {
  if (command.menu === '/ip/hotspot/user') return command.verb === 'add' ? 'voucher' : undefined;
  const kind = ACTIVE_USER_MENUS.get(command.menu);
  // A print that is not cacheable is a stream (or no print): never a full count.
  if (kind === undefined || !command.isCacheable) return undefined;
  const isPartial = sentence.queries().length > 0 || sentence.hasAttribute('from');
  return isPartial ? undefined : kind;
}

/**
 * The count a full print answered: its rows, or for a `count-only` print the
 * `=ret=` of its `!done` (docs/routeros-api.md §6); undefined when `=ret=` is not a count.
 */
export function activeUserCount(
  command: Sentence,
  done: Sentence,
  rows: number,
): number | undefined {
  if (!command.hasAttribute('count-only')) return rows;
  const ret = done.attributeString('ret');
  return ret !== undefined && /^\d{1,9}$/.test(ret) ? Number(ret) : undefined;
}
