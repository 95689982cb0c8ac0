/**
 * Where one router's lease requests meet its publishes on one replica, so
 * that one script call carries both: the invalidation bus (the carrier)
 * takes a lease of the router's token bucket (a rider) along with each batch
 * it publishes, and a bucket that needs a lease while a batch is about to go
 * sends that batch at once instead of making a call of its own.
 */

/** A lease request riding on a publish: {@link LEASE_TOKENS}'s arguments and what to do with its answer. */
export interface LeaseRide {
  /** The bucket's key. */
  readonly key: string;
  /** capacity, refill, interval, want, horizon. */
  readonly args: readonly number[];
  /** The lease's answer (`[granted, waitMs]`), or undefined when the call failed. */
  settle(reply: readonly [number, number] | undefined): void;
}

/** A router's token bucket, as the carrier sees it. */
export interface Rider {
  /** The lease it would take along on a publish going now, if any. */
  offer(): LeaseRide | undefined;
  /** True while commands wait for its tokens (a take was refused lately). */
  isSaturated(): boolean;
}

/** One router's carrier and riders, on one replica. */
export class RouterRides {
  #hurry: (() => boolean) | undefined;
  readonly #riders = new Set<Rider>();

  /** The carrier (the bus): `hurry` sends its waiting batch now (true), or has none waiting (false). Returns how to stop. */
  carry(hurry: () => boolean): () => void {
    this.#hurry = hurry;
    return () => {
      if (this.#hurry === hurry) this.#hurry = undefined;
    };
  }

  /** A rider (a bucket). Returns how to stop. */
  ride(rider: Rider): () => void {
    this.#riders.add(rider);
    return () => this.#riders.delete(rider);
  }

  /** True while a rider is rate limited: the router's budget, not this replica, sets the pace. */
  isSaturated(): boolean {
    for (const rider of this.#riders) if (rider.isSaturated()) return true;
    return false;
  }

  /** A rider needs a lease: the carrier's waiting batch goes now and polls the riders (true), or none is waiting (false). */
  hurry(): boolean {
    return this.#hurry?.() ?? false;
  }

  /** The carrier sends a batch: the first lease a rider offers to take along. */
  poll(): LeaseRide | undefined {
    for (const rider of this.#riders) {
      const ride = rider.offer();
      if (ride !== undefined) return ride;
    }
    return undefined;
  }
}
