/**
 * A fixed-capacity buffer keeping the latest `capacity` items: what the admin
 * port remembers (latency samples, slow commands, events) never grows.
 */
export class Ring<T> {
  readonly capacity: number;
  readonly #items: T[] = [];
  #next = 0;

  /** @param capacity an integer >= 1 */
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Adds `item`, dropping the oldest when full. */
  push(item: T): void {
    if (this.#items.length < this.capacity) this.#items.push(item);
    else this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** The items, oldest first. */
  toArray(): T[] {
    if (this.#items.length < this.capacity) return [...this.#items];
    return [...this.#items.slice(this.#next), ...this.#items.slice(0, this.#next)];
  }
}
