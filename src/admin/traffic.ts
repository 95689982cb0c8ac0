/**
 * What the metrics stage saw pass through, per router: counts by verb class
 * and outcome, refusals by code, recent latencies, slow commands and the
 * business figures. Everything is bounded: counts are keyed by small fixed
 * sets, latencies and slow commands live in rings.
 */
import { Ring } from './ring.js';
import { VERB_CLASSES, type VerbClass } from './verb-class.js';

/** How a command ended: the `outcome` label. */
export const OUTCOMES = ['ok', 'trap', 'refused', 'error', 'cancelled'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The kinds of active users counted from prints. */
export type ActiveUserKind = 'hotspot' | 'pppoe';

/** One finished command, as the metrics stage reports it. */
export interface CommandRecord {
  readonly router: string;
  /** The menu path, `/ip/hotspot/user` (never attribute values). */
  readonly path: string;
  readonly verbClass: VerbClass;
  readonly outcome: Outcome;
  readonly durationMs: number;
  /** When it ended, ms since epoch. */
  readonly at: number;
  /** The RosgateError code of a refusal or error. */
  readonly code?: string;
}

/** A command slower than the threshold, for /monitoring/performance. */
export interface SlowCommand {
  readonly router: string;
  readonly path: string;
  readonly verbClass: VerbClass;
  readonly durationMs: number;
  readonly at: number;
}

/** Latency figures of recent commands, ms. */
export interface Percentiles {
  /** Commands the figures are taken from (the most recent ones). */
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** A count taken from a print, and when. */
export interface ActiveUsers {
  readonly count: number;
  readonly at: number;
}

/** One router's tallies (read-only outside this file). */
export interface RouterTraffic {
  readonly requests: Readonly<Record<VerbClass, Readonly<Record<Outcome, number>>>>;
  /** Refusals and errors by RosgateError code. */
  readonly errors: ReadonlyMap<string, number>;
  readonly slow: Readonly<Record<VerbClass, number>>;
  readonly vouchersCreated: number;
  readonly activeUsers: Readonly<Partial<Record<ActiveUserKind, ActiveUsers>>>;
}

interface MutableRouterTraffic {
  requests: Record<VerbClass, Record<Outcome, number>>;
  errors: Map<string, number>;
  slow: Record<VerbClass, number>;
  vouchersCreated: number;
  activeUsers: Partial<Record<ActiveUserKind, ActiveUsers>>;
  latency: Record<VerbClass, Ring<number>>;
}

/** Latest durations kept per router and verb class for percentiles. */
const LATENCY_SAMPLES = 1024;
/** Latest slow commands kept. */
const SLOW_COMMANDS_KEPT = 50;

function byClass<T>(make: () => T): Record<VerbClass, T> {
  return Object.fromEntries(VERB_CLASSES.map((c) => [c, make()])) as Record<VerbClass, T>;
}

function zeroOutcomes(): Record<Outcome, number> {
  return Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
}

/** Nearest-rank percentile of sorted values. */
function rank(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export class Traffic {
  /** Commands at least this slow are slow (streams never are). */
  readonly slowCommandMs: number;
  readonly #routers = new Map<string, MutableRouterTraffic>();
  readonly #slowCommands = new Ring<SlowCommand>(SLOW_COMMANDS_KEPT);

  constructor(slowCommandMs: number) {
    this.slowCommandMs = slowCommandMs;
  }

  /** Counts one finished command; true when it was slow. */
  record(command: CommandRecord): boolean {
    const t = this.#router(command.router);
    t.requests[command.verbClass][command.outcome] += 1;
    if (command.code !== undefined)
      t.errors.set(command.code, (t.errors.get(command.code) ?? 0) + 1);
    t.latency[command.verbClass].push(command.durationMs);
    const isSlow = command.verbClass !== 'stream' && command.durationMs >= this.slowCommandMs;
    if (isSlow) {
      t.slow[command.verbClass] += 1;
      this.#slowCommands.push({
        router: command.router,
        path: command.path,
        verbClass: command.verbClass,
        durationMs: command.durationMs,
        at: command.at,
      });
    }
    return isSlow;
  }

  setActiveUsers(router: string, kind: ActiveUserKind, count: number, at: number): void {
    this.#router(router).activeUsers[kind] = { count, at };
  }

  countVoucher(router: string): void {
    this.#router(router).vouchersCreated += 1;
  }

  /** A router's tallies; zeros for a router that has seen no command yet. */
  of(router: string): RouterTraffic {
    return this.#router(router);
  }

  /** Latency of the recent commands of one class on one router. */
  latency(router: string, verbClass: VerbClass): Percentiles {
    const sorted = this.#router(router)
      .latency[verbClass].toArray()
      .sort((a, b) => a - b);
    if (sorted.length === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
    return {
      count: sorted.length,
      p50: rank(sorted, 50),
      p90: rank(sorted, 90),
      p99: rank(sorted, 99),
      max: sorted[sorted.length - 1] as number,
    };
  }

  /** The latest slow commands, oldest first. */
  slowCommands(): SlowCommand[] {
    return this.#slowCommands.toArray();
  }

  #router(name: string): MutableRouterTraffic {
    let t = this.#routers.get(name);
    if (t === undefined) {
      t = {
        requests: byClass(zeroOutcomes),
        errors: new Map(),
        slow: byClass(() => 0),
        vouchersCreated: 0,
        activeUsers: {},
        latency: byClass(() => new Ring<number>(LATENCY_SAMPLES)),
      };
      this.#routers.set(name, t);
    }
    return t;
  }
}
