import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { ErrorCode, RosgateError } from '../errors.js';

/**
 * The circuit breaker of one router, on opossum. This file is the one place
 * that knows opossum: its states, events and errors are translated here.
 */

/** Closed: commands pass. Open: they are refused at once. Half-open: one probe decides. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** A breaker state as the `mikrotik_circuit_breaker_state` gauge shows it. */
export const BREAKER_STATE_VALUE = Object.freeze({
  closed: 0,
  open: 1,
  'half-open': 2,
} as const satisfies Record<BreakerState, number>);

/** One state change, for logs and audit. */
export interface BreakerStateChange {
  readonly router: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** Why, in words: `5 failures in 10000ms (last ROSGATE_UPSTREAM_TIMEOUT)`. */
  readonly reason: string;
}

/** Transitions so far, by the state entered. */
export interface BreakerTransitions {
  readonly open: number;
  readonly halfOpen: number;
  readonly closed: number;
}

/**
 * Refusal codes that mean the router (or the way to it) failed. A `!trap`
 * is an answer, never a failure (docs/architecture.md invariant 5); neither is a refusal
 * by rosgate itself (rate limit, policy) nor a client's cancel.
 */
const FAILURE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.UpstreamClosed,
  ErrorCode.UpstreamTimeout,
  ErrorCode.UpstreamProtocol,
  ErrorCode.CommandTimeout,
]);

/**
 * True when a refusal with this error counts against the breaker. Waiting
 * too long for a router session counts only while the pool cannot reach
 * the router: sessions kept busy (streams, long prints) by a router that
 * answers are no failure of it, and opening the circuit would refuse
 * everybody for a router that is fine.
 */
export function isBreakerFailure(error: RosgateError): boolean {
  if (error.code === ErrorCode.AcquireTimeout) return error.details['isRouterDown'] === true;
  return FAILURE_CODES.has(error.code);
}

/**
 * How a tracked command ended: the router `answered` (a `!trap` too), it
 * failed (the error), or `neither`: rosgate ended it or the client cancelled
 * it, which says nothing of the router (a stream cut by `maxStreamMs`, a
 * wait for a busy session, a withdrawal answered `interrupted`).
 */
export type Outcome = 'answered' | 'neither' | RosgateError;

/** Ends one tracked command with its {@link Outcome}. */
export type Settle = (outcome: Outcome) => void;

/** What a breaker built on a reload takes over from the one it replaces. */
export interface BreakerCarry {
  readonly state: BreakerState;
  readonly isRouterLost: boolean;
  readonly lostAt: number;
  readonly lossCountedAt: number;
  readonly lastError: RosgateError | undefined;
}

/** Options of a {@link RouterBreaker}. */
export interface RouterBreakerOptions {
  readonly router: string;
  /** Failures within `monitoringMs` that open the circuit. */
  readonly threshold: number;
  /** Fewest commands within `monitoringMs` before the circuit may open. */
  readonly volumeThreshold: number;
  /** Open -> half-open after this long (opossum's own timer). */
  readonly resetTimeoutMs: number;
  /** The rolling window failures are counted in. */
  readonly monitoringMs: number;
  readonly now: () => number;
  /** Sends the half-open probe: resolves when the router answered, rejects otherwise. */
  readonly probe: () => Promise<void>;
  readonly onStateChange: (change: BreakerStateChange) => void;
}

/**
 * Sessions that drop within this long of a counted loss of the router are
 * that same loss, even when a login was answered in between: a session
 * whose login answer raced the router's going away drops with the others.
 */
const SAME_LOSS_MS = 1000;

/** opossum's rolling window is cut into this many buckets. */
const BUCKETS = 10;

type Task = () => Promise<void>;

function ignore(): void {}

/**
 * Counts failures in opossum's rolling window and opens the circuit when
 * `threshold` failures (among at least `volumeThreshold` commands) fall in
 * it. A failure is an error object: the commands lost with one session all
 * carry its close error and count once. opossum only knows a failure rate,
 * so its rate rule is switched off (a rate never exceeds 100%) and this
 * class opens the circuit on the count with opossum's `open()`. From there
 * opossum runs as its authors intend: after `resetTimeoutMs` it turns
 * half-open and lets one call through, the probe; success closes the
 * circuit, failure opens it again. The pool's word that the router is back
 * after a loss ({@link RouterBreaker.routerReachable}) sends that probe
 * early.
 *
 * The window turns on the injected clock: buckets rotate (through opossum's
 * `rotateBucketController`) when the breaker is used, not on a timer.
 */
