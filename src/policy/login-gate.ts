/**
 * Brute-force lockout: too many failed logins from one source address, or
 * for one user from anywhere, within a window lock that address or user for
 * a while. A locked login is refused before it reaches the router.
 *
 * A trusted source (loopback by default: in a sidecar every client connects
 * from 127.0.0.1) is never locked as a whole, since one guesser would lock
 * out every client behind it; there the address counter gives way to one per
 * (source, user). The per-user counter applies to every source.
 */
import { BlockList, isIP } from 'node:net';
import { LRUCache } from 'lru-cache';
import { ErrorCode, RosgateError } from '../errors.js';
import type { LoginGate } from '../pipeline.js';
import { monotonicNow } from '../clock.js';

/**
 * What a lockout locks: a `source` address (any user from it), a `user`
 * (from anywhere), or one user from one trusted source (`source-user`).
 */
export type LockoutScope = 'source' | 'user' | 'source-user';

/** A lockout in force: `address`, `user` or both are set as its scope says. */
export interface Lockout {
  readonly scope: LockoutScope;
  readonly address?: string;
  readonly user?: string;
  /** Failures inside the window that started it. */
  readonly failures: number;
  /** When it ends (ms, on the gate's clock). */
  readonly untilMs: number;
}

/** A lockout that just began. */
export type LockoutEvent = Lockout;

/** Which lockouts to clear: each field given must match; none given clears all. */
export interface LockoutFilter {
  /** The source address (`::ffff:192.0.2.1` is `192.0.2.1`): `source` and `source-user` lockouts. */
  readonly address?: string | undefined;
  /** The user: `user` and `source-user` lockouts. */
  readonly user?: string | undefined;
}

/** The trusted sources when none are given: loopback (IPv4-mapped loopback is `127.x`). */
export const DEFAULT_TRUSTED_SOURCES: readonly string[] = Object.freeze(['127.0.0.0/8', '::1']);

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
  /**
   * Sources (addresses, or CIDRs as `10.0.0.0/8`) never locked by address
   * alone; their failures count per (source, user) and per user.
   * @default ['127.0.0.0/8', '::1']
   */
  readonly trustedSources?: readonly string[];
  /** The clock, in ms. @default monotonicNow (src/clock.ts: steps of the wall clock do not move it) */
  readonly now?: () => number;
  /** Called when a lockout begins, for audit and metrics; must not throw. */
  readonly onLockout?: (event: LockoutEvent) => void;
  /**
   * The group's lockout (issue 18): failures are counted across replicas
   * too, a lock another replica took refuses here. Never rejects.
   */
  readonly shared?: GroupLockout | undefined;
}

/**
 * What the gate asks of a group's lockout (src/shared's SharedLockout fits).
 * The gate passes a trusted source as `<source> <user>`, so the group never
 * locks a trusted address as a whole either.
 */
export interface GroupLockout {
  /** When a lock known in memory ends (ms); 0 when none. */
  lockedUntil(address: string, user: string): number;
  /** When a lock ends, asking the group when none is known here; 0 when free. */
  check(address: string, user: string): Promise<number>;
  /** Counts a failure; the lockouts it began. */
  recordFailure(
    address: string,
    user: string,
  ): Promise<readonly { readonly scope: 'pair' | 'address' | 'user'; readonly untilMs: number }[]>;
  recordSuccess(address: string, user: string): Promise<void>;
}

export interface LoginGateStats {
  readonly trackedAddresses: number;
  readonly trackedUsers: number;
  /** (trusted source, user) pairs remembered. */
  readonly trackedPairs: number;
  readonly addressLockouts: number;
  readonly userLockouts: number;
  readonly pairLockouts: number;
  /** Logins refused because their address or user was locked. */
  readonly refused: number;
}

/** A {@link LoginGate} that counts what it did. */
export interface LockoutGate extends LoginGate {
  /** An admitted login that was not checked after all (the router could not be asked). */
  release(address: string, user: string): void;
  stats(): LoginGateStats;
  /** The lockouts in force now, addresses first. */
  lockouts(): Lockout[];
  /** Ends the lockouts that match (and forgets their failures); returns them. */
  clear(filter?: LockoutFilter): Lockout[];
  /**
   * Takes new settings (a policy reload); `maxTracked` and the clock stay.
   * Lockouts in force stay, except those of addresses now trusted.
   */
  reconfigure(options: LoginGateOptions): void;
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
  /** Failures that started the lock. */
  lockedFailures: number;
}

/**
 * Failures per key in a sliding window, in a bounded LRU. A login being
 * checked counts against the limit until its outcome is recorded (or it is
 * released, or `checkTimeoutMs` passes), so concurrent attempts cannot get
 * more than the limit to the router.
 */
