import { LuaScript } from './lua-script.js';
import { COUNT_FAILURES } from './scripts.js';
import type { SharedLink } from './shared-link.js';

/** What a lockout covers: one source address, one user, or one user from one address. */
export type LockoutScope = 'pair' | 'address' | 'user';

/** Options of a {@link SharedLockout}; counts are across all replicas. */
export interface SharedLockoutOptions {
  /** Failed logins from one address that lock it (MAX_LOGIN_ATTEMPTS). @default 5 */
  readonly maxAttempts?: number;
  /** Failed logins for one user, from anywhere, that lock it. @default 20 */
  readonly userMaxAttempts?: number;
  /** Failed logins for one user from one address that lock that pair. @default maxAttempts */
  readonly pairMaxAttempts?: number;
  /** How long failures count, from the first one of a counter. @default 900000 */
  readonly windowMs?: number;
  /** How long a lockout lasts (LOCKOUT_DURATION). @default 900000 */
  readonly durationMs?: number;
  /** Locks and local counters remembered (each); the oldest are forgotten first. @default 10000 */
  readonly maxTracked?: number;
}

/** A lockout that began. */
export interface LockoutState {
  readonly scope: LockoutScope;
  /** When it ends, on the replica's clock (ms). */
  readonly untilMs: number;
}

/**
 * Which lockouts {@link SharedLockout.clear} ends; each field given must
 * match, none given means all. As the admin port's filter: `address` alone
 * reaches the address's lockouts and its pairs', `user` alone the user's and
 * its pairs', both only the pair.
 */
export interface SharedLockoutFilter {
  readonly address?: string | undefined;
  readonly user?: string | undefined;
}

/**
 * A lock the group held and a clear ended. `address` holds what the login
 * gate counted: a trusted source is `<source> <user>` (never locked as a whole).
 */
export interface ClearedLock {
  readonly scope: LockoutScope;
  readonly address?: string;
  readonly user?: string;
  /** When it would have ended, on the replica's clock (ms). */
  readonly untilMs: number;
}

/** Counters of one router's shared lockout. */
export interface SharedLockoutStats {
  /** Locks held in memory (answered with no Redis call). */
  readonly locked: number;
  /** Logins refused from memory. */
  readonly refusedFromMemory: number;
  /** Lockouts this replica began (in Redis, or locally while Redis was down). */
  readonly lockouts: number;
  /** Failures counted locally while Redis was down and not yet re-published. */
  readonly unpublished: number;
}

interface Target {
  readonly scope: LockoutScope;
  readonly id: string;
  readonly max: number;
}

interface LocalCount {
  count: number;
  readonly expiresAt: number;
}

const SCOPES: readonly LockoutScope[] = ['pair', 'address', 'user'];
const REPUBLISH_BATCH = 100;
/** Keys asked for per SCAN step, and deleted per script, when lockouts are cleared. */
const CLEAR_BATCH = 500;

/**
 * Deletes lockout keys and says how long each still had to live.
 * KEYS: counters and locks of one router. Returns their PTTLs (-2: gone).
 */
const CLEAR_KEYS = new LuaScript(
  'clearLockouts',
  `
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('PTTL', key)
  redis.call('DEL', key)
end
return out
`,
);

/** What a lockout id (`a:…`, `u:…`, `p:<n>:<address>:<user>`) is about. */
interface IdParts {
  readonly scope: LockoutScope;
  readonly address?: string;
  readonly user?: string;
}

/** The address and user a lockout id names; a trusted source `<source> <user>` names both. */
function partsOf(id: string): IdParts {
  if (id.startsWith('u:')) return { scope: 'user', user: id.slice(2) };
  if (id.startsWith('a:')) {
    const address = id.slice(2);
    const space = address.indexOf(' ');
    return space < 0
      ? { scope: 'address', address }
      : { scope: 'address', address: address.slice(0, space), user: address.slice(space + 1) };
  }
  const colon = id.indexOf(':', 2);
  const length = Number(id.slice(2, colon));
  const source = id.slice(colon + 1, colon + 1 + length);
  const space = source.indexOf(' ');
  return {
    scope: 'pair',
    address: space < 0 ? source : source.slice(0, space),
    user: id.slice(colon + 2 + length),
  };
}

/** True when the lockout id matches every field `filter` gives. */
function isReached(id: string, filter: SharedLockoutFilter): boolean {
  const parts = partsOf(id);
  return (
    (filter.address === undefined || parts.address === filter.address) &&
    (filter.user === undefined || parts.user === filter.user)
  );
}

function isTextOrAbsent(value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string';
}

