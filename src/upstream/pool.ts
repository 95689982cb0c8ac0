import { EventEmitter } from 'node:events';
import { ErrorCode, RosgateError } from '../errors.js';
import type { UpstreamConnection } from './upstream-connection.js';
import { monotonicNow } from '../clock.js';

/** Pool sizing and timing. */
export interface PoolOptions {
  /** Sessions kept open even when idle. @default 1 */
  min: number;
  /** Sessions never exceeded; keep below the router's `max-sessions`. @default 5 */
  max: number;
  /** How long `acquire()` waits for a session. @default 5000 */
  acquireTimeoutMs: number;
  /** Idle sessions beyond `min` are closed after this long. @default 60000 */
  idleTimeoutMs: number;
  /** Interval between health probes of idle sessions. @default 30000 */
  healthCheckIntervalMs: number;
  /**
   * Shortest reconnect delay. While the router stays unreachable the delay
   * grows with the outage (a quarter of its length so far, with jitter), so
   * a router back after 0.3 s is reconnected within about 100 ms and one
   * down for minutes is not hammered. @default 100
   */
  reconnectInitialDelayMs: number;
  /** Cap of the reconnect delay. @default 10000 */
  reconnectMaxDelayMs: number;
  /** Commands one session carries at once before another is opened or callers wait. @default 64 */
  maxInFlightPerSession: number;
}

/** How the pool saw the router answer: a session logged in, or a health probe was answered. */
export type ReachableEvidence = 'login' | 'probe';

/** Makes a new, not yet connected, session. */
export type ConnectionFactory = () => UpstreamConnection;

/**
 * Receives a session. It is called synchronously when a session is free and
 * must send its command before returning, so the session's in-flight count
 * already includes it when the next caller is served.
 */
export type OnAcquired = (connection: UpstreamConnection) => void;

const NOTHING_TO_WITHDRAW = (): void => undefined;

interface Waiter {
  onReady: OnAcquired;
  onError: (error: RosgateError) => void;
  timer: NodeJS.Timeout;
  since: number;
}

/** Counts for metrics and health. */
export interface PoolStats {
  /** Logged-in sessions (busy and idle). */
  ready: number;
  /** Ready sessions with at least one command in flight. */
  busy: number;
  /** Sessions connecting or logging in. */
  connecting: number;
  inFlight: number;
  waiting: number;
  /** How long the oldest waiter has waited (ms); 0 when none waits. */
  longestWaitMs: number;
  opened: number;
  failedConnects: number;
  /** Ready sessions that ended (router drop, probe failure, `!fatal`, idle close). */
  closed: number;
}

/** Optional hooks and clock of a pool. */
export interface PoolHooks {
  /** Jitter source. @default Math.random */
  random?: () => number;
  /** Clock. @default monotonicNow (src/clock.ts: steps of the wall clock do not move it) */
  now?: () => number;
  /** Called with how long each acquire waited (ms), for the acquisition histogram. */
  onAcquired?: (waitMs: number) => void;
  /**
   * Asked before each session is opened (a group's session budget, issue
   * 18): a permit to release when that session ends, or undefined for "not
   * now" (the pool asks again after {@link PERMIT_RETRY_MS}). Never rejects.
   * @default every session is permitted
   */
  sessionPermit?: () => Promise<SessionPermit | undefined>;
  /**
   * A limit below `max` that changes as the group's session budget does
   * (a replica cut off from Redis past its leases' life keeps only its
   * share). Sessions above it take no new command and close once idle.
   * @default no limit besides `max`
   */
  sessionCap?: SessionCap;
}

/** How many sessions a pool may hold now, from {@link PoolHooks.sessionCap}. */
export interface SessionCap {
  current(): number;
  /** Calls `listener` when `current()` changes; returns how to stop. */
  onChange(listener: () => void): () => void;
}

/** Leave to hold one more router session, from {@link PoolHooks.sessionPermit}. */
export interface SessionPermit {
  /** The session ended (or never opened). Idempotent. */
  release(): void;
}

/** The permit of a session no budget limits: nothing to give back. */
const FREE_PERMIT: SessionPermit = { release: () => undefined };

/** How long a pool refused a permit waits before asking again. */
export const PERMIT_RETRY_MS = 250;

