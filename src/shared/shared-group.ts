/**
 * One replica's membership of a rosgate group: the Redis connections, the
 * live-replica registry (N), the heartbeat, the up/down state and the
 * counters. The primitives (rate bucket, session budget, lockout,
 * invalidation bus) are made here, one per router, and see the group only
 * through {@link SharedLink}.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { InvalidationBus, type InvalidationBusOptions } from './invalidation-bus.js';
import type { LuaScript, SendCommand } from './lua-script.js';
import {
  connectNodeRedis,
  isErrorReply,
  isRedisUnable,
  type RedisClusterOptions,
  type RedisConnection,
  type RedisConnectionOptions,
  type RedisSentinelOptions,
} from './redis-connection.js';
import { RouterRides } from './rides.js';
import { REGISTER_REPLICA } from './scripts.js';
import { SessionBudget, type SessionBudgetOptions } from './session-budget.js';
import {
  zeroCounters,
  type SharedCounters,
  type SharedLink,
  type SharedLogger,
  type SharedTimers,
} from './shared-link.js';
import { SharedLockout, type SharedLockoutOptions } from './shared-lockout.js';
import { SharedTokenBucket, type SharedTokenBucketOptions } from './shared-token-bucket.js';
import { monotonicNow } from '../clock.js';

/** Options of a {@link SharedGroup}. */
export interface SharedGroupOptions {
  /** `redis://host:6379/0`, `rediss://` for TLS; the password may be in it. Or `sentinel`, or `cluster`. */
  readonly url?: string | undefined;
  /** The master a Sentinel names, instead of `url`. */
  readonly sentinel?: RedisSentinelOptions | undefined;
  /** A Redis Cluster, instead of `url`. */
  readonly cluster?: RedisClusterOptions | undefined;
  /** The password when it is not in the URL (REDIS_PASSWORD). */
  readonly password?: string | undefined;
  /** Prefix of every key and channel, so several groups can share one Redis. @default 'rosgate:' */
  readonly prefix?: string;
  /** This replica's id (no `:`). @default process.env.HOSTNAME, else os.hostname() */
  readonly replicaId?: string;
  /** Longest wait for any Redis answer before falling back. @default 500 */
  readonly opTimeoutMs?: number;
  /** Heartbeat period while Redis is up (registry, session leases). @default 5000 */
  readonly heartbeatMs?: number;
  /** How long a replica counts as live after its last heartbeat. @default 15000 */
  readonly replicaTtlMs?: number;
  /** Retry period while Redis is down. @default 500 */
  readonly probeMs?: number;
  readonly logger?: SharedLogger | undefined;
  /** The local clock (ms). @default monotonicNow (src/clock.ts: steps of the wall clock do not move it) */
  readonly now?: () => number;
  /** @default globalThis timers (unref'd) */
  readonly timers?: SharedTimers;
  /**
   * For tests only: one virtual clock that every replica's scripts use
   * instead of Redis `TIME`. Production leaves it unset.
   */
  readonly scriptClock?: () => number;
  /** Makes the Redis connection. @default node-redis ({@link connectNodeRedis}) */
  readonly connect?: (options: RedisConnectionOptions) => RedisConnection;
}

/** A snapshot of the group's state and counters. */
export interface SharedStats extends Readonly<SharedCounters> {
  readonly isUp: boolean;
  readonly replicaId: string;
  /** Live replicas last seen (N). */
  readonly replicas: number;
  /** Why Redis counts as down ('connecting' before the first answer); undefined while up. */
  readonly downReason: string | undefined;
  /** `roundTrips` by what they were for: a script's name, a command's name, `subscribe`. */
  readonly roundTripsByOp: Readonly<Record<string, number>>;
}

/** Events of a {@link SharedGroup}. */
export interface SharedGroupEvents {
  up: [];
  down: [reason: string];
  replicas: [count: number];
}

