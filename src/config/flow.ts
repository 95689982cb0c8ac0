/**
 * The `flow` section: the flow-control stage (src/flow), which protects each
 * router with a token bucket, a fair priority queue, a concurrency cap, a
 * circuit breaker and command timeouts. Declared once as a zod schema.
 */
import { z } from 'zod';
import { MAX_TIMER_MS, env, setting } from './settings.js';

const ms = z.number().int().min(0).max(MAX_TIMER_MS);
const count = z.number().int().min(1);

/**
 * A priority rule: commands of `user` (any when absent) on menus matching
 * `path` (a glob: `*` is one path segment, `**` any number of them) with verb
 * `verb` (any when absent) get `priority`. The first matching rule wins;
 * commands no rule matches get the built-in priorities.
 */
const priorityRuleSchema = z
  .object({
    user: z.string().min(1).optional(),
    path: z.string().regex(/^\/\S*$/, 'must be a menu path glob starting with /'),
    verb: z.string().min(1).optional(),
    priority: z.enum(['high', 'normal', 'low']),
  })
  .strict();

/** The `flow` section's schema. */
export const flowSchema = z
  .object({
    /** The token bucket, and the queue where commands wait for a token or a slot. */
    rateLimit: z
      .object({
        /** Off, commands never wait for a token (they may still wait for a slot). @default true */
        enabled: env(z.boolean().default(true), 'ENABLE_RATE_LIMITING'),
        /** Tokens the bucket holds: the burst a router accepts at once. @default 100 */
        bucketSize: env(count.default(100), 'RATE_LIMIT_BUCKET_SIZE'),
        /** Tokens added every refillIntervalMs. @default 10 */
        refillTokens: env(count.default(10), 'RATE_LIMIT_REFILL_RATE'),
        /** @default 100 */
        refillIntervalMs: env(ms.min(1).default(100), 'RATE_LIMIT_REFILL_INTERVAL'),
        /** Most commands waiting per router; past it commands are refused. @default 1000 */
        maxQueue: setting(z.number().int().min(0).default(1000), {
          env: 'MAX_RATE_LIMIT_QUEUE',
          guideEnv: 'REQUEST_QUEUE_MAX_SIZE',
        }),
        /** Longest a command waits before it is refused. @default 30000 */
        maxWaitMs: ms.min(1).default(30_000),
      })
      .strict()
      .prefault({}),
    /** Priorities within a client's turn in the fair queue. */
    priority: z
      .object({
        /** Off, every command is `normal`; clients are still served in turn. @default true */
        enabled: env(z.boolean().default(true), 'ENABLE_PRIORITY_QUEUE'),
        /** A waiting command rises one level per agingMs waited, so low never starves. @default 5000 */
        agingMs: ms.min(1).default(5000),
        /** Rules checked before the built-in priorities. @default [] */
        rules: z.array(priorityRuleSchema).default(() => []),
      })
      .strict()
      .prefault({}),
    /** Most commands running on the router at once, across all clients. @default 16 */
    maxConcurrency: env(count.default(16), 'MAX_CONCURRENCY'),
    /** Whether streams (listen, follow, interval, monitor-traffic, ping, torch) take a slot. @default false */
    streamsHoldSlot: z.boolean().default(false),
    /** The circuit breaker (opossum), one per router. */
    breaker: z
      .object({
        /** @default true */
        enabled: env(z.boolean().default(true), 'ENABLE_CIRCUIT_BREAKER'),
        /** Failures within monitoringMs that open the circuit. @default 5 */
        threshold: env(count.default(5), 'CIRCUIT_BREAKER_THRESHOLD'),
        /** How long the circuit stays open before one probe may close it. @default 60000 */
        resetTimeoutMs: env(ms.min(1).default(60_000), 'CIRCUIT_BREAKER_TIMEOUT'),
        /** The rolling window failures are counted in. @default 10000 */
        monitoringMs: env(ms.min(10).default(10_000), 'CIRCUIT_BREAKER_MONITORING'),
        /** Fewest commands within monitoringMs before the circuit may open. @default 5 */
        volumeThreshold: count.default(5),
      })
      .strict()
      .prefault({}),
    /**
     * A command with no reply for this long is cancelled on the router and
     * refused. @default the router's timeoutMs
     */
    commandIdleTimeoutMs: setting(ms.min(1).optional(), { guideEnv: 'REQUEST_TIMEOUT' }),
    /** Longest a stream may run before it is cancelled; 0 never. @default 0 */
    maxStreamMs: ms.default(0),
    /** A command running longer than this is logged and counted as slow; 0 never. @default 5000 */
    slowCommandMs: env(ms.default(5000), 'SLOW_QUERY_THRESHOLD'),
  })
  .strict();

/** The validated `flow` section. */
export type FlowConfig = z.output<typeof flowSchema>;