class FailureCounter {
  readonly #trackers: LRUCache<string, Tracker>;
  #threshold = 1;
  #windowMs = 1;
  #durationMs = 0;
  #checkTimeoutMs = 1;
  lockouts = 0;

  constructor(maxTracked: number, threshold: number, times: Times) {
    this.#trackers = new LRUCache({ max: maxTracked });
    this.configure(threshold, times);
  }

  configure(threshold: number, times: Times): void {
    this.#threshold = threshold;
    this.#windowMs = times.windowMs;
    this.#durationMs = times.durationMs;
    this.#checkTimeoutMs = times.checkTimeoutMs;
  }

  /** The keys locked now, with their lock's end and failures, oldest lock first. */
  locked(nowMs: number): { key: string; untilMs: number; failures: number }[] {
    const out: { key: string; untilMs: number; failures: number }[] = [];
    // entries() does not refresh recency: listing keeps the LRU order.
    for (const [key, tracker] of this.#trackers.entries()) {
      if (tracker.lockedUntil > nowMs) {
        out.push({ key, untilMs: tracker.lockedUntil, failures: tracker.lockedFailures });
      }
    }
    return out.sort((a, b) => a.untilMs - b.untilMs || (a.key < b.key ? -1 : 1));
  }

  /** Forgets `key`: its lock and its failures. */
  forget(key: string): void {
    this.#trackers.delete(key);
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

  /** Counts a failure; returns the lock if this one locks `key`. */
  fail(key: string, nowMs: number): { untilMs: number; failures: number } | undefined {
    const tracker = this.#tracker(key);
    tracker.checking.shift();
    // A login admitted just before the lock began: the lock already covers it.
    if (tracker.lockedUntil > nowMs) return undefined;
    this.#prune(tracker, nowMs);
    tracker.failures.push(nowMs);
    if (tracker.failures.length < this.#threshold) return undefined;
    tracker.lockedFailures = tracker.failures.length;
    tracker.failures = [];
    tracker.lockedUntil = nowMs + this.#durationMs;
    this.lockouts++;
    return { untilMs: tracker.lockedUntil, failures: tracker.lockedFailures };
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
      tracker = { failures: [], checking: [], lockedUntil: 0, lockedFailures: 0 };
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
 * The trusted sources as a BlockList; an entry that is neither an address
 * nor a CIDR throws, naming its index.
 */
function trustedList(sources: readonly string[]): BlockList {
  const list = new BlockList();
  sources.forEach((source, i) => {
    const [address = '', prefix, ...rest] = source.split('/');
    const version = isIP(address);
    const bits = version === 4 ? 32 : 128;
    const length = prefix === undefined ? bits : Number(prefix);
    if (version === 0 || rest.length > 0 || !/^\d{1,3}$/.test(prefix ?? '0') || length > bits) {
      throw new RangeError(
        `trustedSources[${i}] must be an IP address or a CIDR such as 10.0.0.0/8`,
      );
    }
    list.addSubnet(address, length, version === 4 ? 'ipv4' : 'ipv6');
  });
  return list;
}

/** One key per (source, user): an address holds no space. */
function pairKey(address: string, user: string): string {
  return `${address} ${user}`;
}

interface Settings {
  readonly times: Times;
  readonly maxAttempts: number;
  readonly userMaxAttempts: number;
  readonly trusted: BlockList;
}

function settingsOf(options: LoginGateOptions): Settings {
  return {
    times: {
      windowMs: positiveInteger('windowMs', options.windowMs ?? 900_000, 1),
      durationMs: positiveInteger('durationMs', options.durationMs ?? 900_000, 0),
      checkTimeoutMs: positiveInteger('checkTimeoutMs', options.checkTimeoutMs ?? 30_000, 1),
    },
    maxAttempts: positiveInteger('maxAttempts', options.maxAttempts ?? 5, 1),
    userMaxAttempts: positiveInteger('userMaxAttempts', options.userMaxAttempts ?? 20, 1),
    trusted: trustedList(options.trustedSources ?? DEFAULT_TRUSTED_SOURCES),
  };
}

/** The gate's three failure counters and what reads them together. */
interface Counters {
  /** By source address (untrusted sources). */
  readonly addresses: FailureCounter;
  /** By (trusted source, user). */
  readonly pairs: FailureCounter;
  /** By user, from anywhere. */
  readonly users: FailureCounter;
  /** What counts a login from `address`: the address itself, or the (source, user) pair when trusted. */
  sourceOf(address: string, user: string): { counter: FailureCounter; key: string };
  /** The lockouts in force at `nowMs`: addresses, then pairs, then users. */
  lockoutsOf(nowMs: number): Lockout[];
  /** Ends `lockout` and forgets its failures. */
  forget(lockout: Lockout): void;
  /** Takes new settings; ends the lockouts, in force at `nowMs`, of sources trusted now. */
  configure(settings: Settings, nowMs: number): void;
  /** Ends the lockouts `filter` matches at `nowMs` and forgets their failures; returns them. */
  clear(filter: LockoutFilter, nowMs: number): Lockout[];
}

/** The counters of a gate with `settings`; `isTrusted` says whether a source is trusted now. */
function lockoutCounters(
  maxTracked: number,
  settings: Settings,
  isTrusted: (key: string) => boolean,
): Counters {
  const addresses = new FailureCounter(maxTracked, settings.maxAttempts, settings.times);
  const pairs = new FailureCounter(maxTracked, settings.maxAttempts, settings.times);
  const users = new FailureCounter(maxTracked, settings.userMaxAttempts, settings.times);

  /** What counts a login from `address`: the address itself, or the (source, user) pair when trusted. */
  function sourceOf(address: string, user: string): { counter: FailureCounter; key: string } {
    const key = addressKey(address);
    return isTrusted(key)
      ? { counter: pairs, key: pairKey(key, user) }
      : { counter: addresses, key };
  }

  function lockoutsOf(nowMs: number): Lockout[] {
    return [
      ...addresses.locked(nowMs).map(({ key, ...lock }) => ({
        scope: 'source' as const,
        address: key,
        ...lock,
      })),
      ...pairs.locked(nowMs).map(({ key, ...lock }) => {
        const split = key.indexOf(' ');
        return {
          scope: 'source-user' as const,
          address: key.slice(0, split),
          user: key.slice(split + 1),
          ...lock,
        };
      }),
      ...users.locked(nowMs).map(({ key, ...lock }) => ({
        scope: 'user' as const,
        user: key,
        ...lock,
      })),
    ];
  }

  function forget(lockout: Lockout): void {
    if (lockout.scope === 'user') users.forget(lockout.user as string);
    else if (lockout.scope === 'source') addresses.forget(lockout.address as string);
    else pairs.forget(pairKey(lockout.address as string, lockout.user as string));
  }

  function configure(settings: Settings, nowMs: number): void {
    addresses.configure(settings.maxAttempts, settings.times);
    pairs.configure(settings.maxAttempts, settings.times);
    users.configure(settings.userMaxAttempts, settings.times);
    // A source trusted now is no longer locked as a whole.
    for (const { key } of addresses.locked(nowMs)) {
      if (isTrusted(key)) addresses.forget(key);
    }
  }

  /** Ends the lockouts `filter` matches and forgets their failures; returns them. */
  function clear(filter: LockoutFilter, nowMs: number): Lockout[] {
    const address = filter.address === undefined ? undefined : addressKey(filter.address);
    const cleared = lockoutsOf(nowMs).filter(
      (l) =>
        (address === undefined || l.address === address) &&
        (filter.user === undefined || l.user === filter.user),
    );
    for (const lockout of cleared) forget(lockout);
    return cleared;
  }

  return { addresses, pairs, users, sourceOf, lockoutsOf, forget, configure, clear };
}

/**
 * A login gate with brute-force lockout. A successful login forgives its
 * address's failures (and its pair's), not its user's: an attacker who also
 * holds a valid account cannot reset the count on someone else's.
 */
export function createLoginGate(options: LoginGateOptions = {}): LockoutGate {
  const maxTracked = positiveInteger('maxTracked', options.maxTracked ?? 10_000, 1);
  let settings = settingsOf(options);
  const counters = lockoutCounters(maxTracked, settings, isTrusted);
  const { addresses, pairs, users, sourceOf, lockoutsOf } = counters;
  const now = options.now ?? monotonicNow;
  const onLockout = options.onLockout ?? (() => undefined);
  const group =
    options.shared === undefined
      ? undefined
      : groupGate(options.shared, {
          counters,
          isTrusted,
          settings: () => settings,
          now,
          onLockout,
          onRefused: () => refused++,
        });
  let refused = 0;

  function isTrusted(key: string): boolean {
    return settings.trusted.check(key, isIP(key) === 6 ? 'ipv6' : 'ipv4');
  }

  return {
    admit(address, user) {
      const nowMs = now();
      const source = sourceOf(address, user);
      const until = Math.max(
        source.counter.lockedUntil(source.key, nowMs),
        users.lockedUntil(user, nowMs),
        group?.lockedUntil(address, user) ?? 0,
      );
      if (until > 0) {
        refused++;
        return new RosgateError(
          ErrorCode.LockedOut,
          `too many failed logins; try again in ${Math.ceil((until - nowMs) / 1000)}s`,
          { details: { untilMs: until } },
        );
      }
      if (source.counter.isFull(source.key, nowMs) || users.isFull(user, nowMs)) {
        refused++;
        return new RosgateError(
          ErrorCode.LockedOut,
          'too many logins at once; try again in a moment',
        );
      }
      source.counter.admit(source.key, nowMs);
      users.admit(user, nowMs);
      return undefined;
    },
    record(address, user, isOk) {
      const source = sourceOf(address, user);
      if (isOk) {
        source.counter.settle(source.key, true);
        users.settle(user, false);
        group?.recordSuccess(address, user);
        return;
      }
      group?.recordFailure(address, user);
      const nowMs = now();
      const sourceLock = source.counter.fail(source.key, nowMs);
      if (sourceLock !== undefined) {
        const key = addressKey(address);
        onLockout(
          source.counter === addresses
            ? { scope: 'source', address: key, ...sourceLock }
            : { scope: 'source-user', address: key, user, ...sourceLock },
        );
      }
      const userLock = users.fail(user, nowMs);
      if (userLock !== undefined) onLockout({ scope: 'user', user, ...userLock });
    },
    release(address, user) {
      const source = sourceOf(address, user);
      source.counter.settle(source.key, false);
      users.settle(user, false);
    },
    ...(group === undefined ? {} : { check: (address, user) => group.check(address, user) }),
    stats() {
      return {
        trackedAddresses: addresses.size,
        trackedUsers: users.size,
        trackedPairs: pairs.size,
        addressLockouts: addresses.lockouts,
        userLockouts: users.lockouts,
        pairLockouts: pairs.lockouts,
        refused,
      };
    },
    lockouts: () => lockoutsOf(now()),
    clear: (filter = {}) => counters.clear(filter, now()),
    reconfigure(next) {
      settings = settingsOf(next);
      counters.configure(settings, now());
    },
  };
}

/** What a gate shares with its group of replicas: the group's side of each call. */
function groupGate(
  shared: GroupLockout,
  gate: {
    readonly counters: ReturnType<typeof lockoutCounters>;
    readonly isTrusted: (key: string) => boolean;
    readonly settings: () => Settings;
    readonly now: () => number;
    readonly onLockout: (event: LockoutEvent) => void;
    readonly onRefused: () => void;
  },
) {
  const { counters, isTrusted, now, onLockout } = gate;
  const { addresses, users, sourceOf } = counters;

  /** The address the group counts: a trusted source only with its user. */
  function groupAddress(address: string, user: string): string {
    const key = addressKey(address);
    return isTrusted(key) ? pairKey(key, user) : key;
  }

  /** Reports the lockouts the group began that this gate did not report itself. */
  function reportGroupLocks(
    address: string,
    user: string,
    began: Awaited<ReturnType<GroupLockout['recordFailure']>>,
  ): void {
    const settings = gate.settings();
    const key = addressKey(address);
    const source = sourceOf(address, user);
    const nowMs = now();
    const seen = new Set<LockoutScope>();
    for (const { scope, untilMs } of began) {
      const event: LockoutEvent =
        scope === 'user'
          ? { scope: 'user', user, failures: settings.userMaxAttempts, untilMs }
          : source.counter === addresses
            ? { scope: 'source', address: key, failures: settings.maxAttempts, untilMs }
            : { scope: 'source-user', address: key, user, failures: settings.maxAttempts, untilMs };
      const isLocal =
        scope === 'user'
          ? users.lockedUntil(user, nowMs) > 0
          : source.counter.lockedUntil(source.key, nowMs) > 0;
      if (seen.has(event.scope) || isLocal) continue;
      seen.add(event.scope);
      onLockout(event);
    }
  }

  return {
    lockedUntil: (address: string, user: string): number =>
      shared.lockedUntil(groupAddress(address, user), user),
    /** A lock another replica took refuses a login this gate admitted; it was never checked. */
    async check(address: string, user: string): Promise<RosgateError | undefined> {
      const until = await shared.check(groupAddress(address, user), user);
      const nowMs = now();
      if (until <= nowMs) return undefined;
      const source = sourceOf(address, user);
      source.counter.settle(source.key, false);
      users.settle(user, false);
      gate.onRefused();
      return new RosgateError(
        ErrorCode.LockedOut,
        `too many failed logins; try again in ${Math.ceil((until - nowMs) / 1000)}s`,
        { details: { untilMs: until } },
      );
    },
    recordSuccess(address: string, user: string): void {
      void shared.recordSuccess(groupAddress(address, user), user);
    },
    recordFailure(address: string, user: string): void {
      void shared
        .recordFailure(groupAddress(address, user), user)
        .then((began) => reportGroupLocks(address, user, began));
    },
  };
}
