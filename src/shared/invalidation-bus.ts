import { EventEmitter } from 'node:events';
import { PUBLISH_INVALIDATION, READ_INVALIDATIONS } from './scripts.js';
import type { SharedLink } from './shared-link.js';

/** The menu of an invalidation that drops everything of the router. */
export const FLUSH_ALL = '*';

/** A write on another replica changed `menu` (and only row `rowKey`, when set). */
export interface InvalidationEvent {
  readonly router: string;
  readonly menu: string;
  readonly rowKey?: string;
  /** The replica that wrote. */
  readonly origin: string;
}

/** Why a receiver must drop every cached reply of the router. */
export type FlushReason =
  /** The log was trimmed past the last invalidation this replica saw. */
  | 'trimmed'
  /** Redis lost its data (restarted empty): the log cannot be trusted. */
  | 'reset'
  /** A replica published more invalidations during an outage than it could keep apart. */
  | 'publisher';

export interface FlushEvent {
  readonly router: string;
  readonly reason: FlushReason;
}

/** Events of an {@link InvalidationBus}. */
export interface InvalidationBusEvents {
  invalidate: [event: InvalidationEvent];
  flush: [event: FlushEvent];
}

/** Options of an {@link InvalidationBus}. */
export interface InvalidationBusOptions {
  /** Invalidations the log keeps (about; `MAXLEN ~`) for replicas that reconnect. @default 1000 */
  readonly streamMaxLen?: number;
  /** Menus remembered while Redis is down, to publish when it is back; beyond, one flush. @default 1000 */
  readonly maxPendingMenus?: number;
  /** Menus whose generation is kept apart; beyond, they all share one. @default 10000 */
  readonly maxTrackedMenus?: number;
  /** Invalidations sent in one script call at most; more wait for the next one. @default 100 */
  readonly maxBatch?: number;
  /**
   * While the router's rate limit bites on this replica (Redis reserved or
   * refused one of its bucket's leases within the last second), how long a
   * publish waits for other writes to share its script call (a lease
   * request sends it sooner); 0 sends at the end of the turn always.
   * @default 10
   */
  readonly saturatedWindowMs?: number;
}

/** Counters of one router's bus. */
export interface InvalidationBusStats {
  readonly sent: number;
  /** Script calls that carried them (one per batch). */
  readonly batches: number;
  readonly received: number;
  readonly replayed: number;
  readonly flushes: number;
  /** Menus waiting to be published (Redis was down when they were written). */
  readonly pending: number;
}

interface Entry {
  readonly seq: number;
  readonly id: string;
  readonly menu: string;
  readonly row: string;
  readonly origin: string;
}

const WHOLE_MENU = Symbol('whole menu');

/** A write waiting for its batch to be in Redis. */
interface Outgoing {
  readonly menu: string;
  readonly row: string;
  readonly resolve: (isSent: boolean) => void;
}

function entryOf(id: string, fields: readonly unknown[]): Entry {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(String(fields[i]), String(fields[i + 1]));
  return {
    seq: Number(map.get('seq')),
    id,
    menu: map.get('menu') ?? FLUSH_ALL,
    row: map.get('row') ?? '',
    origin: map.get('origin') ?? '',
  };
}

function entryOfMessage(value: unknown): Entry | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Record<string, unknown>;
  if (typeof m.seq !== 'number' || typeof m.id !== 'string' || typeof m.menu !== 'string') {
    return undefined;
  }
  return {
    seq: m.seq,
    id: m.id,
    menu: m.menu,
    row: String(m.row ?? ''),
    origin: String(m.origin ?? ''),
  };
}

/** The entries of one message: one object, or an array of them (a batch); undefined if not understood. */
function messageEntries(text: string): Entry[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const entries = (Array.isArray(parsed) ? parsed : [parsed]).map(entryOfMessage);
  if (entries.length === 0 || entries.includes(undefined)) return undefined;
  return entries as Entry[];
}

/**
 * One router's cache invalidations across the group. A write publishes one
 * script (PUBLISH, plus XADD to a capped stream and a bump of the menu's
 * version); every other replica hears it on its subscriber connection,
 * bumps the menu's generation and emits `invalidate`. After a subscriber or
 * Redis reconnect it replays the stream from the last invalidation it saw,
 * or emits `flush` when the stream no longer reaches back that far.
 */
