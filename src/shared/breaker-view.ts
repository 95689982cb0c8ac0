/**
 * The group's view of every replica's breakers (issue 18, "Breaker"): each
 * replica writes its breaker state per router into Redis with its
 * heartbeat, and reads back the others'. Breakers are not shared: an open
 * breaker on one replica opens nothing elsewhere; this is only a view.
 *
 * Per router one hash `<prefix>{<router>}:breakers`, field = replica id,
 * value `<expiresAt>|<json>`; a field expires (is dropped on the next
 * read) `ttlMs` after it was written, as a replica does in the registry, and
 * the hash itself when no replica writes any more.
 */
import { LuaScript } from './lua-script.js';
import type { SharedLink } from './shared-link.js';

/** One breaker as a replica last wrote it. */
export interface ReplicaBreaker {
  /** `closed`, `open` or `half-open`. */
  readonly state: string;
  /** Since when (ms since epoch, the writing replica's clock; at most a heartbeat late). */
  readonly since: number;
}

/** One replica of the group and its breakers, by router. */
export interface GroupMember {
  readonly id: string;
  readonly breakers: Readonly<Record<string, ReplicaBreaker>>;
}

/** A breaker of this replica: its router and its state now. */
export interface LocalBreaker {
  readonly router: string;
  readonly state: string;
}

/** Options of a {@link BreakerView}. */
export interface BreakerViewOptions {
  /** This replica's breakers now, read at every heartbeat. */
  readonly read: () => readonly LocalBreaker[];
  /** How long a replica's entry lasts without a heartbeat. @default 15000 */
  readonly ttlMs?: number;
}

/**
 * Writes this replica's entry and returns every live one (field, json, ...),
 * dropping the expired.
 * KEYS: the router's breakers hash. ARGV: clock, replicaId, json, ttlMs.
 */
const WRITE_AND_READ = new LuaScript(
  'breakers',
  `
local function now_ms()
  if ARGV[1] ~= '' then return tonumber(ARGV[1]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local now = now_ms()
local ttl = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[2], (now + ttl) .. '|' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local value = all[i + 1]
  local bar = string.find(value, '|', 1, true)
  local expires = bar and tonumber(string.sub(value, 1, bar - 1))
  if expires == nil or expires <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    table.insert(out, all[i])
    table.insert(out, string.sub(value, bar + 1))
  end
end
return out
`,
);

/** A replica's entry as read back; undefined when it is not one. */
function parseEntry(json: string): ReplicaBreaker | undefined {
  try {
    const value = JSON.parse(json) as Partial<ReplicaBreaker>;
    return typeof value.state === 'string' && typeof value.since === 'number'
      ? { state: value.state, since: value.since }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * This replica's breakers in Redis and the group's as last read. Never
 * throws because of Redis: while it is down the view keeps what was last
 * read, and {@link members} still shows this replica's own breakers now.
 */
export class BreakerView {
  readonly #link: SharedLink;
  readonly #read: () => readonly LocalBreaker[];
  readonly #ttlMs: number;
  /** What this replica last saw of each breaker, and since when. */
  readonly #local = new Map<string, ReplicaBreaker>();
  /** The group's entries by router, then replica, as last read. */
  readonly #group = new Map<string, Map<string, ReplicaBreaker>>();
  readonly #stops: (() => void)[];

  constructor(link: SharedLink, options: BreakerViewOptions) {
    this.#link = link;
    this.#read = options.read;
    this.#ttlMs = options.ttlMs ?? 15_000;
    this.#stops = [link.onHeartbeat(() => this.publish()), link.onClose(() => this.#leave())];
  }

  /** Writes this replica's breakers and reads the group's (runs with each heartbeat). */
  async publish(): Promise<void> {
    const now = this.#link.now();
    for (const { router, state } of this.#read()) {
      const known = this.#observe(router, state, now);
      const reply = await this.#link.run(
        WRITE_AND_READ,
        [this.#key(router)],
        [this.#link.scriptClock(), this.#link.replicaId, JSON.stringify(known), this.#ttlMs],
      );
      if (!Array.isArray(reply)) return;
      const replicas = new Map<string, ReplicaBreaker>();
      for (let i = 0; i + 1 < reply.length; i += 2) {
        const entry = parseEntry(String(reply[i + 1]));
        if (entry !== undefined) replicas.set(String(reply[i]), entry);
      }
      this.#group.set(router, replicas);
    }
  }

  /**
   * Every replica of the group with its breakers, by id: what Redis last
   * held, with this replica's own breakers as they are now.
   */
  members(): GroupMember[] {
    const now = this.#link.now();
    const byId = new Map<string, Record<string, ReplicaBreaker>>();
    const add = (id: string, router: string, breaker: ReplicaBreaker): void => {
      let breakers = byId.get(id);
      if (breakers === undefined) byId.set(id, (breakers = {}));
      breakers[router] = breaker;
    };
    for (const [router, replicas] of this.#group) {
      for (const [id, breaker] of replicas) add(id, router, breaker);
    }
    for (const { router, state } of this.#read()) {
      add(this.#link.replicaId, router, this.#observe(router, state, now));
    }
    return [...byId]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, breakers]) => ({ id, breakers }));
  }

  /** Stops writing (the group or this view closes). */
  close(): void {
    for (const stop of this.#stops) stop();
  }

  /** The breaker of `router` as this replica sees it: `since` moves when its state changed. */
  #observe(router: string, state: string, now: number): ReplicaBreaker {
    const known = this.#local.get(router);
    if (known !== undefined && known.state === state) return known;
    const next = { state, since: now };
    this.#local.set(router, next);
    return next;
  }

  /** A polite leave: this replica's entries go at once. */
  async #leave(): Promise<void> {
    for (const router of this.#local.keys()) {
      await this.#link.send(['HDEL', this.#key(router), this.#link.replicaId]);
    }
  }

  #key(router: string): string {
    return this.#link.key(router, 'breakers');
  }
}
