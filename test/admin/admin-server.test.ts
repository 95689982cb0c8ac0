import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import {
  createAdminServer,
  createMetricsStage,
  type AuditReportQuery,
  type CacheSnapshot,
  type AuditSearchQuery,
} from '../../src/admin/index.js';
import { isLoopback } from '../../src/admin/admin-auth.js';
import { ErrorCode, RosgateError } from '../../src/errors.js';
import { compose } from '../../src/pipeline.js';
import { parsePrometheus, sampleValue } from '../fixtures/admin-prom-parse.js';
import {
  HoldingHandler,
  RecordingSink,
  TOKEN,
  contextFor,
  memoryLogger,
  rawRequest,
  startAdmin,
  words,
} from '../fixtures/admin-fakes.js';
import { eventually } from '../fixtures/eventually.js';

const PROTECTED = [
  'status',
  'statistics',
  'performance',
  'business',
  'pools',
  'dashboard',
  'config',
];

t.test('live, ready, health and metrics answer without a token', async (t) => {
  const admin = await startAdmin(t);
  const live = await admin.request('/monitoring/live');
  t.equal(live.status, 200);
  t.same(live.json(), { status: 'live' });
  t.equal(live.headers.get('content-type'), 'application/json; charset=utf-8');
  t.equal(live.headers.get('cache-control'), 'no-store');
  t.same((await admin.request('/monitoring/ready')).json(), { status: 'ready' });
  const metrics = await admin.request('/monitoring/metrics');
  t.equal(metrics.status, 200);
  t.equal(metrics.headers.get('content-type'), admin.metrics.registry.contentType);
  t.ok(parsePrometheus(metrics.text).has('mikrotik_connection_pool_active'));
  const health = await admin.request('/monitoring/health');
  t.equal(health.status, 200, "health, the guide's liveness path, needs no token");
  t.match(health.json(), { status: 'ok', routers: [{ name: 'core', up: true }] });
});

t.test('every other endpoint needs the bearer token', async (t) => {
  const admin = await startAdmin(t);
  for (const name of PROTECTED) {
    const none = await admin.request(`/monitoring/${name}`);
    t.equal(none.status, 401, `${name} without a token`);
    t.same(none.json(), { error: 'a valid bearer token is required', field: 'authorization' });
    t.equal(none.headers.get('www-authenticate'), 'Bearer realm="rosgate"');
    t.equal((await admin.request(`/monitoring/${name}`, { token: 'wrong' })).status, 401);
    t.equal((await admin.request(`/monitoring/${name}`, { token: `${TOKEN}x` })).status, 401);
    t.equal((await admin.request(`/monitoring/${name}`, { token: true })).status, 200, name);
  }
  const basic = await admin.request('/monitoring/status', {
    headers: { authorization: `Basic ${TOKEN}` },
  });
  t.equal(basic.status, 401, 'only the Bearer scheme');
  t.match(admin.logsOf('admin request without a valid token'), [
    { level: 40, path: '/monitoring/status' },
  ]);
  t.notMatch(admin.logText(), TOKEN, 'the token is never logged');
});

t.test('live, ready, health and metrics can be made to need the token', async (t) => {
  const admin = await startAdmin(t, {
    monitoring: { requireTokenFor: ['metrics', 'ready', 'live', 'health'] },
  });
  for (const name of ['live', 'ready', 'health', 'metrics']) {
    t.equal((await admin.request(`/monitoring/${name}`)).status, 401, name);
    t.equal((await admin.request(`/monitoring/${name}`, { token: true })).status, 200, name);
  }
});

t.test(
  'without a configured token the open endpoints answer, and loopback may read the dashboard, statistics and status',
  async (t) => {
    const admin = await startAdmin(t, { isTokenless: true });
    t.equal((await admin.request('/monitoring/live')).status, 200);
    t.equal((await admin.request('/monitoring/health')).status, 200);
    const page = await admin.request('/monitoring/dashboard?token=anything', {
      headers: { accept: 'text/html' },
    });
    t.equal(page.status, 200, 'the page itself, with no cookie to set');
    t.equal(page.headers.get('set-cookie'), null);
    t.match(page.text, /<html/);
    for (const name of ['statistics', 'status']) {
      t.equal((await admin.request(`/monitoring/${name}`)).status, 200, name);
    }
    for (const name of ['config', 'pools', 'performance', 'business', 'audit/head']) {
      const res = await admin.request(`/monitoring/${name}`, { token: 'anything' });
      t.equal(res.status, 403, `${name} still needs a token`);
      t.same(res.json(), {
        error: 'no admin token is configured (set MONITORING_TOKEN)',
        field: 'authorization',
      });
    }
    const put = await admin.request('/monitoring/config/log', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"level":"debug"}',
    });
    t.equal(put.status, 403, 'a change is never made without a token');
  },
);

