import { PRIORITIES, type Priority } from './priority-rules.js';

/** A waiting item, as {@link FairQueue.push} returns it. */
export interface QueueEntry<T> {
  readonly item: T;
  readonly clientId: number;
  readonly priority: Priority;
  /** When it was queued (ms, the caller's clock). */
  readonly enqueuedAt: number;
}

/** Options of a {@link FairQueue}. */
export interface FairQueueOptions {
  /** A waiting entry rises one priority level per `agingMs` waited. */
  readonly agingMs: number;
}

interface Entry<T> extends QueueEntry<T> {
  /** Index of its priority in PRIORITIES. */
  readonly level: number;
  /** Push order: the age of entries compared. */
  readonly seq: number;
  readonly client: ClientLanes<T>;
  /** Neighbours in its lane. */
  prev: Entry<T> | undefined;
  next: Entry<T> | undefined;
  /** Neighbours in push order, across clients: the age list. */
  older: Entry<T> | undefined;
  younger: Entry<T> | undefined;
  isQueued: boolean;
}

/** A FIFO of one client's entries of one priority: a doubly linked list. */
class Lane<T> {
  head: Entry<T> | undefined;
  tail: Entry<T> | undefined;

  append(entry: Entry<T>): void {
    entry.prev = this.tail;
    if (this.tail === undefined) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
  }

  unlink(entry: Entry<T>): void {
    if (entry.prev === undefined) this.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) this.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = entry.next = undefined;
  }
}

/** One client's waiting entries, a lane per priority. */
interface ClientLanes<T> {
  readonly lanes: readonly Lane<T>[];
  size: number;
  /** The last round this client was served in. */
  servedInRound: number;
}

/**
 * A queue that serves clients in turn. Clients with
 * something waiting are served round by round, each at most once per
 * round, so one client's burst delays another client's command by at most
 * one turn per waiting client. Within a round, clients whose best waiting
 * entry is more urgent go first; within a client's turn its most urgent
 * entry goes, oldest first. Priority is aged: an entry rises one level per
 * `agingMs` waited, so low never starves.
 *
 * A client that empties its queue keeps its place in the round, so sending
 * one command at a time does not earn extra turns.
 */
export class FairQueue<T> {
  readonly #agingMs: number;
  /** Every queued entry in push order: the oldest is at hand (no scan per pump). */
  #oldest: Entry<T> | undefined;
  #youngest: Entry<T> | undefined;
  /** Clients in the order they joined: ties within a round go in this order. */
  readonly #clients = new Map<number, ClientLanes<T>>();
  readonly #sizes: number[] = PRIORITIES.map(() => 0);
  #size = 0;
  #round = 0;
  #seq = 0;

  constructor(options: FairQueueOptions) {
    this.#agingMs = options.agingMs;
  }

  /** Entries waiting. */
  get size(): number {
    return this.#size;
  }

  /** Entries waiting with `priority` (as queued, before aging). */
  sizeOf(priority: Priority): number {
    return this.#sizes[PRIORITIES.indexOf(priority)] as number;
  }

  push(item: T, clientId: number, priority: Priority, now: number): QueueEntry<T> {
    let client = this.#clients.get(clientId);
    if (client === undefined) {
      const lanes = PRIORITIES.map(() => new Lane<T>());
      client = { lanes, size: 0, servedInRound: this.#round - 1 };
      this.#clients.set(clientId, client);
    }
    const level = PRIORITIES.indexOf(priority);
    const entry: Entry<T> = {
      item,
      clientId,
      priority,
      enqueuedAt: now,
      level,
      seq: this.#seq++,
      client,
      prev: undefined,
      next: undefined,
      older: this.#youngest,
      younger: undefined,
      isQueued: true,
    };
    if (this.#youngest === undefined) this.#oldest = entry;
    else this.#youngest.younger = entry;
    this.#youngest = entry;
    (client.lanes[level] as Lane<T>).append(entry);
    client.size++;
    (this.#sizes[level] as number)++;
    this.#size++;
    return entry;
  }

  /** Withdraws a waiting entry; false when it is no longer queued. */
  remove(entry: QueueEntry<T>): boolean {
    const own = entry as Entry<T>;
    if (!own.isQueued) return false;
    own.isQueued = false;
    (own.client.lanes[own.level] as Lane<T>).unlink(own);
    if (own.older === undefined) this.#oldest = own.younger;
    else own.older.younger = own.younger;
    if (own.younger === undefined) this.#youngest = own.older;
    else own.younger.older = own.older;
    own.older = own.younger = undefined;
    own.client.size--;
    (this.#sizes[own.level] as number)--;
    this.#size--;
    if (this.#size === 0) this.#clients.clear();
    else if (own.client.size === 0 && own.client.servedInRound < this.#round) {
      this.#clients.delete(own.clientId);
    }
    return true;
  }

  /** The entry to serve next, left in the queue; `take()` it to serve it. */
  next(now: number): QueueEntry<T> | undefined {
    if (this.#size === 0) return undefined;
    const found = this.#bestOfRound(now);
    if (found !== undefined) return found;
    this.#startRound();
    return this.#bestOfRound(now);
  }

  /** Removes `entry` (from `next()`) and spends its client's turn in this round. */
  take(entry: QueueEntry<T>): void {
    (entry as Entry<T>).client.servedInRound = this.#round;
    this.remove(entry);
  }

  /** The entry that has waited longest. */
  oldest(): QueueEntry<T> | undefined {
    return this.#oldest;
  }

  /** Removes every entry; returns their items, oldest first. */
  drain(): T[] {
    const items: T[] = [];
    for (let entry = this.#oldest; entry !== undefined; entry = this.#oldest) {
      items.push(entry.item);
      this.remove(entry);
    }
    return items;
  }

  /**
   * The most urgent head among clients not yet served in this round. The
   * scan stops at the first client (in join order, which wins ties) holding
   * the most urgent level any entry can have now: with one priority and no
   * aging, that is the first client waiting, so a dequeue costs O(1), not
   * one look at every client (issue 19).
   */
  #bestOfRound(now: number): Entry<T> | undefined {
    let best: Entry<T> | undefined;
    let bestLevel = PRIORITIES.length;
    const floor = this.#mostUrgentLevel(now);
    for (const client of this.#clients.values()) {
      if (bestLevel === floor) break;
      if (client.size === 0 || client.servedInRound >= this.#round) continue;
      for (const lane of client.lanes) {
        const head = lane.head;
        if (head === undefined) continue;
        const level = this.#agedLevel(head.level, head.enqueuedAt, now);
        // Ties go to the client that joined first, then within a client to the older entry.
        if (
          level < bestLevel ||
          (level === bestLevel && best?.client === client && head.seq < best.seq)
        ) {
          best = head;
          bestLevel = level;
        }
      }
    }
    return best;
  }

  /**
   * No entry is more urgent than this: the most urgent priority queued,
   * raised by what the longest wait has earned.
   */
  #mostUrgentLevel(now: number): number {
    const top = this.#sizes.findIndex((n) => n > 0);
    return this.#agedLevel(top, (this.#oldest as Entry<T>).enqueuedAt, now);
  }

  #agedLevel(level: number, enqueuedAt: number, now: number): number {
    return Math.max(0, level - Math.floor((now - enqueuedAt) / this.#agingMs));
  }

  /** Every client with something waiting may be served again; emptied clients leave. */
  #startRound(): void {
    this.#round++;
    for (const [id, client] of this.#clients) {
      if (client.size === 0) this.#clients.delete(id);
    }
  }
}