export class RouterBreaker {
  readonly #circuit: CircuitBreaker<[Task], void>;
  readonly #options: RouterBreakerOptions;
  readonly #rotation = new EventEmitter();
  readonly #bucketMs: number;
  #rotatedAt: number;
  #state: BreakerState = 'closed';
  #openedAt = 0;
  /** Why the circuit opens, set just before opossum opens it. */
  #openReason = '';
  #failures = 0;
  readonly #transitions = { open: 0, halfOpen: 0, closed: 0 };
  /** Errors counted already, or part of a loss of the router counted already. */
  readonly #seen = new WeakSet<RosgateError>();
  /** Since the pool lost the router, until it sees it reachable again. */
  #isRouterLost = false;
  #lostAt = 0;
  /** When a loss of the router last counted as a failure. */
  #lossCountedAt = -Infinity;
  /** A probe sent because the router was seen back, before the reset timeout. */
  #isEarlyProbe = false;
  /** The last failure or loss of the router told to the breaker: why refusals are made. */
  #lastError: RosgateError | undefined;
  /** A half-open circuit was taken over: its probe goes once the stage can send. */
  #isProbeOwed = false;
  /** True while {@link RouterBreaker.adopt} opens the circuit: no change, the state it had. */
  #isAdopting = false;
  /** Commands that ended with `neither` while half-open: settled once the probe decided. */
  readonly #held: (() => void)[] = [];

