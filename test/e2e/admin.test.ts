import t from 'tap';
import type { PromFamily } from '../fixtures/admin-prom-parse.js';
import { sampleValue } from '../fixtures/admin-prom-parse.js';
import { connectApi, startStack } from '../fixtures/stack.js';
import { eventually } from '../fixtures/eventually.js';
import { adminClient } from '../fixtures/wire-admin.js';

// Every /monitoring endpoint of the real app after real traffic: node-routeros
// through rosgate against the simulator, then the admin port is asked.

const TOKEN = 'e2e-admin-token-0123456789';
const ROUTER = { router: 'default' };

type Row = Record<string, string>;

/** Every series the README lists, with the labels each must carry besides `router`. */
const ROUTER_SERIES: Record<string, string[]> = {
  mikrotik_connection_pool_active: [],
  mikrotik_connection_pool_idle: [],
  mikrotik_connection_pool_total: [],
  mikrotik_connection_pool_waiting: [],
  mikrotik_connection_pool_acquisition_seconds: [],
  rosgate_connection_pool_longest_wait_seconds: [],
  rosgate_router_sessions_opened_total: [],
  rosgate_router_connect_failures_total: [],
  rosgate_router_up: [],
  mikrotik_circuit_breaker_state: [],
  mikrotik_circuit_breaker_failures_total: [],
  rosgate_circuit_breaker_transitions_total: [],
  mikrotik_cache_hits_total: [],
  mikrotik_cache_misses_total: [],
  mikrotik_cache_size: [],
  mikrotik_cache_evictions_total: [],
  rosgate_cache_bytes: [],
  rosgate_cache_coalesced_total: [],
  rosgate_cache_stale_served_total: [],
  rosgate_cache_invalidations_total: [],
  mikrotik_requests_total: ['verb_class', 'outcome'],
  mikrotik_request_duration_seconds: ['verb_class'],
  mikrotik_request_errors_total: ['code'],
  rosgate_slow_commands_total: ['verb_class'],
  mikrotik_active_users_hotspot: [],
  mikrotik_active_users_pppoe: [],
  mikrotik_vouchers_created_total: [],
  rosgate_ratelimit_queue_length: ['priority'],
  rosgate_ratelimit_tokens: [],
  rosgate_flow_in_flight: [],
  rosgate_command_timeouts_total: [],
  rosgate_policy_decisions_total: ['rule', 'verdict'],
  rosgate_policy_input_failures_total: [],
  rosgate_lockouts_total: [],
  rosgate_client_connections: [],
  rosgate_client_connections_accepted_total: [],
  rosgate_client_connections_refused_total: [],
  rosgate_logins_total: ['result'],
  rosgate_client_in_flight_refusals_total: [],
  rosgate_slow_client_drops_total: [],
  rosgate_client_framing_errors_total: [],
  rosgate_tls_handshake_errors_total: [],
};

/** App-wide series: no router label. */
const APP_SERIES = [
  'rosgate_audit_records_written_total',
  'rosgate_audit_records_dropped_total',
  'rosgate_config_last_reload_successful',
  'rosgate_config_last_reload_success_timestamp_seconds',
  'process_cpu_user_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_eventloop_lag_seconds',
];