t.test('loopback is 127.0.0.0/8 and ::1, plain or mapped into IPv6', async (t) => {
  for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])
    t.ok(isLoopback(address), address);
  for (const address of [undefined, '10.0.0.1', '::ffff:10.0.0.1', '::2', '1127.0.0.1', 'fe80::1'])
    t.notOk(isLoopback(address), String(address));
});

t.test(
  'ready fails while draining, and with requireRouter while a router has no session',
  async (t) => {
    const admin = await startAdmin(t, {
      monitoring: { readiness: { requireRouter: true } },
      routers: ['core', 'edge'],
    });
    t.equal((await admin.request('/monitoring/ready')).status, 200);
    const edge = admin.sources.router('edge');
    edge.poolFigures = { ...edge.poolFigures, ready: 0, busy: 0 };
    admin.sources.isDrainingNow = true;
    const ready = await admin.request('/monitoring/ready');
    t.equal(ready.status, 503);
    t.same(ready.json(), {
      status: 'not ready',
      problems: ['draining', 'no session to router edge'],
    });
    t.equal((await admin.request('/monitoring/live')).status, 200, 'live does not care');
  },
);

t.test('by default ready does not depend on the router', async (t) => {
  const admin = await startAdmin(t);
  const core = admin.sources.router('core');
  core.poolFigures = { ...core.poolFigures, ready: 0, busy: 0 };
  t.equal((await admin.request('/monitoring/ready')).status, 200);
});

t.test('health shows per router the pool, breaker, last error, cache and queues', async (t) => {
  const admin = await startAdmin(t, { routers: ['core', 'edge'] });
  const edge = admin.sources.router('edge');
  edge.breakerFigures = undefined;
  edge.cacheFigures = undefined;
  edge.flowFigures = undefined;
  const { lastError: _e, lastErrorAt: _a, ...noError } = edge.poolFigures;
  edge.poolFigures = noError;
  let health = (await admin.request('/monitoring/health', { token: true })).json();
  t.match(health, {
    status: 'ok',
    routers: [
      {
        name: 'core',
        up: true,
        pool: { ready: 2, busy: 1, idle: 1, opening: 1, waiting: 3, longestWaitMs: 1500.25 },
        breaker: { state: 'half-open', failures: 6 },
        lastError: { code: 'ROSGATE_UPSTREAM_TIMEOUT', at: '2025-01-02T03:04:05.000Z' },
        cache: { hits: 30, misses: 10, hitRate: 0.75 },
        queues: { high: 1, normal: 2, low: 3 },
      },
      { name: 'edge', breaker: null, lastError: null, cache: null, queues: null },
    ],
  });
  const core = admin.sources.router('core');
  core.breakerFigures = { state: 'open', failures: 7, transitions: 4 };
  const { lastErrorAt: _at, ...errorWithoutTime } = core.poolFigures;
  core.poolFigures = errorWithoutTime;
  core.cacheFigures = { ...(core.cacheFigures as CacheSnapshot), hits: 0, misses: 0 };
  health = (await admin.request('/monitoring/health', { token: true })).json();
  t.match(health, {
    status: 'degraded',
    routers: [
      { lastError: { code: 'ROSGATE_UPSTREAM_TIMEOUT', at: null }, cache: { hitRate: null } },
    ],
  });
  edge.poolFigures = { ...edge.poolFigures, ready: 0 };
  core.breakerFigures = { state: 'closed', failures: 7, transitions: 5 };
  health = (await admin.request('/monitoring/health', { token: true })).json();
  t.match(health, { status: 'degraded', routers: [{}, { up: false }] });
});

