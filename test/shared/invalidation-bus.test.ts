import t from 'tap';
import {
  type FlushEvent,
  type InvalidationBus,
  type InvalidationEvent,
} from '../../src/shared/index.js';
import { deafenable } from '../fixtures/deaf-subscriber.js';
import { eventually } from '../fixtures/eventually.js';
import { startRedis } from '../fixtures/redis-server.js';
import {
  memoryLogger,
  startReplicas,
  warnings,
  type ReplicaOptions,
} from '../fixtures/shared-replicas.js';

const redis = await startRedis();
t.teardown(() => redis.stop());

/** What one replica's bus heard. */
function listen(bus: InvalidationBus): { events: InvalidationEvent[]; flushes: FlushEvent[] } {
  const heard = { events: [] as InvalidationEvent[], flushes: [] as FlushEvent[] };
  bus.on('invalidate', (event) => heard.events.push(event));
  bus.on('flush', (event) => heard.flushes.push(event));
  return heard;
}

async function liveBuses(
  t: { teardown(fn: () => unknown): void },
  url: string,
  count: number,
  options: ReplicaOptions = {},
) {
  const groups = await startReplicas(t, url, count, options);
  const buses = groups.map((g) => g.invalidationBus('core'));
  await eventually(() => buses.every((b) => b.isLive), 'every bus to be live');
  return { groups, buses };
}

t.test('a write on one replica reaches the other two, not itself', async (t) => {
  const { buses } = await liveBuses(t, redis.url, 3);
  const heard = buses.map(listen);
  t.equal(await buses[0]!.publish('/ip/address'), true);
  t.equal(await buses[0]!.publish('/ppp/secret', '*1A'), true);
  await eventually(
    () => heard[1]!.events.length === 2 && heard[2]!.events.length === 2,
    'both receivers',
  );
  t.same(heard[1]!.events, [
    { router: 'core', menu: '/ip/address', origin: 'r1' },
    { router: 'core', menu: '/ppp/secret', origin: 'r1', rowKey: '*1A' },
  ]);
  t.same(heard[0]!.events, [], 'the writer does not hear itself');
  t.equal(buses[1]!.generation('/ip/address'), 1, 'the receiver bumped the generation');
  t.equal(buses[0]!.generation('/ip/address'), 0);
  t.match(buses[0]!.stats(), { sent: 2, received: 0 });
  t.match(buses[2]!.stats(), { sent: 0, received: 2, replayed: 0 });
});

t.test('menuVersion grows with every write of the menu and with every flush', async (t) => {
  const { buses } = await liveBuses(t, redis.url, 2);
  t.equal(await buses[1]!.menuVersion('/queue/simple'), 0);
  await buses[0]!.publish('/queue/simple');
  t.equal(await buses[1]!.menuVersion('/queue/simple'), 1, 'readable on every replica at once');
  await buses[0]!.publish('/ip/pool');
  t.equal(await buses[1]!.menuVersion('/queue/simple'), 1, 'another menu does not count');
  await buses[0]!.publish('*');
  t.equal(await buses[1]!.menuVersion('/queue/simple'), 2);
});

t.test(
  'a subscriber that missed invalidations replays them from the stream when it reconnects',
  async (t) => {
    const deaf = deafenable();
    const [a] = await startReplicas(t, redis.url, 1, { replicaId: 'writer' });
    const [b] = await startReplicas(t, redis.url, 1, { prefix: a!.prefix, connect: deaf.connect });
    const writer = a!.invalidationBus('core');
    const reader = b!.invalidationBus('core');
    await eventually(() => writer.isLive && reader.isLive, 'both buses live');
    const heard = listen(reader);
    deaf.isDeaf = true;
    await writer.publish('/ip/address');
    await writer.publish('/ppp/secret', '*2');
    t.same(heard.events, [], 'lost on the way');
    await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await eventually(() => heard.events.length === 2, 'the replay');
    t.match(heard.events, [{ menu: '/ip/address' }, { menu: '/ppp/secret', rowKey: '*2' }]);
    t.equal(reader.stats().replayed, 2);
    t.same(heard.flushes, []);
    await writer.publish('/ip/route');
    await eventually(() => heard.events.length === 3, 'live again');
  },
);

