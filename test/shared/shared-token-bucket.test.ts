import t from 'tap';
import { TokenBucket } from '../../src/flow/token-bucket.js';
import type { SharedTokenBucket } from '../../src/shared/index.js';
import { eventually } from '../fixtures/eventually.js';
import { startRedis } from '../fixtures/redis-server.js';
import { startReplicas, type VirtualClock } from '../fixtures/shared-replicas.js';

const redis = await startRedis();
t.teardown(() => redis.stop());

/** The seed's example: 10 tokens, 5 more every 100 ms (50 commands/s). */
const SHAPE = { capacity: 10, refillTokens: 5, refillIntervalMs: 100 };

/** Takes every token each bucket will give at this instant, lease round trips included. */
async function drain(buckets: readonly SharedTokenBucket[]): Promise<number> {
  let taken = 0;
  for (let progress = true; progress;) {
    progress = false;
    for (const b of buckets) {
      while (b.tryTake()) {
        taken++;
        progress = true;
      }
    }
    await Promise.all(buckets.map((b) => b.settle()));
    if (buckets.some((b) => b.msUntilNext() === 0)) progress = true;
  }
  return taken;
}

t.test(
  'three replicas hungry for 20 s of virtual time get the group rate within 5%, at about 1/K = 0.1 Redis calls per token',
  async (t) => {
    const clock: VirtualClock = { now: 1_000_000 };
    const groups = await startReplicas(t, redis.url, 3, { clock });
    const buckets = groups.map((g) => g.rateBucket('core', SHAPE));
    const tripsBefore = groups.reduce((sum, g) => sum + g.stats().roundTrips, 0);
    const durationMs = 20_000;
    const start = clock.now;
    let taken = 0;
    const perReplica = [0, 0, 0];
    for (; clock.now < start + durationMs; clock.now += 10) {
      for (let i = 0; i < buckets.length; i++) {
        const got = await drain([buckets[i]!]);
        perReplica[i]! += got;
        taken += got;
      }
    }
    const allowed = SHAPE.capacity + (durationMs / SHAPE.refillIntervalMs) * SHAPE.refillTokens;
    const ratio = taken / allowed;
    t.ok(ratio <= 1, `never more than the bucket allows (${taken} of ${allowed})`);
    t.ok(ratio >= 0.95, `within 5% of the group rate (${taken} of ${allowed})`);
    const trips = groups.reduce((sum, g) => sum + g.stats().roundTrips, 0) - tripsBefore;
    t.ok(trips / taken <= 0.1 + 0.01, `round trips per token ${trips / taken}`);
    for (const n of perReplica)
      t.ok(n > allowed / 6, `each replica gets a fair part (${perReplica.join(', ')})`);
    t.equal(groups[0]!.stats().leasedTokens % 10, 0, 'leases of K = 2 refill steps');
  },
);

t.test(
  'a bucket missing in Redis starts full: a first lease of K tokens is usable at once',
  async (t) => {
    const clock: VirtualClock = { now: 5_000 };
    const [g] = await startReplicas(t, redis.url, 1, { clock });
    const b = g!.rateBucket('fresh', SHAPE);
    t.equal(b.tokens, 0, 'nothing leased before the first ask');
    t.notOk(b.tryTake(), 'the first take asks for a lease');
    t.equal(b.msUntilNext(), 50, 'a guess while the lease is on its way');
    await b.settle();
    t.equal(b.tokens, 10);
    t.equal(b.msUntilNext(), 0);
    t.equal(await drain([b]), 10, 'the whole bucket, no more: Redis has nothing left');
    t.same(
      b.stats(),
      { leases: 2, rides: 0, refusals: 0, lapsedTokens: 0, fallbackTakes: 0 },
      'the second lease is reserved for later',
    );
    const state = await redis.command('HGET', g!.key('fresh', 'bucket'), 'tokens');
    t.match(state, /\r\n-?\d+\r\n$/, 'the bucket lives in a Redis hash');
  },
);

t.test('a reserved lease is usable only when the bucket would hold it', async (t) => {
  const clock: VirtualClock = { now: 5_000 };
  const [g] = await startReplicas(t, redis.url, 1, { clock });
  const b = g!.rateBucket('reserve', SHAPE);
  b.tryTake();
  await b.settle();
  for (let i = 0; i < 7; i++) t.ok(b.tryTake());
  await b.settle();
  t.equal(b.tokens, 3, 'the prefetch at a third left is not usable yet');
  for (let i = 0; i < 3; i++) t.ok(b.tryTake());
  t.notOk(b.tryTake());
  t.equal(b.msUntilNext(), 200, 'ten tokens are two refill steps away');
  clock.now += 200;
  t.equal(b.msUntilNext(), 0);
  t.equal(b.tokens, 10);
});

