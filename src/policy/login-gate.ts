/**
 * Brute-force lockout: too many failed logins from one source address, or
 * for one user from anywhere, within a window lock that address or user for
 * a while. A locked login is refused before it reaches the router.
 */
import { LRUCache } from 'lru-cache';
import { ErrorCode, RosgateError } from '../errors.js';
import type { LoginGate } from '../pipeline.js';

/** A lockout that just began: exactly one of `address` and `user` is set. */
export interface LockoutEvent {
  readonly address?: string;
  readonly user?: string;
  /** When it ends (ms, on the gate's clock). */
  readonly untilMs: number;
}

export interface LoginGateOptions {
  /** Failed logins from one address, within `windowMs`, that lock it. @default 5 */
  readonly maxAttempts?: number;
  /** Failed logins for one user, from anywhere, within `windowMs`, that lock it. @default 20 */
  readonly userMaxAttempts?: number;
  /** How far back failures count. @default 900000 */
  readonly windowMs?: number;
  /** How long a lockout lasts. @default 900000 */
  readonly durationMs?: number;
  /**
   * How long an admitted login counts as being checked when its outcome is
   * never recorded (the router could not be asked). @default 30000
   */
  readonly checkTimeoutMs?: number;
  /** Addresses and users remembered (each); the least recently seen are forgotten first. @default 10000 */
  readonly maxTracked?: number;
  /** The clock, in ms. @default Date.now */
  readonly now?: () => number;
  /** Called when a lockout begins, for audit and metrics; must not throw. */
  readonly onLockout?: (event: LockoutEvent) => void;
}

export interface LoginGateStats {
  readonly trackedAddresses: number;
  readonly trackedUsers: number;
  readonly addressLockouts: number;
  readonly userLockouts: number;
  /** Logins refused because their address or user was locked. */
  readonly refused: number;
}

/** A {@link LoginGate} that counts what it did. */
export interface LockoutGate extends LoginGate {
  /** An admitted login that was not checked after all (the router could not be asked). */
  release(address: string, user: string): void;
  stats(): LoginGateStats;
}

interface Times {
  readonly windowMs: number;
  readonly durationMs: number;
  readonly checkTimeoutMs: number;
}

interface Tracker {
  /** Times of the failures inside the window, oldest first. */
  failures: number[];
  /** Times of the logins admitted and not yet recorded, oldest first. */
  checking: number[];
  lockedUntil: number;
}

/**
 * Failures per key in a sliding window, in a bounded LRU. A login being
 * checked counts against the limit until its outcome is recorded (or it is
 * released, or `checkTimeoutMs` passes), so concurrent attempts cannot get
 * more than the limit to the router.
 */
class FailureCounter {
  readonly #trackers: LRUCache<string, Tracker>;
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #durationMs: number;
  readonly #checkTimeoutMs: number;
  lockouts = 0;

  constructor(maxTracked: number, threshold: number, times: Times) {
    this.#trackers = new LRUCache({ max: maxTracked });
    this.#threshold = threshold;
    this.#windowMs = times.windowMs;
    this.#durationMs = times.durationMs;
    this.#checkTimeoutMs = times.checkTimeoutMs;
  }

  get size(): number {
    return this.#trackers.size;
  }

  /** When the lock on `key` ends; 0 when it is not locked. */
  lockedUntil(key: string, nowMs: number): number {
    const until = this.#trackers.get(key)?.lockedUntil ?? 0;
    return until > nowMs ? until : 0;
  }

  /** True when failures and logins being checked leave no attempt for `key` now. */
  isFull(key: string, nowMs: number): boolean {
    const tracker = this.#trackers.get(key);
    if (tracker === undefined) return false;
    this.#prune(tracker, nowMs);
    return tracker.failures.length + tracker.checking.length >= this.#threshold;
  }

  /** A login of `key` goes to be checked. */
  admit(key: string, nowMs: number): void {
    this.#tracker(key).checking.push(nowMs);
  }

