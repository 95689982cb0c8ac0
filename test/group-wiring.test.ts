import os from 'node:os';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import t from 'tap';
import { validateConfig } from '../src/config/index.js';
import { degradedReasons } from '../src/admin/reports.js';
import {
  auditedReplicaOf,
  groupWiringOf,
  replicaIdOf,
  type GroupCacheTarget,
} from '../src/group-wiring.js';
import { createLogger } from '../src/logger.js';

const quiet = createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));
const ROUTER = { name: 'a', host: 'r', password: 'pw' };
const cache: GroupCacheTarget = { invalidate: () => undefined, flush: () => 0 };

t.test('a replica is named by shared.replicaId, else HOSTNAME, else the host name', (t) => {
  const named = validateConfig(
    { routers: [ROUTER], shared: { url: 'redis://127.0.0.1:1', replicaId: 'pod-1' } },
    {},
  );
  t.equal(replicaIdOf(named.config), 'pod-1');
  const plain = validateConfig({ routers: [ROUTER], shared: { url: 'redis://127.0.0.1:1' } }, {});
  const saved = process.env['HOSTNAME'];
  t.teardown(() => {
    if (saved === undefined) delete process.env['HOSTNAME'];
    else process.env['HOSTNAME'] = saved;
  });
  process.env['HOSTNAME'] = 'pod-2';
  t.equal(replicaIdOf(plain.config), 'pod-2');
  delete process.env['HOSTNAME'];
  t.equal(replicaIdOf(plain.config), os.hostname());
  t.end();
});

t.test('audit records name the replica in a group or when its id is set, not otherwise', (t) => {
  const of = (shared?: Record<string, unknown>) =>
    auditedReplicaOf(
      validateConfig({ routers: [ROUTER], ...(shared ? { shared } : {}) }, {}).config,
    );
  t.equal(of(), undefined, 'a lone rosgate');
  t.equal(of({ replicaId: 'pod-3' }), 'pod-3', 'an id set without a group');
  t.equal(of({ url: 'redis://127.0.0.1:1', replicaId: 'pod-4' }), 'pod-4');
  t.equal(of({ prefix: 'x:' }), undefined, 'a shared section without url or id');
  t.end();
});

t.test('without shared.url there is no group', (t) => {
  const { config } = validateConfig({ routers: [ROUTER] }, {});
  t.equal(
    groupWiringOf(config, quiet, () => cache),
    undefined,
  );
  t.end();
});

t.test(
  'a group not started yet: down in its series, no lockout when lockouts last 0 ms, nothing published for an unknown router',
  async (t) => {
    const { config } = validateConfig(
      {
        routers: [ROUTER],
        shared: { url: 'redis://127.0.0.1:1', replicaId: 'pod-3' },
        policy: { lockout: { durationMs: 0 } },
      },
      {},
    );
    const group = groupWiringOf(config, quiet, () => cache);
    t.ok(group);
    if (group === undefined) return;
    t.teardown(() => group.close());
    t.equal(group.lockout('a'), undefined, 'lockouts off: the group keeps none');
    t.equal(await group.publish('elsewhere', '/ip/address'), false, 'no bus for an unknown router');
    t.equal(
      await group.publish('a', undefined),
      false,
      'a change to any menu (a script) is kept for later while Redis is away',
    );
    const registry = new Registry();
    group.registerMetrics(registry);
    const text = await registry.metrics();
    t.match(text, /rosgate_shared_up\{[^}]*router="a"[^}]*\} 0/, 'down until started');
    t.match(text, /rosgate_shared_sessions_held\{[^}]*\} 0/, 'no group cap: none held under it');
  },
);

t.test('a group state down with no reason known is still reported as degraded', (t) => {
  const reasons = degradedReasons({
    isDraining: () => false,
    routers: () => [],
    group: () => ({ replicaId: 'r', isUp: false, downReason: undefined, replicas: 1 }),
  });
  t.same(reasons, ['shared state unreachable (unknown): each replica on its share']);
  t.end();
});
