import { Registry } from 'prom-client';
import t from 'tap';
import { parsePrometheus, sampleValue } from '../fixtures/admin-prom-parse.js';
import { FakeClock, FakeSources, fakeMetrics } from '../fixtures/admin-fakes.js';
import { OUTCOMES } from '../../src/admin/traffic.js';
import { VERB_CLASSES, createMetrics } from '../../src/admin/index.js';

async function scrape(metrics: ReturnType<typeof fakeMetrics>) {
  return parsePrometheus(await metrics.registry.metrics());
}

t.test(
  'pool, breaker, cache, flow, policy, client and audit figures are read at scrape time',
  async (t) => {
    const sources = new FakeSources('core', 'edge');
    const metrics = fakeMetrics(sources.asSources());
    const m = await scrape(metrics);
    const core = { router: 'core' };
    const expected: [string, Record<string, string>, number][] = [
      ['mikrotik_connection_pool_active', core, 1],
      ['mikrotik_connection_pool_idle', core, 1],
      ['mikrotik_connection_pool_total', core, 3],
      ['mikrotik_connection_pool_waiting', core, 3],
      ['rosgate_connection_pool_longest_wait_seconds', core, 1.50025],
      ['rosgate_router_sessions_opened_total', core, 7],
      ['rosgate_router_connect_failures_total', core, 2],
      ['rosgate_router_up', core, 1],
      ['mikrotik_circuit_breaker_state', core, 2],
      ['mikrotik_circuit_breaker_failures_total', core, 6],
      ['rosgate_circuit_breaker_transitions_total', core, 3],
      ['mikrotik_cache_hits_total', core, 30],
      ['mikrotik_cache_misses_total', core, 10],
      ['mikrotik_cache_size', core, 12],
      ['mikrotik_cache_evictions_total', core, 5],
      ['rosgate_cache_bytes', core, 2048],
      ['rosgate_cache_coalesced_total', core, 2],
      ['rosgate_cache_stale_served_total', core, 1],
      ['rosgate_cache_invalidations_total', core, 4],
      ['rosgate_ratelimit_queue_length', { router: 'core', priority: 'high' }, 1],
      ['rosgate_ratelimit_queue_length', { router: 'core', priority: 'normal' }, 2],
      ['rosgate_ratelimit_queue_length', { router: 'core', priority: 'low' }, 3],
      ['rosgate_ratelimit_refusals_total', { router: 'core', reason: 'queue-full' }, 4],
      ['rosgate_ratelimit_refusals_total', { router: 'core', reason: 'breaker-open' }, 5],
      ['rosgate_ratelimit_tokens', core, 17.5],
      ['rosgate_flow_in_flight', core, 2],
      ['rosgate_command_timeouts_total', core, 1],
      [
        'rosgate_policy_decisions_total',
        { router: 'core', rule: 'billing-read', verdict: 'allow' },
        40,
      ],
      ['rosgate_policy_decisions_total', { router: 'core', rule: 'no-reboot', verdict: 'deny' }, 2],
      ['rosgate_policy_input_failures_total', core, 1],
      ['rosgate_policy_flags_total', { router: 'core', reason: 'script-injection' }, 1],
      ['rosgate_lockouts_total', core, 2],
      ['rosgate_client_connections', core, 5],
      ['rosgate_client_connections_accepted_total', core, 9],
      ['rosgate_client_connections_refused_total', core, 1],
      ['rosgate_logins_total', { router: 'core', result: 'ok' }, 8],
      ['rosgate_logins_total', { router: 'core', result: 'failed' }, 3],
      ['rosgate_client_in_flight_refusals_total', core, 1],
      ['rosgate_slow_client_drops_total', core, 0],
      ['rosgate_client_framing_errors_total', core, 2],
      ['rosgate_tls_handshake_errors_total', core, 1],
      ['rosgate_audit_records_written_total', {}, 120],
      ['rosgate_audit_records_dropped_total', {}, 3],
      ['rosgate_config_last_reload_successful', {}, 1],
      ['mikrotik_vouchers_created_total', core, 0],
    ];
    for (const [name, labels, value] of expected) {
      t.equal(sampleValue(m, name, labels), value, `${name} ${JSON.stringify(labels)}`);
    }
    t.equal(
      sampleValue(m, 'rosgate_router_up', { router: 'edge' }),
      1,
      'each router has its own series',
    );
    t.equal(m.get('mikrotik_requests_total')?.type, 'counter');
    t.equal(m.get('mikrotik_connection_pool_active')?.type, 'gauge');
    t.equal(m.get('mikrotik_request_duration_seconds')?.type, 'histogram');
    t.ok(m.has('process_cpu_user_seconds_total'), 'Node process metrics share the registry');
    t.end();
  },
);

t.test(
  'every request series is there from the start, for each verb class and outcome',
  async (t) => {
    const m = await scrape(fakeMetrics(new FakeSources('core').asSources()));
    for (const verbClass of VERB_CLASSES) {
      for (const outcome of OUTCOMES) {
        t.equal(
          sampleValue(m, 'mikrotik_requests_total', {
            router: 'core',
            verb_class: verbClass,
            outcome,
          }),
          0,
        );
      }
    }
    t.end();
  },
);

t.test('every series but the app-wide ones carries the router label', async (t) => {
  const m = await scrape(fakeMetrics(new FakeSources('core').asSources()));
  const appWide = /^(process_|nodejs_|rosgate_audit_|rosgate_config_)/;
  for (const family of m.values()) {
    if (appWide.test(family.name)) continue;
    for (const sample of family.samples) {
      t.equal(sample.labels['router'], 'core', `${sample.name} has router="core"`);
    }
  }
  t.end();
});

