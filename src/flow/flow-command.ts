import { ErrorCode, RosgateError } from '../errors.js';
import {
  SETTLED,
  SinkDecorator,
  answerInterrupted,
  toRosgateError,
  type CommandOutcome,
  type CommandContext,
  type CommandHandler,
  type CommandSink,
  type Exchange,
} from '../pipeline.js';
import type { Sentence } from '../protocol/index.js';
import type { Priority } from './priority-rules.js';
import type { QueueEntry } from './fair-queue.js';
import { isBreakerFailure, type Settle } from './router-breaker.js';

/** Timer functions the flow stage schedules with; tests inject their own. */
export interface FlowTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What every command of one flow stage shares. */
export interface FlowCommandHost {
  readonly now: () => number;
  readonly timers: FlowTimers;
  /** A command (not a stream) with no reply for this long is cancelled and refused. */
  readonly idleTimeoutMs: number;
  /** A stream running this long is cancelled and refused; 0 never. */
  readonly maxStreamMs: number;
  /** Takes a waiting command out of the queue (its client cancelled it). */
  withdraw(command: FlowCommand): void;
  /** Something threw where no caller can take the error (a timer, a sink); it is logged. */
  report(err: unknown, command: FlowCommand): void;
}

/**
 * How a command ended: `error` is its refusal (none when the router
 * answered), `isFailure` whether that counts against the breaker.
 */
export type EndedCallback = (
  error: RosgateError | undefined,
  isFailure: boolean,
  command: FlowCommand,
) => void;

/** Options of a {@link FlowCommand}. */
export interface FlowCommandOptions {
  readonly context: CommandContext;
  readonly sink: CommandSink;
  readonly priority: Priority;
  readonly isStream: boolean;
  /** Whether it counts against the concurrency cap while it runs. */
  readonly holdsSlot: boolean;
  readonly host: FlowCommandHost;
}

function ignore(): void {}

/**
 * One command inside the flow stage: waiting in the queue, then running on
 * the router. It is the sink the next handler answers into, so it sees the
 * outcome (answered, refused, failed) and every reply (the idle timer), and
 * the exchange the session cancels through. As a {@link SinkDecorator}, it
 * passes nothing on after the command's end, whoever ended it (the router,
 * a timeout, a withdrawal).
 */
export class FlowCommand extends SinkDecorator implements Exchange {
  readonly context: CommandContext;
  readonly priority: Priority;
  readonly isStream: boolean;
  readonly holdsSlot: boolean;
  /** Its place in the queue while it waits. */
  entry: QueueEntry<FlowCommand> | undefined;
  state: 'waiting' | 'running' | 'ended' = 'waiting';
  /** When it was sent on (ms). */
  startedAt = 0;
  /** True when rosgate cut it (idle timeout, stream limit). */
  hasTimedOut = false;
  /** True once its client cancelled it while it ran: its end is no verdict on the router. */
  isCancelled = false;
  /** What the breaker is told of the command's end; undefined without a breaker. */
  settle: Settle | undefined = undefined;
  #host: FlowCommandHost;
  #inner: Exchange = SETTLED;
  #onEnded: EndedCallback = ignore;
  #timer: unknown;
  #lastActivityAt = 0;
  /** Set by a timeout: whether its refusal counts against the breaker. */
  #timeoutIsFailure: boolean | undefined;

  constructor(options: FlowCommandOptions) {
    super(options.sink);
    this.context = options.context;
    this.priority = options.priority;
    this.isStream = options.isStream;
    this.holdsSlot = options.holdsSlot;
    this.#host = options.host;
  }

  /** Sends the command on through `next`; `onEnded` runs once, when it ends. */
  run(next: CommandHandler, onEnded: EndedCallback): void {
    this.state = 'running';
    this.#onEnded = onEnded;
    this.startedAt = this.#lastActivityAt = this.#host.now();
    const { idleTimeoutMs, maxStreamMs } = this.#host;
    if (!this.isStream) this.#arm(idleTimeoutMs);
    else if (maxStreamMs > 0) this.#arm(maxStreamMs);
    try {
      this.#inner = next.handle(this.context, this);
    } catch (err) {
      if (!this.isEnded) this.refuse(toRosgateError(err));
      else this.#host.report(err, this);
    }
  }

  /**
   * A waiting command goes on waiting in the stage that replaces its own (a
   * `flow` reload): that stage's queue withdraws it, and it runs on that
   * stage's timeouts.
   */
  moveTo(host: FlowCommandHost): void {
    this.#host = host;
  }

  /** Ends a waiting command with a refusal (queue wait over, circuit opened, shutdown). */
  dismiss(error: RosgateError): void {
    try {
      this.refuse(error);
    } catch (err) {
      this.#host.report(err, this);
    }
  }

  protected override onReply(_sentence: Sentence): void {
    this.#lastActivityAt = this.#host.now();
  }

  /** The end of a running command frees what it holds; a waiting one held nothing. */
  protected override onEnd(outcome: CommandOutcome): void {
    const wasRunning = this.state === 'running';
    this.state = 'ended';
    if (!wasRunning) return;
    if (this.#timer !== undefined) this.#host.timers.clearTimeout(this.#timer);
    if (outcome.type === 'done') {
      this.#onEnded(undefined, false, this);
      return;
    }
    const { error } = outcome;
    this.#onEnded(error, this.#timeoutIsFailure ?? isBreakerFailure(error), this);
  }

  /**
   * Waiting: leaves the queue and gets the router's own answer to a cancel,
   * `interrupted` then `!done` (docs/routeros-api.md §5), without reaching the
   * router. Running: cancelled on the router by the next handler.
   */
  cancel(onAnswered: () => void): void {
    if (this.state === 'running') {
      this.isCancelled = true;
      this.#inner.cancel(onAnswered);
      return;
    }
    if (this.state === 'waiting') {
      this.#host.withdraw(this);
      answerInterrupted(this);
    }
    onAnswered();
  }

  #arm(ms: number): void {
    this.#timer = this.#host.timers.setTimeout(() => this.#onTimer(), ms);
  }

  #onTimer(): void {
    this.#timer = undefined;
    try {
      if (this.isStream) {
        this.#timeOut(`stream stopped after ${this.#host.maxStreamMs}ms (maxStreamMs)`, false);
        return;
      }
      const idleMs = this.#host.now() - this.#lastActivityAt;
      if (idleMs < this.#host.idleTimeoutMs) this.#arm(this.#host.idleTimeoutMs - idleMs);
      else this.#timeOut('router did not answer in time', true);
    } catch (err) {
      this.#host.report(err, this);
    }
  }

  /**
   * Refuses the command and cancels it on the router; whatever the router
   * still sends for it is swallowed (the state is `ended`). A stream cut by
   * `maxStreamMs` is rosgate's choice, not a router failure.
   */
  #timeOut(message: string, isFailure: boolean): void {
    this.hasTimedOut = true;
    this.#timeoutIsFailure = isFailure;
    const error = new RosgateError(ErrorCode.CommandTimeout, message, {
      details: { router: this.context.router, path: this.context.command.menu },
    });
    try {
      this.refuse(error);
    } finally {
      this.#inner.cancel(ignore);
    }
  }
}
