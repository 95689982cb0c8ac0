export * from './admin-server.js';
export * from './audit-query.js';
export * from './business-poller.js';
export * from './lockouts.js';
export * from './metrics.js';
export * from './metrics-stage.js';
export * from './sources.js';
export type { CommandRecord, Outcome, SlowCommand } from './traffic.js';
export { VERB_CLASSES, type VerbClass } from './verb-class.js';
