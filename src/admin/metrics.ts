/**
 * The app's metrics: one prom-client Registry (never the global one) with
 * Node's process metrics, the series read from the sources at scrape time,
 * and what the metrics stage records; plus the bounded memory the admin
 * pages show (traffic tallies, slow commands, recent events).
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { ScrapeHistogram, type BucketCounts } from './histogram.js';
import { Ring } from './ring.js';
import { registerSeries } from './series.js';
import type { AdminSources } from './sources.js';
import { Traffic, type ActiveUserKind, type CommandRecord, type RouterTally } from './traffic.js';
import { VERB_CLASSES } from './verb-class.js';
import { preciseMonotonicNow } from '../clock.js';

/** What a recorded event is about. */
export const EVENT_KINDS = ['breaker', 'lockout', 'reload', 'router', 'drain', 'audit'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** Something an operator wants to see on the dashboard: a breaker opening, a lockout, a reload. */
export interface AdminEvent {
  /** ms since epoch. */
  readonly at: number;
  readonly kind: EventKind;
  readonly router?: string;
  /** Short text for people; never a secret (the caller's duty). Cut at 200 characters. */
  readonly message: string;
}

export interface MetricsOptions {
  /** The app's own registry. */
  readonly registry: Registry;
  readonly sources: AdminSources;
  /** ms since epoch, with sub-ms precision. @default performance.timeOrigin + performance.now() */
  readonly now?: () => number;
  /**
   * Commands slower than this are listed and counted as slow (0: none is);
   * a function reads the value in force (a live change). @default 5000
   */
  readonly slowCommandMs?: number | (() => number);
}

/** Recent events kept for the dashboard. */
const EVENTS_KEPT = 100;

const MAX_EVENT_MESSAGE = 200;
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ACQUIRE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5];

export class Metrics {
  readonly registry: Registry;
  readonly traffic: Traffic;
  /** The clock every admin figure uses. */
  readonly now: () => number;
  /** When the metrics (and so the app) started, ms since epoch. */
  readonly startedAt: number;
  readonly #acquire: ScrapeHistogram<'router'>;
  /** Each router's acquisition series, kept so that an observation looks up nothing else. */
  readonly #acquireByRouter = new Map<string, BucketCounts>();
  readonly #events = new Ring<AdminEvent>(EVENTS_KEPT);
  #commandsFinished = 0;
  #isLastReloadOk = true;
  #lastReloadAt: number;
  #lastReloadSuccessAt: number;

  constructor(options: MetricsOptions) {
    this.registry = options.registry;
    this.now = options.now ?? preciseMonotonicNow;
    this.startedAt = this.now();
    this.#lastReloadAt = this.startedAt;
    this.#lastReloadSuccessAt = this.startedAt;
    collectDefaultMetrics({ register: this.registry });
    const routers = (): string[] => options.sources.routers().map((r) => r.name);
    // Histograms: counted per observation into series kept by the caller,
    // turned into prom-client values at scrape time. Each router's series are
    // there from the first scrape, all buckets at 0.
    const acquire: ScrapeHistogram<'router'> = new ScrapeHistogram({
      name: 'mikrotik_connection_pool_acquisition_seconds',
      help: 'Time a command waited for a router session.',
      labelNames: ['router'],
      buckets: ACQUIRE_BUCKETS,
      registry: this.registry,
      collect: () => {
        for (const router of routers()) acquire.series([router]);
      },
    });
    this.#acquire = acquire;
    const duration: ScrapeHistogram<'router' | 'verb_class'> = new ScrapeHistogram({
      name: 'mikrotik_request_duration_seconds',
      help: 'Time from a client command to its final answer, by verb class.',
      labelNames: ['router', 'verb_class'],
      buckets: DURATION_BUCKETS,
      registry: this.registry,
      collect: () => {
        for (const router of routers()) {
          for (const verbClass of VERB_CLASSES) duration.series([router, verbClass]);
        }
      },
    });
    const slow = options.slowCommandMs ?? 5000;
    this.traffic = new Traffic(typeof slow === 'number' ? () => slow : slow, (router, verbClass) =>
      duration.series([router, verbClass]),
    );
    registerSeries(this.registry, options.sources, {
      traffic: this.traffic,
      isLastReloadOk: () => this.#isLastReloadOk,
      lastReloadSuccessAt: () => this.#lastReloadSuccessAt,
    });
  }

  /** A command waited `seconds` for a router session (the pool's acquire). */
  observeAcquire(router: string, seconds: number): void {
    let series = this.#acquireByRouter.get(router);
    if (series === undefined) {
      series = this.#acquire.series([router]);
      this.#acquireByRouter.set(router, series);
    }
    series.observe(seconds);
  }

  /**
   * One finished client command. The metrics stage counts through
   * {@link commandTally} and {@link countFinished} instead (no record object per command).
   */
  recordCommand(command: CommandRecord): void {
    this.#commandsFinished++;
    this.traffic.record(command);
  }

  /** A router's tallies, to count its commands into (the metrics stage keeps it per command). */
  commandTally(router: string): RouterTally {
    return this.traffic.tally(router);
  }

  /** Counts a finished command for {@link commandsFinished}. */
  countFinished(): void {
    this.#commandsFinished++;
  }

  /** Client commands finished since start, on every router (the drain's log line counts them). */
  get commandsFinished(): number {
    return this.#commandsFinished;
  }

  /** Active users counted by a full print of their menu. */
  setActiveUsers(router: string, kind: ActiveUserKind, count: number): void {
    this.traffic.setActiveUsers(router, kind, count, this.now());
  }

  /** A successful `/ip/hotspot/user/add`. */
  countVoucher(router: string): void {
    this.traffic.countVoucher(router);
  }

  /** Remembers an event for the dashboard (the latest 100). */
  recordEvent(event: { kind: EventKind; router?: string; message: string }): void {
    this.#events.push({
      at: this.now(),
      kind: event.kind,
      ...(event.router === undefined ? {} : { router: event.router }),
      message: event.message.slice(0, MAX_EVENT_MESSAGE),
    });
  }

  /**
   * The outcome of a configuration reload (SIGHUP or a PUT): sets
   * `rosgate_config_last_reload_successful` and records a `reload` event.
   */
  recordReload(isOk: boolean, message: string): void {
    const at = this.now();
    this.#isLastReloadOk = isOk;
    this.#lastReloadAt = at;
    if (isOk) this.#lastReloadSuccessAt = at;
    this.recordEvent({ kind: 'reload', message });
  }

  /** Recent events, oldest first. */
  events(): AdminEvent[] {
    return this.#events.toArray();
  }

  /** The last (re)load: at start, the load that started the app. */
  lastReload(): { isOk: boolean; at: number } {
    return { isOk: this.#isLastReloadOk, at: this.#lastReloadAt };
  }
}

/** The app's metrics on `options.registry`. */
export function createMetrics(options: MetricsOptions): Metrics {
  return new Metrics(options);
}
