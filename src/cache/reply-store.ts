import { LRUCache } from 'lru-cache';
import type { CachedReply } from './cached-reply.js';
import type { MenuPattern } from './menu-pattern.js';

/** Bounds of one router's store. */
export interface ReplyStoreLimits {
  /** Most replies kept. */
  readonly maxEntries: number;
  /** Most bytes kept. */
  readonly maxBytes: number;
  /** A reply larger than this is not kept. */
  readonly maxEntryBytes: number;
}

/**
 * One router's kept replies: an LRU bounded by entries and bytes, with an
 * index by menu so a write drops its menu's replies without a scan. Expiry
 * is the caller's (it needs expired replies for serving stale), so the LRU
 * has no TTL of its own.
 */
export class ReplyStore {
  readonly #lru: LRUCache<string, CachedReply>;
  readonly #keysByPath = new Map<string, Set<string>>();
  readonly #maxEntryBytes: number;
  /** Replies pushed out to make room. */
  evictions = 0;

  constructor(limits: ReplyStoreLimits) {
    this.#maxEntryBytes = limits.maxEntryBytes;
    this.#lru = new LRUCache<string, CachedReply>({
      max: limits.maxEntries,
      maxSize: limits.maxBytes,
      // lru-cache needs a positive size; a reply is at least its `!done`.
      sizeCalculation: (reply) => Math.max(1, reply.bytes.length),
      dispose: (reply, key, reason) => {
        if (reason === 'evict') this.evictions++;
        const keys = this.#keysByPath.get(reply.path) as Set<string>;
        keys.delete(key);
        if (keys.size === 0) this.#keysByPath.delete(reply.path);
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
    if (reply.bytes.length > this.#maxEntryBytes) return false;
    // Index after: setting disposes an older reply under the same key, which unindexes it.
    this.#lru.set(key, reply);
    let keys = this.#keysByPath.get(reply.path);
    if (keys === undefined) this.#keysByPath.set(reply.path, (keys = new Set()));
    keys.add(key);
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

  /** Drops the replies of menu `path` for which `isReached` holds; returns how many. */
  dropWhere(path: string, isReached: (reply: CachedReply) => boolean): number {
    let dropped = 0;
    for (const key of [...(this.#keysByPath.get(path) ?? [])]) {
      // peek: looking a reply over is not a use of it.
      if (!isReached(this.#lru.peek(key) as CachedReply)) continue;
      this.#lru.delete(key);
      dropped++;
    }
    return dropped;
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
      ? [...this.#keysByPath.keys()].filter((path) => pattern.matches(path))
      : [pattern.text];
    return paths.flatMap((path) => [...(this.#keysByPath.get(path) ?? [])]);
  }

  /** Drops everything; returns how many replies were kept. */
  clear(): number {
    const size = this.#lru.size;
    this.#lru.clear();
    return size;
  }
}
