/**
 * Fewer Redis round trips: a lease rides on a publish, a lease is sized by
 * what the replica spends, a bucket Redis limits marks the replica
 * saturated, and the round trips are counted by kind.
 */
import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { startRedis } from '../fixtures/redis-server.js';
import {
  eventuallyDefined,
  startReplicas,
  type VirtualClock,
} from '../fixtures/shared-replicas.js';

const redis = await startRedis();
t.teardown(() => redis.stop());

/** The seed's example: 10 tokens, 5 more every 100 ms (50 commands/s). */
const SHAPE = { capacity: 10, refillTokens: 5, refillIntervalMs: 100 };

t.test('a lease rides on a publish: one Redis call for both', async (t) => {
  const clock: VirtualClock = { now: 5_000 };
  const [g] = await startReplicas(t, redis.url, 1, { clock });
  const bucket = g!.rateBucket('ride', SHAPE);
  const bus = g!.invalidationBus('ride', { saturatedWindowMs: 0 });
  await eventually(() => bus.isLive, 'the bus to be live');
  bucket.tryTake();
  await bucket.settle();
  await bus.publish('/warm-up'); // Redis learns the script
  for (let i = 0; i < 4; i++) t.ok(bucket.tryTake());
  t.equal(bucket.tokens, 6, 'two thirds of a lease or less: a ride is welcome');
  const before = g!.stats().roundTripsByOp;
  t.equal(await bus.publish('/ip/address'), true);
  const after = g!.stats().roundTripsByOp;
  t.equal(after['publish'], (before['publish'] ?? 0) + 1);
  t.equal(after['lease'], before['lease'], 'no lease call of its own');
  t.match(bucket.stats(), { leases: 2, rides: 1 });
  t.equal(bucket.tokens, 6, 'the ridden lease waits until the bucket would hold it');
  clock.now += 200;
  t.equal(bucket.tokens, 16);
  await bus.publish('/ip/pool');
  t.equal(bucket.stats().rides, 1, 'a bucket holding more than two thirds takes no ride');
});

t.test(
  'a bucket that needs a lease sends the batch being collected, and rides on it',
  async (t) => {
    const clock: VirtualClock = { now: 5_000 };
    const [g] = await startReplicas(t, redis.url, 1, { clock });
    const bucket = g!.rateBucket('hurry', SHAPE);
    const bus = g!.invalidationBus('hurry', { saturatedWindowMs: 60_000 });
    await eventually(() => bus.isLive, 'the bus to be live');
    bucket.tryTake();
    await bucket.settle();
    await bus.publish('/warm-up');
    // Redis reserved the second lease: the replica is rate limited now.
    for (let i = 0; i < 7; i++) t.ok(bucket.tryTake());
    const before = g!.stats().roundTripsByOp;
    const writing = bus.publish('/ip/address');
    t.ok(bucket.tryTake(), 'held, then a third of a lease left');
    t.equal(await writing, true, 'the lease need sent the write without waiting for the window');
    await bucket.settle();
    const after = g!.stats().roundTripsByOp;
    t.equal(after['publish'], (before['publish'] ?? 0) + 1);
    t.equal(after['lease'], before['lease'], 'the lease went with it');
  },
);

t.test('with a bucket Redis limits, a write waits for others to share its call', async (t) => {
  const clock: VirtualClock = { now: 5_000 };
  const [g] = await startReplicas(t, redis.url, 1, { clock });
  const bucket = g!.rateBucket('window', { ...SHAPE, horizonMs: 0 });
  const bus = g!.invalidationBus('window', { saturatedWindowMs: 20 });
  await eventually(() => bus.isLive, 'the bus to be live');
  bucket.tryTake();
  await bucket.settle();
  while (bucket.tryTake());
  await bucket.settle();
  t.equal(bucket.stats().refusals, 1, 'Redis refused a lease: the router budget sets the pace');
  t.same(await Promise.all([bus.publish('/a'), bus.publish('/b')]), [true, true]);
  const third = bus.publish('/c');
  await new Promise((resolve) => setImmediate(resolve));
  const fourth = bus.publish('/d');
  t.same(await Promise.all([third, fourth]), [true, true], 'made in two turns');
  t.match(bus.stats(), { sent: 4, batches: 2 }, "two turns' writes shared a call");
});