t.test('the admin port of the running app after billing traffic', async (t) => {
  const auditDir = t.testdir();
  const stack = await startStack(t, {
    sim: { users: { billing: 'billing-pw' }, hotspotUsers: 30, pppSecrets: 4, latencyMs: 2 },
    config: {
      monitoring: { host: '127.0.0.1', port: 0, token: TOKEN },
      audit: { dir: auditDir, flushIntervalMs: 10 },
      // Every command of the test is slow, so the slow list fills.
      flow: { slowCommandMs: 1 },
    },
  });
  const admin = adminClient(stack.app.adminPort as number, TOKEN);
  const hotspotActive = stack.sim.data.require('/ip/hotspot/active').rows().length;
  const pppActive = stack.sim.data.require('/ppp/active').rows().length;

  // The traffic: reads (one of them twice, so the cache answers), writes, a
  // router trap, a policy denial, a good and a failed router-checked login.
  const api = await stack.client();
  t.equal(((await api.write('/ip/hotspot/active/print')) as Row[]).length, hotspotActive);
  await api.write('/ppp/active/print');
  await api.write('/system/identity/print');
  await api.write('/system/identity/print');
  for (const name of ['v-100', 'v-101', 'v-102'])
    await api.write('/ip/hotspot/user/add', [`=name=${name}`, '=password=voucher-pw']);
  await t.rejects(api.write('/ip/hotspot/user/add', ['=name=v-100', '=password=voucher-pw']), {
    message: /already have/,
  });
  const billing = await stack.client({ user: 'billing', password: 'billing-pw' });
  await t.rejects(billing.write('/system/reboot'), { message: /billing-deny-reboot/ });
  await t.rejects(connectApi(stack.port, { user: 'billing', password: 'wrong-pw' }));

  t.test('live, ready and health answer without the token', async (t) => {
    const live = await admin.request('live', { token: false });
    t.same([live.status, live.json()], [200, { status: 'live' }]);
    const ready = await admin.request('ready', { token: false });
    t.same([ready.status, ready.json()], [200, { status: 'ready' }]);
    const health = await admin.request('health', { token: false });
    t.same([health.status, health.json().status], [200, 'ok']);
  });

  t.test('every guarded endpoint wants the token', async (t) => {
    for (const path of ['status', 'statistics', 'performance', 'business', 'pools']) {
      const none = await admin.request(path, { token: false });
      t.equal(none.status, 401, `${path} without a token`);
      t.same(none.json(), { error: 'a valid bearer token is required', field: 'authorization' });
      const wrong = await admin.request(path, { token: 'not-the-token-at-all' });
      t.equal(wrong.status, 401, `${path} with a wrong token`);
    }
    t.equal((await admin.request('nowhere')).status, 404);
    const put = await admin.request('health', { method: 'PUT', body: {} });
    t.same([put.status, put.headers.get('allow')], [405, 'GET']);
  });

  t.test('metrics carries every series with its labels after the traffic', async (t) => {
    const families = await admin.metrics();
    for (const [name, labels] of Object.entries(ROUTER_SERIES)) {
      const family = families.get(name) as PromFamily;
      t.ok(family, `${name} is exposed`);
      if (family === undefined) continue;
      t.ok(family.samples.length > 0, `${name} has samples`);
      for (const sample of family.samples) {
        t.same(
          Object.keys(sample.labels)
            .filter((l) => l !== 'le')
            .sort(),
          ['router', ...labels].sort(),
          `${sample.name} labels`,
        );
        t.equal(sample.labels['router'], 'default');
      }
    }
    for (const name of APP_SERIES) t.ok(families.get(name)?.samples.length, `${name} is exposed`);
  });

  t.test('metrics counts what the traffic did', async (t) => {
    const m = await admin.metrics();
    const value = (name: string, labels: Record<string, string> = {}) =>
      sampleValue(m, name, { ...ROUTER, ...labels });
    t.equal(value('mikrotik_active_users_hotspot'), hotspotActive, 'hotspot active rows');
    t.equal(value('mikrotik_active_users_pppoe'), pppActive, 'ppp active rows');
    t.equal(value('mikrotik_vouchers_created_total'), 3, 'vouchers created');
    t.equal(value('mikrotik_requests_total', { verb_class: 'read', outcome: 'ok' }), 4);
    t.equal(value('mikrotik_requests_total', { verb_class: 'write', outcome: 'ok' }), 3);
    t.equal(value('mikrotik_requests_total', { verb_class: 'write', outcome: 'trap' }), 1);
    t.equal(value('mikrotik_requests_total', { verb_class: 'other', outcome: 'refused' }), 1);
    t.equal(value('mikrotik_request_errors_total', { code: 'ROSGATE_POLICY_DENIED' }), 1);
    t.equal(value('mikrotik_request_duration_seconds_count', { verb_class: 'read' }), 4);
    t.equal(value('mikrotik_cache_hits_total'), 1, 'the second identity print');
    t.ok((value('mikrotik_cache_misses_total') as number) >= 3);
    t.ok((value('mikrotik_connection_pool_acquisition_seconds_count') as number) >= 7);
    t.equal(value('rosgate_router_up'), 1);
    t.equal(value('mikrotik_circuit_breaker_state'), 0, 'closed');
    t.equal(value('mikrotik_circuit_breaker_failures_total'), 0, 'a trap is no failure');
    t.equal(
      value('rosgate_policy_decisions_total', { rule: 'billing-deny-reboot', verdict: 'deny' }),
      1,
    );
    t.equal(value('rosgate_logins_total', { result: 'ok' }), 2);
    t.equal(value('rosgate_logins_total', { result: 'failed' }), 1);
    t.equal(value('rosgate_client_connections'), 2, 'the two clients still connected');
    t.ok((value('rosgate_slow_commands_total', { verb_class: 'write' }) as number) >= 3);
    t.equal(sampleValue(m, 'rosgate_config_last_reload_successful'), 1);
    t.equal(sampleValue(m, 'rosgate_audit_records_dropped_total'), 0);
    t.ok((sampleValue(m, 'rosgate_audit_records_written_total') as number) > 0);
  });

  t.test('health, status and pools show the router up with its pool', async (t) => {
    const health = (await admin.request('health')).json<{
      status: string;
      routers: Record<string, unknown>[];
    }>();
    t.equal(health.status, 'ok');
    t.match(health.routers, [
      {
        name: 'default',
        up: true,
        pool: { ready: Number, busy: 0, waiting: 0 },
        breaker: { state: 'closed', failures: 0 },
        lastError: null,
        cache: { hits: 1, hitRate: Number },
        queues: { high: 0, normal: 0, low: 0 },
      },
    ]);
    const status = (await admin.request('status')).json();
    t.match(status, {
      service: 'rosgate',
      version: String,
      draining: false,
      lastReload: { ok: true },
      routers: [{ name: 'default', up: true, breaker: 'closed' }],
    });
    const pools = (await admin.request('pools')).json<{ pools: Row[] }>();
    t.match(pools.pools, [
      { router: 'default', cl_active: 2, cl_waiting: 0, sv_active: 0, sv_login: 0, maxwait: 0 },
    ]);
  });

  t.test('statistics, performance and business give the figures of the traffic', async (t) => {
    const statistics = (await admin.request('statistics')).json();
    t.match(statistics, {
      routers: [
        {
          name: 'default',
          requests: { total: 9, byOutcome: { ok: 7, trap: 1, refused: 1 } },
          errors: { ROSGATE_POLICY_DENIED: 1 },
          policy: { decisions: Array },
          proxy: { clientsConnected: 2, loginsOk: 2, loginsFailed: 1 },
          business: { vouchersCreated: 3 },
        },
      ],
      audit: { written: Number, dropped: 0 },
    });
    const performance = (await admin.request('performance')).json<{
      slowCommandMs: number;
      routers: { name: string; latency: Record<string, { count: number }> }[];
      slowCommands: { path: string }[];
    }>();
    t.equal(performance.slowCommandMs, 1);
    t.equal(performance.routers[0]?.latency['read']?.count, 4);
    t.ok(
      performance.slowCommands.some((c) => c.path === '/ip/hotspot/user'),
      'the adds are among the slow commands',
    );
    const business = (await admin.request('business')).json();
    t.match(business, {
      routers: [
        {
          name: 'default',
          activeUsersHotspot: { count: hotspotActive, at: String },
          activeUsersPppoe: { count: pppActive, at: String },
          vouchersCreated: 3,
        },
      ],
    });
  });

  t.test('the dashboard is HTML for browsers, opened once with the token', async (t) => {
    const json = await admin.request('dashboard');
    t.match(json.json(), { routers: [{ name: 'default' }] }, 'JSON for other clients');
    const open = await admin.request(`dashboard?token=${TOKEN}`, { token: false });
    t.equal(open.status, 303);
    t.equal(open.headers.get('location'), '/monitoring/dashboard');
    const cookie = (open.headers.get('set-cookie') ?? '').split(';')[0] as string;
    t.notMatch(cookie, TOKEN, 'the cookie does not carry the token');
    const page = await admin.request('dashboard', {
      token: false,
      headers: { cookie, accept: 'text/html' },
    });
    t.equal(page.status, 200);
    t.match(page.headers.get('content-type'), /^text\/html/);
    t.match(page.text, /<html/);
  });

  t.test('config shows the configuration in force with every secret hidden', async (t) => {
    const answer = await admin.request('config');
    t.equal(answer.status, 200);
    t.match(answer.json(), {
      routers: [{ name: 'default', password: '***', pool: { max: Number } }],
      monitoring: { token: '***' },
      audit: { dir: auditDir },
    });
    t.notMatch(answer.text, TOKEN);
    t.notMatch(answer.text, '"secret"');
  });

  t.test('the audit endpoints find the traffic in the running trail', async (t) => {
    const search = async (query: string) =>
      (await admin.request(`audit-logs?${query}`)).json<{
        records: Record<string, unknown>[];
        count: number;
        limit: number;
      }>();
    // The writer flushes every 10 ms: wait until the denial is on disk.
    const { records: denied } = await eventually(() => search('result=denied&user=billing'), {
      until: (found) => found.count > 0,
      what: 'the denial in the audit trail',
      intervalMs: 20,
      attempts: 250,
    });
    t.match(denied, [
      {
        kind: 'policyDenied',
        action: '/system/reboot',
        userId: 'billing',
        rule: 'billing-deny-reboot',
        verdict: 'deny',
        router: 'default',
      },
    ]);
    const adds = await search('path=/ip/hotspot/**&kind=command&limit=2');
    t.equal(adds.count, 2, 'the limit holds');
    t.equal(adds.limit, 2);
    const bad = await admin.request('audit-logs?limit=0');
    t.same([bad.status, bad.json<{ field: string }>().field], [400, 'limit']);
    const report = await admin.request('audit-report', { body: { groupBy: 'result' } });
    t.equal(report.status, 200);
    t.match(report.json(), { groupBy: 'result', rows: Array });
    const head = await admin.request('audit/head');
    t.match(head.json(), { seq: Number, hash: /^[0-9a-f]{64}$/, file: /^audit-.*\.jsonl$/ });
  });
});

