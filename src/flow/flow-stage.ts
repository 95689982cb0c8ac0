import type { Logger } from 'pino';
import type { FlowConfig } from '../config/flow.js';
import { ErrorCode, RosgateError } from '../errors.js';
import { routerLogger } from '../logger.js';
import {
  SETTLED,
  describeCommand,
  type CommandContext,
  type CommandHandler,
  type CommandSink,
  type Exchange,
  type Stage,
  type StageHandle,
} from '../pipeline.js';
import { Sentence } from '../protocol/index.js';
import { FairQueue } from './fair-queue.js';
import {
  FlowCommand,
  type EndedCallback,
  type FlowCommandHost,
  type FlowTimers,
} from './flow-command.js';
import { PriorityRules, type Priority } from './priority-rules.js';
import {
  BREAKER_STATE_VALUE,
  RouterBreaker,
  type BreakerState,
  type BreakerStateChange,
  type BreakerCarry,
  type BreakerTransitions,
  type Outcome,
} from './router-breaker.js';
import { TokenBucket, type RateLimiter } from './token-bucket.js';
import { monotonicNow } from '../clock.js';

/** Options of {@link createFlowStage}: one flow stage per router. */
export interface FlowStageOptions {
  /** The router's configured name. */
  readonly router: string;
  /** The `flow` config section. */
  readonly config: FlowConfig;
  /** The router's `timeoutMs`: the idle timeout when `flow.commandIdleTimeoutMs` is unset. */
  readonly routerTimeoutMs: number;
  readonly logger: Logger;
  /** Called on every breaker state change (audit). */
  readonly onStateChange?: (change: BreakerStateChange) => void;
  /** The clock (ms). @default monotonicNow (src/clock.ts: steps of the wall clock do not move it) */
  readonly now?: () => number;
  /** @default the global setTimeout/clearTimeout */
  readonly timers?: FlowTimers;
  /**
   * The rate limiter instead of a local TokenBucket when `rateLimit` is on
   * (a group's shared bucket); it calls `onAvailable` when tokens may have
   * come, and the queue is pumped. Closed with the stage.
   */
  readonly rateBucket?: (onAvailable: () => void) => RateLimiter;
  /** What the stage this one replaces (a `flow` reload) hands over: {@link FlowStage.handOver}. */
  readonly previous?: FlowHandOver;
}

/** What a flow stage built on a reload takes over from the one it replaces. */
export interface FlowHandOver {
  /** The breaker's state and what it knew of the router; none without a breaker. */
  readonly breaker: BreakerCarry | undefined;
  /** The local bucket's tokens; none without one (off, or a group's shared bucket). */
  readonly tokens: number | undefined;
  /**
   * The router's concurrency slots: the commands the old stage still runs
   * keep theirs, so a reload is no burst past `maxConcurrency`. None: fresh ones.
   */
  readonly slots?: RouterSlots;
  /** What waited in the old stage, oldest first: it waits on in the new one, in order. */
  readonly waiting?: readonly FlowCommand[];
}

/**
 * A router's concurrency slots, one count for its flow stage and the stages
 * it replaced that still run commands: a command holds its slot until it
 * ends, whichever stage sent it, and the slot it frees goes to what waits in
 * the stage in force.
 */
export interface RouterSlots {
  /** Slots held now, across the router's stages. */
  inUse: number;
  /** Serves what waits in the stage in force (a slot was freed). */
  pump: () => void;
}

/** Counters of one router's flow stage, for the metrics. */
export interface FlowStats {
  readonly router: string;
  /** Commands waiting now, by priority. */
  readonly queued: Readonly<Record<Priority, number>>;
  /** Commands that waited in the queue before they were sent, by priority. */
  readonly waits: Readonly<Record<Priority, number>>;
  /** Milliseconds those commands waited, summed, by priority. */
  readonly waitMsTotal: Readonly<Record<Priority, number>>;
  /** Commands refused by the stage, by reason. */
  readonly refusals: Readonly<{ queueFull: number; waitTimeout: number; breakerOpen: number }>;
  /** Tokens in the bucket (the bucket size when rate limiting is off). */
  readonly tokens: number;
  /** Commands this stage runs that hold a concurrency slot. */
  readonly inFlight: number;
  /**
   * Slots held on the router: this stage's and those of the stages it
   * replaced that still finish commands (a reload). What the gauge shows.
   */
  readonly slotsInUse: number;
  /** Streams running without a slot. */
  readonly streams: number;
  /** 0 closed, 1 open, 2 half-open. */
  readonly breakerState: 0 | 1 | 2;
  readonly breakerTransitions: BreakerTransitions;
  /** Failures the breaker counted. */
  readonly breakerFailures: number;
  /** Commands cut by the idle timeout or `maxStreamMs`. */
  readonly timeouts: number;
  /** Commands that ran longer than `slowCommandMs`. */
  readonly slowCommands: number;
}

