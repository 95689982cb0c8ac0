import { LRUCache } from 'lru-cache';
import type { CachedReply } from './cached-reply.js';
import type { MenuPattern } from './menu-pattern.js';
import type { ReplyShape, RowChange } from './row-change.js';

function addTo<K>(map: Map<K, Set<string>>, at: K, key: string): void {
  const keys = map.get(at);
  if (keys === undefined) map.set(at, new Set([key]));
  else keys.add(key);
}

function deleteFrom<K>(map: Map<K, Set<string>>, at: K, key: string): void {
  const keys = map.get(at) as Set<string>;
  keys.delete(key);
  if (keys.size === 0) map.delete(at);
}

/**
 * One menu's kept replies, indexed by what a change to known rows can reach
 * (`reaches` in row-change.ts): the rows each shows, its name filter, or
 * that it has neither. A row-scoped write then finds its replies without
 * looking at the menu's others (issue 19).
 */
class MenuIndex {
  readonly keys = new Set<string>();
  /** Replies by the `.id` of each row they show. */
  readonly #byId = new Map<string, Set<string>>();
  /** Replies whose rows are not known (any change to a row reaches them). */
  readonly #unknownIds = new Set<string>();
  /** Replies filtered by `?name=Y` alone, by Y. */
  readonly #byName = new Map<string, Set<string>>();
  /** Replies with no name filter (any change but a removal may reach them). */
  readonly #unnamed = new Set<string>();

  add(key: string, shape: ReplyShape): void {
    this.keys.add(key);
    if (shape.ids === undefined) this.#unknownIds.add(key);
    else for (const id of shape.ids) addTo(this.#byId, id, key);
    if (shape.nameQuery === undefined) this.#unnamed.add(key);
    else addTo(this.#byName, shape.nameQuery, key);
  }

  delete(key: string, shape: ReplyShape): void {
    this.keys.delete(key);
    if (shape.ids === undefined) this.#unknownIds.delete(key);
    else for (const id of shape.ids) deleteFrom(this.#byId, id, key);
    if (shape.nameQuery === undefined) this.#unnamed.delete(key);
    else deleteFrom(this.#byName, shape.nameQuery, key);
  }

  /** The replies `change` reaches, as `reaches(change, shape)` decides for each. */
  reachedBy(change: RowChange): Set<string> {
    const out = new Set<string>();
    const addAll = (keys: Iterable<string> | undefined): void => {
      if (keys !== undefined) for (const key of keys) out.add(key);
    };
    if (change.ids.length > 0) {
      addAll(this.#unknownIds);
      for (const id of change.ids) addAll(this.#byId.get(id));
    }
    if (change.kind !== 'removed') addAll(this.#unnamed);
    if (change.kind === 'named') addAll(this.#byName.get(change.name));
    return out;
  }
}

/** Bounds of one router's store. */
export interface ReplyStoreLimits {
  /** Most replies kept. */
  readonly maxEntries: number;
  /** Most bytes kept. */
  readonly maxBytes: number;
  /** A reply larger than this is not kept. */
  readonly maxEntryBytes: number;
}

/** What an entry costs: the reply's memory and its key's characters. */
function entryBytes(key: string, reply: CachedReply): number {
  return reply.memoryBytes + key.length;
}

/**
 * One router's kept replies: an LRU bounded by entries and bytes, with an
 * index by menu (and, within a menu, by row and name filter) so a write
 * drops the replies it reaches without a scan. Expiry
 * is the caller's (it needs expired replies for serving stale), so the LRU
 * has no TTL of its own.
 */
export class ReplyStore {
  readonly #lru: LRUCache<string, CachedReply>;
  readonly #byPath = new Map<string, MenuIndex>();
  readonly #maxEntryBytes: number;
  /** Replies pushed out to make room. */
  evictions = 0;

  constructor(limits: ReplyStoreLimits) {
    this.#maxEntryBytes = limits.maxEntryBytes;
    this.#lru = new LRUCache<string, CachedReply>({
      max: limits.maxEntries,
      maxSize: limits.maxBytes,
      // The memory an entry holds, its key included: a print's key can be as
      // large as its query words (never 0, which lru-cache refuses).
      sizeCalculation: (reply, key) => entryBytes(key, reply),
      dispose: (reply, key, reason) => {
        if (reason === 'evict') this.evictions++;
        const index = this.#byPath.get(reply.path) as MenuIndex;
        index.delete(key, reply.shape);
        if (index.keys.size === 0) this.#byPath.delete(reply.path);
      },
    });
  }

  /** Replies kept. */
  get size(): number {
    return this.#lru.size;
  }

  /** Bytes kept. */
  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  /** The reply under `key`, marked recently used. */
  get(key: string): CachedReply | undefined {
    return this.#lru.get(key);
  }

  /** Keeps `reply` under `key`; false when it is too large to keep. */
  set(key: string, reply: CachedReply): boolean {
    if (entryBytes(key, reply) > this.#maxEntryBytes) return false;
    // Index after: setting disposes an older reply under the same key, which unindexes it.
    this.#lru.set(key, reply);
    let index = this.#byPath.get(reply.path);
    if (index === undefined) this.#byPath.set(reply.path, (index = new MenuIndex()));
    index.add(key, reply.shape);
    return true;
  }

  delete(key: string): void {
    this.#lru.delete(key);
  }

  /** Drops every reply of the menus `pattern` matches; returns how many. */
  drop(pattern: MenuPattern): number {
    const keys = this.#keysOf(pattern);
    for (const key of keys) this.#lru.delete(key);
    return keys.length;
  }

  /** Drops the replies of menu `path` that `change` reaches; returns how many. */
  dropReached(path: string, change: RowChange): number {
    const keys = this.#byPath.get(path)?.reachedBy(change);
    if (keys === undefined) return 0;
    // Deleting unindexes (dispose), so the set was copied out first.
    for (const key of keys) this.#lru.delete(key);
    return keys.size;
  }

  /** Ends the freshness of every reply of the menus `pattern` matches at `at`; returns how many. */
  expire(pattern: MenuPattern, at: number): number {
    const keys = this.#keysOf(pattern);
    // peek: expiring a reply is not a use of it.
    for (const key of keys) (this.#lru.peek(key) as CachedReply).expireBy(at);
    return keys.length;
  }

  #keysOf(pattern: MenuPattern): string[] {
    const paths = pattern.isGlob
      ? [...this.#byPath.keys()].filter((path) => pattern.matches(path))
      : [pattern.text];
    return paths.flatMap((path) => [...(this.#byPath.get(path)?.keys ?? [])]);
  }

  /** Drops everything; returns how many replies were kept. */
  clear(): number {
    const size = this.#lru.size;
    this.#lru.clear();
    return size;
  }
}
