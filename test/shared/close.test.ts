/**
 * Closing one router's objects (a reload that makes new ones, or a router
 * removed): the group stops calling into them and they release what they hold.
 */
import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { startRedis } from '../fixtures/redis-server.js';
import { startReplicas } from '../fixtures/shared-replicas.js';

const redis = await startRedis();
t.teardown(() => redis.stop());

t.test(
  'a closed bus hears nothing more, and a new bus for the router takes its place',
  async (t) => {
    const [a, b] = await startReplicas(t, redis.url, 2);
    const writer = a!.invalidationBus('core');
    const old = b!.invalidationBus('core');
    await eventually(() => writer.isLive && old.isLive, 'both buses live');
    let oldHeard = 0;
    old.on('invalidate', () => oldHeard++);
    old.close();
    t.notOk(old.isLive);
    const fresh = b!.invalidationBus('core');
    await eventually(() => fresh.isLive, 'the new bus live');
    const heard: string[] = [];
    fresh.on('invalidate', (e) => heard.push(e.menu));
    await writer.publish('/ip/address');
    await eventually(() => heard.length === 1, 'the new bus to hear it');
    t.equal(oldHeard, 0);
    fresh.close();
    old.close();
  },
);

t.test('a bus closed before its subscription was made unsubscribes nothing', async (t) => {
  const [a] = await startReplicas(t, redis.url, 1);
  const bus = a!.invalidationBus('early');
  bus.close();
  t.notOk(bus.isLive);
});

t.test('a closed session budget drops its leases and is renewed no more', async (t) => {
  const [a, b] = await startReplicas(t, redis.url, 2);
  const budget = a!.sessionBudget('core', { maxSessions: 1 });
  t.ok(await budget.tryAcquire());
  await budget.close();
  await a!.heartbeat();
  t.equal(budget.stats().held, 0);
  t.ok(await b!.sessionBudget('core', { maxSessions: 1 }).tryAcquire(), 'the lease is free');
});

t.test('a closed bucket and lockout are not called by the group any more', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const [g] = await startReplicas(t, server.url, 1, { probeMs: 20 });
  let wakes = 0;
  const bucket = g!.rateBucket('core', {
    capacity: 10,
    refillTokens: 5,
    refillIntervalMs: 100,
    onAvailable: () => wakes++,
  });
  const lockout = g!.lockout('core');
  bucket.close();
  lockout.close();
  await server.kill();
  await eventually(() => !g!.isUp, 'the group to go down');
  await lockout.recordFailure('192.0.2.1', 'u');
  await server.restart();
  await eventually(() => g!.isUp, 'the group to come back');
  await g!.heartbeat();
  t.equal(wakes, 0, 'the closed bucket was not woken');
  t.equal(lockout.stats().unpublished, 3, 'the closed lockout did not re-publish');
});
