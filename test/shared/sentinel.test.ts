/**
 * Two rosgate replicas reach their Redis through a sentinel (issue 18,
 * `shared.sentinel`): a real master and a real sentinel, each on a free
 * port; the replicas share the lockout and the cache invalidations through
 * the master the sentinel names.
 */
import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { expectLockoutShared, expectWriteSeenAcross, replicaStacks } from '../fixtures/replicas.js';
import { startSentinel, type SentinelSetup } from '../fixtures/redis-topology.js';
import { startTestSimulator, type Stack } from '../fixtures/stack.js';
import type { Simulator } from '../../src/simulator/index.js';
import { connectNodeRedis } from '../../src/shared/index.js';

type Tap = Parameters<typeof startTestSimulator>[0];

let sentinel: SentinelSetup;
t.before(async () => {
  sentinel = await startSentinel();
});
t.teardown(() => sentinel.stop());

/** Two replicas whose shared section names the sentinel, not a URL. */
function replicas(t: Tap, sim: Simulator, config: Record<string, unknown>): Promise<Stack[]> {
  return replicaStacks(t, sim, {
    count: 2,
    shared: { sentinel: { name: sentinel.name, nodes: sentinel.nodes } },
    config,
  });
}

t.test('replicas that name a sentinel register in the master it names', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
  const [r1] = (await replicas(t, sim, {})) as [Stack, Stack];
  const registry = `${r1.app.group?.group.prefix ?? ''}replicas`;
  t.equal(
    await sentinel.master.command('ZCARD', registry),
    ':2\r\n',
    'both replicas are in the registry on the master',
  );
});

t.test('wrong passwords on one replica lock the user on the other', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
  const [r1, r2] = (await replicas(t, sim, {
    policy: { lockout: { maxAttempts: 3 } },
    limits: { loginFailureCacheTtlMs: 0 },
  })) as [Stack, Stack];
  await expectLockoutShared(
    t,
    sim,
    r1,
    r2,
    3,
    'the right password is refused on the other replica',
  );
});

t.test('a write through one replica drops the other replica’s cached reply', async (t) => {
  const sim = await startTestSimulator(t, {
    user: 'admin',
    password: 'secret',
    version: '7.17',
    hotspotUsers: 3,
  });
  const [r1, r2] = (await replicas(t, sim, {
    flow: { rateLimit: { enabled: false } },
    cache: { listen: { enabled: false }, defaultTtlMs: 600_000, ttlRules: [] },
  })) as [Stack, Stack];
  await expectWriteSeenAcross(t, sim, r1, r2);
});

t.test(
  'after a failover the replicas follow the new master and still share the lockout',
  async (t) => {
    const own = await startSentinel();
    t.teardown(() => own.stop());
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
    const [r1, r2] = (await replicaStacks(t, sim, {
      count: 2,
      shared: { sentinel: { name: own.name, nodes: own.nodes } },
      config: { policy: { lockout: { maxAttempts: 2 } }, limits: { loginFailureCacheTtlMs: 0 } },
    })) as [Stack, Stack];
    await own.failover();
    t.equal(await own.masterPort(), own.replica.port, 'the sentinel names the old replica');
    // The Sentinel client moves its connection to the new master by itself.
    await eventually(
      async () =>
        (await own.replica.command('ZCARD', `${r1.app.group?.group.prefix ?? ''}replicas`)) ===
          ':2\r\n' &&
        r1.app.group?.snapshot().isUp === true &&
        r2.app.group?.snapshot().isUp === true,
      'both replicas registered on the new master, and up',
    );
    await expectLockoutShared(
      t,
      sim,
      r1,
      r2,
      2,
      'a lockout begun after the failover holds on the other replica',
    );
  },
);

t.test('a sentinel connection with passwords of its own is built, and destroyed at once', (t) => {
  const connection = connectNodeRedis({
    sentinel: { name: 'mymaster', nodes: ['127.0.0.1:1', '[::1]:2'], password: 'sentinel-pw' },
    password: 'master-pw',
    connectTimeoutMs: 1000,
  });
  t.equal(connection.isReady, false, 'not connected before connect()');
  const copy = connection.duplicate();
  t.equal(copy.isReady, false, 'nor its duplicate');
  copy.destroy();
  connection.destroy();
  t.end();
});