export class InvalidationBus extends EventEmitter<InvalidationBusEvents> {
  readonly #link: SharedLink;
  readonly #router: string;
  readonly #streamKey: string;
  readonly #seqKey: string;
  readonly #streamMaxLen: number;
  readonly #maxPendingMenus: number;
  readonly #maxTrackedMenus: number;
  readonly #maxBatch: number;
  readonly #saturatedWindowMs: number;
  /** Writes waiting for the next batch. */
  #outgoing: Outgoing[] = [];
  /** A batch is scheduled (end of this turn) or in flight: new writes join the next one. */
  #isSending = false;
  /** The end-of-turn send of the batch being collected; undefined once sent. */
  #scheduled: (() => void) | undefined;
  readonly #generations = new Map<string, number>();
  #flushGeneration = 0;
  /** The last invalidation accounted for; undefined before the first sync. */
  #lastSeq: number | undefined;
  #lastId = '';
  /** Invalidations applied from pub/sub ahead of a gap, not to apply again on replay. */
  readonly #ahead = new Set<number>();
  #isSynced = false;
  #syncing: Promise<void> | undefined;
  #isSyncAgain = false;
  readonly #pending = new Map<string, string | typeof WHOLE_MENU>();
  #isPendingFlush = false;
  #stats = { sent: 0, batches: 0, received: 0, replayed: 0, flushes: 0 };
  readonly #stop: (() => void)[];
  #isClosed = false;

