/**
 * The invalidation bus against a fake link: orderings of live messages and
 * replays that a real Redis produces only by chance.
 */
import t from 'tap';
import {
  InvalidationBus,
  type FlushEvent,
  type InvalidationEvent,
} from '../../src/shared/index.js';
import { FakeSharedLink, settle } from '../fixtures/fake-shared-link.js';

function setUp(): {
  link: FakeSharedLink;
  bus: InvalidationBus;
  events: InvalidationEvent[];
  flushes: FlushEvent[];
} {
  const link = new FakeSharedLink();
  const bus = new InvalidationBus(link, 'core');
  const events: InvalidationEvent[] = [];
  const flushes: FlushEvent[] = [];
  bus.on('invalidate', (e) => events.push(e));
  bus.on('flush', (e) => flushes.push(e));
  return { link, bus, events, flushes };
}

/** The first sync: the log ends at `seq`, entry `id`. */
async function baseline(
  link: FakeSharedLink,
  bus: InvalidationBus,
  seq: number,
  id: string,
): Promise<void> {
  const syncing = bus.sync();
  link.answer([seq, id, []]);
  await syncing;
}

t.test('a replica that joins late starts at the end of the log and replays nothing', async (t) => {
  const { link, bus, events } = setUp();
  await baseline(link, bus, 7, '1700000000000-0');
  t.ok(bus.isLive);
  const syncing = bus.sync();
  t.same(
    link.calls[0]!.args,
    ['1700000000000-0', 1000],
    'the next replay starts after the last entry',
  );
  link.answer([7, '1700000000000-0', []]);
  await syncing;
  t.same(events, []);
});

t.test('a sync asked for while one is under way runs once more after it', async (t) => {
  const { link, bus } = setUp();
  const first = bus.sync();
  const second = bus.sync();
  t.equal(first, second, 'the same sync');
  t.equal(link.calls.length, 1);
  link.answer([0, '', []]);
  await first;
  await settle();
  t.equal(link.calls.length, 1, 'a second read');
  link.answer([0, '', []]);
  await settle();
  t.equal(link.calls.length, 0);
});

t.test('a replay overtaken by a live message asks again instead of flushing', async (t) => {
  const { link, bus, events, flushes } = setUp();
  await baseline(link, bus, 0, '');
  const syncing = bus.sync();
  link.deliver(
    JSON.stringify({ seq: 1, id: '1-0', menu: '/ip/address', row: '', origin: 'other' }),
  );
  t.equal(events.length, 1, 'the live message is applied at once');
  link.answer([3, '3-0', []]);
  await syncing;
  await settle();
  t.same(flushes, [], 'no flush on a stale answer');
  t.same(link.calls[0]!.args, ['1-0', 1000], 'asked again from the live message on');
  link.answer([
    3,
    '3-0',
    [
      ['2-0', ['seq', '2', 'menu', '/a', 'row', '', 'origin', 'other']],
      ['3-0', ['seq', '3', 'menu', '/b', 'row', '*1', 'origin', 'other']],
    ],
  ]);
  await settle();
  t.same(
    events.map((e) => [e.menu, e.rowKey]),
    [
      ['/ip/address', undefined],
      ['/a', undefined],
      ['/b', '*1'],
    ],
  );
  t.ok(bus.isLive);
});

t.test(
  'a replayed entry that was heard live while the replay was read is applied once',
  async (t) => {
    const { link, bus, events, flushes } = setUp();
    await baseline(link, bus, 0, '');
    const syncing = bus.sync();
    link.deliver(
      JSON.stringify({ seq: 1, id: '1-0', menu: '/ip/address', row: '', origin: 'other' }),
    );
    link.answer([
      2,
      '2-0',
      [
        ['1-0', ['seq', '1', 'menu', '/ip/address', 'row', '', 'origin', 'other']],
        ['2-0', ['seq', '2', 'menu', '/a', 'row', '*1', 'origin', 'other']],
      ],
    ]);
    await syncing;
    t.same(
      events.map((e) => [e.menu, e.rowKey]),
      [
        ['/ip/address', undefined],
        ['/a', '*1'],
      ],
    );
    t.same(flushes, []);
    t.ok(bus.isLive);
  },
);

t.test('a log that starts over below the last sequence seen is a reset', async (t) => {
  const { link, bus, flushes } = setUp();
  await baseline(link, bus, 3, '3-0');
  const syncing = bus.sync();
  link.answer([1, '9-0', [['9-0', ['seq', '1', 'menu', '/a', 'row', '', 'origin', 'other']]]]);
  await syncing;
  t.same(flushes, [{ router: 'core', reason: 'reset' }]);
});

t.test('messages and log entries with missing fields are read safely', async (t) => {
  const { link, bus, events, flushes } = setUp();
  await baseline(link, bus, 0, '');
  link.deliver(JSON.stringify({ seq: 1, id: '1-0', menu: '/x' }));
  t.same(events, [{ router: 'core', menu: '/x', origin: '' }], 'no row, no origin');
  const syncing = bus.sync();
  link.answer([2, '2-0', [['2-0', ['seq', '2']]]]);
  await syncing;
  t.same(flushes, [{ router: 'core', reason: 'publisher' }], 'an entry with no menu flushes');
});

t.test('a log that started over and grew past the last sequence seen is a reset too', async (t) => {
  const { link, bus, flushes } = setUp();
  await baseline(link, bus, 1, '1-0');
  const syncing = bus.sync();
  link.answer([
    2,
    '9-1',
    [
      ['9-0', ['seq', '1', 'menu', '/a', 'row', '', 'origin', 'other']],
      ['9-1', ['seq', '2', 'menu', '/b', 'row', '', 'origin', 'other']],
    ],
  ]);
  await syncing;
  t.same(flushes, [{ router: 'core', reason: 'reset' }]);
});

t.test('a message that reaches a closed bus is dropped', async (t) => {
  const { link, bus, events } = setUp();
  await baseline(link, bus, 0, '');
  bus.close();
  link.deliver(JSON.stringify({ seq: 1, id: '1-0', menu: '/x', row: '', origin: 'other' }));
  t.same(events, []);
  t.equal(bus.stats().received, 0);
});