/**
 * A small set of logged-in router sessions shared by all clients.
 *
 * `acquire()` returns the ready session with the fewest commands in flight.
 * When that session is already busy and the pool is below `max`, another
 * session is opened in the background, so load spreads as it grows without
 * making the caller wait. A caller waits only when no session is ready, or
 * every session carries `maxInFlightPerSession` commands; past
 * `acquireTimeoutMs` it gets ROSGATE_ACQUIRE_TIMEOUT.
 *
 * Only ready sessions are handed out: a failing session reports its close
 * before it tells its commands, and leaves the ready set then. A congested
 * session (the router stopped reading) gets nothing new until it drains.
 *
 * Failed connects are retried with one backoff per router while the pool is
 * below `min` or callers are waiting. A connect that fails while other
 * sessions are ready is no outage: the router answers on those, it only
 * refuses one more session (its `max-sessions` reached, docs/routeros-api.md
 * §10.1). The pool then stops growing for a while (a backoff of its own,
 * doubling with each such failure) and goes on with the sessions it has.
 * Events (none is `error`): `connectError` (RosgateError) for each failed
 * connect while no session is ready, `growthFailed` (RosgateError) for each
 * one while some are, `sessionClosed` (RosgateError) for each ready session
 * that ended, `sessionOpened`, and `retryScheduled` (delayMs) when a
 * reconnect is scheduled.
 *
 * What the pool knows of the router, for whoever must not guess it (the
 * circuit breaker): `routerLost` (RosgateError) for each connect that failed
 * while no session was ready and each ready session that ended without the
 * pool closing it (the error its commands get too), and `routerReachable`
 * ({@link ReachableEvidence}) each time the router is seen answering: a
 * session logged in, a health probe was answered.
 */
export class Pool extends EventEmitter {
  options: PoolOptions;
  readonly #factory: ConnectionFactory;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #onAcquired: ((waitMs: number) => void) | undefined;
  readonly #sessionPermit: (() => Promise<SessionPermit | undefined>) | undefined;
  readonly #sessionCap: SessionCap | undefined;
  readonly #stopCap: () => void;
  #ready = new Set<UpstreamConnection>();
  /** Ready sessions beyond a lowered `max` or session cap, closing once idle. */
  #retiring = new Set<UpstreamConnection>();
  #connecting = new Set<UpstreamConnection>();
  #waiters: Waiter[] = [];
  /** When the current run of failed connects began; undefined while connects succeed. */
  #outageSince: number | undefined;
  #closed = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  /** Closes what the session cap retired and is still busy, see {@link #cutRetiredLater}. */
  #cutTimer: NodeJS.Timeout | undefined;
  /** Connects that failed in a row while other sessions were ready. */
  #growthFailures = 0;
  /** No session is added to ready ones before this time (ms), after a failed growth. */
  #growthResumesAt = -Infinity;
  #maintenanceTimer: NodeJS.Timeout | undefined;
  #isClosed = false;
  #lastError: RosgateError | undefined;
  #lastErrorAt: number | undefined;
  #opened = 0;
  #failedConnects = 0;

  constructor(options: PoolOptions, factory: ConnectionFactory, hooks: PoolHooks = {}) {
    super();
    this.options = options;
    this.#factory = factory;
    this.#random = hooks.random ?? Math.random;
    this.#now = hooks.now ?? monotonicNow;
    this.#onAcquired = hooks.onAcquired;
    this.#sessionPermit = hooks.sessionPermit;
    this.#sessionCap = hooks.sessionCap;
    this.#stopCap =
      hooks.sessionCap?.onChange(() => {
        this.#retireSurplus();
        this.#fill();
        this.#cutRetiredLater();
      }) ?? NOTHING_TO_WITHDRAW;
  }

  /** Sessions the pool may hold now: `max`, or less while its session cap says so. */
  get #maxSessions(): number {
    return Math.min(this.options.max, this.#sessionCap?.current() ?? Infinity);
  }

  /** Open `min` sessions in the background and start the health checks. */
  start(): void {
    this.#fill();
    this.#scheduleMaintenance();
  }

  /** Checks sessions every health or idle interval, whichever is shorter. */
  #scheduleMaintenance(): void {
    const interval = Math.max(
      10,
      Math.min(this.options.healthCheckIntervalMs, this.options.idleTimeoutMs),
    );
    clearInterval(this.#maintenanceTimer);
    this.#maintenanceTimer = setInterval(() => this.#maintain(), interval);
    this.#maintenanceTimer.unref();
  }