/** `text` matched literally by a Redis SCAN pattern. */
function globEscaped(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** `::ffff:192.0.2.1` is `192.0.2.1`: one source, one counter (as the local gate does). */
function addressKey(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function count(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new RangeError(`${name} must be an integer >= ${min}`);
  return value;
}

/** Sets `key` in a Map used as a bounded insertion-ordered cache. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as string);
}

/**
 * Login lockout across the group: failure counters with expiry per
 * (address, user), per address and per user live in Redis (INCRBY and
 * PEXPIRE in one script); a lock seen once is kept in memory, so a locked
 * guesser costs no Redis call. While Redis is down, failures are counted
 * locally (this replica's own thresholds); when it is back they are added
 * into Redis, and locks taken meanwhile are published.
 */
export class SharedLockout {
  readonly #link: SharedLink;
  readonly #router: string;
  readonly #max: Readonly<Record<LockoutScope, number>>;
  readonly #windowMs: number;
  readonly #durationMs: number;
  readonly #maxTracked: number;
  /** Lock ends (local clock) by target id. */
  readonly #locks = new Map<string, number>();
  /** Failures counted while Redis was down, by target id. */
  readonly #local = new Map<string, LocalCount>();
  /** Locks taken while Redis was down, not yet published. */
  readonly #localLocks = new Map<string, true>();
  #refusedFromMemory = 0;
  /** Clears made or heard: a count answered after one learns no lock from its answer. */
  #clears = 0;
  #lockouts = 0;
  readonly #stopListening: () => void;
  readonly #stopClears: () => void;
  readonly #clearListeners = new Set<(filter: SharedLockoutFilter) => void>();

  constructor(link: SharedLink, router: string, options: SharedLockoutOptions = {}) {
    this.#link = link;
    this.#router = router;
    const maxAttempts = count('maxAttempts', options.maxAttempts ?? 5, 1);
    this.#max = {
      address: maxAttempts,
      user: count('userMaxAttempts', options.userMaxAttempts ?? 20, 1),
      pair: count('pairMaxAttempts', options.pairMaxAttempts ?? maxAttempts, 1),
    };
    this.#windowMs = count('windowMs', options.windowMs ?? 900_000, 1);
    this.#durationMs = count('durationMs', options.durationMs ?? 900_000, 1);
    this.#maxTracked = count('maxTracked', options.maxTracked ?? 10_000, 1);
    this.#stopListening = link.onStateChange((isUp) => {
      if (!isUp) return;
      void this.republish();
      // A subscriber back before the group (a Redis restart) could not ask then.
      void this.#recheckLocks();
    });
    this.#stopClears = link.subscribe(
      link.key(router, 'lockout:clear'),
      (message) => this.#heardClear(message),
      () => void this.#recheckLocks(),
    );
  }

  /**
   * Ends the lockouts `filter` reaches on every replica: the counters and
   * locks in Redis (SCAN, then one script per batch), this replica's memory,
   * and, through a message, every other replica's memory and the listeners
   * of {@link onClear} there. Returns the locks Redis held; with Redis down,
   * only this replica's memory is cleared (none are returned).
   */
  async clear(filter: SharedLockoutFilter = {}): Promise<ClearedLock[]> {
    this.#forget(filter);
    const ids = await this.#scanIds(filter);
    if (ids === undefined) return [];
    const cleared: ClearedLock[] = [];
    const now = this.#link.now();
    for (let i = 0; i < ids.length; i += CLEAR_BATCH) {
      const part = ids.slice(i, i + CLEAR_BATCH);
      const reply = await this.#link.run(
        CLEAR_KEYS,
        part.map(({ key }) => key),
        [],
      );
      if (!Array.isArray(reply)) return cleared;
      part.forEach(({ id, isLock }, at) => {
        const ttl = Number(reply[at]);
        if (isLock && ttl > 0) cleared.push({ ...partsOf(id), untilMs: now + ttl });
      });
    }
    // What a count answered meanwhile brought back from before the deletes.
    this.#forget(filter);
    await this.#link.send([
      'PUBLISH',
      this.#link.key(this.#router, 'lockout:clear'),
      JSON.stringify({ origin: this.#link.replicaId, ...filter }),
    ]);
    return cleared;
  }

  /**
   * Calls `listener` with the filter of every clear another replica made
   * (its login gate's own counters go too); returns how to stop.
   */
  onClear(listener: (filter: SharedLockoutFilter) => void): () => void {
    this.#clearListeners.add(listener);
    return () => this.#clearListeners.delete(listener);
  }

  /** When the lock on this login ends (ms, local clock); 0 when none is known here. No Redis call. */
  lockedUntil(address: string, user: string): number {
    return this.#knownUntil(this.#targets(address, user), this.#link.now());
  }

  /**
   * When the lock on this login ends; 0 when it is free. A lock known here
   * costs nothing; otherwise one script asks Redis (a lock another replica
   * took). With Redis down: what this replica knows.
   */
  async check(address: string, user: string): Promise<number> {
    const targets = this.#targets(address, user);
    const known = this.#knownUntil(targets, this.#link.now());
    if (known > 0) {
      this.#refusedFromMemory++;
      return known;
    }
    const reply = await this.#count(targets.map((t) => ({ target: t, by: 0, lockMs: 0 })));
    if (reply === undefined) return 0;
    return this.#knownUntil(targets, this.#link.now());
  }

  /** Counts a failed login; returns the lockouts it began (for audit, metrics, logs). */
  async recordFailure(address: string, user: string): Promise<LockoutState[]> {
    const targets = this.#targets(address, user);
    const reply = await this.#count(targets.map((t) => ({ target: t, by: 1, lockMs: 0 })));
    const now = this.#link.now();
    const began: LockoutState[] = [];
    if (reply === undefined) {
      for (const t of this.#failLocally(targets, now)) {
        began.push({ scope: t.scope, untilMs: now + this.#durationMs });
      }
    } else {
      targets.forEach((t, i) => {
        if (reply[2 * i + 1] === 1) began.push({ scope: t.scope, untilMs: now + this.#durationMs });
      });
    }
    this.#lockouts += began.length;
    return began;
  }

  /**
   * A successful login forgives its address's failures (not its user's, as
   * the local gate does). Resolves when Redis has it, or could not be asked.
   */
  async recordSuccess(address: string, user: string): Promise<void> {
    const [pair, source] = this.#targets(address, user) as [Target, Target, Target];
    this.#local.delete(pair.id);
    this.#local.delete(source.id);
    await this.#link.send(['DEL', this.#countKey(pair.id), this.#countKey(source.id)]);
  }

  /**
   * Adds the failures counted during an outage into Redis and publishes the
   * locks taken meanwhile (runs by itself when Redis comes back).
   */
  async republish(): Promise<void> {
    const now = this.#link.now();
    // Failures whose window ended during the outage no longer count.
    for (const [id, local] of this.#local) if (local.expiresAt <= now) this.#local.delete(id);
    const ids = new Set([...this.#local.keys(), ...this.#localLocks.keys()]);
    const batch = [...ids].map((id) => ({
      target: this.#targetOf(id),
      by: this.#local.get(id)?.count ?? 0,
      lockMs: this.#localLocks.has(id) ? Math.max(0, (this.#locks.get(id) ?? 0) - now) : 0,
    }));
    for (let i = 0; i < batch.length; i += REPUBLISH_BATCH) {
      const part = batch.slice(i, i + REPUBLISH_BATCH);
      if ((await this.#count(part)) === undefined) return;
      for (const { target } of part) {
        this.#local.delete(target.id);
        this.#localLocks.delete(target.id);
      }
      this.#link.counters.republished += part.length;
    }
  }

  /** Stops the group's calls into this lockout (a reload that makes a new one). */
  close(): void {
    this.#stopListening();
    this.#stopClears();
  }

  stats(): SharedLockoutStats {
    let unpublished = 0;
    for (const local of this.#local.values()) unpublished += local.count;
    return {
      locked: this.#locks.size,
      refusedFromMemory: this.#refusedFromMemory,
      lockouts: this.#lockouts,
      unpublished,
    };
  }

  /** A clear another replica published: its filter, applied to this replica's memory. */
  #heardClear(message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const { origin, address, user } = parsed as Record<string, unknown>;
    if (origin === this.#link.replicaId) return;
    // A field of another type would widen the clear: such a message is no clear.
    if (!isTextOrAbsent(address) || !isTextOrAbsent(user)) return;
    const filter: SharedLockoutFilter = {
      ...(address === undefined ? {} : { address }),
      ...(user === undefined ? {} : { user }),
    };
    this.#forget(filter);
    this.#notifyClear(filter);
  }

  /**
   * The subscription is (re)established: a clear published while it was
   * away was never heard. Every lock this replica learned from Redis is
   * asked about again; one Redis no longer holds was cleared (or its data
   * lost), so it goes here and from the listeners' gates too.
   */
  async #recheckLocks(): Promise<void> {
    const now = this.#link.now();
    const learned = [...this.#locks]
      .filter(([id, end]) => end > now && !this.#localLocks.has(id))
      .map(([id]) => this.#targetOf(id));
    for (let i = 0; i < learned.length; i += REPUBLISH_BATCH) {
      const part = learned.slice(i, i + REPUBLISH_BATCH);
      const reply = await this.#count(part.map((target) => ({ target, by: 0, lockMs: 0 })));
      if (reply === undefined) return;
      part.forEach(({ id }, at) => {
        if ((reply[2 * at] as number) > 0 || !this.#locks.delete(id)) return;
        const { address, user } = partsOf(id);
        this.#notifyClear({
          ...(address === undefined ? {} : { address }),
          ...(user === undefined ? {} : { user }),
        });
      });
    }
  }

  #notifyClear(filter: SharedLockoutFilter): void {
    for (const listener of this.#clearListeners) listener(filter);
  }

  /** Drops the locks and counts this replica keeps that `filter` reaches. */
  #forget(filter: SharedLockoutFilter): void {
    this.#clears++;
    for (const map of [this.#locks, this.#local, this.#localLocks]) {
      for (const id of map.keys()) if (isReached(id, filter)) map.delete(id);
    }
  }

  /** The counter and lock keys in Redis `filter` reaches; undefined when Redis did not answer. */
  async #scanIds(
    filter: SharedLockoutFilter,
  ): Promise<{ key: string; id: string; isLock: boolean }[] | undefined> {
    const found: { key: string; id: string; isLock: boolean }[] = [];
    for (const kind of ['fail', 'lock'] as const) {
      const head = this.#link.key(this.#router, `${kind}:`);
      let cursor = '0';
      do {
        const reply = await this.#link.send([
          'SCAN',
          cursor,
          'MATCH',
          `${globEscaped(head)}*`,
          'COUNT',
          String(CLEAR_BATCH),
        ]);
        if (!Array.isArray(reply)) return undefined;
        cursor = String(reply[0]);
        for (const key of reply[1] as string[]) {
          const id = key.slice(head.length);
          if (isReached(id, filter)) found.push({ key, id, isLock: kind === 'lock' });
        }
      } while (cursor !== '0');
    }
    return found;
  }

  #targets(address: string, user: string): Target[] {
    const source = addressKey(address);
    return [
      { scope: 'pair', id: `p:${source.length}:${source}:${user}`, max: this.#max.pair },
      { scope: 'address', id: `a:${source}`, max: this.#max.address },
      { scope: 'user', id: `u:${user}`, max: this.#max.user },
    ];
  }

  #targetOf(id: string): Target {
    const scope = SCOPES.find((s) => s[0] === id[0]) as LockoutScope;
    return { scope, id, max: this.#max[scope] };
  }

  #countKey(id: string): string {
    return this.#link.key(this.#router, `fail:${id}`);
  }

  #knownUntil(targets: readonly Target[], now: number): number {
    let until = 0;
    for (const { id } of targets) {
      const end = this.#locks.get(id);
      if (end === undefined) continue;
      if (end <= now) this.#locks.delete(id);
      else until = Math.max(until, end);
    }
    return until;
  }

  /** One COUNT_FAILURES script; learns the locks it reports. Undefined when Redis did not answer. */
  async #count(
    items: readonly { target: Target; by: number; lockMs: number }[],
  ): Promise<number[] | undefined> {
    const keys = items.flatMap(({ target }) => [
      this.#countKey(target.id),
      this.#link.key(this.#router, `lock:${target.id}`),
    ]);
    const args = [
      this.#windowMs,
      this.#durationMs,
      ...items.flatMap(({ target, by, lockMs }) => [by, target.max, lockMs]),
    ];
    const clearsBefore = this.#clears;
    const reply = await this.#link.run(COUNT_FAILURES, keys, args);
    if (!Array.isArray(reply)) return undefined;
    const numbers = reply.map(Number);
    // A clear heard or made while the script was under way may have ended
    // what it reports (its message can pass the answer): nothing is learned
    // from it, and the next check asks Redis again.
    if (this.#clears !== clearsBefore) return numbers;
    const now = this.#link.now();
    items.forEach(({ target }, i) => {
      const left = numbers[2 * i] as number;
      if (left > 0) remember(this.#locks, target.id, now + left, this.#maxTracked);
    });
    return numbers;
  }

  /** Counts a failure on this replica alone (Redis is down); returns the locks it began. */
  #failLocally(targets: readonly Target[], now: number): Target[] {
    const began: Target[] = [];
    for (const target of targets) {
      if (this.#knownUntil([target], now) > 0) continue;
      const prior = this.#local.get(target.id);
      const local =
        prior !== undefined && prior.expiresAt > now
          ? prior
          : { count: 0, expiresAt: now + this.#windowMs };
      local.count++;
      remember(this.#local, target.id, local, this.#maxTracked);
      if (local.count < target.max) continue;
      // As in Redis: the lock replaces the counter.
      this.#local.delete(target.id);
      remember(this.#locks, target.id, now + this.#durationMs, this.#maxTracked);
      remember(this.#localLocks, target.id, true, this.#maxTracked);
      began.push(target);
    }
    return began;
  }
}
