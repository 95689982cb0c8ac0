/**
 * The group wiring's admin side without Redis: clearing lockouts of no
 * router or with lockouts off, strict versions of an unknown router, and
 * the view before any breaker is watched.
 */
import { Writable } from 'node:stream';
import t from 'tap';
import { healthReport } from '../src/admin/reports.js';
import { validateConfig } from '../src/config/index.js';
import { groupWiringOf, type GroupCacheTarget } from '../src/group-wiring.js';
import { createLogger } from '../src/logger.js';

const quiet = createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));
const cache: GroupCacheTarget = { invalidate: () => undefined, flush: () => 0 };

function wiring(policy: Record<string, unknown> = {}) {
  const { config } = validateConfig(
    {
      routers: [{ name: 'a', host: 'r', password: 'pw' }],
      shared: { url: 'redis://127.0.0.1:1', replicaId: 'pod-9' },
      policy,
    },
    {},
  );
  const group = groupWiringOf(config, quiet, () => cache, { opTimeoutMs: 50 });
  if (group === undefined) throw new Error('a group was expected');
  return group;
}

t.test('a clear for another router, or with lockouts off, asks Redis nothing', async (t) => {
  const on = wiring();
  t.teardown(() => on.close());
  const trips = on.group.stats().roundTrips;
  t.same(await on.clearLockouts({ router: 'elsewhere' }), []);
  const off = wiring({ lockout: { durationMs: 0 } });
  t.teardown(() => off.close());
  off.onLockoutsCleared(() => t.fail('no lockout, no clear to hear'));
  t.same(await off.clearLockouts({}), []);
  t.equal(on.group.stats().roundTrips, trips);
});

t.test('strict versions: none for an unknown router, none while Redis is down', async (t) => {
  const group = wiring();
  t.teardown(() => group.close());
  t.equal(await group.menuVersion('elsewhere', ['/ip/address']), undefined);
  t.equal(await group.menuVersion('a', ['/ip/address']), undefined, 'not started: down');
});

t.test('before breakers are watched the view lists no member', async (t) => {
  const group = wiring();
  t.teardown(() => group.close());
  t.same(group.snapshot().members, []);
  group.watchBreakers(() => [{ router: 'a', state: 'closed' }]);
  t.match(group.snapshot().members, [{ id: 'pod-9', breakers: { a: { state: 'closed' } } }]);
});

t.test('a group view without members shows an empty list', (t) => {
  const report = healthReport({
    routers: () => [],
    isDraining: () => false,
    group: () => ({ replicaId: 'r', isUp: true, downReason: undefined, replicas: 1 }),
  });
  t.same(report.shared, { up: true, replicas: 1, reason: null, members: [] });
  t.end();
});