  get stats(): PoolStats {
    let inFlight = 0;
    let busy = 0;
    for (const c of this.#ready) {
      inFlight += c.inFlight;
      if (c.inFlight > 0) busy++;
    }
    const oldest = this.#waiters[0];
    return {
      ready: this.#ready.size,
      busy,
      connecting: this.#connecting.size,
      inFlight,
      waiting: this.#waiters.length,
      longestWaitMs: oldest === undefined ? 0 : this.#now() - oldest.since,
      opened: this.#opened,
      failedConnects: this.#failedConnects,
      closed: this.#closed,
    };
  }

  /** The last connect error or session loss, for health reporting. */
  get lastError(): RosgateError | undefined {
    return this.#lastError;
  }

  /** When `lastError` happened (ms since epoch). */
  get lastErrorAt(): number | undefined {
    return this.#lastErrorAt;
  }

  /**
   * Apply new sizes and timings (a live reload): later acquires, opens and
   * maintenance use them; sessions beyond a lower `max` close as they idle
   * (those still logging in too, once ready); room that a higher `max` or
   * `maxInFlightPerSession` makes goes to the callers waiting already.
   */
  reconfigure(options: PoolOptions): void {
    this.options = options;
    if (this.#maintenanceTimer !== undefined && !this.#isClosed) this.#scheduleMaintenance();
    this.#retireSurplus();
    this.#fill();
    this.#serveWaiters();
  }

  /** Ready sessions (read-only view for metrics and shutdown). */
  get connections(): readonly UpstreamConnection[] {
    return [...this.#ready];
  }

  /**
   * Get a ready session for one command: `onReady` runs at once when a
   * session has room, else when one frees up; `onError` gets
   * ROSGATE_ACQUIRE_TIMEOUT after `acquireTimeoutMs`, or
   * ROSGATE_SHUTTING_DOWN. Exactly one of them is called, unless the caller
   * withdraws first with the returned function (a cancelled command).
   */
  acquire(onReady: OnAcquired, onError: (error: RosgateError) => void): () => void {
    if (this.#isClosed) {
      onError(new RosgateError(ErrorCode.ShuttingDown, 'rosgate is shutting down'));
      return NOTHING_TO_WITHDRAW;
    }
    const best = this.#leastLoaded();
    const total = this.#ready.size + this.#connecting.size;
    if ((best === undefined || best.inFlight > 0) && total < this.#maxSessions && this.#mayOpen()) {
      this.#open();
    }
    if (
      this.#waiters.length === 0 &&
      best !== undefined &&
      best.inFlight < this.options.maxInFlightPerSession
    ) {
      this.#onAcquired?.(0);
      onReady(best);
      return NOTHING_TO_WITHDRAW;
    }
    const waiter: Waiter = {
      onReady,
      onError,
      since: this.#now(),
      timer: setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        const reason = this.#lastError === undefined ? '' : `: ${this.#lastError.message}`;
        onError(
          new RosgateError(
            ErrorCode.AcquireTimeout,
            `no router session available in time${reason}`,
            {
              // Down: no session could be opened lately; else every session was busy.
              details: {
                timeoutMs: this.options.acquireTimeoutMs,
                isRouterDown: this.#outageSince !== undefined,
              },
            },
          ),
        );
      }, this.options.acquireTimeoutMs),
    };
    this.#waiters.push(waiter);
    return () => {
      const at = this.#waiters.indexOf(waiter);
      if (at < 0) return;
      this.#waiters.splice(at, 1);
      clearTimeout(waiter.timer);
    };
  }

  /** Promise form of {@link acquire}, for callers that send later (tests, tools). */
  acquireAsync(): Promise<UpstreamConnection> {
    return new Promise((resolve, reject) => {
      this.acquire(resolve, reject);
    });
  }

  /** A command on one of the sessions ended: close retired sessions that are now idle, and hand the capacity to the next waiter. */
  commandEnded(): void {
    this.#closeRetired();
    this.#serveWaiters();
  }

