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
  const published: { router: string; path: string | undefined; resolve: () => void }[] = [];
  const clock = new ManualClock();
  const group = { fallbackTtlMs: undefined as number | undefined };
  const cache = createCacheStage({
    config: SECTIONS.cache.schema.parse({ listen: { enabled: false } }),
    logger: createLogger('silent', new Writable({ write: (_c, _e, done) => done() })),
    now: clock.now,
    fallbackTtlMs: () => group.fallbackTtlMs,
    publish: (router, path) =>
      new Promise<void>((resolve) => published.push({ router, path, resolve })),
  });
  const router = new FakeHandler();
  const pipeline = cache.stage(router);
  const send = (words: readonly WordInput[]) => {
    const sink = new RecordingSink();
    const context = commandOf(words, {});
    pipeline.handle(context, sink);
    return { sink, context };
  };
  const fill = (words: readonly WordInput[], row: string) => {
    send(words);
    router.last.reply('!re', row);
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
