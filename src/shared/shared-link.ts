/**
 * The seam between the shared primitives (rate bucket, session budget,
 * lockout, invalidation bus) and the Redis connection. A {@link SharedGroup}
 * is the real one; the primitives see only this, so each can be tested on
 * its own and the group can change how it talks to Redis (Cluster, Sentinel).
 */
import type { LuaScript } from './lua-script.js';
import type { RouterRides } from './rides.js';

/** The timers the shared state uses (injected in tests). */
export interface SharedTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The logger calls the shared state makes; a pino logger fits. */
export interface SharedLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Counters of the group, for the admin module's `rosgate_shared_*` metrics. */
export interface SharedCounters {
  /** Commands sent to Redis (a script is one; heartbeats included). */
  roundTrips: number;
  /** Commands that got no answer within the operation timeout. */
  timeouts: number;
  /** Commands that failed (connection lost, or an error reply). */
  errors: number;
  /** Operations answered locally because Redis was down or did not answer. */
  fallbacks: number;
  /** Token leases granted by Redis. */
  leases: number;
  /** Tokens those leases held. */
  leasedTokens: number;
  /** Invalidations this replica published. */
  invalidationsSent: number;
  /** Invalidations from other replicas this replica applied. */
  invalidationsReceived: number;
  /** Times a receiver had to flush everything (the log did not reach back). */
  flushes: number;
  /** Lockout counts and locks taken during an outage, re-published to Redis. */
  republished: number;
}

/** Counters at zero, for a new group (or a stand-in for one). */
export function zeroCounters(): SharedCounters {
  return {
    roundTrips: 0,
    timeouts: 0,
    errors: 0,
    fallbacks: 0,
    leases: 0,
    leasedTokens: 0,
    invalidationsSent: 0,
    invalidationsReceived: 0,
    flushes: 0,
    republished: 0,
  };
}

/** What the primitives need of the group. */
export interface SharedLink {
  /** This replica's id (no `:`). */
  readonly replicaId: string;
  /** True while Redis answers. */
  readonly isUp: boolean;
  /** Live replicas last seen (1 before Redis was ever reached). */
  readonly replicas: number;
  readonly timers: SharedTimers;
  readonly logger: SharedLogger | undefined;
  readonly counters: SharedCounters;
  /** The local clock (ms), for what the replica keeps itself. */
  now(): number;
  /** The clock override the scripts get as ARGV[1]: '' in production. */
  scriptClock(): string;
  /** `<prefix>{<router>}:<suffix>`: every key of a router in one Cluster slot. */
  key(router: string, suffix: string): string;
  /** Where `router`'s lease requests ride on its publishes (one per router and replica). */
  rides(router: string): RouterRides;
  /**
   * Runs a script; undefined when Redis is down, fails or does not answer
   * within the operation timeout (then the group goes down). Never rejects.
   */
  run(
    script: LuaScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown>;
  /** One plain command, with the same promise as {@link SharedLink.run}. */
  send(args: readonly string[]): Promise<unknown>;
  /** Calls `listener` on every change between up and down; returns how to stop. */
  onStateChange(listener: (isUp: boolean) => void): () => void;
  /** Runs `task` with every heartbeat while Redis is up (renewals); returns how to stop. */
  onHeartbeat(task: () => Promise<unknown>): () => void;
  /** Runs `task` (release what this replica holds) when the group closes politely; returns how to stop. */
  onClose(task: () => Promise<unknown>): () => void;
  /**
   * Subscribes to a channel on the subscriber connection. `onReady` runs
   * whenever the subscription is (re)established: messages may have been
   * missed before it. Returns how to unsubscribe.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onReady: () => void): () => void;
  /** True while the subscriber connection is connected and subscribed. */
  readonly isSubscribed: boolean;
}
