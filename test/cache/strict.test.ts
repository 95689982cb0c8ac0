import { Writable } from 'node:stream';
import t from 'tap';
import { createCacheStage } from '../../src/cache/index.js';
import { SECTIONS } from '../../src/config/index.js';
import { ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import type { WordInput } from '../../src/protocol/index.js';
import { ManualClock } from '../fixtures/cache-clock.js';
import { FakeHandler, RecordingSink, commandOf } from '../fixtures/cache-fake-handler.js';

/**
 * A strict cache stage over a fake router; the group's versions are the
 * test's: each read is held until the test answers it.
 */
function strictHarness() {
  const reads: {
    router: string;
    menus: readonly string[];
    answer: (version: number | undefined) => void;
  }[] = [];
  const cache = createCacheStage({
    config: SECTIONS.cache.schema.parse({ listen: { enabled: false } }),
    logger: createLogger('silent', new Writable({ write: (_c, _e, done) => done() })),
    now: new ManualClock().now,
    menuVersion: (router, menus) =>
      new Promise((resolve) => reads.push({ router, menus, answer: resolve })),
  });
  const router = new FakeHandler();
  const pipeline = cache.stage(router);
  const send = (words: readonly WordInput[]) => {
    const sink = new RecordingSink();
    const context = commandOf(words, {});
    const exchange = pipeline.handle(context, sink);
    return { sink, context, exchange };
  };
  /** Answers the oldest version read not answered yet, and lets the cache go on. */
  const answer = async (version: number | undefined) => {
    const read = reads.shift();
    if (read === undefined) throw new Error('no version read is waiting');
    read.answer(version);
    await flush();
    return read;
  };
  return { cache, router, reads, send, answer };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('a strict print reads the version before the router is asked, and keeps it', async (t) => {
  const h = strictHarness();
  const first = h.send(['/ppp/secret/print']);
  t.equal(h.router.calls.length, 0, 'the router waits for the version');
  const read = await h.answer(7);
  t.same(read, {
    router: 'r1',
    menus: ['/ppp/secret', '/ppp/active', '/ppp/profile'],
    answer: read.answer,
  });
  h.router.last.reply('!re', '=name=a');
  h.router.last.done();
  t.same(first.sink.texts, ['!re =name=a', '!done']);
  const second = h.send(['/ppp/secret/print']);
  await h.answer(7);
  t.equal(second.context.notes.cache, 'hit', 'the version is unchanged: a hit');
  t.same(second.sink.texts, ['!re =name=a', '!done']);
  t.equal(h.router.calls.length, 1);
});

t.test('a changed version, or none (Redis down), sends the print to the router', async (t) => {
  const h = strictHarness();
  h.send(['/ip/address/print']);
  await h.answer(1);
  h.router.last.reply('!re', '=address=old');
  h.router.last.done();
  const changed = h.send(['/ip/address/print']);
  await h.answer(2);
  t.equal(changed.context.notes.cache, 'miss', 'another replica wrote the menu');
  h.router.last.reply('!re', '=address=new');
  h.router.last.done();
  t.same(changed.sink.texts, ['!re =address=new', '!done']);
  const down = h.send(['/ip/address/print']);
  await h.answer(undefined);
  t.equal(down.context.notes.cache, 'miss', 'no version: the router answers');
  h.router.last.reply('!re', '=address=unvouched');
  h.router.last.done();
  t.same(down.sink.texts, ['!re =address=unvouched', '!done']);
  const again = h.send(['/ip/address/print']);
  await h.answer(2);
  t.equal(again.context.notes.cache, 'hit', 'what was kept under version 2 is still served');
  t.same(
    again.sink.texts,
    ['!re =address=new', '!done'],
    'a reply read with no version is not kept',
  );
  t.equal(h.router.calls.length, 3);
});

t.test(
  'a strict print joins a print in flight only when it was sent under its version',
  async (t) => {
    const h = strictHarness();
    const first = h.send(['/ip/route/print']);
    await h.answer(4);
    const same = h.send(['/ip/route/print']);
    await h.answer(4);
    t.equal(same.context.notes.cache, 'coalesced');
    const later = h.send(['/ip/route/print']);
    await h.answer(5);
    t.equal(later.context.notes.cache, 'miss', 'a write came between: its own print');
    t.equal(h.router.calls.length, 2);
    for (const call of h.router.calls) call.done();
    t.equal(first.sink.ends + same.sink.ends + later.sink.ends, 3);
  },
);

t.test('a print cancelled while its version is read is answered by the cache', async (t) => {
  const h = strictHarness();
  const print = h.send(['/ip/route/print']);
  let answered = 0;
  print.exchange.cancel(() => answered++);
  print.exchange.cancel(() => answered++);
  t.same(print.sink.texts, ['!trap =category=2 =message=interrupted', '!done']);
  t.equal(answered, 2, 'each cancel is acknowledged; the client is answered once');
  await h.answer(3);
  t.equal(h.router.calls.length, 0, 'the router never gets it');
  const sent = h.send(['/ip/route/print']);
  await h.answer(3);
  sent.exchange.cancel(() => answered++);
  t.equal(h.router.last.cancels, 1, 'once sent, a cancel goes to the router');
  t.equal(answered, 3);
});

t.test('strict mode leaves writes alone and serves stale as before', async (t) => {
  const h = strictHarness();
  const write = h.send(['/ppp/secret/add', '=name=b']);
  t.equal(h.reads.length, 0, 'a write reads no version');
  h.router.last.done();
  t.same(write.sink.texts, ['!done']);
  const print = h.send(['/system/identity/print']);
  await h.answer(1);
  h.router.last.refuse(ErrorCode.BreakerOpen);
  t.equal(print.sink.error?.code, ErrorCode.BreakerOpen);
});
