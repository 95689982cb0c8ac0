import { monotonicNow } from '../clock.js';

/**
 * What the flow stage takes tokens from: a {@link TokenBucket}, or a group's
 * shared bucket (src/shared, issue 18) handed in by the composition root.
 */
export interface RateLimiter {
  /** Tokens that may be spent now. */
  readonly tokens: number;
  /** Takes one token; false when none may be spent now. */
  tryTake(): boolean;
  /** Milliseconds until a token may be spent; 0 when one may now. */
  msUntilNext(): number;
  /** The flow stage closed: stop what the limiter runs. */
  close?(): void;
}

/** Options of a {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Most tokens held: the burst allowed at once. The bucket starts full. */
  readonly capacity: number;
  /** Tokens added every `refillIntervalMs`. */
  readonly refillTokens: number;
  readonly refillIntervalMs: number;
  /** Tokens at the start (a bucket built on a reload keeps what the old one had). @default capacity */
  readonly tokens?: number;
  /** The clock (ms). @default monotonicNow (src/clock.ts: steps of the wall clock do not move it) */
  readonly now?: () => number;
}

/**
 * A token bucket refilled in whole steps: every `refillIntervalMs`,
 * `refillTokens` tokens are added up to `capacity`. Refills are computed
 * from the clock when the bucket is asked, so it needs no timer. Fractional
 * shapes are fine (a replica's share of a group's bucket: 10 / 3).
 */
export class TokenBucket implements RateLimiter {
  readonly #capacity: number;
  readonly #refillTokens: number;
  readonly #refillIntervalMs: number;
  readonly #now: () => number;
  #tokens: number;
  /** When the step now in progress began. */
  #stepStartedAt: number;

  constructor(options: TokenBucketOptions) {
    this.#capacity = options.capacity;
    this.#refillTokens = options.refillTokens;
    this.#refillIntervalMs = options.refillIntervalMs;
    this.#now = options.now ?? monotonicNow;
    this.#tokens = Math.min(options.capacity, options.tokens ?? options.capacity);
    this.#stepStartedAt = this.#now();
  }

  /** Tokens available now. */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Takes one token; false when none is left. */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  /** Milliseconds until a token is available; 0 when one is now. */
  msUntilNext(): number {
    this.#refill();
    if (this.#tokens >= 1) return 0;
    // More than one step when a step adds less than a token (a replica's share).
    const stepsNeeded = Math.ceil((1 - this.#tokens) / this.#refillTokens);
    return this.#stepStartedAt + stepsNeeded * this.#refillIntervalMs - this.#now();
  }

  #refill(): void {
    const now = this.#now();
    const steps = Math.floor((now - this.#stepStartedAt) / this.#refillIntervalMs);
    if (steps <= 0) return;
    this.#tokens = Math.min(this.#capacity, this.#tokens + steps * this.#refillTokens);
    this.#stepStartedAt += steps * this.#refillIntervalMs;
  }
}