t.test('without a token configured the guarded endpoints are forbidden', async (t) => {
  const stack = await startStack(t);
  const admin = adminClient(stack.app.adminPort as number);
  const pools = await admin.request('pools');
  t.equal(pools.status, 403);
  t.same(pools.json(), {
    error: 'no admin token is configured (set MONITORING_TOKEN)',
    field: 'authorization',
  });
  t.equal((await admin.request('live')).status, 200, 'live stays open');
  t.equal((await admin.request('metrics')).status, 200, 'and metrics');
  t.equal((await admin.request('health')).status, 200, 'and health');
  t.equal((await admin.request('statistics')).status, 200, 'loopback reads the dashboard figures');
});

t.test('with businessPollMs rosgate counts the active users itself', async (t) => {
  const stack = await startStack(t, {
    sim: { hotspotUsers: 30, pppSecrets: 4 },
    config: { monitoring: { host: '127.0.0.1', port: 0, businessPollMs: 20 } },
  });
  const admin = adminClient(stack.app.adminPort as number);
  const hotspotActive = stack.sim.data.require('/ip/hotspot/active').rows().length;
  const pppActive = stack.sim.data.require('/ppp/active').rows().length;
  const families = await eventually(() => admin.metrics(), {
    // NaN until the first count.
    until: (m) => !Number.isNaN(sampleValue(m, 'mikrotik_active_users_pppoe', ROUTER)),
    what: 'the first counts',
    intervalMs: 20,
    attempts: 250,
  });
  t.equal(sampleValue(families, 'mikrotik_active_users_hotspot', ROUTER), hotspotActive);
  t.equal(sampleValue(families, 'mikrotik_active_users_pppoe', ROUTER), pppActive);
  const requests = families.get('mikrotik_requests_total')?.samples ?? [];
  t.equal(
    requests.reduce((sum, s) => sum + s.value, 0),
    0,
    'the polls are not counted as client commands',
  );
  t.ok((stack.sim.counters.commands['/ip/hotspot/active/print'] ?? 0) >= 1, 'the router was asked');
});
