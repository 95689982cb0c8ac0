import { EventEmitter } from 'node:events';
import { LuaScript } from './lua-script.js';
import type { SharedLink } from './shared-link.js';

/**
 * Takes the router's listen lease when it is free, or renews it for its
 * holder; the holder's menus (the listens it runs) become exactly the ones
 * given, and when the holder or its menus changed, `{holder, menus}` is
 * published. Anyone else gets the lease's state.
 * KEYS: holder, menus. ARGV: replicaId, ttlMs, channel, menu...
 * Returns {1 | 0 (held by another), holder, ms the lease has left, menus}.
 */
const CLAIM_LISTENS = new LuaScript(
  'claimListens',
  `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return {0, holder, redis.call('PTTL', KEYS[1]), redis.call('SMEMBERS', KEYS[2])}
end
local ttl = tonumber(ARGV[2])
local changed = not holder
local old = {}
if holder then
  for _, menu in ipairs(redis.call('SMEMBERS', KEYS[2])) do old[menu] = true end
end
local menus = {}
for i = 4, #ARGV do
  menus[#menus + 1] = ARGV[i]
  if old[ARGV[i]] then old[ARGV[i]] = nil else changed = true end
end
if next(old) ~= nil then changed = true end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('DEL', KEYS[2])
if #menus > 0 then
  redis.call('SADD', KEYS[2], unpack(menus))
  redis.call('PEXPIRE', KEYS[2], ttl)
end
if changed then
  redis.call('PUBLISH', ARGV[3], cjson.encode({holder = ARGV[1], menus = menus}))
end
return {1, ARGV[1], ttl, menus}
`,
);

/**
 * Gives the lease up, when the caller holds it, and tells the others.
 * KEYS: holder, menus. ARGV: replicaId, channel. Returns 1 when released.
 */
const RELEASE_LISTENS = new LuaScript(
  'releaseListens',
  `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', ARGV[2], cjson.encode({holder = false}))
return 1
`,
);

/**
 * What this replica does about the router's listens:
 * - `holder`: it holds the lease and runs them, for the group;
 * - `follower`: another replica holds the lease (or nobody does, for a
 *   moment): it runs none and follows what the holder reports;
 * - `fallback`: the group cannot be reached (or was not yet): it runs its own,
 *   as a replica alone does.
 */
export type ListenLeaseRole = 'holder' | 'follower' | 'fallback';

/** Options of a {@link ListenLease}. */
export interface ListenLeaseOptions {
  /**
   * How long the lease lives without a renewal (the group heartbeat renews
   * it): a crashed holder's lease is free again after it. @default 15000
   */
  readonly leaseTtlMs?: number;
}

/** Counters and state of one router's listen lease. */
export interface ListenLeaseStats {
  readonly role: ListenLeaseRole;
  /** The replica holding the lease as last seen; undefined when none or unknown. */
  readonly holder: string | undefined;
  /** Menus whose listen the holder runs, as last seen. */
  readonly menus: readonly string[];
  /** Times this replica took the lease. */
  readonly acquired: number;
}

/** Events of a {@link ListenLease}. */
export interface ListenLeaseEvents {
  /** The role changed (see {@link ListenLease.role}). */
  role: [role: ListenLeaseRole];
}

/** A state message on the lease's channel. */
interface LeaseState {
  readonly holder: string | undefined;
  readonly menus: readonly string[];
}

function stateOf(text: string): LeaseState | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    // cjson encodes an empty list as {}.
    const menus = Array.isArray(value.menus) ? value.menus.map(String) : [];
    return { holder: typeof value.holder === 'string' ? value.holder : undefined, menus };
  } catch {
    return undefined;
  }
}

/**
 * One lease per router for the group: the replica that holds it runs the
 * router's `listen`s, the others run none (the router carries one listen
 * per menu, not one per replica). The holder keeps in Redis, with the
 * lease, the menus whose listen runs, and publishes each change of them;
 * a follower trusts a menu as watched only while it is among them.
 *
 * The lease is a key with a TTL (`leaseTtlMs`), renewed by the group
 * heartbeat; every replica tries to take it on each heartbeat, and a
 * follower also when the lease would expire and when its holder gives it up
 * (`close`). While Redis is down every replica is in `fallback` and runs its
 * own listens; when Redis is back, the heartbeat makes one holder again.
 */
export class ListenLease extends EventEmitter<ListenLeaseEvents> {
  readonly #link: SharedLink;
  readonly #router: string;
  readonly #holderKey: string;
  readonly #menusKey: string;
  readonly #channel: string;
  readonly #leaseTtlMs: number;
  #role: ListenLeaseRole = 'fallback';
  #holder: string | undefined;
  #menus: ReadonlySet<string> = new Set();
  /** State messages heard on the channel: a claim answered after one is not newer than it. */
  #heard = 0;
  /** Menus whose listen this replica runs. */
  readonly #running = new Set<string>();
  #acquired = 0;
  #claiming: Promise<void> | undefined;
  /** The claim that runs after the one under way, for what changed meanwhile. */
  #nextClaim: Promise<void> | undefined;
  /** A follower's try to take the lease when it would expire. */
  #timer: unknown;
  readonly #stop: (() => void)[];
  #isClosed = false;

