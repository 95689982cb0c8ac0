import type { CommandContext } from '../pipeline.js';
import type { Sentence } from '../protocol/index.js';

/**
 * What a kept reply shows of its menu, enough to tell whether a change to
 * one known row can reach it.
 */
export interface ReplyShape {
  /** The `.id` of every row the reply shows; undefined when unknown (a row without `.id`, a count). */
  readonly ids: ReadonlySet<string> | undefined;
  /** Y, lower-cased, when the print's only filter is `?name=Y`; undefined for any other filter or none. */
  readonly nameQuery: string | undefined;
}

/**
 * A change to known rows of a menu whose rows are independent (a write to
 * one row changes no other, and a name is kept as it was given):
 *
 * - `named`: the rows `ids` (none for an add, whose id is not known yet)
 *   now carry the name `name` (lower-cased): an add, a set of the name, or
 *   the router reporting the row's state;
 * - `removed`: the rows `ids` are gone;
 * - `kept-name`: the rows `ids` changed, their names did not (a set without
 *   a name, enable, disable, reset-counters, comment).
 */
export type RowChange =
  | { readonly kind: 'named'; readonly ids: readonly string[]; readonly name: string }
  | { readonly kind: 'removed'; readonly ids: readonly string[] }
  | { readonly kind: 'kept-name'; readonly ids: readonly string[] };

/**
 * A change as another replica published it (`JSON.stringify` of a
 * {@link RowChange}); undefined for anything else, which then counts as a
 * change to the whole menu.
 */
export function parseRowChange(text: string | undefined): RowChange | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, ids, name } = value as Record<string, unknown>;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) return undefined;
  if (kind === 'named' && typeof name === 'string') return { kind, ids, name };
  if (kind === 'removed' || kind === 'kept-name') return { kind, ids };
  return undefined;
}

/** What a change means for a print still on its way: nothing, watch its rows for `ids`, or give it up. */
export type FillImpact = 'none' | 'ids' | 'all';

const ROW_ID = /^\*[0-9A-Fa-f]+$/;
const EQ = 0x3d; // '='
const QUESTION = 0x3f; // '?'
const NAME_QUERY = '?name=';
/** Print arguments that do not select rows: the shape of the reply does not depend on them. */
const SHAPE_NEUTRAL = new Set(['.proplist', 'count-only']);

/** The row ids a write names in `.id` or `numbers`, when each one is a `*hex` id. */
function idsOf(attributes: ReadonlyMap<string, Buffer>): string[] | undefined {
  const list = attributes.get('.id') ?? attributes.get('numbers');
  if (list === undefined) return undefined;
  const ids = list.toString('latin1').split(',');
  return ids.every((id) => ROW_ID.test(id)) ? ids : undefined;
}

/** Comparing lower-cased names keeps a router that matched names regardless of case covered. */
const fold = (name: string): string => name.toLowerCase();

/**
 * The rows a write changes, when they are known; undefined when the write
 * may change any row of its menu (the menu is then dropped whole).
 */
export function writeChange(context: CommandContext): RowChange | undefined {
  const attributes = context.sentence.attributes();
  const name = attributes.get('name')?.toString('latin1');
  const effect = context.command.rowEffect;
  if (effect === 'add') {
    return name === undefined ? undefined : { kind: 'named', ids: [], name: fold(name) };
  }
  const ids = idsOf(attributes);
  if (ids === undefined) return undefined;
  if (effect === 'remove') return { kind: 'removed', ids };
  if (effect !== 'change') return undefined;
  if (name !== undefined) return { kind: 'named', ids, name: fold(name) };
  return { kind: 'kept-name', ids };
}

/**
 * The change a `listen` reply reports (`=.id=` with `=.dead=yes`, or with
 * the row's `=name=`); undefined when it does not say enough.
 */
