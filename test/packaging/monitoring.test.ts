import t from 'tap';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import YAML from 'yaml';
import { createMetrics } from '../../src/admin/metrics.js';
import { everySource } from '../fixtures/pack-admin-sources.js';
import { metricNames, seriesNames } from '../fixtures/pack-promql.js';

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

interface Target {
  expr: string;
  legendFormat: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
}
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const dashboardText = read('helm/rosgate/dashboards/rosgate-dashboard.json');
const dashboard = JSON.parse(dashboardText);
const panels: Panel[] = dashboard.panels;
const rules: Rule[] = YAML.parse(read('helm/rosgate/files/alerts.yaml')).groups.flatMap(
  (group: { rules: Rule[] }) => group.rules,
);

/** The series rosgate's admin port shows, read from a live registry after some traffic. */
async function exposedSeries(): Promise<Set<string>> {
  const metrics = createMetrics({ registry: new Registry(), sources: everySource() });
  metrics.observeAcquire('core', 0.002);
  for (const outcome of ['ok', 'refused'] as const)
    metrics.recordCommand({
      router: 'core',
      path: '/ip/hotspot/user',
      verbClass: 'write',
      outcome,
      durationMs: 3,
      at: 0,
      ...(outcome === 'refused' ? { code: 'ROSGATE_RATE_LIMITED' } : {}),
    });
  metrics.setActiveUsers('core', 'hotspot', 12);
  metrics.setActiveUsers('core', 'pppoe', 3);
  metrics.countVoucher('core');
  const families = await metrics.registry.getMetricsAsJSON();
  return seriesNames(Object.fromEntries(families.map((f) => [f.name, String(f.type)])));
}

/** Each row's title and the metric names its panels read. */
function rows(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  let current = new Set<string>();
  for (const panel of panels) {
    if (panel.type === 'row') out.set(panel.title, (current = new Set()));
    for (const target of panel.targets ?? [])
      for (const name of metricNames(target.expr)) current.add(name);
  }
  return out;
}

t.test('metric names are read out of PromQL, not its functions, labels or ranges', async (t) => {
  t.same(
    metricNames(
      'histogram_quantile(0.99, sum by (le, router) (rate(a_seconds_bucket{router=~"$router", x="{y}"}[$__rate_interval])))',
    ),
    ['a_seconds_bucket'],
  );
  t.same(
    metricNames('sum without (pod) (b_total) / ignoring(code) c_total > bool 0 and d offset 5m'),
    ['b_total', 'c_total', 'd'],
  );
  t.same(metricNames('label_values(mikrotik_cache_size, router)'), ['mikrotik_cache_size']);
  t.same([...seriesNames({ h: 'histogram', g: 'gauge' })].sort(), [
    'g',
    'h',
    'h_bucket',
    'h_count',
    'h_sum',
  ]);
});

t.test('the Grafana dashboard in grafana/ is the chart copy', async (t) => {
  t.equal(read('grafana/rosgate-dashboard.json'), dashboardText);
});

t.test(
  'the dashboard has a data source and a router variable, and every panel filters by router',
  async (t) => {
    const [datasource, router] = dashboard.templating.list;
    t.match(datasource, { type: 'datasource', name: 'datasource', query: 'prometheus' });
    t.match(router, { type: 'query', name: 'router', multi: true, includeAll: true });
    t.same(metricNames(router.definition), ['mikrotik_connection_pool_total']);
    const unfiltered = panels
      .filter((p) => !['Config reload', 'Records written / s', 'Records dropped'].includes(p.title))
      .flatMap((p) => p.targets ?? [])
      .filter((target) => !target.expr.includes('router=~"$router"'));
    t.same(
      unfiltered,
      [],
      'reloads and audit records are per process, every other series per router',
    );
  },
);

t.test("the dashboard has the guide's five panels, rate limiting, policy and audit", async (t) => {
  const byRow = rows();
  const expected: Record<string, string[]> = {
    'Connection pool': [
      'mikrotik_connection_pool_active',
      'mikrotik_connection_pool_idle',
      'mikrotik_connection_pool_total',
      'mikrotik_connection_pool_acquisition_seconds_bucket',
    ],
    'Circuit breaker': [
      'mikrotik_circuit_breaker_state',
      'mikrotik_circuit_breaker_failures_total',
      'mikrotik_requests_total',
    ],
    Cache: ['mikrotik_cache_hits_total', 'mikrotik_cache_size', 'mikrotik_cache_evictions_total'],
    Requests: [
      'mikrotik_requests_total',
      'mikrotik_request_duration_seconds_bucket',
      'mikrotik_request_errors_total',
    ],
    Business: [
      'mikrotik_active_users_hotspot',
      'mikrotik_active_users_pppoe',
      'mikrotik_vouchers_created_total',
    ],
    'Rate limiting': ['rosgate_ratelimit_refusals_total'],
    Policy: ['rosgate_policy_decisions_total', 'rosgate_lockouts_total'],
    Audit: ['rosgate_audit_records_dropped_total'],
  };
  for (const [row, names] of Object.entries(expected)) {
    const seen = byRow.get(row);
    t.ok(seen, `row ${row}`);
    for (const name of names) t.ok(seen?.has(name), `${row} shows ${name}`);
  }
  const latency = panels.find((p) => p.title === 'Latency') as Panel;
  t.same(
    latency.targets?.map((target) => /histogram_quantile\((0\.\d+)/.exec(target.expr)?.[1]),
    ['0.5', '0.95', '0.99'],
  );
});

t.test('dashboard panels have unique ids and do not overlap', async (t) => {
  t.equal(new Set(panels.map((p) => p.id)).size, panels.length);
  const cells = new Set<string>();
  const clashes: string[] = [];
  for (const { gridPos: g, title } of panels)
    for (let y = g.y; y < g.y + g.h; y++)
      for (let x = g.x; x < g.x + g.w; x++) {
        if (cells.has(`${x},${y}`) || x >= 24) clashes.push(`${title} at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
  t.same(clashes, []);
});

t.test(
  'the alert rules cover the six conditions, each with a severity and a summary',
  async (t) => {
    t.same(
      rules.map((r) => r.alert),
      [
        'RosgateRouterDown',
        'RosgateCircuitBreakerOpen',
        'RosgateHighErrorRate',
        'RosgateRateLimitRefusals',
        'RosgateAuditRecordsDropped',
        'RosgateLockoutsSpike',
      ],
    );
    for (const rule of rules) {
      t.match(rule.labels.severity, /^(warning|critical)$/, rule.alert);
      t.match(rule.annotations.summary, /\S/, rule.alert);
      if (rule.for !== undefined) t.match(rule.for, /^\d+[smh]$/, rule.alert);
    }
  },
);

t.test('every metric the dashboard and the alerts read is one rosgate exposes', async (t) => {
  const exposed = await exposedSeries();
  t.ok(exposed.has('mikrotik_request_duration_seconds_bucket'), 'histograms show their buckets');
  const queries = [
    ...panels.flatMap((p) => p.targets ?? []).map((target) => target.expr),
    dashboard.templating.list[1].definition,
    ...rules.map((rule) => rule.expr),
  ];
  const unknown = queries.flatMap((expr) => metricNames(expr)).filter((name) => !exposed.has(name));
  t.same([...new Set(unknown)], []);
});