t.test('a replay longer than the stream length is read in batches', async (t) => {
  const deaf = deafenable();
  const [a] = await startReplicas(t, redis.url, 1, { replicaId: 'writer' });
  const [b] = await startReplicas(t, redis.url, 1, { prefix: a!.prefix, connect: deaf.connect });
  const writer = a!.invalidationBus('core', { streamMaxLen: 10 });
  const reader = b!.invalidationBus('core', { streamMaxLen: 10 });
  await eventually(() => writer.isLive && reader.isLive, 'both buses live');
  const heard = listen(reader);
  deaf.isDeaf = true;
  for (let i = 0; i < 25; i++) await writer.publish(`/menu/${i}`);
  await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
  await eventually(() => heard.events.length === 25, 'the whole replay');
  t.same(
    heard.events.map((e) => e.menu),
    Array.from({ length: 25 }, (_, i) => `/menu/${i}`),
    'in order, once each',
  );
});

t.test('a receiver whose missed invalidations were trimmed away flushes everything', async (t) => {
  const deaf = deafenable();
  const [a] = await startReplicas(t, redis.url, 1, { replicaId: 'writer' });
  const [b] = await startReplicas(t, redis.url, 1, { prefix: a!.prefix, connect: deaf.connect });
  const writer = a!.invalidationBus('core');
  const reader = b!.invalidationBus('core');
  await eventually(() => writer.isLive && reader.isLive, 'both buses live');
  const heard = listen(reader);
  const before = reader.generation('/ip/address');
  deaf.isDeaf = true;
  await writer.publish('/ip/address');
  await redis.command('XTRIM', a!.key('core', 'inval'), 'MAXLEN', '0');
  await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
  await eventually(() => heard.flushes.length === 1, 'the flush');
  t.same(heard.flushes, [{ router: 'core', reason: 'trimmed' }]);
  t.ok(reader.generation('/ip/address') > before, 'a flush bumps every generation');
  t.ok(reader.generation('/never/seen') > 0);
  t.equal(b!.stats().flushes, 1);
});

t.test('a live invalidation after a gap is applied at once and the gap is replayed', async (t) => {
  const deaf = deafenable();
  const [a] = await startReplicas(t, redis.url, 1, { replicaId: 'writer' });
  const [b] = await startReplicas(t, redis.url, 1, { prefix: a!.prefix, connect: deaf.connect });
  const writer = a!.invalidationBus('core');
  const reader = b!.invalidationBus('core');
  await eventually(() => writer.isLive && reader.isLive, 'both buses live');
  const heard = listen(reader);
  deaf.isDeaf = true;
  await writer.publish('/missed');
  await eventually(() => deaf.dropped === 1, 'the message to be lost');
  deaf.isDeaf = false;
  await writer.publish('/heard');
  await eventually(() => heard.events.length === 2, 'both');
  t.same(
    heard.events.map((e) => e.menu),
    ['/heard', '/missed'],
    'the live one first, the missed one from the stream, none twice',
  );
  t.equal(reader.stats().replayed, 1);
  t.equal(reader.stats().received, 2);
});

t.test('a receiver flushes when Redis comes back empty', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const { groups, buses } = await liveBuses(t, server.url, 2, { probeMs: 20 });
  const heard = listen(buses[1]!);
  await buses[0]!.publish('/ip/address');
  await eventually(() => heard.events.length === 1, 'the live event');
  await server.kill();
  await eventually(() => !buses[1]!.isLive, 'the bus to know it is deaf');
  await server.restart();
  await eventually(() => groups.every((g) => g.isUp), 'Redis back');
  await eventually(() => heard.flushes.length === 1, 'the flush');
  t.same(heard.flushes, [{ router: 'core', reason: 'reset' }]);
  await eventually(() => buses[1]!.isLive, 'live again');
});

t.test('writes while Redis is down are published when it is back, one per menu', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const { groups, buses } = await liveBuses(t, server.url, 2, { probeMs: 20 });
  const heard = listen(buses[1]!);
  await server.kill();
  await eventually(() => !groups[0]!.isUp, 'the writer to notice');
  t.equal(await buses[0]!.publish('/ppp/secret', '*1'), false);
  t.equal(await buses[0]!.publish('/ppp/secret', '*2'), false);
  t.equal(await buses[0]!.publish('/ip/hotspot/user', '*3'), false);
  t.equal(await buses[0]!.publish('/ip/hotspot/user', '*3'), false);
  t.equal(buses[0]!.stats().pending, 2);
  await server.restart();
  await eventually(() => heard.events.length === 2, 'the kept writes');
  t.same(
    heard.events.map((e) => [e.menu, e.rowKey]),
    [
      ['/ppp/secret', undefined],
      ['/ip/hotspot/user', '*3'],
    ],
    'two rows of one menu become the whole menu',
  );
  t.equal(buses[0]!.stats().pending, 0);
});