  constructor(link: SharedLink, router: string, options: ListenLeaseOptions = {}) {
    super();
    const ttl = options.leaseTtlMs ?? 15_000;
    if (!Number.isFinite(ttl) || ttl <= 0) throw new RangeError('leaseTtlMs must be a number > 0');
    this.#link = link;
    this.#router = router;
    this.#holderKey = link.key(router, 'listen');
    this.#menusKey = link.key(router, 'listen:menus');
    this.#channel = this.#holderKey;
    this.#leaseTtlMs = ttl;
    this.#stop = [
      link.onStateChange((isUp) => {
        if (!isUp) this.#become('fallback', undefined, []);
      }),
      link.onHeartbeat(() => this.claim()),
      // close() awaits before it unregisters: the group is still walking its close tasks.
      link.onClose(() => this.close()),
      link.subscribe(
        this.#channel,
        (message) => this.#onMessage(message),
        () => void this.claim(),
      ),
    ];
    if (link.isUp) void this.claim();
  }

  get role(): ListenLeaseRole {
    return this.#role;
  }

  /** True while this replica runs the router's listens: it holds the lease, or Redis is away. */
  get runsListens(): boolean {
    return this.#role !== 'follower';
  }

  /** True while another replica holds the lease and runs the listen on `menu`. */
  isWatching(menu: string): boolean {
    return this.#role === 'follower' && this.#menus.has(menu);
  }

  /**
   * This replica's listen on `menu` started (true) or ended (false). The
   * holder tells Redis and the followers; resolves once Redis has it (or
   * did not answer). Never rejects.
   */
  setRunning(menu: string, isRunning: boolean): Promise<void> {
    if (isRunning) this.#running.add(menu);
    else this.#running.delete(menu);
    return this.#role === 'holder' ? this.claim() : Promise.resolve();
  }

  /**
   * Takes the lease if it is free, renews it if it is this replica's, or
   * learns who holds it. Asked while one is under way, it runs once more
   * after it (for what changed meanwhile), and resolves then. Never rejects.
   */
  claim(): Promise<void> {
    if (this.#claiming !== undefined) {
      this.#nextClaim ??= this.#claiming.then(() => {
        this.#nextClaim = undefined;
        return this.claim();
      });
      return this.#nextClaim;
    }
    this.#claiming = this.#claimOnce().finally(() => {
      this.#claiming = undefined;
    });
    return this.#claiming;
  }

  /**
   * Gives the lease up if this replica holds it (the others take it at
   * once) and stops the group's calls into this lease. Never rejects.
   */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#clearTimer();
    await this.#release();
    for (const stop of this.#stop) stop();
    this.removeAllListeners();
  }

  stats(): ListenLeaseStats {
    return {
      role: this.#role,
      holder: this.#holder,
      menus: [...this.#menus],
      acquired: this.#acquired,
    };
  }

  async #claimOnce(): Promise<void> {
    if (this.#isClosed || !this.#link.isUp) return;
    const heardBefore = this.#heard;
    const reply = await this.#link.run(
      CLAIM_LISTENS,
      [this.#holderKey, this.#menusKey],
      [this.#link.replicaId, this.#leaseTtlMs, this.#channel, ...[...this.#running].sort()],
    );
    // Redis went away meanwhile: the fallback stands.
    if (!Array.isArray(reply) || this.#isClosed || !this.#link.isUp) return;
    const holder = String(reply[1]);
    const menus = (reply[3] as unknown[]).map(String);
    if (Number(reply[0]) === 1) {
      if (this.#role !== 'holder') {
        this.#acquired++;
        this.#link.logger?.info(
          { router: this.#router, replicaId: holder },
          "shared: this replica runs the router's listens for the group",
        );
      }
      this.#become('holder', holder, menus);
      return;
    }
    // A message comes on another connection than the answer, and may pass
    // it: one heard meanwhile (it made this replica a follower) is as new as
    // the answer, or newer (every change is published), so the answer's
    // state is not taken over it.
    if (this.#heard === heardBefore) this.#become('follower', holder, menus);
    // Ask again when it would expire: a crashed holder is replaced then, not a heartbeat later.
    this.#clearTimer();
    this.#timer = this.#link.timers.setTimeout(
      () => {
        this.#timer = undefined;
        void this.claim();
      },
      Math.max(1, Number(reply[2])) + 1,
    );
  }

  async #release(): Promise<void> {
    if (this.#role !== 'holder' || !this.#link.isUp) return;
    await this.#link.run(
      RELEASE_LISTENS,
      [this.#holderKey, this.#menusKey],
      [this.#link.replicaId, this.#channel],
    );
    this.#become('follower', undefined, []);
  }

  #onMessage(text: string): void {
    if (this.#isClosed || !this.#link.isUp) return;
    const state = stateOf(text);
    if (state === undefined) {
      this.#link.logger?.warn(
        { router: this.#router },
        'shared: a listen lease message was not understood',
      );
      return;
    }
    // This replica's own renewal, heard back: the claim's answer said it all.
    if (state.holder === this.#link.replicaId) return;
    this.#heard++; // and it made this replica a follower
    this.#become('follower', state.holder, state.menus);
    // Given up: whoever asks first takes it.
    if (state.holder === undefined) void this.claim();
  }

  #become(role: ListenLeaseRole, holder: string | undefined, menus: readonly string[]): void {
    this.#holder = holder;
    this.#menus = new Set(menus);
    if (role !== 'follower') this.#clearTimer();
    if (role === this.#role) return;
    if (this.#role === 'holder') {
      this.#link.logger?.info(
        { router: this.#router, replicaId: this.#link.replicaId, holder: holder ?? null },
        "shared: this replica no longer runs the router's listens",
      );
    }
    this.#role = role;
    try {
      this.emit('role', role);
    } catch (err) {
      this.#link.logger?.warn({ err, router: this.#router }, 'shared: a lease listener threw');
    }
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#link.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
