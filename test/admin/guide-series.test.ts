import t from 'tap';
import { REQUEST_ERROR_CODES } from '../../src/admin/series.js';
import { VERB_CLASSES } from '../../src/admin/verb-class.js';
import { parsePrometheus, type PromFamily } from '../fixtures/admin-prom-parse.js';
import { adminClient } from '../fixtures/wire-admin.js';
import { startStack } from '../fixtures/stack.js';

// An alert on rate(mikrotik_request_errors_total[5m]) or a dashboard panel on
// a histogram shows nothing while the series is absent: every series of the
// guide is there, with its router label, from the very first scrape.

/** The guide's series (histograms by their family name). */
const GUIDE_SERIES = [
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
  'mikrotik_requests_total',
  'mikrotik_request_duration_seconds',
  'mikrotik_request_errors_total',
  'mikrotik_active_users_hotspot',
  'mikrotik_active_users_pppoe',
  'mikrotik_vouchers_created_total',
];

function routersOf(family: PromFamily | undefined): Set<string | undefined> {
  return new Set(family?.samples.map((s) => s.labels['router']));
}

t.test(
  'every series of the guide is present with its router label at the first scrape',
  async (t) => {
    const stack = await startStack(t, { moreRouters: [{ name: 'edge' }] });
    const families = parsePrometheus(
      (await adminClient(stack.app.adminPort as number).request('metrics')).text,
    );
    for (const name of GUIDE_SERIES) {
      t.same([...routersOf(families.get(name))].sort(), ['default', 'edge'], name);
    }

    const errors = families.get('mikrotik_request_errors_total') as PromFamily;
    for (const router of ['default', 'edge']) {
      const codes = errors.samples.filter((s) => s.labels['router'] === router);
      t.same(codes.map((s) => s.labels['code']).sort(), [...REQUEST_ERROR_CODES].sort(), router);
      t.ok(
        codes.every((s) => s.value === 0),
        'every known error code at 0',
      );
    }

    const duration = families.get('mikrotik_request_duration_seconds') as PromFamily;
    for (const verbClass of VERB_CLASSES) {
      const count = duration.samples.find(
        (s) =>
          s.name === 'mikrotik_request_duration_seconds_count' &&
          s.labels['router'] === 'edge' &&
          s.labels['verb_class'] === verbClass,
      );
      t.equal(count?.value, 0, `${verbClass} duration at 0`);
    }

    const hotspot = families.get('mikrotik_active_users_hotspot') as PromFamily;
    t.ok(
      hotspot.samples.every((s) => Number.isNaN(s.value)),
      'active users are NaN (present, not yet counted) rather than a false 0',
    );
  },
);

t.test('zeroing at a scrape never loses what was observed before it', async (t) => {
  const stack = await startStack(t);
  const api = await stack.client();
  await api.write('/system/identity/print');
  const admin = adminClient(stack.app.adminPort as number);
  for (let scrape = 0; scrape < 2; scrape++) {
    const families = parsePrometheus((await admin.request('metrics')).text);
    const reads = families
      .get('mikrotik_request_duration_seconds')
      ?.samples.find(
        (s) =>
          s.name === 'mikrotik_request_duration_seconds_count' && s.labels['verb_class'] === 'read',
      );
    t.equal(reads?.value, 1, `scrape ${scrape}: the print is counted`);
    const acquired = families
      .get('mikrotik_connection_pool_acquisition_seconds')
      ?.samples.find((s) => s.name === 'mikrotik_connection_pool_acquisition_seconds_count');
    t.ok((acquired?.value ?? 0) >= 1, `scrape ${scrape}: the acquire is counted`);
  }
});

t.test('the business poller counts active users every 30 s unless told otherwise', async (t) => {
  const stack = await startStack(t);
  t.match(
    stack.logs.filter((l) => l['msg'] === 'counting active users with count-only prints'),
    [{ intervalMs: 30_000 }],
  );
  const off = await startStack(t, {
    config: { monitoring: { host: '127.0.0.1', port: 0, businessPollMs: 0 } },
  });
  t.same(
    off.logs.filter((l) => l['msg'] === 'counting active users with count-only prints'),
    [],
  );
});