/** What app.ts holds of a router's flow stage. */
export interface FlowStage extends StageHandle<FlowStats> {
  /** The stage to compose, between cache and upstream. */
  readonly stage: Stage;
  stats(): FlowStats;
  readonly breakerState: BreakerState;
  /**
   * The pool lost its way to the router: a session it did not close ended,
   * or one could not connect or log in. One loss of the router counts once,
   * however many sessions and commands went with it.
   */
  routerLost(error: RosgateError): void;
  /**
   * The pool saw the router answer (`evidence`: a session logged in, a
   * health probe was answered). After a loss, an open circuit turns
   * half-open at once and its probe decides.
   */
  routerReachable(evidence: string): void;
  /**
   * What a stage replacing this one takes over (an open circuit stays open,
   * the bucket's tokens stay spent, the slots of running commands stay
   * taken), so a reload during an outage or a burst is neither a fresh
   * circuit, nor a full bucket, nor free slots. What waits here moves to the
   * new stage: from then on this stage only finishes what it runs.
   */
  handOver(): FlowHandOver;
  /** Refuses what waits and stops the timers. */
  close(): void;
}

/**
 * The flow-control stage of one router: a fair priority queue in
 * front of a token bucket and a concurrency cap, a circuit breaker, and
 * command timeouts. Commands wait only when they must; a command that finds
 * the queue empty, a token and a slot goes straight on.
 *
 * - Open or half-open, the breaker refuses every command at once (they do
 *   not wait for the probe); opening also refuses everything queued. The
 *   probe skips the queue, the bucket and the cap.
 * - A command cut by the idle timeout frees its slot at once, though the
 *   router may still be working on it: a router that stopped answering
 *   must not hold every slot until its connection dies.
 * - Apply `stage` once, for this router's chain.
 */
export function createFlowStage(options: FlowStageOptions): FlowStage {
  return new FlowControl(options);
}

const NO_TRANSITIONS: BreakerTransitions = Object.freeze({ open: 0, halfOpen: 0, closed: 0 });

/** Where the stage sends its probe's answer: nowhere, the outcome is all it needs. */
const PROBE_SINK: CommandSink = Object.freeze({
  reply() {},
  done() {},
  refuse() {},
});

const PROBE_COMMAND = '/system/identity/print';

const NOT_WIRED: CommandHandler = {
  handle(_context, sink) {
    sink.refuse(new RosgateError(ErrorCode.Internal, 'flow stage is not wired'));
    return SETTLED;
  },
};

const globalTimers: FlowTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What the breaker is told of a command's end. */
function outcomeOf(
  command: FlowCommand,
  error: RosgateError | undefined,
  isFailure: boolean,
): Outcome {
  if (isFailure) return error as RosgateError;
  // After a cancel, even a `!done` may be rosgate's own answer (a withdrawal).
  return error === undefined && !command.isCancelled ? 'answered' : 'neither';
}

/** What a command's log lines say of it. */
function logFields(command: FlowCommand): { connId: number; cmd: string; path: string } {
  const { context } = command;
  return { connId: context.clientId, cmd: context.sentence.command, path: context.command.menu };
}