  constructor(options: RouterBreakerOptions) {
    this.#options = options;
    this.#bucketMs = Math.floor(options.monitoringMs / BUCKETS);
    this.#rotatedAt = options.now();
    this.#circuit = new CircuitBreaker((task: Task) => task(), {
      name: options.router,
      // Commands have their own idle timeout; streams run for hours.
      timeout: false,
      resetTimeout: options.resetTimeoutMs,
      rollingCountTimeout: options.monitoringMs,
      rollingCountBuckets: BUCKETS,
      rotateBucketController: this.#rotation,
      enableSnapshots: false,
      rollingPercentilesEnabled: false,
      volumeThreshold: options.volumeThreshold,
      errorThresholdPercentage: 100,
    });
    // Only RosgateErrors reach opossum: commands and the probe end with their refusal.
    this.#circuit.on('failure', (err) => this.#onFailure(err as RosgateError));
    this.#circuit.on('open', () => {
      this.#releaseHeld();
      this.#openedAt = options.now();
      if (this.#isAdopting) this.#state = 'open';
      else this.#enter('open', this.#openReason);
    });
    this.#circuit.on('halfOpen', () => {
      // A probe sent because the router was seen back decides already.
      if (this.#isEarlyProbe) return;
      this.#enter('half-open', `reset timeout elapsed (${options.resetTimeoutMs}ms)`);
      void this.#circuit.fire(options.probe).catch(ignore);
    });
    this.#circuit.on('close', () => {
      this.#releaseHeld();
      // A closed circuit starts with a clean window: old failures do not count again.
      for (let i = 0; i < BUCKETS; i++) this.#rotation.emit('rotate');
      // The router answered: a later loss is a new one.
      this.#isRouterLost = false;
      this.#enter('closed', 'router answered while half-open');
    });
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** True when commands may pass. */
  get isClosed(): boolean {
    return this.#circuit.closed;
  }

  /** Failures counted since start. */
  get failures(): number {
    return this.#failures;
  }

  get transitions(): BreakerTransitions {
    return { ...this.#transitions };
  }

  /**
   * The refusal for a command that arrives while the circuit is not closed,
   * with the last failure seen (a wrong router password stays in sight).
   */
  openError(): RosgateError {
    // Half-open, a probe decides now: early (the router seen back) or not.
    const left =
      this.#state === 'half-open'
        ? 0
        : this.#openedAt + this.#options.resetTimeoutMs - this.#options.now();
    const seconds = Math.max(1, Math.ceil(left / 1000));
    const why = this.#lastError === undefined ? '' : `: ${this.#lastError.message}`;
    return new RosgateError(
      ErrorCode.BreakerOpen,
      `router unavailable (circuit open, retry in ${seconds}s)${why}`,
      { details: { router: this.#options.router, state: this.#state, retryInS: seconds } },
    );
  }

  /**
   * Counts one command that is about to run (the circuit must be closed);
   * call what it returns once it ends.
   */
  track(): Settle {
    this.#rotate();
    let settle: Settle = ignore;
    void this.#circuit
      .fire(
        () =>
          new Promise<void>((resolve, reject) => {
            settle = (outcome) => {
              if (outcome === 'answered') resolve();
              // opossum closes a half-open circuit on any success: only the probe decides.
              else if (outcome === 'neither') {
                if (this.#circuit.halfOpen) this.#held.push(resolve);
                else resolve();
              } else if (this.#isNew(outcome) || this.#circuit.halfOpen) reject(outcome);
              // Lost with a session whose loss counted already: a command, not a failure.
              else resolve();
            };
          }),
      )
      .catch(ignore);
    return settle;
  }

  /**
   * The pool lost its way to the router: a session it did not close ended,
   * or a session could not connect or log in. Losing the router is one
   * event: the first loss counts as one failure; every session that drops
   * with it (within SAME_LOSS_MS, whatever answered meanwhile), the commands
   * lost with them and the connects that fail until the router is seen
   * again count no more. A router still unreachable `monitoringMs` after it
   * was lost opens the circuit at its next failed connect, however few
   * commands tried it.
   */
  routerLost(error: RosgateError): void {
    this.#lastError = error;
    const now = this.#options.now();
    if (!this.#isRouterLost) {
      this.#isRouterLost = true;
      this.#lostAt = now;
      if (this.isClosed && now - this.#lossCountedAt >= SAME_LOSS_MS) {
        this.#lossCountedAt = now;
        this.track()(error);
        return;
      }
    }
    this.#seen.add(error);
    const lostMs = now - this.#lostAt;
    if (this.isClosed && lostMs >= this.#options.monitoringMs) {
      this.#openReason = `router unreachable for ${lostMs}ms (last ${error.code})`;
      this.#circuit.open();
    }
  }

  /**
   * The pool has seen the router answer (a session logged in, a health
   * probe was answered). After a loss of the router, an open circuit turns
   * half-open at once, whatever is left of the reset timeout: its probe
   * decides. Answered, the circuit closes; not, it stays open until the
   * reset timeout it had. A circuit opened while the router stayed
   * reachable (commands timing out) keeps its reset timeout.
   */
  routerReachable(evidence: string): void {
    const wasLost = this.#isRouterLost;
    this.#isRouterLost = false;
    if (!wasLost || this.#state !== 'open') return;
    this.#probeNow(`router reachable again (${evidence})`);
  }

  /** Half-open now, before the reset timeout ends: the probe decides. */
  #probeNow(reason: string): void {
    this.#isEarlyProbe = true;
    this.#enter('half-open', reason);
    this.#options.probe().then(
      () => {
        this.#isEarlyProbe = false;
        this.#circuit.close();
      },
      (err: RosgateError) => {
        this.#isEarlyProbe = false;
        this.#failures++;
        this.#lastError = err;
        this.#openReason = `failure while half-open (${err.code})`;
        // The reset timeout ran out meanwhile: opossum waits for this probe.
        if (this.#circuit.halfOpen) this.#circuit.open();
        else this.#enter('open', this.#openReason);
      },
    );
  }

  /** What a breaker replacing this one (a flow reload) takes over: see {@link adopt}. */
  carry(): BreakerCarry {
    return {
      state: this.#state,
      isRouterLost: this.#isRouterLost,
      lostAt: this.#lostAt,
      lossCountedAt: this.#lossCountedAt,
      lastError: this.#lastError,
    };
  }

  /**
   * Takes over from the breaker this one replaces, before any command: what
   * it knew of the router, and a circuit that was not closed stays open. A
   * half-open one probes again at once (its probe answers the old breaker,
   * and waiting a whole reset timeout would refuse commands the router may
   * answer). The reset timeout starts anew; the router seen back after a
   * loss still probes at once. Opening is no state change reported: the
   * circuit was open already.
   */
  adopt(carry: BreakerCarry): void {
    this.#isRouterLost = carry.isRouterLost;
    this.#lostAt = carry.lostAt;
    this.#lossCountedAt = carry.lossCountedAt;
    this.#lastError = carry.lastError;
    if (carry.state === 'closed') return;
    this.#isAdopting = true;
    this.#circuit.open();
    this.#isAdopting = false;
    this.#isProbeOwed = carry.state === 'half-open';
  }

  /**
   * The stage can send now (it was wired into the pipeline): a half-open
   * circuit taken over by {@link adopt} sends its probe. Once.
   */
  sendOwedProbe(): void {
    if (!this.#isProbeOwed) return;
    this.#isProbeOwed = false;
    if (this.#state === 'open') this.#probeNow('half-open when the flow section was reloaded');
  }

  /** Stops opossum's timers; the breaker is not used again. */
  close(): void {
    this.#circuit.shutdown();
    this.#releaseHeld();
  }

  /** Settles the commands held while half-open: open or closed, a success changes nothing. */
  #releaseHeld(): void {
    for (const resolve of this.#held.splice(0)) resolve();
  }

  /** True the first time an error is seen: the commands lost with one session count once. */
  #isNew(error: RosgateError): boolean {
    if (this.#seen.has(error)) return false;
    this.#seen.add(error);
    return true;
  }

  #onFailure(err: RosgateError): void {
    this.#failures++;
    this.#lastError = err;
    const { code } = err;
    // Half-open, opossum opens the circuit itself on any failure.
    if (this.#state === 'half-open') this.#openReason = `failure while half-open (${code})`;
    if (this.#state !== 'closed') return;
    this.#rotate();
    const { failures, fires } = this.#circuit.stats;
    if (failures >= this.#options.threshold && fires >= this.#options.volumeThreshold) {
      this.#openReason = `${failures} failures in ${this.#options.monitoringMs}ms (last ${code})`;
      this.#circuit.open();
    }
  }

  #enter(to: BreakerState, reason: string): void {
    const from = this.#state;
    this.#state = to;
    this.#transitions[to === 'half-open' ? 'halfOpen' : to]++;
    this.#options.onStateChange({ router: this.#options.router, from, to, reason });
  }

  /** Drops the buckets that fell out of the window since the last use. */
  #rotate(): void {
    const steps = Math.floor((this.#options.now() - this.#rotatedAt) / this.#bucketMs);
    if (steps <= 0) return;
    for (let i = Math.min(steps, BUCKETS); i > 0; i--) this.#rotation.emit('rotate');
    this.#rotatedAt += steps * this.#bucketMs;
  }
}
