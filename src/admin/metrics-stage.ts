/**
 * The outermost stage: it sees every command and its end, and records the
 * duration, verb class and outcome, refusal codes, and the business figures.
 * It never changes what passes through.
 */
import { ErrorCode, type RosgateError } from '../errors.js';
import {
  SETTLED,
  toRosgateError,
  type CommandContext,
  type CommandHandler,
  type CommandSink,
  type Exchange,
  type Stage,
  type StageHandle,
} from '../pipeline.js';
import { isInterruptedCategory, type Sentence } from '../protocol/index.js';
import { activeUserCount, businessKindOf } from './business.js';
import type { Metrics } from './metrics.js';
import { OUTCOME_INDEX, verbClassIndex } from './traffic.js';
import { VERB_CLASSES, verbClassOf, type VerbClass } from './verb-class.js';

/** Refusal codes that mean something failed, rather than that rosgate said no. */
const FAILURE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.UpstreamClosed,
  ErrorCode.UpstreamTimeout,
  ErrorCode.UpstreamProtocol,
  ErrorCode.UpstreamLogin,
  ErrorCode.AcquireTimeout,
  ErrorCode.CommandTimeout,
  ErrorCode.Internal,
]);

function refusalOutcome(code: string): number {
  if (code === ErrorCode.Interrupted) return OUTCOME_INDEX.cancelled;
  return FAILURE_CODES.has(code) ? OUTCOME_INDEX.error : OUTCOME_INDEX.refused;
}

/** The metrics stage's own counters. */
export interface MetricsStageStats {
  /** Sentences a handler sent after a command's end: dropped, never passed on. */
  readonly droppedAfterEnd: number;
}

/** What the stage's commands share: the metrics and the stage's counters. */
interface StageState {
  readonly metrics: Metrics;
  droppedAfterEnd: number;
}

/**
 * One command on its way: the sink the handlers after the stage answer into
 * (passing everything on to the client's sink, nothing after the end, as a
 * `SinkDecorator` does) and the exchange the stage returns. One object per
 * command, counting into the router's tallies with plain arithmetic.
 */
class MeteredCommand implements CommandSink, Exchange {
  readonly #state: StageState;
  readonly #context: CommandContext;
  readonly #sink: CommandSink;
  readonly #startedAt: number;
  /** The command's verb class, as its index in VERB_CLASSES. */
  readonly #classIndex: number;
  #exchange: Exchange = SETTLED;
  #rows = 0;
  #hasTrap = false;
  /** A trap of category 2: the command was interrupted (cancelled), whoever asked. */
  #isInterrupted = false;
  #isEnded = false;

  constructor(state: StageState, context: CommandContext, sink: CommandSink) {
    this.#state = state;
    this.#context = context;
    this.#sink = sink;
    this.#startedAt = state.metrics.now();
    this.#classIndex = verbClassIndex(verbClassOf(context.command));
  }

  /** Sends the command on; returns this command's exchange. A handler that throws is a refusal, counted like one. */
  start(next: CommandHandler): Exchange {
    try {
      this.#exchange = next.handle(this.#context, this);
    } catch (err) {
      this.refuse(toRosgateError(err));
      return SETTLED;
    }
    return this;
  }

  cancel(onAnswered: () => void): void {
    // Asking is not cancelling: a command that ends before the cancel
    // reaches the router ran, and is counted by how it ended.
    this.#exchange.cancel(onAnswered);
  }

  reply(sentence: Sentence): void {
    if (this.#drops()) return;
    if (sentence.command === '!re') this.#rows += 1;
    else if (sentence.command === '!trap') {
      this.#hasTrap = true;
      if (isInterruptedCategory(sentence.attributeString('category'))) this.#isInterrupted = true;
    }
    this.#sink.reply(sentence);
  }

  done(sentence: Sentence): void {
    if (this.#drops()) return;
    this.#isEnded = true;
    try {
      const outcome = this.#isInterrupted
        ? OUTCOME_INDEX.cancelled
        : this.#hasTrap
          ? OUTCOME_INDEX.trap
          : OUTCOME_INDEX.ok;
      this.#record(outcome);
      if (outcome === OUTCOME_INDEX.ok) this.#countBusiness(sentence);
    } finally {
      this.#sink.done(sentence);
    }
  }

  refuse(error: RosgateError): void {
    if (this.#drops()) return;
    this.#isEnded = true;
    try {
      this.#record(refusalOutcome(error.code), error.code);
    } finally {
      this.#sink.refuse(error);
    }
  }

  #drops(): boolean {
    if (!this.#isEnded) return false;
    this.#state.droppedAfterEnd++;
    return true;
  }

  /** Counts the command's end: its outcome (an {@link OUTCOME_INDEX}) and a refusal's code. */
  #record(outcome: number, code?: string): void {
    const metrics = this.#state.metrics;
    const at = metrics.now();
    const durationMs = at - this.#startedAt;
    metrics.countFinished();
    const tally = metrics.commandTally(this.#context.router);
    if (code !== undefined) tally.countError(code);
    if (tally.record(this.#classIndex, outcome, durationMs)) {
      const verbClass = VERB_CLASSES[this.#classIndex] as VerbClass;
      const { router, command } = this.#context;
      metrics.traffic.listSlow(router, command.menu, verbClass, durationMs, at);
    }
  }

  /** The business figure a successful command feeds, if any. */
  #countBusiness(done: Sentence): void {
    const business = businessKindOf(this.#context);
    if (business === undefined) return;
    const { metrics } = this.#state;
    const router = this.#context.router;
    if (business === 'voucher') {
      metrics.countVoucher(router);
      return;
    }
    const count = activeUserCount(this.#context.sentence, done, this.#rows);
    if (count !== undefined) metrics.setActiveUsers(router, business, count);
  }
}

/**
 * Observes every command for `metrics`: `mikrotik_requests_total`,
 * `mikrotik_request_duration_seconds`, `mikrotik_request_errors_total`,
 * slow commands and the business figures. Put it first in the chain.
 */
export function createMetricsStage(metrics: Metrics): StageHandle<MetricsStageStats> {
  const state: StageState = { metrics, droppedAfterEnd: 0 };
  const stage: Stage = (next) => ({
    handle(context, sink) {
      return new MeteredCommand(state, context, sink).start(next);
    },
  });
  return { stage, stats: () => ({ droppedAfterEnd: state.droppedAfterEnd }), close() {} };
}
