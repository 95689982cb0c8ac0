/** The flow-control stage: what app.ts, metrics and audit use. */
export * from './flow-stage.js';
export type { FlowTimers } from './flow-command.js';
export type { Priority, PriorityRule } from './priority-rules.js';
export {
  BREAKER_STATE_VALUE,
  isBreakerFailure,
  type BreakerState,
  type BreakerStateChange,
  type BreakerTransitions,
} from './router-breaker.js';
