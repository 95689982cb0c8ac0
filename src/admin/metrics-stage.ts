/**
 * The outermost stage: it sees every command and its end, and records the
 * duration, verb class and outcome, refusal codes, and the business figures.
 * It never changes what passes through.
 */
import { ErrorCode } from '../errors.js';
import { SinkDecorator, type Stage, type StageHandle } from '../pipeline.js';
import { activeUserCount, businessKindOf } from './business.js';
import type { Metrics } from './metrics.js';
import type { Outcome } from './traffic.js';
import { verbClassOf } from './verb-class.js';

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

function refusalOutcome(code: string): Outcome {
  if (code === ErrorCode.Interrupted) return 'cancelled';
  return FAILURE_CODES.has(code) ? 'error' : 'refused';
}

/** The metrics stage's own counters. */
export interface MetricsStageStats {
  /** Sentences a handler sent after a command's end: dropped, never passed on. */
  readonly droppedAfterEnd: number;
}

/**
 * Observes every command for `metrics`: `mikrotik_requests_total`,
 * `mikrotik_request_duration_seconds`, `mikrotik_request_errors_total`,
 * slow commands and the business figures. Put it first in the chain.
 */
export function createMetricsStage(metrics: Metrics): StageHandle<MetricsStageStats> {
  let droppedAfterEnd = 0;
  const stage: Stage = (next) => ({
    handle(context, sink) {
      const startedAt = metrics.now();
      const verbClass = verbClassOf(context.command);
      const business = businessKindOf(context);
      let rows = 0;
      let hasTrap = false;
      let isCancelled = false;
      const record = (outcome: Outcome, code?: string): void => {
        const at = metrics.now();
        metrics.recordCommand({
          router: context.router,
          path: context.path,
          verbClass,
          outcome,
          durationMs: at - startedAt,
          at,
          ...(code === undefined ? {} : { code }),
        });
      };
      const wrapped = new SinkDecorator(sink, {
        onReply(sentence) {
          if (sentence.command === '!re') rows += 1;
          else if (sentence.command === '!trap') hasTrap = true;
        },
        onEnd(end) {
          if (end.type === 'refused') {
            record(refusalOutcome(end.error.code), end.error.code);
            return;
          }
          const outcome = isCancelled ? 'cancelled' : hasTrap ? 'trap' : 'ok';
          record(outcome);
          if (outcome !== 'ok' || business === undefined) return;
          if (business === 'voucher') {
            metrics.countVoucher(context.router);
          } else {
            const count = activeUserCount(context.sentence, end.sentence, rows);
            if (count !== undefined) metrics.setActiveUsers(context.router, business, count);
          }
        },
        onDropped() {
          droppedAfterEnd++;
        },
      });
      const exchange = next.handle(context, wrapped);
      return {
        cancel(onAnswered) {
          isCancelled = true;
          exchange.cancel(onAnswered);
        },
      };
    },
  });
  return { stage, stats: () => ({ droppedAfterEnd }), close() {} };
}