  constructor(link: SharedLink, router: string, options: InvalidationBusOptions = {}) {
    super();
    this.#link = link;
    this.#router = router;
    this.#streamKey = link.key(router, 'inval');
    this.#seqKey = link.key(router, 'inval:seq');
    this.#streamMaxLen = options.streamMaxLen ?? 1000;
    this.#maxPendingMenus = options.maxPendingMenus ?? 1000;
    this.#maxTrackedMenus = options.maxTrackedMenus ?? 10_000;
    this.#maxBatch = options.maxBatch ?? 100;
    this.#saturatedWindowMs = options.saturatedWindowMs ?? 10;
    if (!(this.#saturatedWindowMs >= 0)) throw new RangeError('saturatedWindowMs must be >= 0');
    for (const [name, value] of [
      ['streamMaxLen', this.#streamMaxLen],
      ['maxPendingMenus', this.#maxPendingMenus],
      ['maxTrackedMenus', this.#maxTrackedMenus],
      ['maxBatch', this.#maxBatch],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1)
        throw new RangeError(`${name} must be an integer >= 1`);
    }
    this.#stop = [
      link.onStateChange((isUp) => {
        if (!isUp) {
          this.#isSynced = false;
          return;
        }
        void this.#publishPending();
        void this.sync();
      }),
      link.subscribe(
        this.#streamKey,
        (message) => this.#onMessage(message),
        () => void this.sync(),
      ),
      link.rides(router).carry(() => this.#hurry()),
    ];
  }

  /**
   * True while this replica hears every invalidation: Redis up, subscribed,
   * and the log replayed. While false, cached replies of menus the replica
   * cannot vouch for must not outlive the short fallback TTL.
   */
  get isLive(): boolean {
    return !this.#isClosed && this.#link.isUp && this.#link.isSubscribed && this.#isSynced;
  }

  /**
   * Unsubscribes and stops the group's calls into this bus (a reload that
   * makes a new one); emits nothing more.
   */
  close(): void {
    this.#isClosed = true;
    for (const stop of this.#stop) stop();
    this.removeAllListeners();
  }

  /**
   * Tells the other replicas that `menu` (or one row of it) changed. Call it
   * before the writer's client gets `!done`. The writes of one event-loop
   * turn, and those made while a batch is in flight, go together in one
   * script call. Resolves true once Redis has this one (within the
   * operation timeout); false when Redis is down: the menu is then published
   * when Redis is back. Never rejects.
   */
  publish(menu: string, rowKey?: string): Promise<boolean> {
    if (!this.#link.isUp) {
      this.#keep(menu, rowKey);
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      this.#outgoing.push({ menu, row: rowKey ?? '', resolve });
      if (this.#isSending) return;
      this.#isSending = true;
      this.#schedule();
    });
  }

  /**
   * A number that grows whenever another replica invalidates `menu` (or
   * everything). A cache fill records it before asking the router and
   * stores its reply only when it is unchanged after.
   */
  generation(menu: string): number {
    return (this.#generations.get(menu) ?? 0) + this.#flushGeneration;
  }

  /**
   * Strict mode: the menu's version in Redis (it grows with every
   * invalidation of the menu, or of everything). A cached reply stored with
   * its version is served only while the version is unchanged. Costs one
   * Redis round trip per cache hit; undefined when Redis is down (serve
   * from the router then).
   */
  async menuVersion(menu: string): Promise<number | undefined> {
    const reply = await this.#link.send([
      'MGET',
      this.#versionKey(menu),
      this.#versionKey(FLUSH_ALL),
    ]);
    if (!Array.isArray(reply)) return undefined;
    return Number(reply[0] ?? 0) + Number(reply[1] ?? 0);
  }

  /**
   * Accounts for every invalidation since the last one seen: replays the log
   * or flushes. Runs by itself after every (re)subscribe and Redis return.
   */
  sync(): Promise<void> {
    if (this.#syncing !== undefined) {
      this.#isSyncAgain = true;
      return this.#syncing;
    }
    this.#syncing = this.#syncOnce().finally(() => {
      this.#syncing = undefined;
      if (this.#isSyncAgain) {
        this.#isSyncAgain = false;
        void this.sync();
      }
    });
    return this.#syncing;
  }

  stats(): InvalidationBusStats {
    return { ...this.#stats, pending: this.#pending.size + (this.#isPendingFlush ? 1 : 0) };
  }

  #versionKey(menu: string): string {
    return this.#link.key(this.#router, `ver:${menu}`);
  }

  #keep(menu: string, rowKey: string | undefined): void {
    if (this.#isPendingFlush) return;
    const prior = this.#pending.get(menu);
    const row =
      rowKey === undefined || (prior !== undefined && prior !== rowKey) ? WHOLE_MENU : rowKey;
    this.#pending.set(menu, row);
    if (this.#pending.size > this.#maxPendingMenus || menu === FLUSH_ALL) {
      this.#pending.clear();
      this.#isPendingFlush = true;
    }
  }

  /** Sends the waiting writes (up to `maxBatch`) in one script call; then the ones that came meanwhile. */
  async #sendBatch(): Promise<void> {
    this.#scheduled = undefined;
    const batch = this.#outgoing.splice(0, this.#maxBatch);
    // A lease of the router's bucket rides along when the bucket would take one.
    const ride = this.#link.rides(this.#router).poll();
    const keys = [this.#streamKey, this.#seqKey, ride?.key ?? this.#streamKey];
    const args: (string | number)[] = [
      this.#link.scriptClock(),
      this.#streamKey,
      this.#streamMaxLen,
      this.#link.replicaId,
      ...(ride?.args ?? [0, 0, 0, 0, 0]),
    ];
    for (const { menu, row } of batch) {
      keys.push(this.#versionKey(menu));
      args.push(menu, row);
    }
    const reply = await this.#link.run(PUBLISH_INVALIDATION, keys, args);
    const isSent = Array.isArray(reply);
    ride?.settle(isSent ? [Number(reply[2]), Number(reply[3])] : undefined);
    if (isSent) {
      this.#stats.sent += batch.length;
      this.#stats.batches++;
      this.#link.counters.invalidationsSent += batch.length;
    }
    for (const { menu, row, resolve } of batch) {
      if (!isSent) this.#keep(menu, row === '' ? undefined : row);
      resolve(isSent);
    }
    if (this.#outgoing.length > 0) void this.#sendBatch();
    else this.#isSending = false;
  }

  /**
   * Sends the batch being collected at the end of this turn; or, while the
   * router's rate limit bites on this replica, after `saturatedWindowMs`
   * (unless a lease request hurries it): the writers' clients wait for the
   * router's budget anyway, and more writes share the call.
   */
  #schedule(): void {
    if (this.#saturatedWindowMs > 0 && this.#link.rides(this.#router).isSaturated()) {
      const timers = this.#link.timers;
      const timer = timers.setTimeout(() => void this.#sendBatch(), this.#saturatedWindowMs);
      this.#scheduled = () => timers.clearTimeout(timer);
      return;
    }
    const immediate = setImmediate(() => void this.#sendBatch());
    this.#scheduled = () => clearImmediate(immediate);
  }

  /** A lease is wanted: the batch being collected goes now, to carry it. */
  #hurry(): boolean {
    if (this.#scheduled === undefined) return false;
    this.#scheduled();
    void this.#sendBatch();
    return true;
  }

  async #publishPending(): Promise<void> {
    const items: [string, string | undefined][] = this.#isPendingFlush
      ? [[FLUSH_ALL, undefined]]
      : [...this.#pending].map(([menu, row]) => [menu, row === WHOLE_MENU ? undefined : row]);
    this.#pending.clear();
    this.#isPendingFlush = false;
    await Promise.all(items.map(([menu, row]) => this.publish(menu, row)));
  }

  #onMessage(text: string): void {
    if (this.#isClosed) return;
    const entries = messageEntries(text);
    if (entries === undefined) {
      this.#link.logger?.warn(
        { router: this.#router },
        'shared: an invalidation message was not understood',
      );
      return;
    }
    let isGap = false;
    for (const entry of entries) isGap = this.#onEntry(entry) || isGap;
    if (isGap) void this.sync();
  }

  /** Applies one entry heard live; true when it shows a gap (something was missed: replay). */
  #onEntry(entry: Entry): boolean {
    const last = this.#lastSeq;
    if (last !== undefined && entry.seq <= last) return false;
    if (last === undefined || entry.seq === last + 1) {
      if (last !== undefined) {
        this.#lastSeq = entry.seq;
        this.#lastId = entry.id;
      }
      this.#apply(entry);
      return false;
    }
    // A gap: apply this one now, replay the rest.
    this.#ahead.add(entry.seq);
    this.#apply(entry);
    return true;
  }

  async #syncOnce(): Promise<void> {
    // Live messages may move #lastSeq on while the answer is under way.
    const last = this.#lastSeq;
    const reply = await this.#link.run(
      READ_INVALIDATIONS,
      [this.#streamKey, this.#seqKey],
      [this.#lastId, this.#streamMaxLen],
    );
    if (!Array.isArray(reply)) return;
    const seq = Number(reply[0]);
    const lastStreamId = String(reply[1]);
    const entries = (reply[2] as [string, unknown[]][]).map(([id, fields]) => entryOf(id, fields));
    if (last === undefined) {
      this.#accountTo(seq, lastStreamId);
      return;
    }
    const first = entries[0];
    if (first === undefined ? seq === last : first.seq === last + 1) {
      this.#replay(entries, seq);
      return;
    }
    if (this.#lastSeq !== last) {
      // Overtaken by live messages: ask again before deciding to flush.
      this.#isSyncAgain = true;
      return;
    }
    this.#flush(seq < last || (first !== undefined && first.seq <= last) ? 'reset' : 'trimmed');
    this.#accountTo(seq, lastStreamId);
  }

  /** Applies the entries not heard live meanwhile; `seq` is the router's sequence now. */
  #replay(entries: readonly Entry[], seq: number): void {
    for (const entry of entries) {
      if (entry.seq <= (this.#lastSeq as number)) continue;
      this.#lastSeq = entry.seq;
      this.#lastId = entry.id;
      if (this.#ahead.delete(entry.seq)) continue;
      this.#stats.replayed++;
      this.#apply(entry);
    }
    // The COUNT limit cut the replay short: read on.
    if ((this.#lastSeq as number) < seq) this.#isSyncAgain = true;
    else this.#isSynced = true;
  }

  #accountTo(seq: number, lastId: string): void {
    this.#lastSeq = seq;
    this.#lastId = lastId === '' ? '0-0' : lastId;
    this.#ahead.clear();
    this.#isSynced = true;
  }

  #apply(entry: Entry): void {
    if (entry.origin === this.#link.replicaId) return;
    if (entry.menu === FLUSH_ALL) {
      this.#flush('publisher');
      return;
    }
    this.#bump(entry.menu);
    this.#stats.received++;
    this.#link.counters.invalidationsReceived++;
    const event: InvalidationEvent = {
      router: this.#router,
      menu: entry.menu,
      origin: entry.origin,
      ...(entry.row === '' ? {} : { rowKey: entry.row }),
    };
    this.#emitSafely(() => this.emit('invalidate', event));
  }

  /** One more generation for `menu`; past `maxTrackedMenus`, the map folds into the flush generation. */
  #bump(menu: string): void {
    this.#generations.set(menu, (this.#generations.get(menu) ?? 0) + 1);
    if (this.#generations.size <= this.#maxTrackedMenus) return;
    // Every menu's generation stays as high or higher: monotonic, as fills need.
    this.#flushGeneration += Math.max(...this.#generations.values());
    this.#generations.clear();
  }

  #flush(reason: FlushReason): void {
    this.#flushGeneration++;
    this.#stats.flushes++;
    this.#link.counters.flushes++;
    this.#emitSafely(() => this.emit('flush', { router: this.#router, reason }));
  }

  #emitSafely(emit: () => void): void {
    try {
      emit();
    } catch (err) {
      this.#link.logger?.warn({ err, router: this.#router }, 'shared: a bus listener threw');
    }
  }
}