t.test('metrics after traffic show the request series with their labels', async (t) => {
  const admin = await startAdmin(t);
  const inner = new HoldingHandler();
  const handler = compose([createMetricsStage(admin.metrics).stage], inner);
  handler.handle(contextFor('core', ['/ip/hotspot/active/print']), new RecordingSink());
  inner.last().sink.reply(words('!re', '=user=a'));
  inner.last().sink.done(words('!done'));
  handler.handle(contextFor('core', ['/ip/hotspot/user/add', '=name=v']), new RecordingSink());
  admin.clock.advance(3);
  inner.last().sink.done(words('!done', '=ret=*9'));
  handler.handle(contextFor('core', ['/system/reboot']), new RecordingSink());
  inner.last().sink.refuse(new RosgateError(ErrorCode.PolicyDenied, 'denied'));
  const m = parsePrometheus((await admin.request('/monitoring/metrics')).text);
  t.equal(
    sampleValue(m, 'mikrotik_requests_total', {
      router: 'core',
      verb_class: 'read',
      outcome: 'ok',
    }),
    1,
  );
  t.equal(
    sampleValue(m, 'mikrotik_requests_total', {
      router: 'core',
      verb_class: 'write',
      outcome: 'ok',
    }),
    1,
  );
  t.equal(
    sampleValue(m, 'mikrotik_requests_total', {
      router: 'core',
      verb_class: 'other',
      outcome: 'refused',
    }),
    1,
  );
  t.equal(
    sampleValue(m, 'mikrotik_request_errors_total', {
      router: 'core',
      code: 'ROSGATE_POLICY_DENIED',
    }),
    1,
  );
  t.equal(
    sampleValue(m, 'mikrotik_request_duration_seconds_count', {
      router: 'core',
      verb_class: 'write',
    }),
    1,
  );
  t.equal(
    sampleValue(m, 'mikrotik_request_duration_seconds_sum', {
      router: 'core',
      verb_class: 'write',
    }),
    0.003,
  );
  t.equal(sampleValue(m, 'mikrotik_active_users_hotspot', { router: 'core' }), 1);
  t.equal(sampleValue(m, 'mikrotik_vouchers_created_total', { router: 'core' }), 1);
  for (const name of [
    'mikrotik_connection_pool_active',
    'mikrotik_connection_pool_idle',
    'mikrotik_connection_pool_total',
    'mikrotik_connection_pool_waiting',
    'mikrotik_connection_pool_acquisition_seconds',
    'mikrotik_circuit_breaker_state',
    'mikrotik_circuit_breaker_failures_total',
    'mikrotik_cache_hits_total',
    'mikrotik_cache_misses_total',
    'mikrotik_cache_size',
    'mikrotik_cache_evictions_total',
    'mikrotik_active_users_pppoe',
    'rosgate_client_connections',
    'rosgate_logins_total',
    'rosgate_ratelimit_queue_length',
    'rosgate_ratelimit_refusals_total',
    'rosgate_policy_decisions_total',
    'rosgate_audit_records_written_total',
    'rosgate_audit_records_dropped_total',
    'rosgate_lockouts_total',
    'rosgate_slow_commands_total',
    'rosgate_config_last_reload_successful',
    'rosgate_router_up',
  ]) {
    t.ok(m.has(name), name);
  }
});

t.test('status says what runs and since when', async (t) => {
  const admin = await startAdmin(t);
  admin.clock.advance(125_000);
  t.same((await admin.request('/monitoring/status', { token: true })).json(), {
    service: 'rosgate',
    version: '9.9.9-test',
    startedAt: '2025-01-01T12:00:00.000Z',
    uptimeSeconds: 125,
    draining: false,
    lastReload: { ok: true, at: '2025-01-01T12:00:00.000Z' },
    routers: [{ name: 'core', up: true, breaker: 'half-open' }],
  });
  admin.sources.router('core').breakerFigures = undefined;
  t.match((await admin.request('/monitoring/status', { token: true })).json(), {
    routers: [{ breaker: null }],
  });
});

t.test('statistics hold everything the dashboard draws', async (t) => {
  const admin = await startAdmin(t);
  const inner = new HoldingHandler();
  const handler = compose([createMetricsStage(admin.metrics).stage], inner);
  handler.handle(contextFor('core', ['/ip/address/print']), new RecordingSink());
  admin.clock.advance(4);
  inner.last().sink.done(words('!done'));
  handler.handle(contextFor('core', ['/ip/address/add']), new RecordingSink());
  inner.last().sink.refuse(new RosgateError(ErrorCode.UpstreamClosed, 'gone'));
  admin.metrics.recordEvent({ kind: 'breaker', router: 'core', message: 'closed -> open' });
  const stats = (await admin.request('/monitoring/statistics', { token: true })).json();
  t.match(stats, {
    at: '2025-01-01T12:00:00.004Z',
    version: '9.9.9-test',
    draining: false,
    routers: [
      {
        name: 'core',
        up: true,
        pool: { busy: 1, ready: 2 },
        breaker: { state: 'half-open' },
        flow: { queued: { high: 1 }, tokens: 17.5 },
        cache: { hitRate: 0.75 },
        policy: { lockouts: 2 },
        proxy: { clientsConnected: 5 },
        requests: {
          total: 2,
          byOutcome: { ok: 1, error: 1, trap: 0, refused: 0, cancelled: 0 },
          byClass: { read: 1, write: 1, stream: 0, other: 0 },
        },
        errors: { ROSGATE_UPSTREAM_CLOSED: 1 },
        slowCommands: 0,
        latency: { read: { count: 1, p50: 4, p99: 4 }, stream: { count: 0 } },
        business: { activeUsersHotspot: null, activeUsersPppoe: null, vouchersCreated: 0 },
      },
    ],
    audit: { written: 120, dropped: 3 },
    events: [
      {
        kind: 'breaker',
        router: 'core',
        message: 'closed -> open',
        at: '2025-01-01T12:00:00.004Z',
      },
    ],
  });
  const r = admin.sources.router('core');
  r.breakerFigures = undefined;
  r.flowFigures = undefined;
  r.cacheFigures = undefined;
  r.policyFigures = undefined;
  admin.sources.auditFigures = undefined;
  t.match((await admin.request('/monitoring/statistics', { token: true })).json(), {
    routers: [{ breaker: null, flow: null, cache: null, policy: null }],
    audit: null,
  });
});