t.test('a replica that takes many tokens leases more at a time, up to K', async (t) => {
  const clock: VirtualClock = { now: 5_000 };
  const [g] = await startReplicas(t, redis.url, 1, { clock });
  const shape = { capacity: 1_000_000, refillTokens: 1_000_000, refillIntervalMs: 100 };
  const bucket = g!.rateBucket('size', shape);
  bucket.tryTake();
  await bucket.settle();
  t.equal(bucket.tokens, 10, 'a first lease of ten');
  const sizes: number[] = [];
  for (let round = 0; round < 4; round++) {
    const leased = g!.stats().leasedTokens;
    while (bucket.tryTake());
    await bucket.settle();
    sizes.push(g!.stats().leasedTokens - leased);
  }
  t.ok(
    sizes.every((size, i) => i === 0 || size > (sizes[i - 1] as number)),
    `leases grow with what was taken: ${sizes.join(', ')}`,
  );
  clock.now += 3000;
  const leased = g!.stats().leasedTokens;
  bucket.tryTake();
  await bucket.settle();
  t.equal(g!.stats().leasedTokens - leased, 10, 'after an idle spell, ten again');
  const small = g!.rateBucket('small', { ...SHAPE, leaseTokens: 4 });
  small.tryTake();
  await small.settle();
  t.equal(small.tokens, 4, 'never more than K');
});

t.test('round trips are counted by what they were for', async (t) => {
  const [g] = await startReplicas(t, redis.url, 1);
  await g!.send(['PING']);
  const budget = g!.sessionBudget('ops', { maxSessions: 1 });
  await budget.tryAcquire();
  const ops = g!.stats().roundTripsByOp;
  t.ok((ops['register'] ?? 0) >= 2, 'the heartbeats');
  t.equal(ops['ping'], 1, 'a plain command by its name');
  t.ok((ops['acquireSession'] ?? 0) >= 1, 'a script by its name');
  t.equal(
    Object.values(ops).reduce((sum, n) => sum + n, 0),
    g!.stats().roundTrips,
    'the kinds add up to the round trips',
  );
});

t.test(
  'a replica holding sessions that was refused asks again only when room may have been made',
  async (t) => {
    const [a, b] = await startReplicas(t, redis.url, 2);
    const ba = a!.sessionBudget('quiet', { maxSessions: 2 });
    const bb = b!.sessionBudget('quiet', { maxSessions: 2 });
    const ta = await ba.tryAcquire();
    t.ok(ta);
    t.ok(await bb.tryAcquire());
    const acquires = () => b!.stats().roundTripsByOp['acquireSession'] ?? 0;
    const before = acquires();
    const asked = await Promise.all([bb.tryAcquire(), bb.tryAcquire(), bb.tryAcquire()]);
    t.same(asked, [undefined, undefined, undefined]);
    t.equal(acquires(), before + 1, 'three asks at once while full: one call');
    t.equal(await bb.tryAcquire(), undefined);
    t.equal(acquires(), before + 1, 'refused from memory');
    t.equal(bb.stats().quietRefusals, 3);
    ta!.release();
    await eventually(
      async () => (await a!.heartbeat()) && ba.stats().groupHeld === 1,
      'the release',
    );
    t.equal(await bb.tryAcquire(), undefined, 'no room seen yet');
    await b!.heartbeat();
    t.ok(await bb.tryAcquire(), 'the heartbeat saw room: asked, and granted');
    t.equal(acquires(), before + 2);
    const own = await bb.tryAcquire();
    t.equal(own, undefined, 'full again');
    const tickets = bb.stats().held;
    t.equal(tickets, 2);
  },
);

t.test('a replica that releases a session of its own asks Redis again at once', async (t) => {
  const [a] = await startReplicas(t, redis.url, 1);
  const budget = a!.sessionBudget('own', { maxSessions: 2 });
  const first = await budget.tryAcquire();
  t.ok(first);
  t.ok(await budget.tryAcquire());
  t.equal(await budget.tryAcquire(), undefined, 'full');
  first!.release();
  const again = await eventuallyDefined(() => budget.tryAcquire(), 'the release to reach Redis');
  t.equal(budget.stats().quietRefusals, 0, 'every ask after the release went to Redis');
  again.release();
});

t.test('a renewal Redis does not answer leaves what was last seen', async (t) => {
  const [a] = await startReplicas(t, redis.url, 1);
  const budget = a!.sessionBudget('unanswered', { maxSessions: 2 });
  t.ok(await budget.tryAcquire());
  a!.destroy();
  await budget.renew();
  t.equal(budget.stats().groupHeld, 1);
});
