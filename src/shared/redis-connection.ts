import { createClient, ErrorReply } from 'redis';

/**
 * The part of a Redis client the shared state uses. node-redis provides it
 * ({@link connectNodeRedis}); a Cluster or Sentinel client can be adapted to
 * it later, and tests can fake it.
 */
export interface RedisConnection {
  /** True while connected and ready for commands. */
  readonly isReady: boolean;
  /** Connects, and keeps reconnecting by itself after a loss. */
  connect(): Promise<unknown>;
  /** One raw command; rejects at once while not connected (no offline queue). */
  sendCommand(args: readonly string[]): Promise<unknown>;
  /** Subscribes; the client subscribes again by itself after a reconnect, before `ready`. */
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  /** Removes a listener (and the subscription with the last one). */
  unsubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  /** `ready` after every (re)connect; `error` with each connection error. */
  on(event: 'ready' | 'error', listener: (err?: unknown) => void): void;
  /** A second connection with the same options (for pub/sub). */
  duplicate(): RedisConnection;
  /** Quits politely. */
  close(): Promise<unknown>;
  /** Drops the connection at once. */
  destroy(): void;
}

/** How to reach Redis. */
export interface RedisConnectionOptions {
  /** `redis://[[user][:password]@]host[:port][/db]`, or `rediss://` for TLS. */
  readonly url: string;
  /** The password, when it is not in the URL (REDIS_PASSWORD). */
  readonly password?: string | undefined;
  /** Connect timeout. */
  readonly connectTimeoutMs: number;
}

/** True when Redis itself answered with an error (the connection is fine). */
export function isErrorReply(err: unknown): boolean {
  return err instanceof ErrorReply;
}

/** The node-redis client calls {@link wrap} makes (a structural view of its client). */
interface NodeRedisClient {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: readonly string[]): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: string, listener: (err?: unknown) => void): unknown;
  duplicate(): NodeRedisClient;
  close(): Promise<unknown>;
  destroy(): void;
}

function wrap(client: NodeRedisClient): RedisConnection {
  return {
    get isReady() {
      return client.isReady;
    },
    connect: () => client.connect(),
    sendCommand: (args) => client.sendCommand(args),
    subscribe: (channel, listener) => client.subscribe(channel, listener),
    unsubscribe: (channel, listener) => client.unsubscribe(channel, listener),
    on(event, listener) {
      client.on(event, listener);
    },
    duplicate: () => wrap(client.duplicate()),
    close: () => client.close(),
    destroy: () => client.destroy(),
  };
}

/**
 * A node-redis connection: commands fail at once while disconnected (the
 * shared state falls back instead of queueing), and it reconnects by itself
 * with a backoff of at most one second.
 */
export function connectNodeRedis(options: RedisConnectionOptions): RedisConnection {
  const client = createClient({
    url: options.url,
    ...(options.password === undefined ? {} : { password: options.password }),
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 1000),
    },
  });
  return wrap(client);
}
