import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { Sentence } from '../../src/protocol/index.js';
import { cacheKey } from '../../src/cache/cache-key.js';
import { sentenceOverheadBytes } from '../../src/cache/cached-reply.js';
import { cacheHarness } from '../fixtures/cache-fake-handler.js';

const PRINT = ['/ip/address/print', '.tag=c1'];

t.test('a print misses once, then is answered from the cache byte for byte', async (t) => {
  const h = cacheHarness();
  const first = h.send(PRINT);
  t.equal(first.context.notes.cache, 'miss');
  const rows = [
    h.router.last.reply(
      '!re',
      '=.id=*1',
      '=address=10.0.0.1/24',
      Buffer.from('=comment=caf\xe9', 'latin1'),
      '.tag=u1',
    ),
    h.router.last.reply('!re', '=.id=*2', '=address=10.0.0.2/24', '.tag=u1'),
  ];
  const done = h.router.last.done('!done', '.tag=u1');
  const routerBytes = Buffer.concat([...rows, done].map((s) => s.raw));
  t.same(first.sink.bytes, routerBytes, 'the first client gets the router reply');

  const second = h.send(['/ip/address/print', '.tag=other'], { clientId: 2 });
  t.equal(second.context.notes.cache, 'hit');
  t.equal(h.router.calls.length, 1, 'the router saw one print');
  t.same(second.sink.bytes, routerBytes, 'the replay is the router reply, byte for byte');
  t.equal(second.sink.ends, 1);
  t.same(second.sink.texts.at(-1), '!done .tag=u1', 'the last sentence goes to done');
  // Counted as memory: the wire bytes, each sentence's view and its key.
  const overhead = [...rows, done].reduce((sum, s) => sum + sentenceOverheadBytes(s), 0);
  const key = cacheKey(first.context.router, first.context.sentence);
  t.match(h.cache.stats(), {
    r1: { hits: 1, misses: 1, entries: 1, bytes: routerBytes.length + overhead + key.length },
  });
  let answered = false;
  second.exchange.cancel(() => (answered = true));
  t.ok(answered, 'cancelling an answered hit only acknowledges');
});

t.test('attributes in another order and another tag hit the same entry', async (t) => {
  const h = cacheHarness();
  h.send(['/ip/address/print', '=.proplist=address,.id', '=detail=']);
  h.router.last.reply('!re', '=address=1');
  h.router.last.done();
  const again = h.send(['/ip/address/print', '=detail=', '.tag=9', '=.proplist=.id,address']);
  t.equal(again.context.notes.cache, 'hit');
  t.same(again.sink.texts, ['!re =address=1', '!done']);
});

t.test('!empty stays a reply sentence in the replay', async (t) => {
  const h = cacheHarness();
  h.send(['/interface/pptp-server/print']);
  h.router.last.reply('!empty');
  h.router.last.done();
  const again = h.send(['/interface/pptp-server/print']);
  t.equal(again.context.notes.cache, 'hit');
  t.same(again.sink.texts, ['!empty', '!done']);
});

t.test('a count-only print is kept with its !done =ret=', async (t) => {
  const h = cacheHarness();
  h.send(['/ip/hotspot/user/print', '=count-only=']);
  h.router.last.done('!done', '=ret=2000');
  const again = h.send(['/ip/hotspot/user/print', '=count-only=']);
  t.equal(again.context.notes.cache, 'hit');
  t.same(again.sink.texts, ['!done =ret=2000']);
  const rows = h.send(['/ip/hotspot/user/print']);
  t.equal(rows.context.notes.cache, 'miss', 'the full print is another entry');
});

t.test('streams are never cached, and pass straight through', async (t) => {
  const h = cacheHarness();
  for (const words of [
    ['/interface/print', '=follow='],
    ['/interface/print', '=follow-only='],
    ['/interface/print', '=interval=1'],
    ['/interface/listen'],
    ['/interface/monitor-traffic', '=interface=ether1', '=once='],
    ['/ping', '=address=10.0.0.1', '=count=1'],
    ['/tool/torch', '=interface=ether1', '=duration=1'],
  ]) {
    const first = h.send(words);
    t.equal(first.context.notes.cache, 'bypass', words.join(' '));
    t.equal(h.router.last.sink, first.sink, 'the client sink reaches the router as it is');
    h.router.last.reply('!re', '=x=1');
    h.router.last.done();
    const again = h.send(words);
    t.equal(again.context.notes.cache, 'bypass');
    h.router.last.done();
  }
  t.same(h.cache.stats(), {}, 'no router cache was even needed');
});