t.test('performance lists latency by verb class and the slow commands', async (t) => {
  const admin = await startAdmin(t);
  const inner = new HoldingHandler();
  const handler = compose([createMetricsStage(admin.metrics).stage], inner);
  handler.handle(contextFor('core', ['/ip/hotspot/user/print']), new RecordingSink());
  admin.clock.advance(6000.123);
  inner.last().sink.done(words('!done'));
  const perf = (await admin.request('/monitoring/performance', { token: true })).json();
  t.match(perf, {
    slowCommandMs: 5000,
    routers: [{ name: 'core', latency: { read: { count: 1, p50: 6000.12, max: 6000.12 } } }],
    slowCommands: [
      {
        router: 'core',
        path: '/ip/hotspot/user',
        verbClass: 'read',
        durationMs: 6000.12,
        at: '2025-01-01T12:00:06.000Z',
      },
    ],
  });
});

t.test('business shows active users with when they were counted, and vouchers', async (t) => {
  const admin = await startAdmin(t);
  admin.metrics.setActiveUsers('core', 'pppoe', 12);
  admin.metrics.countVoucher('core');
  t.same((await admin.request('/monitoring/business', { token: true })).json(), {
    routers: [
      {
        name: 'core',
        activeUsersHotspot: null,
        activeUsersPppoe: { count: 12, at: '2025-01-01T12:00:00.000Z' },
        vouchersCreated: 1,
      },
    ],
  });
});

t.test('pools has one SHOW POOLS row per router', async (t) => {
  const admin = await startAdmin(t, { routers: ['core', 'edge'] });
  admin.sources.router('edge').flowFigures = undefined;
  t.same((await admin.request('/monitoring/pools', { token: true })).json(), {
    pools: [
      {
        router: 'core',
        cl_active: 5,
        cl_waiting: 9,
        sv_active: 1,
        sv_idle: 1,
        sv_login: 1,
        maxwait: 1,
        maxwait_us: 500250,
      },
      {
        router: 'edge',
        cl_active: 5,
        cl_waiting: 3,
        sv_active: 1,
        sv_idle: 1,
        sv_login: 1,
        maxwait: 1,
        maxwait_us: 500250,
      },
    ],
  });
});

t.test('config is shown with every secret as ***', async (t) => {
  const admin = await startAdmin(t);
  const config = await admin.request('/monitoring/config', { token: true });
  t.equal(config.status, 200);
  t.match(config.json(), {
    routers: [{ host: 'router.example', password: '***' }],
    monitoring: { port: 0 },
  });
  t.notMatch(config.text, 'router-secret-pw');
});

t.test('a PUT of a section is handed to applyConfig', async (t) => {
  const admin = await startAdmin(t);
  const res = await admin.request('/monitoring/config/flow', {
    method: 'PUT',
    token: true,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ rateLimit: { refillPerSecond: 50 } }),
  });
  t.equal(res.status, 200);
  t.same(res.json(), { ok: true, section: 'flow', changes: [] });
  t.same(admin.applied, [{ section: 'flow', body: { rateLimit: { refillPerSecond: 50 } } }]);
  t.match(admin.logsOf('configuration changed through the admin port'), [
    { level: 30, section: 'flow', keys: [] },
  ]);
});

