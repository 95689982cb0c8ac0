import { createClient, createCluster, createSentinel, ErrorReply } from 'redis';

/**
 * The part of a Redis client the shared state uses. node-redis provides it
 * ({@link connectNodeRedis}): a plain client, a Sentinel client or a Cluster
 * client adapted to it; tests can fake it.
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

/** A Sentinel-watched master: its group name and the sentinels to ask. */
export interface RedisSentinelOptions {
  /** The master group name the sentinels monitor (`sentinel monitor <name> ...`). */
  readonly name: string;
  /** The sentinels, `host:port` each. */
  readonly nodes: readonly string[];
  /** The sentinels' own password (`requirepass` of the sentinels), when they have one. */
  readonly password?: string | undefined;
}

/** A Redis Cluster: some of its nodes; the client learns the others. */
export interface RedisClusterOptions {
  /** `redis://host:port` (or `rediss://`) each. */
  readonly nodes: readonly string[];
}

/** How to reach Redis: exactly one of `url`, `sentinel`, `cluster`. */
export interface RedisConnectionOptions {
  /** `redis://[[user][:password]@]host[:port][/db]`, or `rediss://` for TLS. */
  readonly url?: string | undefined;
  /** The master the sentinels name (and follow it through a failover). */
  readonly sentinel?: RedisSentinelOptions | undefined;
  /** A Redis Cluster. */
  readonly cluster?: RedisClusterOptions | undefined;
  /** The password, when it is not in the URL (REDIS_PASSWORD): of the master, of every cluster node. */
  readonly password?: string | undefined;
  /** Connect timeout. */
  readonly connectTimeoutMs: number;
}

/** True when Redis itself answered with an error (the connection is fine). */
export function isErrorReply(err: unknown): boolean {
  return err instanceof ErrorReply;
}

/**
 * Error replies that say Redis cannot serve the group now, though it
 * answers: out of memory, a read-only replica (a master demoted by a
 * failover), a failed save, too few replicas, loading, busy, a cluster
 * down, or an ACL that denies us. The group is as good as down: leases,
 * publishes and heartbeats all fail until Redis takes writes again.
 */
const UNABLE = /^(?:OOM|READONLY|MISCONF|NOREPLICAS|MASTERDOWN|LOADING|BUSY|CLUSTERDOWN|NOPERM)\b/;

/** True for an error reply that means Redis cannot serve the group (see UNABLE). */
export function isRedisUnable(err: unknown): boolean {
  return err instanceof ErrorReply && UNABLE.test(err.message);
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

/** `host:port` or `[v6]:port` -> a node-redis node. */
export function hostPort(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(':');
  return { host: text.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(text.slice(at + 1)) };
}

/**
 * The key a command is about, for a Cluster to route it to the key's slot:
 * a script's first key (every script's keys share one slot), SCAN's MATCH
 * pattern without its glob (SCAN reads one node: the one owning the
 * router's hash tag), else the first argument. Undefined: any node.
 */
export function routingKey(args: readonly string[]): string | undefined {
  const name = String(args[0]).toUpperCase();
  if (name === 'EVAL' || name === 'EVALSHA') return Number(args[2]) > 0 ? args[3] : undefined;
  if (name === 'SCAN') {
    const at = args.findIndex((arg) => arg.toUpperCase() === 'MATCH');
    const pattern = at < 0 ? undefined : args[at + 1];
    return pattern?.replace(/\*$/, '').replace(/\\(.)/g, '$1');
  }
  return args[1];
}

const reconnectStrategy = (retries: number) => Math.min(100 * 2 ** retries, 1000);

/**
 * A node-redis connection: commands fail at once while disconnected (the
 * shared state falls back instead of queueing), and it reconnects by itself
 * with a backoff of at most one second. A Sentinel or a Cluster client when
 * `options` names one, else a plain client.
 */
export function connectNodeRedis(options: RedisConnectionOptions): RedisConnection {
  if (options.sentinel !== undefined) return connectSentinel(options, options.sentinel);
  if (options.cluster !== undefined) return connectCluster(options, options.cluster);
  const client = createClient({
    url: options.url as string,
    ...(options.password === undefined ? {} : { password: options.password }),
    disableOfflineQueue: true,
    socket: { connectTimeout: options.connectTimeoutMs, reconnectStrategy },
  });
  return wrap(client);
}

/** The client options every node of a Sentinel or Cluster setup gets. */
function nodeOptions(options: RedisConnectionOptions, password: string | undefined) {
  return {
    ...(password === undefined ? {} : { password }),
    disableOfflineQueue: true,
    socket: { connectTimeout: options.connectTimeoutMs, reconnectStrategy },
  };
}

/** The client the sentinels point at: node-redis follows a failover to the new master. */
function connectSentinel(
  options: RedisConnectionOptions,
  sentinel: RedisSentinelOptions,
): RedisConnection {
  const make = () =>
    createSentinel({
      name: sentinel.name,
      sentinelRootNodes: sentinel.nodes.map(hostPort),
      nodeClientOptions: nodeOptions(options, options.password),
      sentinelClientOptions: nodeOptions(options, sentinel.password),
    }) as unknown as NodeRedisSentinel; // unsubscribe's listener type is wider (Buffer)
  return wrapSentinel(make(), make);
}

/** The part of node-redis's Sentinel client {@link wrapSentinel} uses. */
interface NodeRedisSentinel extends Omit<NodeRedisClient, 'sendCommand' | 'duplicate' | 'destroy'> {
  sendCommand(isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  destroy(): Promise<unknown>;
}

function wrapSentinel(client: NodeRedisSentinel, make: () => NodeRedisSentinel): RedisConnection {
  // Object.assign, not a spread: `isReady` stays a getter.
  return Object.assign(wrap(client as unknown as NodeRedisClient), {
    sendCommand: (args: readonly string[]) => client.sendCommand(false, [...args]),
    // A second Sentinel client (its own sentinel and master connections) for pub/sub.
    duplicate: () => wrapSentinel(make(), make),
    destroy: () => void client.destroy().catch(() => undefined),
  });
}

/** The Cluster client: every command goes to the node owning its key's slot. */
function connectCluster(
  options: RedisConnectionOptions,
  cluster: RedisClusterOptions,
): RedisConnection {
  return wrapCluster(
    createCluster({
      rootNodes: cluster.nodes.map((url) => ({ url })),
      defaults: nodeOptions(options, options.password),
    }) as unknown as NodeRedisCluster, // unsubscribe's listener type is wider (Buffer)
  );
}

/** The part of node-redis's Cluster client {@link wrapCluster} uses. */
interface NodeRedisCluster extends Omit<NodeRedisClient, 'sendCommand' | 'duplicate'> {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
  ): Promise<unknown>;
  duplicate(): NodeRedisCluster;
}

function wrapCluster(client: NodeRedisCluster): RedisConnection {
  return Object.assign(wrap(client as unknown as NodeRedisClient), {
    sendCommand: (args: readonly string[]) =>
      client.sendCommand(routingKey(args), false, [...args]),
    /**
     * By a plain client's names: `ready` once every master is connected
     * (`connect`), and when a node comes back while the cluster is ready
     * (not a node of the first connect: the others may still be on their
     * way); `error` for the cluster's and any node's errors.
     */
    on(event: 'ready' | 'error', listener: (err?: unknown) => void) {
      if (event === 'error') {
        client.on('error', listener);
        client.on('node-error', listener);
        return;
      }
      client.on('connect', () => listener());
      client.on('node-ready', () => {
        if (client.isReady) listener();
      });
    },
    duplicate: () => wrapCluster(client.duplicate()),
  });
}
