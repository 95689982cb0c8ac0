/**
 * What the flow stage asks of a rate limiter: the local TokenBucket
 * (src/flow/token-bucket.ts) and the {@link SharedTokenBucket} both fit, so
 * flow can be given either by the composition root.
 */
export interface RateBucket {
  /** Tokens that may be spent now. */
  readonly tokens: number;
  /** Takes one token; false when none may be spent now. */
  tryTake(): boolean;
  /** Milliseconds until a token may be spent; 0 when one may now. */
  msUntilNext(): number;
}

/** The shape of a bucket: `refillTokens` every `refillIntervalMs`, up to `capacity`. */
export interface BucketShape {
  /** Most tokens held: the burst allowed at once. */
  readonly capacity: number;
  /** Tokens added every `refillIntervalMs`. */
  readonly refillTokens: number;
  readonly refillIntervalMs: number;
}

/**
 * A token bucket refilled in whole steps, as src/flow/token-bucket.ts is
 * (the shared module does not import flow): the fallback share of a replica
 * while Redis is away. Fractional shapes are fine (a share of 10 / 3).
 */
export class StepBucket implements RateBucket {
  readonly #shape: BucketShape;
  readonly #now: () => number;
  #tokens: number;
  #stepStartedAt: number;

  constructor(shape: BucketShape, now: () => number) {
    this.#shape = shape;
    this.#now = now;
    this.#tokens = shape.capacity;
    this.#stepStartedAt = now();
  }

  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  msUntilNext(): number {
    this.#refill();
    if (this.#tokens >= 1) return 0;
    const stepsNeeded = Math.ceil((1 - this.#tokens) / this.#shape.refillTokens);
    return this.#stepStartedAt + stepsNeeded * this.#shape.refillIntervalMs - this.#now();
  }

  #refill(): void {
    const now = this.#now();
    const interval = this.#shape.refillIntervalMs;
    const steps = Math.floor((now - this.#stepStartedAt) / interval);
    if (steps <= 0) return;
    this.#tokens = Math.min(this.#shape.capacity, this.#tokens + steps * this.#shape.refillTokens);
    this.#stepStartedAt += steps * interval;
  }
}
