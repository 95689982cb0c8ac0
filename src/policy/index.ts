export {
  createPolicyStage,
  SCRIPT_ESCALATION,
  type PolicyStage,
  type PolicyStageOptions,
} from './policy-stage.js';
export {
  createLoginGate,
  type GroupLockout,
  type Lockout,
  type LockoutEvent,
  type LockoutFilter,
  type LockoutScope,
  type LockoutGate,
  type LoginGateOptions,
  type LoginGateStats,
} from './login-gate.js';
export type { DecisionCount, PolicyStats, RouterPolicyStats, Verdict } from './policy-stats.js';
export { DEFAULT_DENY, type RuleAction } from './rule-set.js';
export { FlagReason } from './threat-markers.js';
