import { ACQUIRE_SESSION, RENEW_SESSIONS } from './scripts.js';
import type { SharedLink } from './shared-link.js';

/** Options of a {@link SessionBudget}. */
export interface SessionBudgetOptions {
  /** Router API sessions all replicas together may hold (ROUTER_MAX_SESSIONS). */
  readonly maxSessions: number;
  /**
   * How long a lease lives without a heartbeat: a crashed replica's
   * sessions are free again after it. @default 15000
   */
  readonly leaseTtlMs?: number;
}

/** One router session this replica may hold; release it when the session closes. */
export interface SessionTicket {
  /** `<replicaId>:<n>`, the member of the lease in Redis. */
  readonly id: string;
  /** The session closed: the lease goes. Idempotent; never throws. */
  release(): void;
}

/** Counters of one router's session budget. */
export interface SessionBudgetStats {
  /** Sessions this replica holds. */
  readonly held: number;
  /** Leases the whole group held, as last seen in Redis. */
  readonly groupHeld: number;
  /** Acquires refused (the group, or this replica's share, was full). */
  readonly refused: number;
  /** Of those, the ones answered without asking Redis (refused before, and no room seen since). */
  readonly quietRefusals: number;
  /** Acquires granted from this replica's share while Redis was down. */
  readonly localGrants: number;
}

/**
 * The router sessions all replicas together may hold. A replica asks
 * ({@link SessionBudget.tryAcquire}, one script) only when its pool opens a
 * session, and the group heartbeat renews every lease it holds. While Redis
 * is down a replica opens sessions only up to its share, max(1, floor(max /
 * N)), and once its leases have lapsed it keeps no more than that share
 * ({@link sessionCap}); when Redis is back, the heartbeat registers what it
 * holds.
 */
export class SessionBudget {
  readonly #link: SharedLink;
  readonly #key: string;
  readonly #maxSessions: number;
  readonly #leaseTtlMs: number;
  /** Leases this replica holds. */
  readonly #held = new Set<string>();
  /** Acquires sent and not answered yet: a renewal must not drop them. */
  readonly #pending = new Set<string>();
  #next = 0;
  #groupHeld = 0;
  #refused = 0;
  #quietRefusals = 0;
  #localGrants = 0;
  /** Refused by Redis while holding sessions: ask again only when room may have been made. */
  #isQuiet = false;
  /** The acquire under way, if any. */
  #asking: Promise<unknown> | undefined;
  /** When Redis last confirmed this replica's leases (local clock). */
  #confirmedAt: number;
  /** Fires when the leases lapse in Redis while it is away. */
  #lapseTimer: unknown;
  /** Redis has been away longer than a lease lives: the others may have taken this replica's leases. */
  #isLapsed = false;
  readonly #capListeners = new Set<() => void>();
  readonly #stop: (() => void)[];

