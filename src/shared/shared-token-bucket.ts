import { TokenBucket } from '../flow/token-bucket.js';
import type { BucketShape, RateBucket } from './rate-bucket.js';
import type { LeaseRide, RouterRides } from './rides.js';
import { LEASE_TOKENS } from './scripts.js';
import type { SharedLink } from './shared-link.js';

/** Options of a {@link SharedTokenBucket}: the group's bucket, and how it is leased. */
export interface SharedTokenBucketOptions extends BucketShape {
  /**
   * The largest lease (K). A lease is sized by what this replica took
   * lately (twice the tokens of the last lease TTL), at least 10 (or K when
   * smaller), at most K: at most 0.1 Redis calls per token, and a replica
   * that spends little holds little.
   * @default min(capacity, 2 × refillTokens)
   */
  readonly leaseTokens?: number;
  /**
   * How long leased tokens may be spent once usable; unspent ones then lapse.
   * @default max(1000, 2 × refillIntervalMs)
   */
  readonly leaseTtlMs?: number;
  /**
   * How far ahead Redis reserves tokens (a lease granted now, usable when
   * the bucket would hold it); a longer wait is refused and asked again later.
   * @default max(1000, 2 × refillIntervalMs)
   */
  readonly horizonMs?: number;
  /**
   * Called when tokens may have become available without a call to the
   * bucket (a lease arrived or became usable, Redis went down or came back),
   * so flow can pump its queue. Must not throw.
   */
  readonly onAvailable?: () => void;
}

/** Counters of one router's shared bucket. */
export interface SharedBucketStats {
  /** Leases granted by Redis. */
  readonly leases: number;
  /** Of the lease requests, those that rode on a publish (no call of their own). */
  readonly rides: number;
  /** Lease requests Redis refused (the reservation horizon was full). */
  readonly refusals: number;
  /** Leased tokens that lapsed unspent. */
  readonly lapsedTokens: number;
  /** Tokens taken from the fallback share while Redis was down. */
  readonly fallbackTakes: number;
}

interface Lease {
  tokens: number;
  readonly usableAt: number;
  readonly expiresAt: number;
}

/** The smallest lease (unless K is smaller): at most 0.1 Redis calls per token. */
const MIN_LEASE = 10;

function checked(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min)
    throw new RangeError(`${name} must be a number >= ${min}`);
  return value;
}

/**
 * One router's token bucket shared by every replica of the group. The
 * bucket lives in Redis; this replica takes tokens a lease at a time (up
 * to K, sized by its recent use), spends them locally, asks for the next
 * lease when a third is left (or, with two thirds left, along with a
 * publish of the router's invalidation bus: no call of its own), and lets
 * unspent ones lapse. While Redis is down it spends its share:
 * capacity / N and refill / N (N: the replicas last seen).
 * The same interface as the local TokenBucket ({@link RateBucket}).
 */
export class SharedTokenBucket implements RateBucket {
  readonly #link: SharedLink;
  readonly #key: string;
  readonly #shape: BucketShape;
  /** The largest lease (K). */
  readonly #leaseTokens: number;
  /** Tokens taken since `#windowAt`, and in the window of `leaseTtlMs` before it. */
  #taken = 0;
  #takenBefore = 0;
  #windowAt = -Infinity;
  readonly #leaseTtlMs: number;
  readonly #horizonMs: number;
  readonly #onAvailable: (() => void) | undefined;
  #leases: Lease[] = [];
  #fetch: Promise<void> | undefined;
  #retryAt = -Infinity;
  /** When Redis last had fewer tokens than a lease (it reserved one for later, or refused). */
  #limitedAt = -Infinity;
  readonly #saturatedMs: number;
  #share: TokenBucket | undefined;
  /** The replicas the share was cut for: a new count cuts a new share. */
  #shareOf = 0;
  #wake: unknown;
  #wakeAt = Infinity;
  #stats = { leases: 0, rides: 0, refusals: 0, lapsedTokens: 0, fallbackTakes: 0 };
  readonly #rides: RouterRides;
  readonly #stop: (() => void)[];