t.test('a lease asked beyond the horizon is refused and asked again after the wait', async (t) => {
  const clock: VirtualClock = { now: 5_000 };
  const [g] = await startReplicas(t, redis.url, 1, { clock });
  const b = g!.rateBucket('horizon', { ...SHAPE, horizonMs: 0 });
  b.tryTake();
  await b.settle();
  t.equal(await drain([b]), 10);
  t.equal(b.stats().refusals, 1, 'the prefetch was refused: it would wait 200 ms');
  t.equal(b.msUntilNext(), 200, 'asked again when the bucket has refilled');
  t.notOk(b.tryTake(), 'no second ask before then');
  t.equal(b.stats().refusals, 1);
  clock.now += 200;
  t.notOk(b.tryTake());
  await b.settle();
  t.equal(b.tokens, 10);
});

t.test('unspent leased tokens lapse after the lease TTL', async (t) => {
  const clock: VirtualClock = { now: 5_000 };
  const [g] = await startReplicas(t, redis.url, 1, { clock });
  const b = g!.rateBucket('lapse', { ...SHAPE, leaseTtlMs: 300 });
  b.tryTake();
  await b.settle();
  t.ok(b.tryTake());
  clock.now += 300;
  t.equal(b.tokens, 0);
  t.equal(b.stats().lapsedTokens, 9);
});

t.test(
  'with Redis down each replica spends bucket/N and refill/N; with Redis back it leases again',
  async (t) => {
    const server = await startRedis();
    t.teardown(() => server.stop());
    const clock: VirtualClock = { now: 5_000 };
    const groups = await startReplicas(t, server.url, 3, { clock, probeMs: 20 });
    const wakes: number[] = [];
    const b = groups[0]!.rateBucket('down', { ...SHAPE, onAvailable: () => wakes.push(clock.now) });
    await server.kill();
    await eventually(() => !groups[0]!.isUp, 'the group to notice');
    t.same(wakes, [5_000], 'flow is told to pump when the fallback begins');
    t.equal(b.tokens, 10 / 3, 'a third of the bucket');
    t.equal(await drain([b]), 3);
    t.equal(b.msUntilNext(), 100);
    clock.now += 100;
    t.equal(b.tokens, 1 / 3 + 5 / 3, 'a third of each refill');
    t.ok(b.tryTake());
    t.equal(b.stats().fallbackTakes, 4);
    await server.restart();
    await eventually(() => groups[0]!.isUp, 'the group to come back');
    t.notOk(b.tryTake(), 'the share is gone; a lease is asked for');
    await b.settle();
    t.equal(b.tokens, 10, 'the restarted Redis has a full bucket');
    t.ok(wakes.length >= 3, 'told again when Redis came back and when the lease arrived');
  },
);

t.test('Redis flapping hands out no fresh share at each fall', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const clock: VirtualClock = { now: 5_000 };
  const [g] = await startReplicas(t, server.url, 1, { clock, probeMs: 20 });
  const b = g!.rateBucket('flap', SHAPE);
  const fall = async () => {
    await server.kill();
    await eventually(() => !g!.isUp, 'the group to notice');
  };
  const rise = async () => {
    await server.restart();
    await eventually(() => g!.isUp, 'the group to come back');
  };
  await fall();
  t.equal(await drain([b]), 10, 'the share: the whole bucket for N = 1');
  await rise();
  await fall();
  t.equal(await drain([b]), 0, 'spent already: it refills with time, not with outages');
  clock.now += 200;
  await rise();
  t.equal(await drain([b]), 10, 'leased from the restarted Redis');
  await fall();
  t.equal(await drain([b]), 0, 'what it leased counted against its share too');
});

t.test('leased tokens left when Redis goes down are spent before the share', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const clock: VirtualClock = { now: 5_000 };
  const [g] = await startReplicas(t, server.url, 1, { clock, probeMs: 20 });
  const b = g!.rateBucket('leftover', SHAPE);
  b.tryTake();
  await b.settle();
  await server.kill();
  await eventually(() => !g!.isUp, 'the group to notice');
  t.equal(b.tokens, 20, 'ten leased and a share of ten (N = 1)');
  t.equal(await drain([b]), 20);
  t.equal(b.stats().fallbackTakes, 10);
});

