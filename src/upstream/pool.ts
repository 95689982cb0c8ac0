import { EventEmitter } from 'node:events';
import { ErrorCode, RosgateError } from '../errors.js';
import type { UpstreamConnection } from './upstream-connection.js';

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
  /** First reconnect delay; doubles per failure, with jitter. @default 100 */
  reconnectInitialDelayMs: number;
  /** Cap of the reconnect delay. @default 10000 */
  reconnectMaxDelayMs: number;
  /** Commands one session carries at once before another is opened or callers wait. @default 64 */
  maxInFlightPerSession: number;
}

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
}

/** Counts for metrics and health. */
export interface PoolStats {
  ready: number;
  connecting: number;
  inFlight: number;
  waiting: number;
  opened: number;
  failedConnects: number;
}

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
 * Failed connects are retried with exponential backoff and full jitter while
 * the pool is below `min` or callers are waiting. Events: `error`-free by
 * design; `connectError` (RosgateError) reports failed connects.
 */
export class Pool extends EventEmitter {
  readonly options: PoolOptions;
  readonly #factory: ConnectionFactory;
  readonly #random: () => number;
  #ready = new Set<UpstreamConnection>();
  #connecting = 0;
  #waiters: Waiter[] = [];
  #failures = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #maintenanceTimer: NodeJS.Timeout | undefined;
  #isClosed = false;
  #lastError: RosgateError | undefined;
  #opened = 0;
  #failedConnects = 0;

  constructor(
    options: PoolOptions,
    factory: ConnectionFactory,
    random: () => number = Math.random,
  ) {
    super();
    this.options = options;
    this.#factory = factory;
    this.#random = random;
  }

  /** Open `min` sessions in the background and start the health checks. */
  start(): void {
    this.#fill();
    const interval = Math.max(
      10,
      Math.min(this.options.healthCheckIntervalMs, this.options.idleTimeoutMs),
    );
    this.#maintenanceTimer = setInterval(() => this.#maintain(), interval);
    this.#maintenanceTimer.unref();
  }

  get stats(): PoolStats {
    let inFlight = 0;
    for (const c of this.#ready) inFlight += c.inFlight;
    return {
      ready: this.#ready.size,
      connecting: this.#connecting,
      inFlight,
      waiting: this.#waiters.length,
      opened: this.#opened,
      failedConnects: this.#failedConnects,
    };
  }

  /** The last connect error, for readiness reporting. */
  get lastError(): RosgateError | undefined {
    return this.#lastError;
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
    const total = this.#ready.size + this.#connecting;
    if (
      (best === undefined || best.inFlight > 0) &&
      total < this.options.max &&
      this.#retryTimer === undefined
    ) {
      this.#open();
    }
    if (
      this.#waiters.length === 0 &&
      best !== undefined &&
      best.inFlight < this.options.maxInFlightPerSession
    ) {
      onReady(best);
      return NOTHING_TO_WITHDRAW;
    }
    const waiter: Waiter = {
      onReady,
      onError,
      timer: setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        const reason = this.#lastError === undefined ? '' : `: ${this.#lastError.message}`;
        onError(
          new RosgateError(
            ErrorCode.AcquireTimeout,
            `no router session available in time${reason}`,
            {
              details: { timeoutMs: this.options.acquireTimeoutMs },
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

  /** A session finished a command: hand capacity to the next waiter. */
  release(): void {
    this.#serveWaiters();
  }

  /** Close every session and refuse new acquires. */
  close(): void {
    this.#isClosed = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#maintenanceTimer);
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.onError(new RosgateError(ErrorCode.ShuttingDown, 'rosgate is shutting down'));
    }
    for (const c of [...this.#ready])
      c.close(new RosgateError(ErrorCode.ShuttingDown, 'rosgate is shutting down'));
    this.#ready.clear();
  }

  #leastLoaded(): UpstreamConnection | undefined {
    let best: UpstreamConnection | undefined;
    for (const c of this.#ready) if (best === undefined || c.inFlight < best.inFlight) best = c;
    return best;
  }

  #serveWaiters(): void {
    while (this.#waiters.length > 0) {
      const best = this.#leastLoaded();
      if (best === undefined || best.inFlight >= this.options.maxInFlightPerSession) return;
      const waiter = this.#waiters.shift() as Waiter;
      clearTimeout(waiter.timer);
      waiter.onReady(best);
    }
  }

  #fill(): void {
    const want = Math.max(this.options.min, this.#waiters.length > 0 ? 1 : 0);
    while (
      !this.#isClosed &&
      this.#retryTimer === undefined &&
      this.#ready.size + this.#connecting < Math.min(want, this.options.max)
    ) {
      this.#open();
    }
  }

  #open(): void {
    this.#connecting++;
    const connection = this.#factory();
    connection.connect().then(
      () => {
        this.#connecting--;
        if (this.#isClosed) {
          connection.close();
          return;
        }
        this.#failures = 0;
        this.#lastError = undefined;
        this.#opened++;
        this.#ready.add(connection);
        connection.once('close', () => {
          this.#ready.delete(connection);
          this.#fill();
        });
        this.#serveWaiters();
      },
      (error: RosgateError) => {
        this.#connecting--;
        this.#failures++;
        this.#failedConnects++;
        this.#lastError = error;
        this.emit('connectError', error);
        this.#scheduleRetry();
      },
    );
  }

  #scheduleRetry(): void {
    if (this.#isClosed || this.#retryTimer !== undefined) return;
    const { reconnectInitialDelayMs: initial, reconnectMaxDelayMs: cap } = this.options;
    const ceiling = Math.min(cap, initial * 2 ** Math.min(this.#failures - 1, 30));
    const delay = Math.round(ceiling / 2 + (this.#random() * ceiling) / 2);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#fill();
    }, delay);
    this.#retryTimer.unref();
  }

  /**
   * Close idle sessions beyond `min`; probe every session the router has
   * sent nothing on for a health interval. A busy session is probed too: a
   * router that stops answering must fail its commands with a trap rather
   * than leave them hanging, while a quiet stream keeps its session as long
   * as the probe is answered.
   */
  #maintain(): void {
    const now = Date.now();
    let ready = this.#ready.size;
    for (const c of [...this.#ready]) {
      if (
        c.inFlight === 0 &&
        ready > this.options.min &&
        now - c.lastActiveAt >= this.options.idleTimeoutMs
      ) {
        ready--;
        this.#ready.delete(c);
        c.close();
      } else if (!c.isProbing && now - c.lastReceivedAt >= this.options.healthCheckIntervalMs) {
        c.probe().catch(() => {
          /* probe failure closes the session; its close handler refills the pool */
        });
      }
    }
    this.#fill();
  }
}