t.test('too many menus written during an outage become one flush for everyone', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const groups = await startReplicas(t, server.url, 2, { probeMs: 20 });
  const writer = groups[0]!.invalidationBus('core', { maxPendingMenus: 2 });
  const reader = groups[1]!.invalidationBus('core');
  await eventually(() => writer.isLive && reader.isLive, 'both buses live');
  const heard = listen(reader);
  await server.kill();
  await eventually(() => !groups[0]!.isUp, 'the writer to notice');
  for (const menu of ['/a', '/b', '/c', '/d']) await writer.publish(menu);
  t.equal(writer.stats().pending, 1, 'one flush');
  await server.restart();
  await eventually(() => heard.flushes.length === 1, 'the flush');
  t.same(heard.flushes, [{ router: 'core', reason: 'publisher' }]);
  t.same(heard.events, []);
});

t.test('a publish Redis refuses is kept for later', async (t) => {
  const { groups, buses } = await liveBuses(t, redis.url, 1);
  await redis.command('SET', groups[0]!.key('core', 'inval'), 'not a stream');
  t.equal(await buses[0]!.publish('/ip/address'), false);
  t.equal(buses[0]!.stats().pending, 1);
  await redis.command('DEL', groups[0]!.key('core', 'inval'));
});

t.test('menuVersion is undefined while Redis is down', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const { groups, buses } = await liveBuses(t, server.url, 1, { probeMs: 3_600_000 });
  await server.kill();
  await eventually(() => !groups[0]!.isUp, 'the replica to notice');
  t.equal(await buses[0]!.menuVersion('/ip/address'), undefined);
});

t.test('messages that are not invalidations are logged and ignored', async (t) => {
  const logger = memoryLogger();
  const { groups, buses } = await liveBuses(t, redis.url, 1, { logger });
  const heard = listen(buses[0]!);
  const channel = groups[0]!.key('core', 'inval');
  await redis.command('PUBLISH', channel, 'not json');
  await redis.command('PUBLISH', channel, '{"seq":"1","id":"1-0","menu":"/x"}');
  await eventually(() => warnings(logger).length === 2, 'two warnings');
  t.match(warnings(logger), [{ msg: 'shared: an invalidation message was not understood' }, {}]);
  t.same(heard.events, []);
});

t.test('a listener that throws is logged and the bus goes on', async (t) => {
  const logger = memoryLogger();
  const groups = await startReplicas(t, redis.url, 2, { logger });
  const [writer, reader] = groups.map((g) => g.invalidationBus('core'));
  await eventually(() => writer!.isLive && reader!.isLive, 'both buses live');
  reader!.on('invalidate', () => {
    throw new Error('cache broke');
  });
  await writer!.publish('/one');
  await writer!.publish('/two');
  await eventually(() => reader!.stats().received === 2, 'both received');
  t.match(warnings(logger), [
    { msg: 'shared: a bus listener threw' },
    { msg: 'shared: a bus listener threw' },
  ]);
});

t.test('past maxTrackedMenus the generations fold into one and never go down', async (t) => {
  const groups = await startReplicas(t, redis.url, 2);
  const writer = groups[0]!.invalidationBus('core');
  const reader = groups[1]!.invalidationBus('core', { maxTrackedMenus: 2 });
  await eventually(() => writer.isLive && reader.isLive, 'both buses live');
  for (const menu of ['/a', '/a', '/a', '/b']) await writer.publish(menu);
  await eventually(() => reader.stats().received === 4, 'four received');
  t.equal(reader.generation('/a'), 3);
  await writer.publish('/c');
  await eventually(() => reader.stats().received === 5, 'the fifth');
  t.ok(reader.generation('/a') >= 3);
  t.ok(reader.generation('/c') >= 1);
  t.ok(reader.generation('/b') >= 1);
});

t.test('options are checked and name the option', async (t) => {
  const [g] = await startReplicas(t, redis.url, 1);
  t.throws(() => g!.invalidationBus('x', { streamMaxLen: 0 }), /streamMaxLen/);
  t.throws(() => g!.invalidationBus('x', { maxPendingMenus: 1.5 }), /maxPendingMenus/);
  t.throws(() => g!.invalidationBus('x', { maxTrackedMenus: -1 }), /maxTrackedMenus/);
});