export function reportedChange(sentence: Sentence): RowChange | undefined {
  const id = sentence.attributeString('.id');
  if (id === undefined || !ROW_ID.test(id)) return undefined;
  const dead = sentence.attributeString('.dead');
  if (dead === 'yes' || dead === 'true') return { kind: 'removed', ids: [id] };
  const name = sentence.attributeString('name');
  return name === undefined ? undefined : { kind: 'named', ids: [id], name: fold(name) };
}

/**
 * True when no word of `print` but its queries may select rows: its other
 * attributes do not (`.proplist`, `count-only`), and it has no word of
 * another kind (an API attribute such as `.proplist` aside, and its tag).
 */
function selectsOnlyByQueries(print: Sentence): boolean {
  for (const name of print.attributes().keys()) if (!SHAPE_NEUTRAL.has(name)) return false;
  const tagIndex = print.tagIndex;
  for (let i = 1; i < print.wordCount; i++) {
    const first = print.word(i)[0];
    if (i !== tagIndex && first !== EQ && first !== QUESTION) return false;
  }
  return true;
}

/** Y, lower-cased, when the print filters by `?name=Y` alone; undefined otherwise. */
export function nameQueryOf(print: Sentence): string | undefined {
  return nameQueryIn(print, print.queries());
}

/** {@link nameQueryOf}, given the print's query words. */
function nameQueryIn(print: Sentence, queries: readonly Buffer[]): string | undefined {
  const [query] = queries;
  if (queries.length !== 1 || !(query as Buffer).toString('latin1').startsWith(NAME_QUERY))
    return undefined;
  if (!selectsOnlyByQueries(print)) return undefined;
  return fold((query as Buffer).toString('latin1', NAME_QUERY.length));
}

/** The shape of a finished reply to `print`: its rows' ids and its name filter. */
export function replyShape(print: Sentence, replies: readonly Sentence[]): ReplyShape {
  const queries = print.queries();
  const nameQuery = nameQueryIn(print, queries);
  if (print.hasAttribute('count-only')) return { ids: undefined, nameQuery };
  // A print of the whole menu shows every row: any change to a row reaches
  // it, whichever ids it holds, so none are read (thousands, in a full
  // hotspot user table, each an index entry).
  if (queries.length === 0 && selectsOnlyByQueries(print)) return { ids: undefined, nameQuery };
  const ids = new Set<string>();
  for (const reply of replies) {
    if (reply.command !== '!re') continue;
    const id = reply.attributeString('.id');
    if (id === undefined) return { ids: undefined, nameQuery };
    ids.add(id);
  }
  return { ids, nameQuery };
}

/** True when `shape` may show one of `ids` (any of them, when its ids are unknown). */
export function showsAny(shape: Pick<ReplyShape, 'ids'>, ids: readonly string[]): boolean {
  const shown = shape.ids;
  if (ids.length === 0) return false;
  return shown === undefined || ids.some((id) => shown.has(id));
}

/**
 * True when `change` can make the reply wrong. A row that is removed or
 * keeps its name reaches only replies that show it, and, for a changed row,
 * replies filtered by something other than its name (the change may make it
 * match). A row named anew also reaches the replies filtered by its new
 * name, or not filtered by a name.
 */
export function reaches(change: RowChange, shape: ReplyShape): boolean {
  if (showsAny(shape, change.ids)) return true;
  switch (change.kind) {
    case 'removed':
      return false;
    case 'kept-name':
      return shape.nameQuery === undefined;
    case 'named':
      return shape.nameQuery === undefined || shape.nameQuery === change.name;
  }
}

/**
 * What `change` means for a print on its way whose filter is `nameQuery`:
 * its rows are not known yet, so unless the filter rules the change out,
 * it may be kept only if its rows turn out not to show the changed ids.
 */
export function fillImpact(change: RowChange, nameQuery: string | undefined): FillImpact {
  if (change.kind !== 'removed') {
    if (nameQuery === undefined) return 'all';
    if (change.kind === 'named' && nameQuery === change.name) return 'all';
  }
  return change.ids.length === 0 ? 'none' : 'ids';
}