  /** Counts a failure; returns when the lock ends if this one locks `key`. */
  fail(key: string, nowMs: number): number | undefined {
    const tracker = this.#tracker(key);
    tracker.checking.shift();
    // A login admitted just before the lock began: the lock already covers it.
    if (tracker.lockedUntil > nowMs) return undefined;
    this.#prune(tracker, nowMs);
    tracker.failures.push(nowMs);
    if (tracker.failures.length < this.#threshold) return undefined;
    tracker.failures = [];
    tracker.lockedUntil = nowMs + this.#durationMs;
    this.lockouts++;
    return tracker.lockedUntil;
  }

  /** A login of `key` succeeded, or was not checked after all; `isForgiving` also forgets its failures (a lock stays). */
  settle(key: string, isForgiving: boolean): void {
    const tracker = this.#trackers.get(key);
    if (tracker === undefined) return;
    tracker.checking.shift();
    if (isForgiving) tracker.failures = [];
  }

  #tracker(key: string): Tracker {
    let tracker = this.#trackers.get(key);
    if (tracker === undefined) {
      tracker = { failures: [], checking: [], lockedUntil: 0 };
      this.#trackers.set(key, tracker);
    }
    return tracker;
  }

  /** Drops failures that left the window and checks never recorded. */
  #prune(tracker: Tracker, nowMs: number): void {
    const from = nowMs - this.#windowMs;
    tracker.failures = tracker.failures.filter((at) => at > from);
    const checkedFrom = nowMs - this.#checkTimeoutMs;
    tracker.checking = tracker.checking.filter((at) => at > checkedFrom);
  }
}

function positiveInteger(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}`);
  }
  return value;
}

/** `::ffff:192.0.2.1` is `192.0.2.1`: one source, one counter. */
function addressKey(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * A login gate with brute-force lockout. A successful login forgives its
 * address's failures, not its user's: an attacker who also holds a valid
 * account cannot reset the count on someone else's.
 */
export function createLoginGate(options: LoginGateOptions = {}): LockoutGate {
  const maxTracked = positiveInteger('maxTracked', options.maxTracked ?? 10_000, 1);
  const times: Times = {
    windowMs: positiveInteger('windowMs', options.windowMs ?? 900_000, 1),
    durationMs: positiveInteger('durationMs', options.durationMs ?? 900_000, 0),
    checkTimeoutMs: positiveInteger('checkTimeoutMs', options.checkTimeoutMs ?? 30_000, 1),
  };
  const addresses = new FailureCounter(
    maxTracked,
    positiveInteger('maxAttempts', options.maxAttempts ?? 5, 1),
    times,
  );
  const users = new FailureCounter(
    maxTracked,
    positiveInteger('userMaxAttempts', options.userMaxAttempts ?? 20, 1),
    times,
  );
  const now = options.now ?? Date.now;
  const onLockout = options.onLockout ?? (() => undefined);
  let refused = 0;

  return {
    admit(address, user) {
      const nowMs = now();
      const key = addressKey(address);
      const until = Math.max(addresses.lockedUntil(key, nowMs), users.lockedUntil(user, nowMs));
      if (until > 0) {
        refused++;
        return new RosgateError(
          ErrorCode.LockedOut,
          `too many failed logins; try again in ${Math.ceil((until - nowMs) / 1000)}s`,
          { details: { untilMs: until } },
        );
      }
      if (addresses.isFull(key, nowMs) || users.isFull(user, nowMs)) {
        refused++;
        return new RosgateError(
          ErrorCode.LockedOut,
          'too many logins at once; try again in a moment',
        );
      }
      addresses.admit(key, nowMs);
      users.admit(user, nowMs);
      return undefined;
    },
    record(address, user, isOk) {
      const key = addressKey(address);
      if (isOk) {
        addresses.settle(key, true);
        users.settle(user, false);
        return;
      }
      const nowMs = now();
      const addressUntil = addresses.fail(key, nowMs);
      if (addressUntil !== undefined) onLockout({ address: key, untilMs: addressUntil });
      const userUntil = users.fail(user, nowMs);
      if (userUntil !== undefined) onLockout({ user, untilMs: userUntil });
    },
    release(address, user) {
      addresses.settle(addressKey(address), false);
      users.settle(user, false);
    },
    stats() {
      return {
        trackedAddresses: addresses.size,
        trackedUsers: users.size,
        addressLockouts: addresses.lockouts,
        userLockouts: users.lockouts,
        refused,
      };
    },
  };
}