class FlowControl implements FlowStage, CommandHandler {
  readonly stage: Stage = (next) => {
    this.#next = next;
    this.#breaker?.sendOwedProbe();
    // What a reload handed over may go once there is somewhere to send it.
    this.#pump();
    return this;
  };
  readonly #router: string;
  readonly #config: FlowConfig;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #timers: FlowTimers;
  readonly #onStateChange: ((change: BreakerStateChange) => void) | undefined;
  readonly #host: FlowCommandHost;
  readonly #queue: FairQueue<FlowCommand>;
  readonly #bucket: RateLimiter | undefined;
  readonly #rules: PriorityRules | undefined;
  readonly #breaker: RouterBreaker | undefined;
  readonly #slots: RouterSlots;
  #next: CommandHandler = NOT_WIRED;
  #inFlight = 0;
  #streams = 0;
  readonly #waits = { high: 0, normal: 0, low: 0 };
  readonly #waitMsTotal = { high: 0, normal: 0, low: 0 };
  readonly #refusals = { queueFull: 0, waitTimeout: 0, breakerOpen: 0 };
  #timeouts = 0;
  #slowCommands = 0;
  #wake: unknown;
  #wakeAt = Infinity;
  #isPumping = false;
  #isClosed = false;

  constructor(options: FlowStageOptions) {
    const { config } = options;
    this.#router = options.router;
    this.#config = config;
    this.#logger = routerLogger(options.logger, options.router);
    this.#now = options.now ?? monotonicNow;
    this.#timers = options.timers ?? globalTimers;
    this.#onStateChange = options.onStateChange;
    this.#host = {
      now: this.#now,
      timers: this.#timers,
      idleTimeoutMs: config.commandIdleTimeoutMs ?? options.routerTimeoutMs,
      maxStreamMs: config.maxStreamMs,
      withdraw: (command) => {
        this.#queue.remove(command.entry as NonNullable<FlowCommand['entry']>);
        this.#pump();
      },
      report: (err, command) => {
        this.#logger.error({ err, connId: command.context.clientId }, 'flow: a callback threw');
      },
    };
    this.#queue = new FairQueue({ agingMs: config.priority.agingMs });
    if (config.rateLimit.enabled && options.rateBucket !== undefined) {
      this.#bucket = options.rateBucket(() => this.#pump());
    } else if (config.rateLimit.enabled) {
      this.#bucket = new TokenBucket({
        capacity: config.rateLimit.bucketSize,
        refillTokens: config.rateLimit.refillTokens,
        refillIntervalMs: config.rateLimit.refillIntervalMs,
        ...(options.previous?.tokens === undefined ? {} : { tokens: options.previous.tokens }),
        now: this.#now,
      });
    }
    if (config.priority.enabled) this.#rules = new PriorityRules(config.priority.rules);
    if (config.breaker.enabled) {
      this.#breaker = new RouterBreaker({
        router: options.router,
        ...config.breaker,
        now: this.#now,
        probe: () => this.#probe(),
        onStateChange: (change) => this.#breakerChanged(change),
      });
      if (options.previous?.breaker !== undefined) this.#breaker.adopt(options.previous.breaker);
    }
    // One count for the router: the replaced stage's commands keep their
    // slots, and the slots they free are this stage's to give.
    const pump = (): void => this.#pump();
    this.#slots = options.previous?.slots ?? { inUse: 0, pump };
    this.#slots.pump = pump;
    for (const command of options.previous?.waiting ?? []) {
      const { enqueuedAt } = command.entry as NonNullable<FlowCommand['entry']>;
      command.moveTo(this.#host);
      command.entry = this.#queue.push(
        command,
        command.context.clientId,
        command.priority,
        enqueuedAt,
      );
    }
  }

  get breakerState(): BreakerState {
    return this.#breaker?.state ?? 'closed';
  }

  handle(context: CommandContext, sink: CommandSink): Exchange {
    if (this.#isClosed) {
      sink.refuse(new RosgateError(ErrorCode.ShuttingDown, 'rosgate is shutting down'));
      return SETTLED;
    }
    if (this.#breaker !== undefined && !this.#breaker.isClosed) {
      this.#refusals.breakerOpen++;
      sink.refuse(this.#breaker.openError());
      return SETTLED;
    }
    const { isStream } = context.command;
    let priority: Priority = 'normal';
    if (this.#rules !== undefined)
      priority = context.notes.priority = this.#rules.classify(context);
    const command = new FlowCommand({
      context,
      sink,
      priority,
      isStream,
      holdsSlot: !isStream || this.#config.streamsHoldSlot,
      host: this.#host,
    });
    if (this.#queue.size === 0 && this.#hasSlotFor(command) && this.#takeToken()) {
      this.#start(command);
      return command;
    }
    if (this.#queue.size >= this.#config.rateLimit.maxQueue) {
      this.#refusals.queueFull++;
      sink.refuse(
        new RosgateError(
          ErrorCode.RateLimited,
          `rate limited: queue full (${this.#queue.size} waiting)`,
          { details: { router: this.#router, reason: 'queueFull' } },
        ),
      );
      return SETTLED;
    }
    command.entry = this.#queue.push(command, context.clientId, priority, this.#now());
    this.#pump();
    return command;
  }

  stats(): FlowStats {
    const breaker = this.#breaker;
    return {
      router: this.#router,
      queued: {
        high: this.#queue.sizeOf('high'),
        normal: this.#queue.sizeOf('normal'),
        low: this.#queue.sizeOf('low'),
      },
      waits: { ...this.#waits },
      waitMsTotal: { ...this.#waitMsTotal },
      refusals: { ...this.#refusals },
      tokens: this.#bucket?.tokens ?? this.#config.rateLimit.bucketSize,
      inFlight: this.#inFlight,
      slotsInUse: this.#slots.inUse,
      streams: this.#streams,
      breakerState: BREAKER_STATE_VALUE[this.breakerState],
      breakerTransitions: breaker?.transitions ?? NO_TRANSITIONS,
      breakerFailures: breaker?.failures ?? 0,
      timeouts: this.#timeouts,
      slowCommands: this.#slowCommands,
    };
  }

  routerLost(error: RosgateError): void {
    this.#breaker?.routerLost(error);
  }

  routerReachable(evidence: string): void {
    this.#breaker?.routerReachable(evidence);
  }

  handOver(): FlowHandOver {
    const waiting = this.#queue.drain();
    this.#pump(); // nothing waits here any more: no wake-up either
    return {
      breaker: this.#breaker?.carry(),
      tokens: this.#bucket instanceof TokenBucket ? this.#bucket.tokens : undefined,
      slots: this.#slots,
      waiting,
    };
  }

  close(): void {
    this.#isClosed = true;
    this.#breaker?.close();
    this.#bucket?.close?.();
    const error = new RosgateError(ErrorCode.ShuttingDown, 'rosgate is shutting down');
    for (const command of this.#queue.drain()) command.dismiss(error);
    this.#pump();
  }

  #hasSlotFor(command: FlowCommand): boolean {
    return !command.holdsSlot || this.#slots.inUse < this.#config.maxConcurrency;
  }

  #takeToken(): boolean {
    return this.#bucket === undefined || this.#bucket.tryTake();
  }

  #start(command: FlowCommand): void {
    if (command.holdsSlot) {
      this.#inFlight++;
      this.#slots.inUse++;
    } else this.#streams++;
    command.settle = this.#breaker?.track();
    command.run(this.#next, this.#onEnded);
  }

  /** One callback for every command (no closure per command: issue 19). */
  readonly #onEnded: EndedCallback = (error, isFailure, command) =>
    this.#ended(command as FlowCommand, error, isFailure);

  #ended(command: FlowCommand, error: RosgateError | undefined, isFailure: boolean): void {
    if (command.holdsSlot) {
      this.#inFlight--;
      this.#slots.inUse--;
    } else this.#streams--;
    command.settle?.(outcomeOf(command, error, isFailure));
    const durationMs = this.#now() - command.startedAt;
    if (command.hasTimedOut) {
      this.#timeouts++;
      this.#logger.warn({ ...logFields(command), durationMs }, 'command timed out');
    } else if (
      !command.isStream &&
      this.#config.slowCommandMs > 0 &&
      durationMs > this.#config.slowCommandMs
    ) {
      this.#slowCommands++;
      this.#logger.warn({ ...logFields(command), durationMs }, 'slow command');
    }
    // The stage in force: after a reload, what this one ran frees slots for the new one.
    this.#slots.pump();
  }

  /**
   * Sends what may go now, in the queue's fair order, then sets one timer for
   * the next event: a token, or the oldest wait running out. Re-entry (a
   * command that ends while it is being sent) is left to the loop running.
   */
  #pump(): void {
    if (this.#isPumping) return;
    // Nothing waits (every command of a flow without a limit): nothing to wake for either.
    if (this.#queue.size === 0) {
      this.#clearWake();
      return;
    }
    this.#isPumping = true;
    try {
      const now = this.#now();
      this.#expire(now);
      let isWaitingForToken = false;
      for (let entry = this.#queue.next(now); entry !== undefined; entry = this.#queue.next(now)) {
        const command = entry.item;
        if (!this.#hasSlotFor(command)) break;
        if (!this.#takeToken()) {
          isWaitingForToken = true;
          break;
        }
        this.#queue.take(entry);
        const waitedMs = now - entry.enqueuedAt;
        this.#waits[command.priority]++;
        this.#waitMsTotal[command.priority] += waitedMs;
        command.context.notes.queuedMs = waitedMs;
        this.#start(command);
      }
      this.#schedule(now, isWaitingForToken);
    } finally {
      this.#isPumping = false;
    }
  }

  /** Refuses the commands that waited `maxWaitMs`. */
  #expire(now: number): void {
    const { maxWaitMs } = this.#config.rateLimit;
    for (
      let entry = this.#queue.oldest();
      entry !== undefined && now - entry.enqueuedAt >= maxWaitMs;
      entry = this.#queue.oldest()
    ) {
      this.#queue.remove(entry);
      this.#refusals.waitTimeout++;
      entry.item.dismiss(
        new RosgateError(
          ErrorCode.RateLimited,
          `rate limited: waited ${now - entry.enqueuedAt}ms`,
          {
            details: { router: this.#router, reason: 'waitTimeout' },
          },
        ),
      );
    }
  }

  #schedule(now: number, isWaitingForToken: boolean): void {
    const oldest = this.#queue.oldest();
    if (oldest === undefined) {
      this.#clearWake();
      return;
    }
    let wakeAt = oldest.enqueuedAt + this.#config.rateLimit.maxWaitMs;
    if (isWaitingForToken)
      wakeAt = Math.min(wakeAt, now + (this.#bucket as RateLimiter).msUntilNext());
    if (wakeAt >= this.#wakeAt) return;
    this.#clearWake();
    this.#wakeAt = wakeAt;
    this.#wake = this.#timers.setTimeout(this.#onWake, wakeAt - now);
  }

  readonly #onWake = (): void => {
    this.#wake = undefined;
    this.#wakeAt = Infinity;
    this.#pump();
  };

  #clearWake(): void {
    if (this.#wake === undefined) return;
    this.#timers.clearTimeout(this.#wake);
    this.#wake = undefined;
    this.#wakeAt = Infinity;
  }

  /**
   * The half-open probe: an identity print sent straight on (no token, no
   * slot), answered by the router or not within the idle timeout.
   */
  #probe(): Promise<void> {
    return new Promise((resolve, reject) => {
      const sentence = Sentence.from([PROBE_COMMAND]);
      const command = new FlowCommand({
        context: {
          router: this.#router,
          user: 'rosgate',
          clientId: 0,
          address: '',
          ...describeCommand(sentence),
          receivedAt: this.#now(),
          notes: {},
        },
        sink: PROBE_SINK,
        priority: 'high',
        isStream: false,
        holdsSlot: false,
        host: this.#host,
      });
      command.run(this.#next, (error) => (error === undefined ? resolve() : reject(error)));
    });
  }

  /** Logs, counts and reports a state change; opening refuses everything waiting. */
  #breakerChanged(change: BreakerStateChange): void {
    const { from, to, reason } = change;
    this.#logger[to === 'closed' ? 'info' : 'warn']({ from, to, reason }, 'circuit breaker');
    if (to === 'open') {
      const breaker = this.#breaker as RouterBreaker;
      for (const command of this.#queue.drain()) {
        this.#refusals.breakerOpen++;
        command.dismiss(breaker.openError());
      }
      this.#pump();
    }
    try {
      this.#onStateChange?.(change);
    } catch (err) {
      this.#logger.error({ err }, 'flow: onStateChange threw');
    }
  }
}
