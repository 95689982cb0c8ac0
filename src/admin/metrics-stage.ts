/**
 * The outermost stage: it sees every command and its end, and records the
 * duration, verb class and outcome, refusal codes, and the business figures.
 * It never changes what passes through.
 */
import { ErrorCode } from '../errors.js';
import type { Stage } from '../pipeline.js';
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

/**
 * Observes every command for `metrics`: `mikrotik_requests_total`,
 * `mikrotik_request_duration_seconds`, `mikrotik_request_errors_total`,
 * slow commands and the business figures. Put it first in the chain.
 */
export function createMetricsStage(metrics: Metrics): Stage {
  return (next) => ({
    handle(context, sink) {
      const startedAt = metrics.now();
      const verbClass = verbClassOf(context.command);
      const business = businessKindOf(context);
      let rows = 0;
      let hasTrap = false;
      let isCancelled = false;
      let isEnded = false;
      const end = (outcome: Outcome, code?: string): boolean => {
        if (isEnded) return false;
        isEnded = true;
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
        return true;
      };
      const exchange = next.handle(context, {
        reply(sentence) {
          if (sentence.command === '!re') rows += 1;
          else if (sentence.command === '!trap') hasTrap = true;
          sink.reply(sentence);
        },
        done(sentence) {
          const outcome = isCancelled ? 'cancelled' : hasTrap ? 'trap' : 'ok';
          if (end(outcome) && outcome === 'ok' && business !== undefined) {
            if (business === 'voucher') {
              metrics.countVoucher(context.router);
            } else {
              const count = activeUserCount(context.sentence, sentence, rows);
              if (count !== undefined) metrics.setActiveUsers(context.router, business, count);
            }
          }
          sink.done(sentence);
        },
        refuse(error) {
          end(refusalOutcome(error.code), error.code);
          sink.refuse(error);
        },
      });
      return {
        cancel(onAnswered) {
          isCancelled = true;
          exchange.cancel(onAnswered);
        },
      };
    },
  });
}