t.test('a stage that is off has no series; a router left out by a reload disappears', async (t) => {
  const sources = new FakeSources('core', 'edge');
  const core = sources.router('core');
  core.breakerFigures = undefined;
  core.cacheFigures = undefined;
  core.flowFigures = undefined;
  core.policyFigures = undefined;
  sources.auditFigures = undefined;
  const metrics = fakeMetrics(sources.asSources());
  let m = await scrape(metrics);
  t.equal(sampleValue(m, 'mikrotik_circuit_breaker_state', { router: 'core' }), undefined);
  t.equal(sampleValue(m, 'mikrotik_cache_hits_total', { router: 'core' }), undefined);
  t.equal(
    sampleValue(m, 'rosgate_ratelimit_queue_length', { router: 'core', priority: 'low' }),
    undefined,
  );
  t.equal(
    sampleValue(m, 'rosgate_ratelimit_refusals_total', { router: 'core', reason: 'queue-full' }),
    undefined,
  );
  t.equal(
    sampleValue(m, 'rosgate_policy_flags_total', { router: 'core', reason: 'script-injection' }),
    undefined,
  );
  t.equal(
    sampleValue(m, 'rosgate_policy_decisions_total', { router: 'core', rule: 'no-reboot' }),
    undefined,
  );
  t.equal(sampleValue(m, 'mikrotik_circuit_breaker_state', { router: 'edge' }), 2);
  t.notOk(m.has('rosgate_audit_records_written_total'), 'no audit series without audit');

  sources.routerList = sources.routerList.filter((r) => r.name !== 'edge');
  m = await scrape(metrics);
  t.equal(sampleValue(m, 'rosgate_router_up', { router: 'edge' }), undefined);
  t.equal(sampleValue(m, 'rosgate_router_up', { router: 'core' }), 1);
  t.end();
});

t.test('figures follow the sources from one scrape to the next', async (t) => {
  const sources = new FakeSources('core');
  const metrics = fakeMetrics(sources.asSources());
  const core = sources.router('core');
  core.poolFigures = { ...core.poolFigures, ready: 0, busy: 0 };
  core.breakerFigures = { state: 'open', failures: 9, transitions: 4 };
  const m = await scrape(metrics);
  t.equal(sampleValue(m, 'rosgate_router_up', { router: 'core' }), 0);
  t.equal(sampleValue(m, 'mikrotik_circuit_breaker_state', { router: 'core' }), 1);
  t.equal(sampleValue(m, 'mikrotik_circuit_breaker_failures_total', { router: 'core' }), 9);
  core.breakerFigures = { state: 'closed', failures: 9, transitions: 5 };
  t.equal(
    sampleValue(await scrape(metrics), 'mikrotik_circuit_breaker_state', { router: 'core' }),
    0,
  );
  t.end();
});

t.test('acquisition times fill the pool histogram', async (t) => {
  const metrics = fakeMetrics(new FakeSources('core').asSources());
  metrics.observeAcquire('core', 0.002);
  metrics.observeAcquire('core', 0.3);
  const m = await scrape(metrics);
  const name = 'mikrotik_connection_pool_acquisition_seconds';
  t.equal(sampleValue(m, `${name}_count`, { router: 'core' }), 2);
  t.equal(sampleValue(m, `${name}_bucket`, { router: 'core', le: '0.0025' }), 1);
  t.equal(sampleValue(m, `${name}_bucket`, { router: 'core', le: '0.5' }), 2);
  t.end();
});

t.test('a failed reload sets last_reload_successful to 0 and is listed as an event', async (t) => {
  const clock = new FakeClock();
  const metrics = fakeMetrics(new FakeSources('core').asSources(), clock);
  const loadedAt = clock.ms;
  clock.advance(60_000);
  metrics.recordReload(false, 'flow.rateLimit.bucketSize must be >= 1');
  let m = await scrape(metrics);
  t.equal(sampleValue(m, 'rosgate_config_last_reload_successful'), 0);
  t.equal(sampleValue(m, 'rosgate_config_last_reload_success_timestamp_seconds'), loadedAt / 1000);
  t.same(metrics.lastReload(), { isOk: false, at: clock.ms });
  t.match(metrics.events(), [
    { kind: 'reload', message: 'flow.rateLimit.bucketSize must be >= 1' },
  ]);

  clock.advance(1000);
  metrics.recordReload(true, 'reloaded');
  m = await scrape(metrics);
  t.equal(sampleValue(m, 'rosgate_config_last_reload_successful'), 1);
  t.equal(sampleValue(m, 'rosgate_config_last_reload_success_timestamp_seconds'), clock.ms / 1000);
  t.end();
});

t.test('events are bounded and their messages cut short', (t) => {
  const metrics = fakeMetrics(new FakeSources('core').asSources());
  for (let i = 0; i < 150; i++) metrics.recordEvent({ kind: 'lockout', message: `address ${i}` });
  metrics.recordEvent({ kind: 'breaker', router: 'core', message: 'x'.repeat(500) });
  const events = metrics.events();
  t.equal(events.length, 100, 'the latest 100 are kept');
  t.equal(events[0]?.message, 'address 51');
  t.equal(events[99]?.router, 'core');
  t.equal(events[99]?.message.length, 200);
  t.end();
});

t.test('the default clock gives ms since epoch', (t) => {
  const before = Date.now();
  const metrics = createMetrics({
    registry: new Registry(),
    sources: new FakeSources().asSources(),
  });
  t.ok(metrics.startedAt >= before - 1 && metrics.startedAt <= Date.now() + 1);
  t.end();
});