t.test('a reply with a !trap is never cached', async (t) => {
  const h = cacheHarness();
  const first = h.send(['/ip/nothing/print']);
  h.router.last.reply('!trap', '=category=0', '=message=no such command or directory (nothing)');
  h.router.last.done();
  t.same(first.sink.texts, [
    '!trap =category=0 =message=no such command or directory (nothing)',
    '!done',
  ]);
  t.equal(h.send(['/ip/nothing/print']).context.notes.cache, 'miss');
  t.equal(h.router.calls.length, 2);
});

t.test('a reply cut by a lost session is never cached', async (t) => {
  const h = cacheHarness();
  const first = h.send(['/ip/address/print']);
  h.router.last.reply('!re', '=address=1');
  h.router.last.refuse(ErrorCode.UpstreamClosed);
  t.same(first.sink.texts, ['!re =address=1'], 'rows already sent are not repeated');
  t.equal(first.sink.error?.code, ErrorCode.UpstreamClosed);
  t.equal(h.send(['/ip/address/print']).context.notes.cache, 'miss');
});

t.test('a cancelled print is never cached', async (t) => {
  const h = cacheHarness();
  const first = h.send(['/ip/address/print']);
  h.router.last.reply('!re', '=address=1');
  first.exchange.cancel(() => undefined);
  t.equal(h.router.calls[0]?.cancels, 1, 'the router command is cancelled');
  t.same(first.sink.texts, ['!re =address=1', '!trap =category=2 =message=interrupted', '!done']);
  t.equal(h.send(['/ip/address/print']).context.notes.cache, 'miss');
  t.equal(h.cache.stats()['r1']?.entries, 0);
});

t.test('reads other than print and getall are not cached, and invalidate nothing', async (t) => {
  const h = cacheHarness();
  h.send(['/ip/address/print']);
  h.router.last.done();
  const get = h.send(['/ip/address/get', '=.id=*1', '=value-name=address']);
  t.equal(get.context.notes.cache, 'bypass');
  h.router.last.done('!done', '=ret=10.0.0.1/24');
  t.equal(h.send(['/ip/address/print']).context.notes.cache, 'hit');
});

t.test('a reply expires after its TTL', async (t) => {
  const h = cacheHarness({ defaultTtlMs: 1000, maxStaleMs: 0, ttlRules: [] });
  h.send(['/ip/address/print']);
  h.router.last.done();
  h.clock.advance(999);
  t.equal(h.send(['/ip/address/print']).context.notes.cache, 'hit');
  h.clock.advance(1);
  t.equal(h.send(['/ip/address/print']).context.notes.cache, 'miss');
  t.equal(h.cache.stats()['r1']?.entries, 0, 'an expired reply nobody may serve stale is dropped');
});

t.test('the TTL counts from when the print was sent', async (t) => {
  const h = cacheHarness({ defaultTtlMs: 1000, ttlRules: [] });
  h.send(['/ip/address/print']);
  h.clock.advance(600);
  h.router.last.done();
  h.clock.advance(400);
  t.equal(h.send(['/ip/address/print']).context.notes.cache, 'miss');
});

t.test('a TTL of 0 never keeps the reply', async (t) => {
  const h = cacheHarness({ ttlRules: [{ path: '/ip/address', ttlMs: 0 }] });
  h.send(['/ip/address/print']);
  h.router.last.done();
  t.equal(h.send(['/ip/address/print']).context.notes.cache, 'miss');
});

t.test('switched off, the stage is the next handler itself', async (t) => {
  const h = cacheHarness({ enabled: false });
  t.equal(h.pipeline, h.router);
});

t.test('each router has its own cache and counters', async (t) => {
  const h = cacheHarness();
  h.send(['/system/identity/print'], { router: 'a' });
  h.router.last.reply('!re', '=name=A');
  h.router.last.done();
  const b = h.send(['/system/identity/print'], { router: 'b' });
  t.equal(b.context.notes.cache, 'miss');
  h.router.last.reply('!re', '=name=B');
  h.router.last.done();
  t.same(h.send(['/system/identity/print'], { router: 'b' }).sink.texts, ['!re =name=B', '!done']);
  t.same(Object.keys(h.cache.stats()).sort(), ['a', 'b']);
  t.equal(h.cache.flush(undefined, 'a'), 1);
  t.match(h.cache.stats(), { a: { entries: 0 }, b: { entries: 1 } });
});

t.test('hits share the stored sentences: one buffer per reply', async (t) => {
  const h = cacheHarness();
  h.send(['/ip/address/print']);
  h.router.last.reply('!re', '=a=1');
  h.router.last.done();
  const one = h.send(['/ip/address/print']).sink.sentences;
  const two = h.send(['/ip/address/print']).sink.sentences;
  t.equal(one[0], two[0]);
  t.ok(one[0] instanceof Sentence);
  t.equal(one[0]?.raw.buffer, one[1]?.raw.buffer, 'rows and !done are views of one buffer');
});
