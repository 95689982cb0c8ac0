/**
 * What the metrics stage saw pass through, per router: counts by verb class
 * and outcome, refusals by code, recent latencies, slow commands and the
 * business figures. Everything is bounded: counts are keyed by small fixed
 * sets, latencies and slow commands live in rings.
 */
import type { BucketCounts } from './histogram.js';
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

/** Latest durations kept per router and verb class for percentiles. */
const LATENCY_SAMPLES = 1024;
/** Latest slow commands kept. */
const SLOW_COMMANDS_KEPT = 50;

/** Index of a verb class in {@link VERB_CLASSES}: what the per-command path counts by. */
export function verbClassIndex(verbClass: VerbClass): number {
  switch (verbClass) {
    case 'read':
      return 0;
    case 'write':
      return 1;
    case 'stream':
      return 2;
    default:
      return 3;
  }
}

/** Indexes of the outcomes in {@link OUTCOMES}. */
export const OUTCOME_INDEX = {
  ok: 0,
  trap: 1,
  refused: 2,
  error: 3,
  cancelled: 4,
} as const satisfies Record<Outcome, number>;

const STREAM = verbClassIndex('stream');

/** The latest `LATENCY_SAMPLES` durations, in a typed array (no allocation per push). */
class LatencyRing {
  readonly #values = new Float64Array(LATENCY_SAMPLES);
  #size = 0;
  #next = 0;

  push(ms: number): void {
    this.#values[this.#next] = ms;
    this.#next = this.#next + 1 === LATENCY_SAMPLES ? 0 : this.#next + 1;
    if (this.#size < LATENCY_SAMPLES) this.#size++;
  }

  /** The kept durations, ascending. */
  sorted(): Float64Array {
    return this.#values.slice(0, this.#size).sort();
  }
}

/** Makes the duration histogram's series of a router and verb class (kept by the router's tallies). */
export type DurationSeries = (router: string, verbClass: VerbClass) => BucketCounts;

/**
 * One router's tallies: plain counts indexed by verb class and outcome, bumped
 * per command with no lookup and no allocation; read as records at scrape time.
 */
export class RouterTally implements RouterTraffic {
  readonly router: string;
  /** Commands by `verbClassIndex * OUTCOMES.length + outcome index`. */
  readonly counts = new Float64Array(VERB_CLASSES.length * OUTCOMES.length);
  readonly errors = new Map<string, number>();
  readonly slowCounts = new Float64Array(VERB_CLASSES.length);
  vouchersCreated = 0;
  readonly activeUsers: Partial<Record<ActiveUserKind, ActiveUsers>> = {};
  readonly #latency = VERB_CLASSES.map(() => new LatencyRing());
  /** Duration histogram series per verb class, made at the first command of the class. */
  readonly #duration: (BucketCounts | undefined)[] = VERB_CLASSES.map(() => undefined);
  readonly #slowCommandMs: () => number;
  readonly #durationSeries: DurationSeries;

  constructor(router: string, slowCommandMs: () => number, durationSeries: DurationSeries) {
    this.router = router;
    this.#slowCommandMs = slowCommandMs;
    this.#durationSeries = durationSeries;
  }

  /**
   * Counts one finished command of class `classIndex` with outcome
   * `outcomeIndex` (see {@link verbClassIndex}, {@link OUTCOME_INDEX}); true
   * when it was slow (the caller lists it: see {@link Traffic.listSlow}).
   */
  record(classIndex: number, outcomeIndex: number, durationMs: number): boolean {
    (this.counts[classIndex * OUTCOMES.length + outcomeIndex] as number)++;
    (this.#latency[classIndex] as LatencyRing).push(durationMs);
    let duration = this.#duration[classIndex];
    if (duration === undefined) {
      duration = this.#durationSeries(this.router, VERB_CLASSES[classIndex] as VerbClass);
      this.#duration[classIndex] = duration;
    }
    duration.observe(durationMs / 1000);
    // As the flow stage counts them: slower than slowCommandMs, and 0 is never.
    const slowMs = this.#slowCommandMs();
    if (classIndex === STREAM || slowMs <= 0 || durationMs <= slowMs) return false;
    (this.slowCounts[classIndex] as number)++;
    return true;
  }

  /** Counts a refusal or error by its RosgateError code. */
  countError(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  get requests(): Record<VerbClass, Record<Outcome, number>> {
    const requests = {} as Record<VerbClass, Record<Outcome, number>>;
    VERB_CLASSES.forEach((verbClass, c) => {
      const byOutcome = {} as Record<Outcome, number>;
      OUTCOMES.forEach((outcome, o) => {
        byOutcome[outcome] = this.counts[c * OUTCOMES.length + o] as number;
      });
      requests[verbClass] = byOutcome;
    });
    return requests;
  }

  get slow(): Record<VerbClass, number> {
    const slow = {} as Record<VerbClass, number>;
    VERB_CLASSES.forEach((verbClass, c) => (slow[verbClass] = this.slowCounts[c] as number));
    return slow;
  }

  latency(classIndex: number): Float64Array {
    return (this.#latency[classIndex] as LatencyRing).sorted();
  }
}

/** Nearest-rank percentile of sorted values. */
function rank(sorted: Float64Array, p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export class Traffic {
  readonly #slowCommandMs: () => number;
  readonly #routers = new Map<string, RouterTally>();
  readonly #slowCommands = new Ring<SlowCommand>(SLOW_COMMANDS_KEPT);
  readonly #durationSeries: DurationSeries;

  /**
   * @param durationSeries where each router's durations go, by verb class
   *   (the duration histogram's series).
   */
  constructor(slowCommandMs: () => number, durationSeries: DurationSeries) {
    this.#slowCommandMs = slowCommandMs;
    this.#durationSeries = durationSeries;
  }

  /** Commands slower than this are slow (streams never are; 0: none is), as configured now. */
  get slowCommandMs(): number {
    return this.#slowCommandMs();
  }

  /** Counts one finished command; true when it was slow. */
  record(command: CommandRecord): boolean {
    const t = this.tally(command.router);
    if (command.code !== undefined) t.countError(command.code);
    const isSlow = t.record(
      verbClassIndex(command.verbClass),
      OUTCOME_INDEX[command.outcome],
      command.durationMs,
    );
    if (isSlow)
      this.listSlow(
        command.router,
        command.path,
        command.verbClass,
        command.durationMs,
        command.at,
      );
    return isSlow;
  }

  /** Lists a command {@link RouterTally.record} found slow (the latest 50 are kept). */
  listSlow(
    router: string,
    path: string,
    verbClass: VerbClass,
    durationMs: number,
    at: number,
  ): void {
    this.#slowCommands.push({ router, path, verbClass, durationMs, at });
  }

  setActiveUsers(router: string, kind: ActiveUserKind, count: number, at: number): void {
    this.tally(router).activeUsers[kind] = { count, at };
  }

  countVoucher(router: string): void {
    this.tally(router).vouchersCreated += 1;
  }

  /** A router's tallies; zeros for a router that has seen no command yet. */
  of(router: string): RouterTraffic {
    return this.tally(router);
  }

  /** Latency of the recent commands of one class on one router. */
  latency(router: string, verbClass: VerbClass): Percentiles {
    const sorted = this.tally(router).latency(verbClassIndex(verbClass));
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

  /** A router's tallies, made at first use: keep it to count its commands. */
  tally(router: string): RouterTally {
    let t = this.#routers.get(router);
    if (t === undefined) {
      t = new RouterTally(router, this.#slowCommandMs, this.#durationSeries);
      this.#routers.set(router, t);
    }
    return t;
  }
}
