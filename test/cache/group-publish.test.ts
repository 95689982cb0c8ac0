import { Writable } from 'node:stream';
import t from 'tap';
import { createCacheStage } from '../../src/cache/index.js';
import { SECTIONS } from '../../src/config/index.js';
import { ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import type { WordInput } from '../../src/protocol/index.js';
import { ManualClock } from '../fixtures/cache-clock.js';
import { FakeHandler, RecordingSink, commandOf } from '../fixtures/cache-fake-handler.js';

/** A cache stage whose writes are published to a group the test resolves by hand. */
function groupHarness() {
  const published: {
    router: string;
    path: string | undefined;
    rowKey: string | undefined;
    resolve: () => void;
  }[] = [];
  const clock = new ManualClock();
  const group = { fallbackTtlMs: undefined as number | undefined };
  const cache = createCacheStage({
    config: SECTIONS.cache.schema.parse({ listen: { enabled: false } }),
    logger: createLogger('silent', new Writable({ write: (_c, _e, done) => done() })),
    now: clock.now,
    fallbackTtlMs: () => group.fallbackTtlMs,
    publish: (router, path, rowKey) =>
      new Promise<void>((resolve) => published.push({ router, path, rowKey, resolve })),
  });
  const router = new FakeHandler();
  const pipeline = cache.stage(router);
  const send = (words: readonly WordInput[]) => {
    const sink = new RecordingSink();
    const context = commandOf(words, {});
    pipeline.handle(context, sink);
    return { sink, context };
  };
  const fill = (words: readonly WordInput[], ...row: string[]) => {
    send(words);
    router.last.reply('!re', ...row);
    router.last.done();
  };
  return { cache, router, published, send, fill, clock, group };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test("a write's !done waits until the group has heard of it", async (t) => {
  const h = groupHarness();
  const add = h.send(['/ip/hotspot/user/add', '=name=b']);
  h.router.last.done('!done', '=ret=*2');
  t.same(add.sink.texts, [], 'not answered before the publish resolved');
  t.same(
    h.published.map(({ router, path }) => [router, path]),
    [['r1', '/ip/hotspot/user']],
  );
  h.published[0]?.resolve();
  await flush();
  t.same(add.sink.texts, ['!done =ret=*2']);
});

t.test('a refused write is published too, and a script as a change to any menu', async (t) => {
  const h = groupHarness();
  const set = h.send(['/ip/address/set', '=.id=*1', '=comment=x']);
  h.router.last.refuse(ErrorCode.UpstreamTimeout);
  h.send(['/system/script/run', '=number=0']);
  h.router.last.done();
  t.same(
    h.published.map(({ path }) => path),
    ['/ip/address', undefined],
  );
  for (const p of h.published) p.resolve();
  await flush();
  t.equal(set.sink.error?.code, ErrorCode.UpstreamTimeout);
});

t.test("another replica's write drops the menu here; an unknown router is ignored", (t) => {
  const h = groupHarness();
  h.fill(['/ppp/secret/print'], '=name=a');
  t.equal(h.send(['/ppp/secret/print']).context.notes.cache, 'hit');
  h.cache.invalidate('elsewhere', '/ppp/secret');
  h.cache.invalidate('r1', '/ppp/secret');
  t.equal(h.send(['/ppp/secret/print']).context.notes.cache, 'miss');
  t.equal(h.cache.stats()['r1']?.invalidations, 1);
  t.end();
});

t.test('while the group cannot vouch for a reply, it is served only for the fallback TTL', (t) => {
  const h = groupHarness();
  h.fill(['/ppp/secret/print'], '=name=a');
  h.group.fallbackTtlMs = 1000;
  h.clock.advance(999);
  t.equal(h.send(['/ppp/secret/print']).context.notes.cache, 'hit', 'young enough');
  h.clock.advance(1);
  t.equal(h.send(['/ppp/secret/print']).context.notes.cache, 'miss', 'too old to vouch for');
  h.router.last.reply('!re', '=name=a');
  h.router.last.done();
  h.group.fallbackTtlMs = undefined;
  h.clock.advance(500);
  t.equal(
    h.send(['/ppp/secret/print']).context.notes.cache,
    'hit',
    'the group vouches again: the TTL rules',
  );
  t.end();
});

t.test(
  'a reply kept while the group could not vouch for it ends at the fallback TTL, even once the group vouches again',
  (t) => {
    const h = groupHarness();
    h.group.fallbackTtlMs = 1000;
    h.fill(['/ppp/secret/print'], '=name=a');
    h.group.fallbackTtlMs = undefined;
    h.clock.advance(999);
    t.equal(h.send(['/ppp/secret/print']).context.notes.cache, 'hit', 'young enough');
    h.clock.advance(1);
    t.equal(
      h.send(['/ppp/secret/print']).context.notes.cache,
      'miss',
      'writes made elsewhere before the group vouched were never heard',
    );
    t.end();
  },
);

t.test('a row-scoped write is published with its row; a whole-menu write without', async (t) => {
  const h = groupHarness();
  h.send(['/ip/hotspot/user/add', '=name=Vc1']);
  h.router.last.done('!done', '=ret=*2');
  h.send(['/ip/address/set', '=.id=*1', '=comment=x']);
  h.router.last.done();
  t.same(
    h.published.map(({ path, rowKey }) => [
      path,
      rowKey === undefined ? undefined : JSON.parse(rowKey),
    ]),
    [
      ['/ip/hotspot/user', { kind: 'named', ids: [], name: 'vc1' }],
      ['/ip/address', undefined],
    ],
  );
  for (const p of h.published) p.resolve();
  await flush();
});

t.test("another replica's row-scoped write drops only the replies that can show the row", (t) => {
  const h = groupHarness();
  const lookup = (name: string) => ['/ip/hotspot/user/print', `?name=${name}`];
  h.fill(lookup('a'), '=.id=*1', '=name=a');
  h.fill(lookup('b'), '=.id=*2', '=name=b');
  h.cache.invalidate('r1', '/ip/hotspot/user', JSON.stringify({ kind: 'removed', ids: ['*1'] }));
  t.equal(h.send(lookup('b')).context.notes.cache, 'hit', 'the other row is kept');
  t.equal(h.send(lookup('a')).context.notes.cache, 'miss', 'the removed row is dropped');
  h.router.last.reply('!re', '=.id=*1', '=name=a');
  h.router.last.done();
  h.cache.invalidate('r1', '/ip/hotspot/user', JSON.stringify({ kind: 'kept-name', ids: ['*2'] }));
  t.equal(h.send(lookup('a')).context.notes.cache, 'hit', 'a change to row *2 keeps row *1');
  t.equal(h.send(lookup('b')).context.notes.cache, 'miss', 'and drops row *2');
  h.router.last.reply('!re', '=.id=*2', '=name=b');
  h.router.last.done();
  h.cache.invalidate(
    'r1',
    '/ip/hotspot/user',
    JSON.stringify({ kind: 'named', ids: [], name: 'b' }),
  );
  t.equal(
    h.send(lookup('a')).context.notes.cache,
    'hit',
    'a new row named b keeps the lookup of a',
  );
  t.equal(h.send(lookup('b')).context.notes.cache, 'miss', 'and drops the lookup of b');
  t.end();
});

t.test(
  'a row key that cannot be read drops the whole menu, as does one on a menu not row-scoped',
  (t) => {
    const h = groupHarness();
    const lookup = ['/ip/hotspot/user/print', '?name=b'];
    for (const rowKey of [
      'not json',
      '5',
      'null',
      JSON.stringify({ kind: 'removed', ids: 'x' }),
      JSON.stringify({ kind: 'removed', ids: [1] }),
      JSON.stringify({ kind: 'named', ids: [] }),
      JSON.stringify({ kind: 'other', ids: [] }),
    ]) {
      h.fill(lookup, '=.id=*2', '=name=b');
      h.cache.invalidate('r1', '/ip/hotspot/user', rowKey);
      t.equal(h.send(lookup).context.notes.cache, 'miss', rowKey);
      h.router.last.done();
    }
    h.fill(['/ppp/active/print'], '=name=a');
    h.cache.invalidate('r1', '/ppp/active', JSON.stringify({ kind: 'kept-name', ids: ['*9'] }));
    t.equal(
      h.send(['/ppp/active/print']).context.notes.cache,
      'miss',
      'not row-scoped: whole menu',
    );
    t.end();
  },
);