  constructor(link: SharedLink, router: string, options: SharedTokenBucketOptions) {
    this.#link = link;
    this.#key = link.key(router, 'bucket');
    this.#shape = {
      capacity: checked('capacity', options.capacity, 1),
      refillTokens: checked('refillTokens', options.refillTokens, 1),
      refillIntervalMs: checked('refillIntervalMs', options.refillIntervalMs, 1),
    };
    const k = options.leaseTokens ?? Math.min(options.capacity, 2 * options.refillTokens);
    this.#leaseTokens = Math.floor(Math.min(options.capacity, checked('leaseTokens', k, 1)));
    const span = Math.max(1000, 2 * options.refillIntervalMs);
    this.#leaseTtlMs = checked('leaseTtlMs', options.leaseTtlMs ?? span, 1);
    this.#horizonMs = checked('horizonMs', options.horizonMs ?? span, 0);
    this.#onAvailable = options.onAvailable;
    this.#saturatedMs = Math.max(1000, options.refillIntervalMs);
    this.#rides = link.rides(router);
    this.#stop = [
      // The share outlives the outage: a new one starts where this one left
      // off, so Redis flapping cannot hand out a full burst at each fall.
      link.onStateChange(() => this.#available()),
      this.#rides.ride({
        offer: () => this.#offer(),
        isSaturated: () => this.#link.now() - this.#limitedAt < this.#saturatedMs,
      }),
    ];
  }

  get tokens(): number {
    const now = this.#link.now();
    this.#prune(now);
    const leased = this.#usable(now);
    return this.#link.isUp ? leased : leased + this.#fallback().tokens;
  }

  tryTake(): boolean {
    const now = this.#link.now();
    this.#prune(now);
    const lease = this.#leases.find((l) => l.usableAt <= now);
    if (lease !== undefined) {
      lease.tokens--;
      this.#taken++;
      // What it spends while Redis is up counts against its share too, for
      // the next outage (leased tokens left when Redis falls come on top, as before).
      if (this.#link.isUp) this.#share?.tryTake();
      if (lease.tokens === 0) this.#leases = this.#leases.filter((l) => l !== lease);
      this.#prefetch(now);
      return true;
    }
    if (!this.#link.isUp) {
      const isTaken = this.#fallback().tryTake();
      if (isTaken) this.#stats.fallbackTakes++;
      return isTaken;
    }
    this.#prefetch(now);
    return false;
  }

  msUntilNext(): number {
    const now = this.#link.now();
    this.#prune(now);
    if (this.#usable(now) > 0) return 0;
    if (!this.#link.isUp) return this.#fallback().msUntilNext();
    this.#prefetch(now);
    const usableAt = Math.min(...this.#leases.map((l) => l.usableAt));
    if (usableAt !== Infinity) return usableAt - now;
    if (this.#retryAt > now) return this.#retryAt - now;
    // A lease is on its way: a guess; onAvailable says when it is here.
    return Math.min(this.#shape.refillIntervalMs, 50);
  }

  /** Resolves when no lease request is in flight. */
  settle(): Promise<void> {
    return this.#fetch ?? Promise.resolve();
  }

  stats(): SharedBucketStats {
    return { ...this.#stats };
  }

  /**
   * Stops the wake-up timer and the group's calls into this bucket (a
   * reload that makes a new one); leased tokens lapse by themselves.
   */
  close(): void {
    this.#clearWake();
    for (const stop of this.#stop) stop();
  }

  #usable(now: number): number {
    let sum = 0;
    for (const lease of this.#leases) if (lease.usableAt <= now) sum += lease.tokens;
    return sum;
  }

  #prune(now: number): void {
    if (!this.#leases.some((l) => l.expiresAt <= now)) return;
    for (const lease of this.#leases) {
      if (lease.expiresAt <= now) this.#stats.lapsedTokens += lease.tokens;
    }
    this.#leases = this.#leases.filter((l) => l.expiresAt > now);
  }

  /** The local share while Redis is down, made when the outage is first felt. */
  #fallback(): TokenBucket {
    const n = Math.max(1, this.#link.replicas);
    if (this.#share === undefined || this.#shareOf !== n) {
      this.#shareOf = n;
      const shape = {
        capacity: Math.max(1, this.#shape.capacity / n),
        refillTokens: this.#shape.refillTokens / n,
        refillIntervalMs: this.#shape.refillIntervalMs,
      };
      this.#share = new TokenBucket({ ...shape, now: () => this.#link.now() });
    }
    return this.#share;
  }

  /**
   * The next lease's size: what this replica took in about two lease TTLs,
   * at least {@link MIN_LEASE} and at most K. A replica that spends little
   * leases little (fewer tokens lapse unspent), and one that spends much
   * asks rarely without holding the group's whole bucket.
   */
  #leaseSize(now: number): number {
    if (now - this.#windowAt >= this.#leaseTtlMs) {
      this.#takenBefore = now - this.#windowAt < 2 * this.#leaseTtlMs ? this.#taken : 0;
      this.#taken = 0;
      this.#windowAt = now;
    }
    const recent = Math.max(this.#taken, this.#takenBefore);
    return Math.min(this.#leaseTokens, Math.max(MIN_LEASE, 2 * recent));
  }

  /** Tokens held, usable or not yet. */
  #held(): number {
    let held = 0;
    for (const lease of this.#leases) held += lease.tokens;
    return held;
  }

  /** Whether a lease request may go now: none under way, Redis up, no wait Redis named. */
  #mayAsk(now: number): boolean {
    return this.#fetch === undefined && now >= this.#retryAt && this.#link.isUp;
  }

  /** Asks for the next lease when a third of one is left: on a publish about to go, else on its own. */
  #prefetch(now: number): void {
    if (!this.#mayAsk(now) || this.#held() * 3 > this.#leaseSize(now)) return;
    // The publish hurried along polls the riders: this bucket's lease goes with it.
    if (this.#rides.hurry() && this.#fetch !== undefined) return;
    const shape = this.#shape;
    const args = [
      this.#link.scriptClock(),
      shape.capacity,
      shape.refillTokens,
      shape.refillIntervalMs,
      this.#leaseSize(now),
      this.#horizonMs,
    ];
    this.#fetch = this.#link.run(LEASE_TOKENS, [this.#key], args).then((reply) => {
      this.#fetch = undefined;
      this.#leased(reply);
    });
  }

  /**
   * A publish is going: the lease it may carry, when two thirds of one or
   * less are left (a little earlier than {@link #prefetch} asks on its own).
   */
  #offer(): LeaseRide | undefined {
    const now = this.#link.now();
    if (!this.#mayAsk(now) || this.#held() * 3 > 2 * this.#leaseSize(now)) return undefined;
    let settle!: () => void;
    this.#fetch = new Promise((resolve) => (settle = resolve));
    this.#stats.rides++;
    const shape = this.#shape;
    return {
      key: this.#key,
      args: [
        shape.capacity,
        shape.refillTokens,
        shape.refillIntervalMs,
        this.#leaseSize(now),
        this.#horizonMs,
      ],
      settle: (reply) => {
        this.#fetch = undefined;
        settle();
        this.#leased(reply);
      },
    };
  }

  #leased(reply: unknown): void {
    const now = this.#link.now();
    if (!Array.isArray(reply)) {
      // Redis did not answer (the group is down now) or refused the script.
      this.#retryAt = now + this.#shape.refillIntervalMs;
      return;
    }
    const granted = Number(reply[0]);
    const waitMs = Number(reply[1]);
    if (granted === 0 || waitMs > 0) this.#limitedAt = now;
    if (granted === 0) {
      this.#stats.refusals++;
      this.#retryAt = now + waitMs;
      this.#wakeUpAt(now, this.#retryAt);
      return;
    }
    const usableAt = now + waitMs;
    this.#leases.push({ tokens: granted, usableAt, expiresAt: usableAt + this.#leaseTtlMs });
    this.#stats.leases++;
    this.#link.counters.leases++;
    this.#link.counters.leasedTokens += granted;
    this.#wakeUpAt(now, usableAt);
  }

  #wakeUpAt(now: number, at: number): void {
    if (this.#onAvailable === undefined) return;
    if (at <= now) {
      this.#available();
      return;
    }
    if (at >= this.#wakeAt) return;
    this.#clearWake();
    this.#wakeAt = at;
    this.#wake = this.#link.timers.setTimeout(() => {
      this.#wake = undefined;
      this.#wakeAt = Infinity;
      this.#available();
    }, at - now);
  }

  #clearWake(): void {
    if (this.#wake === undefined) return;
    this.#link.timers.clearTimeout(this.#wake);
    this.#wake = undefined;
    this.#wakeAt = Infinity;
  }

  #available(): void {
    try {
      this.#onAvailable?.();
    } catch (err) {
      this.#link.logger?.warn({ err }, 'shared: onAvailable threw');
    }
  }
}