  /**
   * Sessions beyond what the pool may hold (a live reload lowered `max`, or
   * the session cap fell) take no new command and close as soon as their
   * last one ends, busy or not now.
   */
  #retireSurplus(): void {
    let surplus = this.#ready.size - this.#retiring.size - this.#maxSessions;
    while (surplus-- > 0) {
      let lightest: UpstreamConnection | undefined;
      for (const c of this.#ready) {
        if (this.#retiring.has(c)) continue;
        if (lightest === undefined || c.inFlight < lightest.inFlight) lightest = c;
      }
      this.#retiring.add(lightest as UpstreamConnection);
    }
    this.#closeRetired();
  }

  /**
   * The session cap fell: the surplus must go even when what runs on it never
   * ends by itself (a listen, a monitor). Past `acquireTimeoutMs` a retired
   * session still busy is closed; its commands get the session's error and
   * a stream's owner (the cache's listens) starts it again on a kept one.
   */
  #cutRetiredLater(): void {
    clearTimeout(this.#cutTimer);
    if (this.#retiring.size === 0) return;
    this.#cutTimer = setTimeout(() => this.#closeRetired(true), this.options.acquireTimeoutMs);
    this.#cutTimer.unref();
  }

  /** Closes the retired sessions that are idle, or all of them (`isBusyToo`). */
  #closeRetired(isBusyToo = false): void {
    for (const c of this.#retiring) {
      if (c.inFlight > 0 && !isBusyToo) continue;
      this.#retiring.delete(c);
      this.#ready.delete(c);
      c.close();
    }
  }

