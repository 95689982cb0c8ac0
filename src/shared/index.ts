/**
 * Shared state of a rosgate group through Redis: one replica's
 * {@link SharedGroup} and the per-router primitives it makes. See README.md.
 */
export {
  BreakerView,
  type BreakerViewOptions,
  type GroupMember,
  type LocalBreaker,
  type ReplicaBreaker,
} from './breaker-view.js';
export {
  FLUSH_ALL,
  InvalidationBus,
  type FlushEvent,
  type FlushReason,
  type InvalidationBusEvents,
  type InvalidationBusOptions,
  type InvalidationBusStats,
  type InvalidationEvent,
} from './invalidation-bus.js';
export {
  ListenLease,
  type ListenLeaseEvents,
  type ListenLeaseOptions,
  type ListenLeaseRole,
  type ListenLeaseStats,
} from './listen-lease.js';
export { LuaScript, type SendCommand } from './lua-script.js';
export { menusVersion } from './menu-versions.js';
export type { BucketShape, RateBucket } from './rate-bucket.js';
export {
  connectNodeRedis,
  type RedisClusterOptions,
  type RedisConnection,
  type RedisConnectionOptions,
  type RedisSentinelOptions,
} from './redis-connection.js';
export {
  SessionBudget,
  type SessionBudgetOptions,
  type SessionBudgetStats,
  type SessionTicket,
} from './session-budget.js';
export {
  SharedGroup,
  type SharedGroupEvents,
  type SharedGroupOptions,
  type SharedStats,
} from './shared-group.js';
export type { SharedCounters, SharedLink, SharedLogger, SharedTimers } from './shared-link.js';
export {
  SharedLockout,
  type ClearedLock,
  type LockoutScope,
  type LockoutState,
  type SharedLockoutFilter,
  type SharedLockoutOptions,
  type SharedLockoutStats,
} from './shared-lockout.js';
export {
  SharedTokenBucket,
  type SharedBucketStats,
  type SharedTokenBucketOptions,
} from './shared-token-bucket.js';
