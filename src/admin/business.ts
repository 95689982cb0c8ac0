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
  const isPartial = hasQuery(sentence) || hasAttribute(sentence, FROM);
  return isPartial ? undefined : kind;
}

const QUERY = Buffer.from('?', 'latin1');
const FROM = Buffer.from('=from', 'latin1');
const COUNT_ONLY = Buffer.from('=count-only', 'latin1');
const EQ = 0x3d;

/** True when a word after the command is a query (`?...`): `Sentence.queries()` with no copy. */
function hasQuery(sentence: Sentence): boolean {
  for (let i = 1; i < sentence.wordCount; i++) if (sentence.wordStartsWith(i, QUERY)) return true;
  return false;
}

/**
 * `Sentence.hasAttribute` for a name given as its `=name` bytes, made once:
 * `=name` alone or followed by `=`.
 */
function hasAttribute(sentence: Sentence, key: Buffer): boolean {
  for (let i = 1; i < sentence.wordCount; i++) {
    if (!sentence.wordStartsWith(i, key)) continue;
    if (sentence.wordLength(i) === key.length || sentence.word(i)[key.length] === EQ) return true;
  }
  return false;
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
  if (!hasAttribute(command, COUNT_ONLY)) return rows;
  const ret = done.attributeString('ret');
  return ret !== undefined && /^\d{1,9}$/.test(ret) ? Number(ret) : undefined;
}