  /** Close every session and refuse new acquires. */
  close(): void {
    this.#isClosed = true;
    this.#stopCap();
    clearTimeout(this.#cutTimer);
    clearTimeout(this.#retryTimer);
    clearInterval(this.#maintenanceTimer);
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.onError(new RosgateError(ErrorCode.ShuttingDown, 'rosgate is shutting down'));
    }
    const shuttingDown = new RosgateError(ErrorCode.ShuttingDown, 'rosgate is shutting down');
    for (const c of [...this.#ready, ...this.#connecting]) c.close(shuttingDown);
    this.#ready.clear();
  }

  /** The ready, uncongested session with the fewest commands in flight. */
  #leastLoaded(): UpstreamConnection | undefined {
    let best: UpstreamConnection | undefined;
    for (const c of this.#ready) {
      if (c.state !== 'ready' || c.isCongested || this.#retiring.has(c)) continue;
      if (best === undefined || c.inFlight < best.inFlight) best = c;
    }
    return best;
  }

  #serveWaiters(): void {
    while (this.#waiters.length > 0) {
      const best = this.#leastLoaded();
      if (best === undefined || best.inFlight >= this.options.maxInFlightPerSession) return;
      const waiter = this.#waiters.shift() as Waiter;
      clearTimeout(waiter.timer);
      this.#onAcquired?.(this.#now() - waiter.since);
      waiter.onReady(best);
    }
  }

  #fill(): void {
    const want = Math.max(this.options.min, this.#waiters.length > 0 ? 1 : 0);
    while (
      !this.#isClosed &&
      this.#mayOpen() &&
      this.#ready.size + this.#connecting.size < Math.min(want, this.#maxSessions)
    ) {
      this.#open();
    }
  }

  /**
   * False while a reconnect is scheduled, or while the pool, refused one
   * more session by a router that answers on the others, waits to grow.
   */
  #mayOpen(): boolean {
    if (this.#retryTimer !== undefined) return false;
    return this.#ready.size === 0 || this.#now() >= this.#growthResumesAt;
  }

  #open(): void {
    const connection = this.#factory();
    this.#connecting.add(connection);
    if (this.#sessionPermit === undefined) {
      this.#connect(connection, FREE_PERMIT);
      return;
    }
    void this.#sessionPermit().then((permit) => {
      if (permit !== undefined && !this.#isClosed) {
        this.#connect(connection, permit);
        return;
      }
      permit?.release();
      this.#connecting.delete(connection);
      // The group holds every session it may: ask again a little later.
      if (this.#isClosed || this.#retryTimer !== undefined) return;
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#fill();
      }, PERMIT_RETRY_MS);
      this.#retryTimer.unref();
    });
  }

  #connect(connection: UpstreamConnection, permit: SessionPermit): void {
    connection.connect().then(
      () => {
        this.#connecting.delete(connection);
        if (this.#isClosed) {
          permit.release();
          connection.close();
          return;
        }
        // The router is back: a reconnect scheduled in the outage waits for
        // nothing (a permit's retry does: the group's budget is full).
        if (this.#outageSince !== undefined) {
          clearTimeout(this.#retryTimer);
          this.#retryTimer = undefined;
        }
        this.#outageSince = undefined;
        this.#lastError = undefined;
        this.#growthFailures = 0;
        this.#opened++;
        this.#ready.add(connection);
        connection.once('close', (error: RosgateError) => {
          permit.release();
          // Runs before the session tells its commands (UpstreamConnection).
          // Still in the ready set: the pool did not close it (idle, retired).
          const isLost = this.#ready.delete(connection);
          this.#retiring.delete(connection);
          if (!this.#isClosed) {
            this.#closed++;
            this.#lastError = error;
            this.#lastErrorAt = this.#now();
            this.emit('sessionClosed', error);
            if (isLost) this.emit('routerLost', error);
          }
          this.#fill();
        });
        connection.on('drain', () => this.#serveWaiters());
        this.emit('sessionOpened');
        this.emit('routerReachable', 'login' satisfies ReachableEvidence);
        // A reload may have lowered the max while this session logged in.
        this.#retireSurplus();
        this.#serveWaiters();
        // Up to `min` again, now rather than when a cleared reconnect would have.
        this.#fill();
      },
      (error: RosgateError) => {
        permit.release();
        this.#connecting.delete(connection);
        this.#failedConnects++;
        this.#lastError = error;
        this.#lastErrorAt = this.#now();
        if (this.#ready.size > 0) {
          this.#growthFailed(error);
          return;
        }
        this.#outageSince ??= this.#now();
        this.emit('connectError', error);
        this.emit('routerLost', error);
        this.#scheduleRetry();
      },
    );
  }

  /**
   * One more session was refused while others are ready: the router is
   * there, the pool cannot grow now. Waiting callers keep the sessions it
   * has; the next attempt to grow comes after a delay that doubles with
   * each refusal in a row (from `reconnectInitialDelayMs` up to
   * `reconnectMaxDelayMs`, with jitter).
   */
  #growthFailed(error: RosgateError): void {
    const { reconnectInitialDelayMs: initial } = this.options;
    const delay = this.#backoff(initial * 2 ** Math.min(this.#growthFailures++, 30));
    this.#growthResumesAt = this.#now() + delay;
    this.emit('growthFailed', error, delay);
  }

  /** A delay between half of `ceiling` and all of it, `ceiling` at most `reconnectMaxDelayMs`. */
  #backoff(ceiling: number): number {
    const capped = Math.min(this.options.reconnectMaxDelayMs, ceiling);
    return Math.round(capped / 2 + (this.#random() * capped) / 2);
  }

  #scheduleRetry(): void {
    if (this.#isClosed || this.#retryTimer !== undefined) return;
    // One backoff per router, growing with the outage rather than with the
    // number of sessions that failed together.
    const outageMs = this.#now() - (this.#outageSince as number);
    const delay = this.#backoff(Math.max(this.options.reconnectInitialDelayMs, outageMs / 4));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#fill();
    }, delay);
    this.#retryTimer.unref();
    this.emit('retryScheduled', delay);
  }

  /**
   * Close idle sessions beyond `min`; probe every session the router has
   * sent nothing on for a health interval. A busy session is probed too: a
   * router that stops answering must fail its commands with a trap rather
   * than leave them hanging, while a quiet stream keeps its session as long
   * as the probe is answered.
   */
  #maintain(): void {
    const now = this.#now();
    let ready = this.#ready.size;
    for (const c of [...this.#ready]) {
      // Sessions beyond a lowered max are retired by reconfigure(); here only idleness counts.
      const isSurplus =
        ready > this.options.min && now - c.lastActiveAt >= this.options.idleTimeoutMs;
      if (c.inFlight === 0 && isSurplus) {
        ready--;
        this.#ready.delete(c);
        c.close();
      } else if (!c.isProbing && now - c.lastReceivedAt >= this.options.healthCheckIntervalMs) {
        c.probe().then(
          () => this.emit('routerReachable', 'probe' satisfies ReachableEvidence),
          () => {
            /* probe failure closes the session; its close handler refills the pool */
          },
        );
      }
    }
    this.#fill();
  }
}