  constructor(link: SharedLink, router: string, options: SessionBudgetOptions) {
    if (!Number.isSafeInteger(options.maxSessions) || options.maxSessions < 1) {
      throw new RangeError('maxSessions must be an integer >= 1');
    }
    const ttl = options.leaseTtlMs ?? 15_000;
    if (!Number.isFinite(ttl) || ttl <= 0) throw new RangeError('leaseTtlMs must be a number > 0');
    this.#link = link;
    this.#key = link.key(router, 'sessions');
    this.#maxSessions = options.maxSessions;
    this.#leaseTtlMs = ttl;
    this.#confirmedAt = link.now();
    this.#stop = [
      link.onHeartbeat(() => this.renew()),
      link.onClose(() => this.#renew([])),
      link.onStateChange((isUp) => (isUp ? this.#stopLapseTimer() : this.#startLapseTimer())),
    ];
  }

  /** Sessions this replica may hold while Redis is down: max(1, floor(max / N)). */
  get localShare(): number {
    return Math.max(1, Math.floor(this.#maxSessions / Math.max(1, this.#link.replicas)));
  }

  /**
   * Sessions this replica may keep open now: no limit of its own while its
   * leases stand; once Redis has been away longer than a lease lives, the
   * other replicas may hold the leases it had, so it keeps only its
   * {@link localShare} until Redis confirms its leases again.
   */
  get sessionCap(): number {
    return this.#isLapsed ? this.localShare : Infinity;
  }

  /** Calls `listener` whenever {@link sessionCap} changes; returns how to stop. */
  onSessionCapChange(listener: () => void): () => void {
    this.#capListeners.add(listener);
    return () => this.#capListeners.delete(listener);
  }

  /**
   * A ticket when the group (or, with Redis down, this replica's share) has
   * room for one more session; undefined when it has not. Resolves within
   * the group's operation timeout; never rejects.
   */
  async tryAcquire(): Promise<SessionTicket | undefined> {
    // A replica that holds sessions asks one at a time: a full group costs one call, not one per ask.
    while (this.#asking !== undefined && this.#held.size > 0) await this.#asking;
    if (this.#link.isUp && this.#held.size > 0 && this.#isQuiet) {
      // Refused before: the group is full until a heartbeat sees room or this replica releases one.
      this.#refused++;
      this.#quietRefusals++;
      return undefined;
    }
    const member = `${this.#link.replicaId}:${++this.#next}`;
    if (this.#link.isUp) {
      this.#pending.add(member);
      const asking = this.#link.run(
        ACQUIRE_SESSION,
        [this.#key],
        [this.#link.scriptClock(), this.#maxSessions, member, this.#leaseTtlMs],
      );
      this.#asking = asking;
      const reply = await asking;
      if (this.#asking === asking) this.#asking = undefined;
      this.#pending.delete(member);
      if (Array.isArray(reply)) {
        this.#groupHeld = Number(reply[1]);
        if (Number(reply[0]) === 1) {
          this.#unquiet();
          return this.#ticket(member);
        }
        this.#refused++;
        this.#isQuiet = true;
        return undefined;
      }
    }
    if (this.#held.size >= this.localShare) {
      this.#refused++;
      return undefined;
    }
    this.#localGrants++;
    return this.#ticket(member);
  }

  /**
   * Renews this replica's leases (the group heartbeat calls it); after an
   * outage it registers the sessions opened meanwhile.
   */
  renew(): Promise<void> {
    return this.#renew([...this.#held]);
  }

  /**
   * The router is gone (a reload removed it): drops this replica's leases
   * and stops the heartbeat's renewals. Never rejects.
   */
  close(): Promise<void> {
    for (const stop of this.#stop) stop();
    this.#stopLapseTimer();
    this.#capListeners.clear();
    this.#held.clear();
    return this.#renew([]);
  }

  stats(): SessionBudgetStats {
    return {
      held: this.#held.size,
      groupHeld: this.#groupHeld,
      refused: this.#refused,
      quietRefusals: this.#quietRefusals,
      localGrants: this.#localGrants,
    };
  }

  async #renew(members: readonly string[]): Promise<void> {
    const args = [
      this.#link.scriptClock(),
      this.#link.replicaId,
      this.#leaseTtlMs,
      members.length,
      ...members,
      ...this.#pending,
    ];
    const reply = await this.#link.run(RENEW_SESSIONS, [this.#key], args);
    if (typeof reply !== 'number') return;
    this.#confirmedAt = this.#link.now();
    this.#setLapsed(false);
    this.#groupHeld = reply;
    if (reply < this.#maxSessions) this.#unquiet();
  }

  /** Redis went away: once the last confirmed leases would have expired, the cap falls to the local share. */
  #startLapseTimer(): void {
    this.#stopLapseTimer();
    const waitMs = Math.max(0, this.#confirmedAt + this.#leaseTtlMs - this.#link.now());
    this.#lapseTimer = this.#link.timers.setTimeout(() => {
      this.#lapseTimer = undefined;
      if (!this.#link.isUp) this.#setLapsed(true);
    }, waitMs);
  }

  #stopLapseTimer(): void {
    if (this.#lapseTimer === undefined) return;
    this.#link.timers.clearTimeout(this.#lapseTimer);
    this.#lapseTimer = undefined;
  }

  #setLapsed(isLapsed: boolean): void {
    if (this.#isLapsed === isLapsed) return;
    this.#isLapsed = isLapsed;
    for (const listener of this.#capListeners) listener();
  }

  /** There may be room: the next acquire asks Redis. */
  #unquiet(): void {
    this.#isQuiet = false;
  }

  #ticket(member: string): SessionTicket {
    this.#held.add(member);
    return {
      id: member,
      release: () => {
        if (!this.#held.delete(member)) return;
        this.#unquiet();
        // While down, the next renewal after Redis is back drops it.
        if (this.#link.isUp) void this.#link.send(['ZREM', this.#key, member]);
      },
    };
  }
}
