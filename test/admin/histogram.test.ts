import { Histogram, Registry } from 'prom-client';
import t from 'tap';
import { BucketCounts, ScrapeHistogram } from '../../src/admin/histogram.js';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const NAME = 'rosgate_test_seconds';
const HELP = 'A histogram for the tests.';

/** The same histogram twice: prom-client's own and ours, each on a registry of its own. */
function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  const histogram = new Histogram({
    name: NAME,
    help: HELP,
    labelNames: ['router', 'verb_class'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const scrape = new ScrapeHistogram({
    name: NAME,
    help: HELP,
    labelNames: ['router', 'verb_class'],
    buckets: BUCKETS,
    registry: ours,
  });
  const observe = (router: string, verbClass: string, value: number): void => {
    histogram.observe({ router, verb_class: verbClass }, value);
    scrape.series([router, verbClass]).observe(value);
  };
  const zero = (router: string, verbClass: string): void => {
    histogram.zero({ router, verb_class: verbClass });
    scrape.series([router, verbClass]);
  };
  return { theirs, ours, observe, zero, scrape };
}

t.test("the exposition is prom-client's Histogram's, byte for byte, text and JSON", async (t) => {
  const { theirs, ours, observe, zero } = pair();
  t.equal(await ours.metrics(), await theirs.metrics(), 'nothing observed: HELP and TYPE alone');
  const values = [0, -1, 0.0005, 0.001, 0.0010001, 0.0025, 0.03, 0.1 + 0.2, 1, 2.5, 9.99, 10, 10.5];
  values.forEach((v, i) => observe(i % 3 === 0 ? 'core' : 'edge', i % 2 ? 'read' : 'write', v));
  zero('quiet', 'stream');
  observe('core', 'read', 4e-7);
  t.equal(await ours.metrics(), await theirs.metrics(), 'text exposition');
  t.same(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON(), 'JSON');
  t.equal(
    JSON.stringify(await ours.getMetricsAsJSON()),
    JSON.stringify(await theirs.getMetricsAsJSON()),
    'JSON, key order included',
  );
  // A scrape between observations changes nothing: counts go on.
  observe('edge', 'read', 0.004);
  observe('quiet', 'stream', 100);
  t.equal(await ours.metrics(), await theirs.metrics(), 'text after more observations');
  t.end();
});

t.test('a value on a bound is in that bucket; above the last bound only in +Inf', (t) => {
  const counts = new BucketCounts([1, 2, 5]);
  for (const v of [-3, 0, 1, 1.5, 2, 2.0001, 5, 5.5, 1e9]) counts.observe(v);
  t.same([...counts.counts], [3, 2, 2, 2], '<=1, <=2, <=5, above 5');
  t.equal(counts.count, 9);
  t.equal(counts.sum, -3 + 0 + 1 + 1.5 + 2 + 2.0001 + 5 + 5.5 + 1e9);
  t.end();
});

t.test('a value that is not a finite number is not counted', (t) => {
  const counts = new BucketCounts([1]);
  counts.observe(Number.NaN);
  counts.observe(Number.POSITIVE_INFINITY);
  counts.observe(Number.NEGATIVE_INFINITY);
  t.same([...counts.counts], [0, 0]);
  t.equal(counts.count, 0);
  t.equal(counts.sum, 0);
  t.end();
});

/** A histogram by router with one bucket (1), in `registry`. */
function routerHistogram(registry: Registry, collect?: () => void): ScrapeHistogram<'router'> {
  return new ScrapeHistogram({
    name: NAME,
    help: HELP,
    labelNames: ['router'],
    buckets: [1],
    registry,
    ...(collect === undefined ? {} : { collect }),
  });
}

t.test('the same label values give the same series, listed from their first use', async (t) => {
  const registry = new Registry();
  const runs: number[] = [];
  const histogram = routerHistogram(registry, () => runs.push(runs.length));
  const core = histogram.series(['core']);
  t.equal(histogram.series(['core']), core);
  t.not(histogram.series(['edge']), core);
  core.observe(0.5);
  const text = await registry.metrics();
  t.equal(
    text,
    [
      `# HELP ${NAME} ${HELP}`,
      `# TYPE ${NAME} histogram`,
      `${NAME}_bucket{le="1",router="core"} 1`,
      `${NAME}_bucket{le="+Inf",router="core"} 1`,
      `${NAME}_sum{router="core"} 0.5`,
      `${NAME}_count{router="core"} 1`,
      `${NAME}_bucket{le="1",router="edge"} 0`,
      `${NAME}_bucket{le="+Inf",router="edge"} 0`,
      `${NAME}_sum{router="edge"} 0`,
      `${NAME}_count{router="edge"} 0`,
      '',
    ].join('\n'),
  );
  await registry.getMetricsAsJSON();
  t.same(runs, [0, 1], 'collect runs before each scrape, text or JSON');
  t.equal(registry.getSingleMetric(NAME), histogram as unknown, 'found by name in the registry');
  t.end();
});

t.test('a reset of the registry zeroes every count and keeps the series', async (t) => {
  const registry = new Registry();
  const histogram = routerHistogram(registry);
  const core = histogram.series(['core']);
  core.observe(3);
  registry.resetMetrics();
  t.same([...core.counts], [0, 0]);
  t.equal(core.sum, 0);
  t.equal(core.count, 0);
  core.observe(0.5);
  t.match(await registry.metrics(), `${NAME}_count{router="core"} 1`, 'the kept series counts on');
  t.end();
});
