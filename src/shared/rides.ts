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

/** One router's carrier and riders, on one replica. */
export class RouterRides {
  #hurry: (() => boolean) | undefined;
  readonly #riders = new Set<() => LeaseRide | undefined>();

  /** The carrier (the bus): `hurry` sends its waiting batch now (true), or has none waiting (false). Returns how to stop. */
  carry(hurry: () => boolean): () => void {
    this.#hurry = hurry;
    return () => {
      if (this.#hurry === hurry) this.#hurry = undefined;
    };
  }

  /** A rider (a bucket): `offer` gives the lease it would take along now, if any. Returns how to stop. */
  ride(offer: () => LeaseRide | undefined): () => void {
    this.#riders.add(offer);
    return () => this.#riders.delete(offer);
  }

  /** A rider needs a lease: the carrier's waiting batch goes now and polls the riders (true), or none is waiting (false). */
  hurry(): boolean {
    return this.#hurry?.() ?? false;
  }

  /** The carrier sends a batch: the first lease a rider offers to take along. */
  poll(): LeaseRide | undefined {
    for (const offer of this.#riders) {
      const ride = offer();
      if (ride !== undefined) return ride;
    }
    return undefined;
  }
}
