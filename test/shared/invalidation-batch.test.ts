/**
 * Batched publishes: the writes of one turn (and those made while a batch
 * is in flight) go to Redis in one script call, and every receiver still
 * sees every entry, gaps replayed.
 */
import t from 'tap';
import {
  InvalidationBus,
  type InvalidationBus as Bus,
  type InvalidationEvent,
} from '../../src/shared/index.js';
import type { LeaseRide } from '../../src/shared/rides.js';
import { eventually } from '../fixtures/eventually.js';
import { FakeSharedLink, settle } from '../fixtures/fake-shared-link.js';
import { startRedis } from '../fixtures/redis-server.js';
import { startReplicas, warnings } from '../fixtures/shared-replicas.js';

const redis = await startRedis();
t.teardown(() => redis.stop());

function heard(bus: Bus): InvalidationEvent[] {
  const events: InvalidationEvent[] = [];
  bus.on('invalidate', (e) => events.push(e));
  return events;
}

t.test(
  'several writes in one turn make one script call; each writer resolves and the receivers see every entry',
  async (t) => {
    const groups = await startReplicas(t, redis.url, 3);
    const buses = groups.map((g) => g.invalidationBus('core'));
    await eventually(() => buses.every((b) => b.isLive), 'every bus live');
    // Redis learns the script (EVALSHA, NOSCRIPT, EVAL) on a first write.
    await buses[0]!.publish('/warm-up');
    await eventually(
      () => buses.slice(1).every((b) => b.generation('/warm-up') === 1),
      'the receivers to hear the warm-up',
    );
    const events = buses.map(heard);
    const publishesBefore = groups[0]!.stats().roundTripsByOp['publish'] ?? 0;
    const results = await Promise.all([
      buses[0]!.publish('/ip/address'),
      buses[0]!.publish('/ip/hotspot/user', '{"ids":["*1A"]}'),
      buses[0]!.publish('/ppp/secret'),
    ]);
    t.same(results, [true, true, true], 'every writer is told its write is in Redis');
    t.equal(groups[0]!.stats().roundTripsByOp['publish'], publishesBefore + 1, 'one script call');
    t.match(buses[0]!.stats(), { sent: 4, batches: 2 });
    await eventually(
      () => events[1]!.length === 3 && events[2]!.length === 3,
      'both receivers to hear all three',
    );
    t.same(
      events[2]!.map((e) => [e.menu, e.rowKey]),
      [
        ['/ip/address', undefined],
        ['/ip/hotspot/user', '{"ids":["*1A"]}'],
        ['/ppp/secret', undefined],
      ],
      'in the order written',
    );
    t.equal(await buses[1]!.menuVersion('/ppp/secret'), 1, 'each entry bumps its menu');
    const log = await redis.command('XLEN', groups[0]!.key('core', 'inval'));
    t.match(log, /:4\r\n/, 'one stream entry per invalidation');
  },
);

t.test('writes made while a batch is in flight go together in the next call', async (t) => {
  const link = new FakeSharedLink();
  const bus = new InvalidationBus(link, 'core');
  const first = bus.publish('/a');
  await settle();
  t.equal(link.calls.length, 1, 'the first write goes at the end of its turn');
  const more = [bus.publish('/b'), bus.publish('/c', '*2')];
  await settle();
  t.equal(link.calls.length, 1, 'the others wait for it');
  link.answer([1, 1, -1, 0]);
  t.equal(await first, true);
  t.equal(link.calls.length, 1, 'then they go at once');
  t.same(link.calls[0]!.args.slice(9), ['/b', '', '/c', '*2']);
  t.same(link.calls[0]!.keys.slice(3), ['fake:{core}:ver:/b', 'fake:{core}:ver:/c']);
  link.answer([3, 2, -1, 0]);
  t.same(await Promise.all(more), [true, true]);
  t.match(bus.stats(), { sent: 3, batches: 2 });
});

t.test('a batch is at most maxBatch invalidations; the rest go next', async (t) => {
  const link = new FakeSharedLink();
  const bus = new InvalidationBus(link, 'core', { maxBatch: 2 });
  const all = ['/a', '/b', '/c'].map((menu) => bus.publish(menu));
  await settle();
  t.same(link.calls[0]!.args.slice(9), ['/a', '', '/b', '']);
  link.answer([2, 2, -1, 0]);
  await settle();
  t.same(link.calls[0]!.args.slice(9), ['/c', '']);
  link.answer([3, 1, -1, 0]);
  t.same(await Promise.all(all), [true, true, true]);
  t.throws(() => new InvalidationBus(link, 'core', { maxBatch: 0 }), /maxBatch/);
  t.throws(() => new InvalidationBus(link, 'core', { saturatedWindowMs: -1 }), /saturatedWindowMs/);
});

t.test('a batch Redis did not take keeps every menu of it for later', async (t) => {
  const link = new FakeSharedLink();
  const bus = new InvalidationBus(link, 'core');
  const both = [bus.publish('/a', '*1'), bus.publish('/b')];
  await settle();
  link.answer(undefined);
  t.same(await Promise.all(both), [false, false]);
  t.equal(bus.stats().pending, 2, 'both kept to publish when Redis is back');
  t.equal(bus.stats().sent, 0);
});

