/**
 * What the admin port reads from the rest of rosgate, as small structural
 * interfaces: each is a function returning a snapshot, read when a page or a
 * scrape asks. `app.ts` adapts each module to them, so src/admin imports
 * none of the modules it reports on.
 *
 * Counts named as totals (`opened`, `hits`, ...) only ever grow; the others
 * are current values.
 */
import type { AuditReportQuery, AuditSearchQuery } from './audit-query.js';
import type { LockoutSnapshot } from './lockouts.js';

/** A router's pool of logged-in sessions. */
export interface PoolSnapshot {
  /** Sessions logged in and usable. */
  readonly ready: number;
  /** Of `ready`, the sessions carrying at least one command. */
  readonly busy: number;
  /** Sessions connecting or logging in. */
  readonly opening: number;
  /** Commands waiting for a session. */
  readonly waiting: number;
  /** How long the longest-waiting command has waited, ms; 0 when none waits. */
  readonly longestWaitMs: number;
  /** Commands running on the router. */
  readonly inFlight: number;
  /** Sessions opened since start. */
  readonly opened: number;
  /** Connects or logins that failed since start. */
  readonly failedConnects: number;
  /** The RosgateError code of the router's last failure, if any. */
  readonly lastError?: string;
  /** When it happened, ms since epoch. */
  readonly lastErrorAt?: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/** A router's circuit breaker. */
export interface BreakerSnapshot {
  readonly state: BreakerState;
  /** Failures counted since start (transport errors, timeouts, `!fatal`; never a `!trap`). */
  readonly failures: number;
  /** State changes since start. */
  readonly transitions: number;
}

export type Priority = 'high' | 'normal' | 'low';

/** A router's rate limit and queue. */
export interface FlowSnapshot {
  /** Commands waiting in the queue now, by priority. */
  readonly queued: Readonly<Record<Priority, number>>;
  /** Commands refused since start, by reason (a fixed code such as `queue-full`). */
  readonly refusals: Readonly<Record<string, number>>;
  /** Tokens left in the bucket. */
  readonly tokens: number;
  /** Commands let through and not yet answered, a flow stage a reload replaced included. */
  readonly inFlight: number;
  /** Commands that timed out since start. */
  readonly timeouts: number;
  /** Commands slower than the flow stage's threshold since start. */
  readonly slow: number;
}

/** A router's reply cache. */
export interface CacheSnapshot {
  readonly hits: number;
  readonly misses: number;
  /** Prints answered by joining an identical one already on its way. */
  readonly coalesced: number;
  /** Expired replies served while the router was away. */
  readonly staleServed: number;
  readonly invalidations: number;
  readonly evictions: number;
  /** Bytes held now. */
  readonly bytes: number;
  /** Entries held now. */
  readonly entries: number;
}

/** How often one policy rule gave one verdict. */
export interface PolicyDecisionCount {
  readonly rule: string;
  readonly verdict: 'allow' | 'deny' | 'audit' | 'flag';
  readonly count: number;
}

/** A router's policy stage. */
export interface PolicySnapshot {
  /** Decisions since start, by rule and verdict (rule names come from the configuration). */
  readonly decisions: readonly PolicyDecisionCount[];
  /** Attribute values refused by an input rule since start. */
  readonly inputFailures: number;
  /** Flags raised since start, by reason code. */
  readonly flags: Readonly<Record<string, number>>;
  /** Lockouts started since start. */
  readonly lockouts: number;
}

/** The audit writer (one per app). */
export interface AuditSnapshot {
  readonly written: number;
  /** Records dropped because the buffer was full. */
  readonly dropped: number;
  /** Times the live audit file was found replaced or removed on disk. @default 0 */
  readonly fileReplaced?: number;
}

/** A router's client listener: the fields of src/proxy/stats.ts ProxyStats the admin port shows. */
export interface ProxySnapshot {
  readonly clientsConnected: number;
  readonly clientsAccepted: number;
  readonly clientsRefused: number;
  readonly loginsOk: number;
  readonly loginsFailed: number;
  /** Commands refused because the client had too many in flight. */
  readonly refusedInFlight: number;
  readonly slowClientDrops: number;
  readonly framingErrors: number;
  readonly tlsHandshakeErrors: number;
}

/**
 * One router. `pool` and `proxy` always exist; the others are absent when
 * their stage is turned off.
 */
export interface RouterSource {
  /** The router's configured name: the `router` label. */
  readonly name: string;
  pool(): PoolSnapshot;
  proxy(): ProxySnapshot;
  breaker?(): BreakerSnapshot;
  flow?(): FlowSnapshot;
  cache?(): CacheSnapshot;
  policy?(): PolicySnapshot;
}

/** Everything the admin port reports on. */
export interface AdminSources {
  /** The routers now configured (the list may change on reload). */
  routers(): readonly RouterSource[];
  /** Absent when audit is off. */
  audit?(): AuditSnapshot;
  /** True once a graceful stop has begun: `ready` then fails. */
  isDraining(): boolean;
  /** The login lockouts in force, of every router. */
  lockouts?(): readonly LockoutSnapshot[];
  /** The group of replicas this one shares state with (issue 18); absent or undefined: none. */
  group?(): GroupView | undefined;
}

/** A replica's view of its group. */
export interface GroupView {
  readonly replicaId: string;
  /** The shared state in Redis is reachable. */
  readonly isUp: boolean;
  /** Why it is not; undefined while up. */
  readonly downReason: string | undefined;
  /** Live replicas last seen. */
  readonly replicas: number;
  /** By router: the replica that runs its listens for the group (null: none known). */
  readonly listenHolders?: Readonly<Record<string, string | null>>;
  /** Each replica of the group and its breakers by router (`since`: ms since epoch). */
  readonly members?: readonly {
    readonly id: string;
    readonly breakers: Readonly<Record<string, { readonly state: string; readonly since: number }>>;
  }[];
}

/** The audit module's functions the admin port serves. */
export interface AuditFunctions {
  /** Records matching the filters, as `/monitoring/audit-logs` returns them. */
  search(query: AuditSearchQuery): Promise<unknown>;
  /** Counts grouped as asked, as `/monitoring/audit-report` returns them. */
  report(query: AuditReportQuery): Promise<unknown>;
  /** The chain's head (last seq and hash), as `/monitoring/audit/head` returns it. */
  head(): Promise<unknown>;
}

/** When a changed key takes effect. */
export type ChangeApplies = 'now' | 'new-clients' | 'restart';

/** One key a live change changed, with secrets redacted. */
export interface ConfigChange {
  /** The key's path: `flow.maxConcurrency`, `routers.core.pool.max`. */
  readonly key: string;
  /** Its value before; null when it had none. */
  readonly old: unknown;
  /** Its value now; null when it has none. */
  readonly new: unknown;
  /**
   * `now`: in force for what comes next; `new-clients`: for clients that
   * connect from now on; `restart`: recorded, in force only after a restart.
   */
  readonly applies: ChangeApplies;
}

/** What `applyConfig` answers to a `PUT /monitoring/config/<section>`. */
export type ApplyConfigResult =
  | { readonly ok: true; readonly changes?: readonly ConfigChange[] }
  | { readonly ok: false; readonly errors: readonly string[] };

/** Applies one section live, or refuses it (invalid, or a key that needs a restart). */
export type ApplyConfig = (section: string, body: unknown) => Promise<ApplyConfigResult>;