t.test('a lease request that fails waits a refill step before the next one', async (t) => {
  const clock: VirtualClock = { now: 5_000 };
  const [g] = await startReplicas(t, redis.url, 1, { clock });
  const key = g!.key('fails', 'bucket');
  await redis.command('SET', key, 'not a hash');
  const b = g!.rateBucket('fails', SHAPE);
  t.notOk(b.tryTake());
  await b.settle();
  t.ok(g!.isUp, 'an error reply is not an outage');
  t.equal(b.msUntilNext(), 100, 'no new ask within the step');
  await redis.command('DEL', key);
  clock.now += 100;
  b.tryTake();
  await b.settle();
  t.equal(b.tokens, 10);
});

t.test(
  'onAvailable is called when a reserved lease becomes usable, and a throwing one is logged',
  async (t) => {
    const lines: string[] = [];
    const logger = { info: () => undefined, warn: (_: object, msg: string) => lines.push(msg) };
    const [g] = await startReplicas(t, redis.url, 1, { logger });
    let calls = 0;
    const b = g!.rateBucket('wake', {
      capacity: 2,
      refillTokens: 2,
      refillIntervalMs: 20,
      onAvailable: () => {
        calls++;
        throw new Error('flow broke');
      },
    });
    b.tryTake();
    await b.settle();
    t.equal(calls, 1, 'the first lease was usable at once');
    t.ok(b.tryTake());
    t.ok(b.tryTake());
    b.tryTake();
    await b.settle();
    await eventually(() => calls >= 2, 'the wake-up when the reservation is due');
    t.ok(b.tryTake(), 'the reserved lease is usable now');
    t.ok(lines.includes('shared: onAvailable threw'));
    b.close();
    b.close();
  },
);

t.test('a reserved lease sets one wake-up timer, and close() clears it', async (t) => {
  const clock: VirtualClock = { now: 5_000 };
  const timers: { ms: number; cleared: boolean }[] = [];
  const fakeTimers = {
    setTimeout: (_: () => void, ms: number) => {
      const timer = { ms, cleared: false };
      timers.push(timer);
      return timer;
    },
    clearTimeout: (timer: unknown) => {
      (timer as { cleared: boolean }).cleared = true;
    },
  };
  const [g] = await startReplicas(t, redis.url, 1, { clock });
  const b = g!.rateBucket('timers', { ...SHAPE, leaseTokens: 6, onAvailable: () => undefined });
  Object.defineProperty(g, 'timers', { value: fakeTimers });
  b.tryTake();
  await b.settle();
  for (let i = 0; i < 5; i++) b.tryTake();
  await b.settle();
  const wakeUps = () => timers.filter((timer) => timer.ms !== 500);
  t.match(wakeUps(), [{ ms: 100, cleared: false }], 'the next lease waits a step');
  clock.now += 100;
  for (let i = 0; i < 5; i++) t.ok(b.tryTake());
  await b.settle();
  t.equal(
    wakeUps().length,
    1,
    'a later lease leaves the overdue wake-up alone: flow asks again when it fires',
  );
  b.close();
  t.match(wakeUps(), [{ ms: 100, cleared: true }]);
});

t.test('options are checked and name the option', async (t) => {
  const [g] = await startReplicas(t, redis.url, 1);
  t.throws(() => g!.rateBucket('x', { ...SHAPE, capacity: 0 }), /capacity/);
  t.throws(
    () => g!.rateBucket('x', { ...SHAPE, refillIntervalMs: Number.NaN }),
    /refillIntervalMs/,
  );
  t.throws(() => g!.rateBucket('x', { ...SHAPE, leaseTokens: 0 }), /leaseTokens/);
  t.throws(() => g!.rateBucket('x', { ...SHAPE, horizonMs: -1 }), /horizonMs/);
});

t.test('the scripts read Redis TIME when no test clock is set', async (t) => {
  const [g] = await startReplicas(t, redis.url, 1);
  const b = g!.rateBucket('real-time', SHAPE);
  b.tryTake();
  await b.settle();
  t.equal(b.tokens, 10);
  const stepAt = await redis.command('HGET', g!.key('real-time', 'bucket'), 'stepAt');
  const ms = Number(stepAt.split('\r\n')[1]);
  t.ok(ms > 1_600_000_000_000, 'a Redis timestamp in ms');
});

t.test('the fallback bucket refills in whole steps and never beyond its capacity', async (t) => {
  let now = 0;
  const b = new TokenBucket({
    capacity: 2,
    refillTokens: 0.5,
    refillIntervalMs: 10,
    now: () => now,
  });
  t.ok(b.tryTake());
  t.ok(b.tryTake());
  t.notOk(b.tryTake());
  t.equal(b.msUntilNext(), 20, 'two half-token steps to a whole token');
  now = 5;
  t.equal(b.tokens, 0);
  now = 20;
  t.equal(b.msUntilNext(), 0);
  now = 1_000;
  t.equal(b.tokens, 2);
});