t.test('a PUT the configuration refuses gets 400 naming the field', async (t) => {
  const admin = await startAdmin(t, {
    applyConfig: () =>
      Promise.resolve({
        ok: false,
        errors: ['flow.rateLimit.bucketSize must be >= 1', 'flow.queue.maxLength must be >= 0'],
      }),
  });
  const res = await admin.request('/monitoring/config/flow', {
    method: 'PUT',
    token: true,
    headers: { 'content-type': 'application/json' },
    body: '{"rateLimit":{"bucketSize":0}}',
  });
  t.equal(res.status, 400);
  t.same(res.json(), {
    error: 'the configuration was not changed',
    field: 'flow.rateLimit.bucketSize',
    errors: ['flow.rateLimit.bucketSize must be >= 1', 'flow.queue.maxLength must be >= 0'],
  });
  const none = await startAdmin(t, {
    applyConfig: () => Promise.resolve({ ok: false, errors: [] }),
  });
  const bare = await none.request('/monitoring/config/cache', {
    method: 'PUT',
    token: true,
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  t.match(bare.json(), { field: 'cache' });
});

t.test('a bad PUT gets 4xx naming what is wrong, and applies nothing', async (t) => {
  const admin = await startAdmin(t, { maxBodyBytes: 64 });
  const put = (
    path: string,
    body: string,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ) => admin.request(path, { method: 'PUT', token: true, headers, body });
  const cases: [Awaited<ReturnType<typeof put>>, number, string, string][] = [
    [
      await put('/monitoring/config/flow', '{"rateLimit":'),
      400,
      'body',
      'the body is not valid JSON',
    ],
    [await put('/monitoring/config/flow', '[1,2]'), 400, 'body', 'the body must be a JSON object'],
    [await put('/monitoring/config/flow', 'null'), 400, 'body', 'the body must be a JSON object'],
    [await put('/monitoring/config/flow', '"x"'), 400, 'body', 'the body must be a JSON object'],
    [
      await put('/monitoring/config/fl%20ow', '{}'),
      400,
      'section',
      'the section must be a configuration key',
    ],
    [
      await put('/monitoring/config/', '{}'),
      400,
      'section',
      'the section must be a configuration key',
    ],
    [
      await put('/monitoring/config/flow', '{}', { 'content-type': 'text/plain' }),
      415,
      'content-type',
      'the body must be application/json',
    ],
    [
      await put('/monitoring/config/flow', '{}', {}),
      415,
      'content-type',
      'the body must be application/json',
    ],
    [
      await put('/monitoring/config/flow', JSON.stringify({ a: 'x'.repeat(100) })),
      413,
      'body',
      'the body must be at most 64 bytes',
    ],
  ];
  for (const [res, status, field, error] of cases) {
    t.equal(res.status, status, error);
    t.same(res.json(), { error, field });
  }
  t.same(admin.applied, [], 'applyConfig was never called');
});

t.test('a body larger than the bound is refused without reading it all', async (t) => {
  const admin = await startAdmin(t, { maxBodyBytes: 64 });
  // Chunked, so no content-length tells the size in advance; the body never ends.
  const answer = await rawRequest(admin.url, {
    method: 'PUT',
    path: '/monitoring/config/flow',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: ['{"a":"', 'x'.repeat(200)],
    isBodyOpen: true,
  });
  t.equal(answer.status, 413);
  t.equal(answer.headers.connection, 'close');
  t.same(JSON.parse(answer.body), { error: 'the body must be at most 64 bytes', field: 'body' });
  t.same(admin.applied, []);
});

t.test('a PUT without a content-type is refused', async (t) => {
  const admin = await startAdmin(t);
  const answer = await rawRequest(admin.url, {
    method: 'PUT',
    path: '/monitoring/config/flow',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: ['{}'],
  });
  t.equal(answer.status, 415);
  t.same(admin.applied, []);
});

t.test('the dashboard serves HTML to browsers and statistics to the rest', async (t) => {
  const admin = await startAdmin(t);
  const page = await admin.request('/monitoring/dashboard', {
    token: true,
    headers: { accept: 'text/html,application/xhtml+xml' },
  });
  t.equal(page.status, 200);
  t.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
  t.match(page.headers.get('content-security-policy'), /default-src 'none'; style-src 'sha256-/);
  t.match(page.text, /<title>rosgate dashboard<\/title>/);
  t.notMatch(page.text, /\b(src|href)=|url\(|@import/, 'nothing is loaded from elsewhere');
  const json = await admin.request('/monitoring/dashboard', { token: true });
  t.match(json.json(), { routers: [{ name: 'core' }] });
});

t.test('?token= on the dashboard becomes a session cookie that only reads', async (t) => {
  const admin = await startAdmin(t);
  const bad = await admin.request('/monitoring/dashboard?token=wrong');
  t.equal(bad.status, 401);
  const swap = await admin.request(`/monitoring/dashboard?token=${TOKEN}`);
  t.equal(swap.status, 303);
  t.equal(swap.headers.get('location'), '/monitoring/dashboard');
  const cookie = swap.headers.get('set-cookie') as string;
  t.match(
    cookie,
    /^rosgate_admin=[\w-]+; Path=\/monitoring; HttpOnly; SameSite=Strict; Max-Age=43200$/,
  );
  t.notMatch(cookie, TOKEN, 'the cookie does not carry the token');
  const session = cookie.split(';')[0] as string;
  const stats = await admin.request('/monitoring/statistics', {
    headers: { cookie: `a=b; ${session}` },
  });
  t.equal(stats.status, 200);
  t.equal(
    (await admin.request('/monitoring/statistics', { headers: { cookie: 'rosgate_admin=forged' } }))
      .status,
    401,
  );
  const put = await admin.request('/monitoring/config/flow', {
    method: 'PUT',
    headers: { cookie: session, 'content-type': 'application/json' },
    body: '{}',
  });
  t.equal(put.status, 401, 'a change needs the header');
  t.equal(
    (await admin.request(`/monitoring/status?token=${TOKEN}`)).status,
    401,
    'only the dashboard takes ?token=',
  );
  t.notMatch(admin.logText(), TOKEN, 'the query is never logged');
});

t.test('audit-logs passes checked filters to the audit search', async (t) => {
  const searches: AuditSearchQuery[] = [];
  const admin = await startAdmin(t, {
    audit: {
      search: (q) => {
        searches.push(q);
        return Promise.resolve([{ seq: 1 }]);
      },
      report: () => Promise.resolve({}),
      head: () => Promise.resolve({ seq: 9, hash: 'ab' }),
    },
  });
  const res = await admin.request(
    '/monitoring/audit-logs?from=2025-01-01&to=2025-01-02T10:00:00Z&user=billing&path=/ip/hotspot/**&limit=5',
    { token: true },
  );
  t.equal(res.status, 200);
  t.same(res.json(), [{ seq: 1 }]);
  t.same(searches, [
    {
      from: Date.UTC(2025, 0, 1),
      to: Date.UTC(2025, 0, 2, 10),
      user: 'billing',
      path: '/ip/hotspot/**',
      limit: 5,
    },
  ]);
  await admin.request('/monitoring/audit-logs', { token: true });
  t.same(searches[1], { limit: 100 });
  const head = await admin.request('/monitoring/audit/head', { token: true });
  t.same(head.json(), { seq: 9, hash: 'ab' });
});

t.test('bad audit filters get 400 naming the field', async (t) => {
  let calls = 0;
  const admin = await startAdmin(t, {
    audit: {
      search: () => {
        calls += 1;
        return Promise.resolve([]);
      },
      report: () => Promise.resolve({}),
      head: () => Promise.resolve({}),
    },
  });
  const cases: [string, string, string][] = [
    ['usr=a', 'usr', 'usr is not a known field'],
    ['limit=0', 'limit', 'limit must be 1-1000'],
    ['limit=5000', 'limit', 'limit must be 1-1000'],
    ['limit=2.5', 'limit', 'limit must be an integer'],
    ['limit=many', 'limit', 'limit must be a number'],
    ['from=yesterday', 'from', 'from must be an ISO 8601 date or time'],
    ['to=2025-13-45', 'to', 'to must be an ISO 8601 date or time'],
    ['user=', 'user', 'user must not be empty'],
    [`ip=${'1'.repeat(300)}`, 'ip', 'ip must be at most 256 characters'],
    [
      `path=${encodeURIComponent('/**/a'.repeat(5))}`,
      'path',
      'path must have at most 4 ** segments',
    ],
    ['user=a&user=b', 'user', 'user may be given only once'],
    ['__proto__=x', '__proto__', '__proto__ is not a known field'],
  ];
  for (const [query, field, error] of cases) {
    const res = await admin.request(`/monitoring/audit-logs?${query}`, { token: true });
    t.equal(res.status, 400, query);
    t.same(res.json(), { error, field }, query);
  }
  t.equal(calls, 0);
});

t.test('audit-report takes range and group-by as a JSON body', async (t) => {
  const reports: AuditReportQuery[] = [];
  const admin = await startAdmin(t, {
    audit: {
      search: () => Promise.resolve([]),
      report: (q) => {
        reports.push(q);
        return Promise.resolve({ groupBy: q.groupBy, total: 0, rows: [] });
      },
      head: () => Promise.resolve({}),
    },
  });
  const post = (body: string) =>
    admin.request('/monitoring/audit-report', {
      method: 'POST',
      token: true,
      headers: { 'content-type': 'application/json' },
      body,
    });
  const ok = await post('{"from":"2025-01-01","groupBy":"user"}');
  t.equal(ok.status, 200);
  t.same(ok.json(), { groupBy: 'user', total: 0, rows: [] });
  t.same(reports, [{ from: Date.UTC(2025, 0, 1), groupBy: 'user' }]);
  const cases: [string, string, string][] = [
    [
      '{"groupBy":"colour"}',
      'groupBy',
      'groupBy must be one of category, user, path, result, router',
    ],
    ['{}', 'groupBy', 'groupBy must be one of category, user, path, result, router'],
    ['{"groupBy":"user","user":5}', 'user', 'user must be a string'],
    ['{"groupBy":"user","from":5}', 'from', 'from must be an ISO 8601 date or time'],
    ['[]', 'body', 'body must be a JSON object'],
    ['{"groupBy":"user","colour":"red"}', 'colour', 'colour is not a known field'],
  ];
  for (const [body, field, error] of cases) {
    const res = await post(body);
    t.equal(res.status, 400, body);
    t.same(res.json(), { error, field }, body);
  }
  t.equal(reports.length, 1);
});

t.test("the guide's startDate and endDate are accepted as from and to", async (t) => {
  const searches: AuditSearchQuery[] = [];
  const reports: AuditReportQuery[] = [];
  const admin = await startAdmin(t, {
    audit: {
      search: (q) => {
        searches.push(q);
        return Promise.resolve([]);
      },
      report: (q) => {
        reports.push(q);
        return Promise.resolve({});
      },
      head: () => Promise.resolve({}),
    },
  });
  const res = await admin.request(
    '/monitoring/audit-logs?startDate=2025-01-01&endDate=2025-01-31T23:59:59Z',
    { token: true },
  );
  t.equal(res.status, 200);
  t.same(searches, [
    { from: Date.UTC(2025, 0, 1), to: Date.UTC(2025, 0, 31, 23, 59, 59), limit: 100 },
  ]);
  const report = await admin.request('/monitoring/audit-report', {
    method: 'POST',
    token: true,
    headers: { 'content-type': 'application/json' },
    body: '{"startDate":"2025-01-01","groupBy":"user"}',
  });
  t.equal(report.status, 200);
  t.same(reports, [{ from: Date.UTC(2025, 0, 1), groupBy: 'user' }]);
  const cases: [string, string, string][] = [
    ['startDate=soon', 'startDate', 'startDate must be an ISO 8601 date or time'],
    [
      'from=2025-01-01&startDate=2025-01-02',
      'startDate',
      'startDate is from by another name: give one',
    ],
    ['to=2025-01-01&endDate=2025-01-02', 'endDate', 'endDate is to by another name: give one'],
  ];
  for (const [query, field, error] of cases) {
    const bad = await admin.request(`/monitoring/audit-logs?${query}`, { token: true });
    t.equal(bad.status, 400, query);
    t.same(bad.json(), { error, field }, query);
  }
  t.equal(searches.length, 1);
});

t.test('the audit endpoints answer 404 when audit is off', async (t) => {
  const admin = await startAdmin(t);
  for (const [path, method] of [
    ['/monitoring/audit-logs', 'GET'],
    ['/monitoring/audit/head', 'GET'],
    ['/monitoring/audit-report', 'POST'],
  ] as const) {
    const res = await admin.request(path, {
      method,
      token: true,
      headers: { 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: '{"groupBy":"user"}' } : {}),
    });
    t.equal(res.status, 404, path);
    t.same(res.json(), { error: 'audit is off', field: 'path' });
  }
});

t.test('unknown paths get 404 and wrong methods 405, both as JSON', async (t) => {
  const admin = await startAdmin(t);
  for (const path of ['/monitoring/nope', '/monitoring', '/metrics', '/', '/monitoring/live/']) {
    const res = await admin.request(path, { token: true });
    t.equal(res.status, 404, path);
    t.same(res.json(), { error: 'no such endpoint', field: 'path' });
  }
  const post = await admin.request('/monitoring/health', { method: 'POST', token: true });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET');
  t.same(post.json(), { error: 'use GET', field: 'method' });
  const get = await admin.request('/monitoring/config/flow', { token: true });
  t.equal(get.status, 405);
  t.equal(get.headers.get('allow'), 'PUT');
  t.equal((await admin.request('/monitoring/live', { method: 'DELETE' })).status, 405);
});

t.test('a request target in absolute form is treated as /', async (t) => {
  const admin = await startAdmin(t);
  const answer = await rawRequest(admin.url, { path: 'http://elsewhere/monitoring/live' });
  t.equal(answer.status, 404);
});

t.test('a client without an Accept header gets the dashboard as JSON', async (t) => {
  const admin = await startAdmin(t);
  const answer = await rawRequest(admin.url, {
    path: '/monitoring/dashboard',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  t.equal(answer.status, 200);
  t.match(JSON.parse(answer.body), { routers: [{ name: 'core' }] });
});

t.test('a client that leaves before its answer is simply not answered', async (t) => {
  let finish: (value: unknown) => void = () => undefined;
  let searches = 0;
  const admin = await startAdmin(t, {
    audit: {
      search: () => {
        searches += 1;
        return new Promise((resolve) => (finish = resolve));
      },
      report: () => Promise.resolve({}),
      head: () => Promise.resolve({}),
    },
  });
  const leaving = new AbortController();
  const gone = admin.request('/monitoring/audit-logs', { token: true, signal: leaving.signal });
  await eventually(() => searches === 1, 'the search to start');
  leaving.abort();
  await t.rejects(gone);
  await eventually(
    () => admin.logsOf('admin client left before its answer').length === 1,
    'the server to see the client go',
  );
  finish([{ seq: 1 }]);
  t.equal((await admin.request('/monitoring/live')).status, 200, 'the port keeps working');
  t.same(admin.logsOf('admin request failed'), []);
});

t.test('a failure inside an endpoint is a 500 with no detail, and is logged', async (t) => {
  const admin = await startAdmin(t, {
    audit: {
      search: () => Promise.reject(new Error('disk on fire at /var/secret/path')),
      report: () => Promise.resolve({}),
      head: () => Promise.resolve({}),
    },
  });
  const res = await admin.request('/monitoring/audit-logs', { token: true });
  t.equal(res.status, 500);
  t.same(res.json(), { error: 'internal error' });
  t.match(admin.logsOf('admin request failed'), [{ level: 50, path: '/monitoring/audit-logs' }]);
  t.notMatch(res.text, 'disk on fire');
});

t.test('every request is logged with its path and status only', async (t) => {
  const admin = await startAdmin(t);
  admin.clock.advance(0);
  await admin.request('/monitoring/live?x=1');
  t.match(admin.logs, [
    { msg: 'admin port listening on /monitoring', host: '127.0.0.1' },
    {
      level: 20,
      msg: 'admin request',
      method: 'GET',
      path: '/monitoring/live',
      status: 200,
      durationMs: 0,
    },
  ]);
});

t.test('listen fails when the port is taken; close ends kept-alive connections', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const { port } = blocker.address() as net.AddressInfo;
  const admin = await startAdmin(t);
  const server = createAdminServer({
    monitoring: { host: '127.0.0.1', port },
    version: 'x',
    sources: admin.sources.asSources(),
    metrics: admin.metrics,
    config: () => {
      throw new Error('not used');
    },
    applyConfig: () => Promise.resolve({ ok: true }),
    logger: memoryLogger().logger,
  });
  await t.rejects(server.listen(), { code: 'EADDRINUSE' });

  const log = memoryLogger();
  const open = createAdminServer({
    monitoring: { host: '127.0.0.1', port: 0 },
    version: 'x',
    sources: admin.sources.asSources(),
    metrics: admin.metrics,
    config: () => {
      throw new Error('not used');
    },
    applyConfig: () => Promise.resolve({ ok: true }),
    logger: log.logger,
  });
  const openPort = await open.listen();
  const agent = new http.Agent({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: openPort, path: '/monitoring/live', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
  await open.close();
  agent.destroy();
  await t.rejects(
    fetch(`http://127.0.0.1:${openPort}/monitoring/live`),
    'closed with a kept-alive connection open: the port no longer answers',
  );
});

t.test('without a clients control the list is empty and DELETE is a 404', async (t) => {
  const admin = await startAdmin(t);
  t.same((await admin.request('/monitoring/clients', { token: true })).json(), {
    clients: [],
    count: 0,
  });
  const end = await admin.request('/monitoring/clients?user=a', { method: 'DELETE', token: true });
  t.equal(end.status, 404);
  t.same(end.json(), { error: 'clients cannot be ended here', field: 'path' });
});
