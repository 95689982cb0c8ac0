import t from 'tap';
import { BreakerView, type LocalBreaker } from '../../src/shared/index.js';
import { eventually } from '../fixtures/eventually.js';
import { startRedis } from '../fixtures/redis-server.js';
import { startReplicas } from '../fixtures/shared-replicas.js';

const redis = await startRedis();
t.teardown(() => redis.stop());

t.test("each replica's heartbeat writes its breakers and reads the others'", async (t) => {
  const clock = { now: 1_000 };
  const [a, b] = await startReplicas(t, redis.url, 2, { clock });
  let aState: LocalBreaker[] = [
    { router: 'core', state: 'closed' },
    { router: 'edge', state: 'closed' },
  ];
  const va = new BreakerView(a!, { read: () => aState, ttlMs: 1_000 });
  const vb = new BreakerView(b!, { read: () => [{ router: 'core', state: 'closed' }] });
  t.same(vb.members(), [{ id: 'r2', breakers: { core: { state: 'closed', since: 1_000 } } }]);
  clock.now = 2_000;
  aState = [
    { router: 'core', state: 'open' },
    { router: 'edge', state: 'closed' },
  ];
  await a!.heartbeat();
  await b!.heartbeat();
  t.same(vb.members(), [
    {
      id: 'r1',
      breakers: { core: { state: 'open', since: 2_000 } },
    },
    { id: 'r2', breakers: { core: { state: 'closed', since: 1_000 } } },
  ]);
  t.same(
    Object.keys(va.members()[0]?.breakers ?? {}),
    ['core', 'edge'],
    'a replica sees only the routers it has itself, its own all of them',
  );
  clock.now = 2_500;
  await a!.heartbeat();
  t.equal(va.members()[0]?.breakers['core']?.since, 2_000, 'an unchanged state keeps its since');
  va.close();
  clock.now = 3_600;
  await b!.heartbeat();
  t.same(
    vb.members().map((m) => m.id),
    ['r2'],
    'an entry not renewed within its ttl is gone',
  );
});

t.test('a polite leave takes the replica out at once; odd entries are ignored', async (t) => {
  const [a, b] = await startReplicas(t, redis.url, 2);
  const read = () => [{ router: 'core', state: 'half-open' }];
  const va = new BreakerView(a!, { read });
  const vb = new BreakerView(b!, { read });
  await a!.heartbeat();
  const key = b!.key('core', 'breakers');
  const far = String(Date.now() + 60_000);
  await b!.send(['HSET', key, 'junk', `${far}|not json`]);
  await b!.send(['HSET', key, 'shape', `${far}|{"state":1}`]);
  await b!.send(['HSET', key, 'bare', 'no bar at all']);
  await b!.heartbeat();
  t.same(
    vb.members().map((m) => m.id),
    ['r1', 'r2'],
  );
  t.equal(await b!.send(['HEXISTS', key, 'bare']), 0, 'an entry with no expiry was dropped');
  await a!.close();
  va.close();
  await b!.heartbeat();
  t.same(
    vb.members().map((m) => m.id),
    ['r2'],
  );
});

t.test('with Redis down the view keeps what it read and shows this replica now', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const [a, b] = await startReplicas(t, server.url, 2, { probeMs: 3_600_000 });
  let state = 'closed';
  const va = new BreakerView(a!, { read: () => [{ router: 'core', state }] });
  new BreakerView(b!, { read: () => [{ router: 'core', state: 'closed' }] });
  await b!.heartbeat();
  await a!.heartbeat();
  await server.kill();
  await eventually(() => !a!.isUp, 'replica 1 to notice');
  state = 'open';
  await va.publish();
  t.match(va.members(), [
    { id: 'r1', breakers: { core: { state: 'open' } } },
    { id: 'r2', breakers: { core: { state: 'closed' } } },
  ]);
});