t.test('a batch heard after a gap is applied and the gap is replayed once', async (t) => {
  const link = new FakeSharedLink();
  const bus = new InvalidationBus(link, 'core');
  const events = heard(bus);
  const syncing = bus.sync();
  link.answer([1, '1-0', []]);
  await syncing;
  link.deliver(
    JSON.stringify([
      { seq: 3, id: '3-0', menu: '/c', row: '', origin: 'other' },
      { seq: 4, id: '4-0', menu: '/d', row: '*4', origin: 'other' },
    ]),
  );
  t.same(
    events.map((e) => e.menu),
    ['/c', '/d'],
    'the entries heard are applied at once',
  );
  t.equal(link.calls.length, 1, 'one replay for the gap, not one per entry');
  t.same(link.calls[0]!.args, ['1-0', 1000]);
  link.answer([
    4,
    '4-0',
    [
      ['2-0', ['seq', '2', 'menu', '/b', 'row', '', 'origin', 'other']],
      ['3-0', ['seq', '3', 'menu', '/c', 'row', '', 'origin', 'other']],
      ['4-0', ['seq', '4', 'menu', '/d', 'row', '*4', 'origin', 'other']],
    ],
  ]);
  await settle();
  t.same(
    events.map((e) => e.menu),
    ['/c', '/d', '/b'],
    'the missed one replayed, the others not applied twice',
  );
  t.ok(bus.isLive);
});

t.test('a batch with one entry it cannot read is not understood as a whole', async (t) => {
  const link = new FakeSharedLink();
  const bus = new InvalidationBus(link, 'core');
  const events = heard(bus);
  for (const text of [
    '[]',
    '5',
    'null',
    JSON.stringify([{ seq: 1, id: '1-0', menu: '/a' }, { seq: 2 }]),
  ]) {
    link.deliver(text);
  }
  t.same(events, []);
  t.equal(warnings(link.logger).length, 4, 'each message is warned about');
});

t.test("a lease of the router's bucket rides on the batch and gets its answer", async (t) => {
  const link = new FakeSharedLink();
  const bus = new InvalidationBus(link, 'core');
  const answers: unknown[] = [];
  const ride: LeaseRide = {
    key: 'fake:{core}:bucket',
    args: [10, 5, 100, 10, 1000],
    settle: (reply) => answers.push(reply),
  };
  let offers = 0;
  link.rides().ride({
    offer: () => (offers++ === 0 ? ride : undefined),
    isSaturated: () => false,
  });
  const done = bus.publish('/a');
  await settle();
  const call = link.calls[0]!;
  t.equal(call.keys[2], 'fake:{core}:bucket', 'the bucket is a key of the call');
  t.same(call.args.slice(4, 9), [10, 5, 100, 10, 1000]);
  link.answer([1, 1, 10, 40]);
  await done;
  t.same(answers, [[10, 40]], 'the lease answer goes to the bucket');
  const next = bus.publish('/b');
  await settle();
  t.same(link.calls[0]!.args.slice(4, 9), [0, 0, 0, 0, 0], 'no ride offered: no lease asked');
  link.answer(undefined);
  await next;
  t.same(answers, [[10, 40]]);
});

t.test('a failed batch tells its rider the lease got no answer', async (t) => {
  const link = new FakeSharedLink();
  const bus = new InvalidationBus(link, 'core');
  const answers: unknown[] = [];
  link.rides().ride({
    offer: () => ({ key: 'k', args: [1, 1, 1, 1, 1], settle: (reply) => answers.push(reply) }),
    isSaturated: () => false,
  });
  const done = bus.publish('/a');
  await settle();
  link.answer(undefined);
  t.equal(await done, false);
  t.same(answers, [undefined]);
});

t.test(
  "while the router's rate limit bites, a publish waits for others unless a lease hurries it",
  async (t) => {
    const link = new FakeSharedLink();
    const bus = new InvalidationBus(link, 'core', { saturatedWindowMs: 30 });
    let isSaturated = true;
    link.rides().ride({ offer: () => undefined, isSaturated: () => isSaturated });
    const first = bus.publish('/a');
    await settle();
    t.equal(link.calls.length, 0, 'held for the window');
    const second = bus.publish('/b');
    await eventually(() => link.calls.length === 1, 'the window to end');
    t.same(link.calls[0]!.args.slice(9), ['/a', '', '/b', ''], 'both in one call');
    link.answer([2, 2, -1, 0]);
    t.same(await Promise.all([first, second]), [true, true]);

    const third = bus.publish('/c');
    await settle();
    t.equal(link.calls.length, 0);
    t.equal(link.rides().hurry(), true, 'a bucket that needs a lease sends the batch now');
    t.equal(link.calls.length, 1);
    t.equal(link.rides().hurry(), false, 'nothing waits any more');
    link.answer([3, 1, -1, 0]);
    t.equal(await third, true);

    isSaturated = false;
    const fourth = bus.publish('/d');
    await settle();
    t.equal(link.calls.length, 1, 'not limited: at the end of the turn');
    link.answer([4, 1, -1, 0]);
    t.equal(await fourth, true);
  },
);

t.test('a bus with no window sends at the end of the turn even when limited', async (t) => {
  const link = new FakeSharedLink();
  const bus = new InvalidationBus(link, 'core', { saturatedWindowMs: 0 });
  link.rides().ride({ offer: () => undefined, isSaturated: () => true });
  const done = bus.publish('/a');
  await settle();
  t.equal(link.calls.length, 1);
  link.answer([1, 1, -1, 0]);
  t.equal(await done, true);
  t.equal(link.rides().hurry(), false);
});