const globalTimers: SharedTimers = {
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a number > 0`);
  return value;
}

/** Adds `item` to `list`; returns how to take it out again. */
function register<T>(list: T[], item: T): () => void {
  list.push(item);
  return () => {
    const at = list.indexOf(item);
    if (at >= 0) list.splice(at, 1);
  };
}

function replicaIdOf(options: SharedGroupOptions): string {
  const id = options.replicaId ?? process.env.HOSTNAME ?? os.hostname();
  if (id === '' || id.includes(':')) {
    throw new RangeError('replicaId must be non-empty and must not contain ":"');
  }
  return id;
}

/** What went wrong, for `downReason`: the error's message or code, else `reason`. */
function causeOf(reason: string, err: unknown): string {
  if (!(err instanceof Error)) return reason;
  // Connecting to `localhost` tries ::1 and 127.0.0.1: an AggregateError with no message.
  return err.message || ((err as NodeJS.ErrnoException).code ?? reason);
}

interface Subscription {
  readonly onMessage: (message: string) => void;
  readonly onReady: () => void;
  isSubscribed: boolean;
}

/**
 * A replica's connection to its group. Never throws into a caller because
 * of Redis: every operation resolves within `opTimeoutMs`, with undefined
 * when Redis did not answer, and the group goes down (`down` event) until a
 * heartbeat gets through again (`up`). Redis calls are skipped while down, so
 * the fallbacks answer at once.
 */
export class SharedGroup extends EventEmitter<SharedGroupEvents> implements SharedLink {
  readonly replicaId: string;
  readonly prefix: string;
  readonly timers: SharedTimers;
  readonly logger: SharedLogger | undefined;
  readonly counters: SharedCounters = zeroCounters();
  readonly #options: SharedGroupOptions;
  readonly #opTimeoutMs: number;
  readonly #heartbeatMs: number;
  readonly #replicaTtlMs: number;
  readonly #probeMs: number;
  readonly #now: () => number;
  readonly #client: RedisConnection;
  readonly #roundTripsByOp = new Map<string, number>();
  readonly #rides = new Map<string, RouterRides>();
  #subscriber: RedisConnection | undefined;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #stateListeners: ((isUp: boolean) => void)[] = [];
  readonly #heartbeatTasks: (() => Promise<unknown>)[] = [];
  readonly #closeTasks: (() => Promise<unknown>)[] = [];
  #isUp = false;
  #downReason: string | undefined = 'connecting';
  /** Redis answered once; before that, only the first failure is logged. */
  #hasBeenUp = false;
  #hasWarnedUnreached = false;
  #replicas = 1;
  #beat: Promise<boolean> | undefined;
  #timer: unknown;
  #isClosed = false;

  constructor(options: SharedGroupOptions) {
    super();
    this.#options = options;
    this.replicaId = replicaIdOf(options);
    this.prefix = options.prefix ?? 'rosgate:';
    this.#opTimeoutMs = positive('opTimeoutMs', options.opTimeoutMs ?? 500);
    this.#heartbeatMs = positive('heartbeatMs', options.heartbeatMs ?? 5000);
    this.#replicaTtlMs = positive('replicaTtlMs', options.replicaTtlMs ?? 15_000);
    this.#probeMs = positive('probeMs', options.probeMs ?? 500);
    this.#now = options.now ?? monotonicNow;
    this.timers = options.timers ?? globalTimers;
    this.logger = options.logger;
    const connect = options.connect ?? connectNodeRedis;
    this.#client = connect({
      url: options.url,
      sentinel: options.sentinel,
      cluster: options.cluster,
      password: options.password,
      connectTimeoutMs: Math.max(this.#opTimeoutMs, 1000),
    });
    this.#client.on('ready', () => void this.heartbeat());
    this.#client.on('error', (err) => this.#markDown('connection lost', err));
  }

  /** True while Redis answers. */
  get isUp(): boolean {
    return this.#isUp;
  }

  /** Live replicas last seen (N); 1 before Redis was ever reached. */
  get replicas(): number {
    return this.#replicas;
  }

  get isSubscribed(): boolean {
    const subscriber = this.#subscriber;
    return subscriber !== undefined && subscriber.isReady;
  }

  /**
   * Connects and runs the first heartbeat. Resolves whether Redis answered
   * (within about two operation timeouts); never rejects: when Redis is not
   * there, the group starts down and keeps trying every `probeMs`.
   */
  async start(): Promise<boolean> {
    const ready = new Promise<void>((resolve) => this.#client.on('ready', () => resolve()));
    this.#client.connect().catch((err: unknown) => this.#markDown('connect failed', err));
    await this.#within(ready, undefined);
    return this.heartbeat();
  }

  /** A snapshot of state and counters. */
  stats(): SharedStats {
    return {
      ...this.counters,
      isUp: this.#isUp,
      replicaId: this.replicaId,
      replicas: this.#replicas,
      downReason: this.#downReason,
      roundTripsByOp: Object.fromEntries(this.#roundTripsByOp),
    };
  }

  now(): number {
    return this.#now();
  }

  scriptClock(): string {
    const clock = this.#options.scriptClock;
    return clock === undefined ? '' : String(clock());
  }

  key(router: string, suffix: string): string {
    return `${this.prefix}{${router}}:${suffix}`;
  }

  rides(router: string): RouterRides {
    let rides = this.#rides.get(router);
    if (rides === undefined) {
      rides = new RouterRides();
      this.#rides.set(router, rides);
    }
    return rides;
  }

  /** The group's shared rate bucket for `router`; one per router and process. */
  rateBucket(router: string, options: SharedTokenBucketOptions): SharedTokenBucket {
    return new SharedTokenBucket(this, router, options);
  }

  /** The group's session budget for `router`. */
  sessionBudget(router: string, options: SessionBudgetOptions): SessionBudget {
    return new SessionBudget(this, router, options);
  }

  /** The group's login lockout for `router`. */
  lockout(router: string, options: SharedLockoutOptions = {}): SharedLockout {
    return new SharedLockout(this, router, options);
  }

  /** The group's cache invalidation bus for `router`. */
  invalidationBus(router: string, options: InvalidationBusOptions = {}): InvalidationBus {
    return new InvalidationBus(this, router, options);
  }

  run(
    script: LuaScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    return this.#call(() => script.run(this.#sender(script.name), keys, args), false);
  }

  send(args: readonly string[]): Promise<unknown> {
    return this.#call(() => this.#sender(String(args[0]).toLowerCase())(args), false);
  }

  onStateChange(listener: (isUp: boolean) => void): () => void {
    return register(this.#stateListeners, listener);
  }

  onHeartbeat(task: () => Promise<unknown>): () => void {
    return register(this.#heartbeatTasks, task);
  }

  /** Runs `task` (release what this replica holds) on a graceful {@link SharedGroup.close}. */
  onClose(task: () => Promise<unknown>): () => void {
    return register(this.#closeTasks, task);
  }

  subscribe(
    channel: string,
    onMessage: (message: string) => void,
    onReady: () => void,
  ): () => void {
    const subscription: Subscription = { onMessage, onReady, isSubscribed: false };
    this.#subscriptions.set(channel, subscription);
    const subscriber = this.#subscriber ?? this.#startSubscriber();
    if (subscriber.isReady) void this.#subscribeOne(subscriber, channel, subscription);
    return () => {
      if (this.#subscriptions.get(channel) !== subscription) return;
      this.#subscriptions.delete(channel);
      if (!subscription.isSubscribed) return;
      this.#count('unsubscribe');
      subscriber.unsubscribe(channel, onMessage).catch(() => undefined);
    };
  }

  /**
   * Registers this replica as live, learns N, and runs the heartbeat tasks.
   * Resolves whether Redis answered; a heartbeat already under way is shared.
   */
  heartbeat(): Promise<boolean> {
    if (this.#isClosed) return Promise.resolve(false);
    this.#beat ??= this.#heartbeatOnce().finally(() => {
      this.#beat = undefined;
      this.#schedule(this.#isUp ? this.#heartbeatMs : this.#probeMs);
    });
    return this.#beat;
  }

  /**
   * Leaves the group politely: runs the close tasks (sessions released),
   * drops this replica from the registry, closes the connections. Never
   * rejects; each step is bounded by the operation timeout.
   */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    if (this.#isUp) {
      await Promise.all(this.#closeTasks.map((task) => task()));
      await this.send(['ZREM', `${this.prefix}replicas`, this.replicaId]);
    }
    this.#isClosed = true;
    this.#clearTimer();
    await this.#within(
      this.#client.close().catch(() => undefined),
      undefined,
    );
    this.#client.destroy();
    this.#subscriber?.destroy();
  }

  /**
   * Drops the connections at once and stops the heartbeat, leaving leases
   * and the registry entry to expire: what a crashed replica leaves behind.
   */
  destroy(): void {
    this.#isClosed = true;
    this.#clearTimer();
    this.#client.destroy();
    this.#subscriber?.destroy();
  }

  async #heartbeatOnce(): Promise<boolean> {
    const reply = await this.#call(
      () =>
        REGISTER_REPLICA.run(
          this.#sender(REGISTER_REPLICA.name),
          [`${this.prefix}replicas`],
          [this.scriptClock(), this.replicaId, this.#replicaTtlMs],
        ),
      true,
    );
    if (typeof reply !== 'number') return false;
    if (reply !== this.#replicas) {
      this.#replicas = reply;
      this.emit('replicas', reply);
    }
    if (!this.#isUp) this.#markUp();
    await Promise.all(this.#heartbeatTasks.map((task) => task()));
    return this.#isUp;
  }

  /** Sends one command to Redis, counted as a round trip for `op`. */
  #sender(op: string): SendCommand {
    return async (args) => {
      this.#count(op);
      return this.#client.sendCommand(args);
    };
  }

  #count(op: string): void {
    this.counters.roundTrips++;
    this.#roundTripsByOp.set(op, (this.#roundTripsByOp.get(op) ?? 0) + 1);
  }

  /**
   * One Redis call, bounded by the operation timeout. Skipped (undefined)
   * while down, except for the heartbeat that probes Redis.
   */
  async #call(command: () => Promise<unknown>, isProbe: boolean): Promise<unknown> {
    if ((!this.#isUp && !isProbe) || this.#isClosed) {
      this.counters.fallbacks++;
      return undefined;
    }
    const TIMED_OUT = Symbol('timeout');
    const outcome = command().then(
      (reply) => reply,
      (err: unknown) => {
        this.counters.errors++;
        if (isErrorReply(err) && !isRedisUnable(err))
          this.logger?.warn({ err }, 'shared: Redis refused a command');
        else this.#markDown('command failed', err);
        return undefined;
      },
    );
    const reply = await this.#within(outcome, TIMED_OUT);
    if (reply === TIMED_OUT) {
      this.counters.timeouts++;
      this.#markDown('timeout');
    }
    if (reply === undefined || reply === TIMED_OUT) {
      if (!isProbe) this.counters.fallbacks++;
      return undefined;
    }
    return reply;
  }

  /** `promise`, or `onTimeout` when it has not settled within the operation timeout. */
  #within<T, U>(promise: Promise<T>, onTimeout: U): Promise<T | U> {
    return new Promise((resolve) => {
      const timer = this.timers.setTimeout(() => resolve(onTimeout), this.#opTimeoutMs);
      void promise.then((value) => {
        this.timers.clearTimeout(timer);
        resolve(value);
      });
    });
  }

  #markUp(): void {
    this.#isUp = true;
    this.#hasBeenUp = true;
    this.#downReason = undefined;
    this.logger?.info({ replicaId: this.replicaId, replicas: this.#replicas }, 'shared: Redis up');
    this.emit('up');
    this.#notify(true);
  }

  #markDown(reason: string, err?: unknown): void {
    if (this.#isClosed) return;
    if (!this.#isUp) {
      if (!this.#hasBeenUp) this.#notReached(reason, err);
      return;
    }
    this.#isUp = false;
    this.#downReason = reason;
    this.logger?.warn(
      { replicaId: this.replicaId, reason, err },
      'shared: Redis down, falling back to local state',
    );
    this.emit('down', reason);
    this.#notify(false);
    if (this.#beat === undefined) this.#schedule(this.#probeMs);
  }

  /**
   * Redis was not reached yet: the reason becomes the cause, and the first
   * failure is logged (the retries every `probeMs` are not).
   */
  #notReached(reason: string, err: unknown): void {
    // A command refused because the client is not connected tells nothing:
    // the connection's own error (refused, timeout, auth) comes as well.
    if (reason === 'command failed' && !this.#client.isReady) return;
    this.#downReason = causeOf(reason, err);
    if (this.#hasWarnedUnreached) return;
    this.#hasWarnedUnreached = true;
    this.logger?.warn(
      { replicaId: this.replicaId, reason: this.#downReason, err },
      'shared: Redis not reached; local state until it answers',
    );
  }

  #notify(isUp: boolean): void {
    for (const listener of this.#stateListeners) {
      try {
        listener(isUp);
      } catch (err) {
        this.logger?.warn({ err }, 'shared: a state listener threw');
      }
    }
  }

  #schedule(ms: number): void {
    this.#clearTimer();
    if (this.#isClosed) return;
    this.#timer = this.timers.setTimeout(() => {
      this.#timer = undefined;
      void this.heartbeat();
    }, ms);
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #startSubscriber(): RedisConnection {
    const subscriber = this.#client.duplicate();
    this.#subscriber = subscriber;
    // Errors show in the main connection's state; node-redis reconnects this one by itself.
    subscriber.on('error', () => undefined);
    subscriber.on('ready', () => {
      for (const [channel, subscription] of this.#subscriptions) {
        void this.#subscribeOne(subscriber, channel, subscription);
      }
    });
    subscriber.connect().catch(() => undefined);
    return subscriber;
  }

  /**
   * After a reconnect node-redis has subscribed again by itself (before
   * `ready`); only a channel never subscribed needs SUBSCRIBE.
   */
  async #subscribeOne(
    subscriber: RedisConnection,
    channel: string,
    subscription: Subscription,
  ): Promise<void> {
    if (!subscription.isSubscribed) {
      this.#count('subscribe');
      const isOk = await this.#within(
        subscriber.subscribe(channel, subscription.onMessage).then(
          () => true,
          () => false,
        ),
        false,
      );
      if (!isOk) return;
      subscription.isSubscribed = true;
    }
    try {
      subscription.onReady();
    } catch (err) {
      this.logger?.warn({ err }, 'shared: a subscription listener threw');
    }
  }
}
