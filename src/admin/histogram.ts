/**
 * A Prometheus histogram that costs next to nothing per observation: each
 * label set is a {@link BucketCounts} (plain counts in a Float64Array, a sum
 * and a count) that the caller keeps and observes into directly, with no
 * label lookup; prom-client's values are made from the counts at scrape time.
 *
 * It is registered on the app's prom-client Registry as a metric of its own
 * (the registry reads any object with `get()`, and `getForPromString()` when
 * there is one), and its exposition is prom-client 15's Histogram's, value
 * for value: the same names, HELP and TYPE, cumulative `_bucket` lines with
 * `le` first, `+Inf`, `_sum` and `_count`, label sets in the order they were
 * first observed or zeroed.
 */
import type { Metric, Registry } from 'prom-client';

/** One label set's counts. */
export class BucketCounts {
  /** Upper bounds, ascending (shared by every label set of a histogram). */
  readonly bounds: readonly number[];
  /** Observations per bucket, not cumulative; the last slot is above the last bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Counts `value` in the first bucket whose bound is >= it; a value that is not finite is ignored. */
  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    (this.counts[i] as number)++;
    this.sum += value;
    this.count += 1;
  }
}

export interface ScrapeHistogramOptions<L extends string> {
  readonly name: string;
  readonly help: string;
  /** The label names, in the order `series()` takes their values. */
  readonly labelNames: readonly L[];
  /** Upper bounds, ascending. */
  readonly buckets: readonly number[];
  readonly registry: Registry;
  /** Runs at the start of each scrape, before the values are read (e.g. to zero series). */
  readonly collect?: () => void;
}

interface Series {
  /** The label set, names in `labelNames` order (prom-client's `sharedLabels`). */
  readonly labels: Readonly<Record<string, string>>;
  readonly counts: BucketCounts;
}

/** One exposed value, as prom-client's Histogram builds it. */
interface Value {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly sharedLabels?: Readonly<Record<string, string>>;
  readonly value: number;
  readonly metricName: string;
  readonly exemplar: null | undefined;
}

/** A histogram whose label sets are {@link BucketCounts} kept by the caller. */
export class ScrapeHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames: readonly L[];
  readonly #buckets: readonly number[];
  readonly #collect: (() => void) | undefined;
  /** Label sets by their values joined with NUL, in the order they appeared. */
  readonly #series = new Map<string, Series>();

  constructor(options: ScrapeHistogramOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    this.#buckets = [...options.buckets];
    this.#collect = options.collect;
    // The registry reads metrics through get() / getForPromString() only.
    options.registry.registerMetric(this as unknown as Metric);
  }

  /**
   * The counts of the label set with these values (one per label name, in
   * order), created at 0 and listed from now on if new. Keep what it returns:
   * observing into it is the whole cost of an observation.
   */
  series(values: readonly string[]): BucketCounts {
    const key = values.join('\0');
    let series = this.#series.get(key);
    if (series === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i] as string));
      series = { labels, counts: new BucketCounts(this.#buckets) };
      this.#series.set(key, series);
    }
    return series.counts;
  }

  /** Clears every count; label sets stay listed (for `Registry.resetMetrics()`). */
  reset(): void {
    for (const { counts } of this.#series.values()) {
      counts.counts.fill(0);
      counts.sum = 0;
      counts.count = 0;
    }
  }

  /** What prom-client's Histogram gives the registry for the text exposition. */
  getForPromString(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    values: Value[];
    aggregator: 'sum';
  }> {
    this.#collect?.();
    const bucketName = `${this.name}_bucket`;
    const values: Value[] = [];
    for (const { labels, counts } of this.#series.values()) {
      let cumulative = 0;
      this.#buckets.forEach((bound, i) => {
        cumulative += counts.counts[i] as number;
        values.push(value({ le: bound }, cumulative, bucketName, labels, null));
      });
      values.push(
        value({ le: '+Inf' }, counts.count, bucketName, labels, null),
        value({}, counts.sum, `${this.name}_sum`, labels, undefined),
        value({}, counts.count, `${this.name}_count`, labels, undefined),
      );
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    });
  }

  /** What prom-client's Histogram gives `getMetricsAsJSON()`: each value's labels in one object. */
  async get() {
    const data = await this.getForPromString();
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...rest }): Value => {
        // prom-client's splayLabels: the shared labels join the value's own.
        const all: Record<string, string | number> = { ...labels, ...sharedLabels };
        return { ...rest, labels: all };
      }),
    };
  }
}

function value(
  labels: Record<string, string | number>,
  v: number,
  metricName: string,
  sharedLabels: Readonly<Record<string, string>>,
  exemplar: null | undefined,
): Value {
  return { labels, sharedLabels, value: v, metricName, exemplar };
}
