import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import type { Sentence } from '../../src/protocol/index.js';
import { cacheHarness, RecordingSink } from '../fixtures/cache-fake-handler.js';

const PRINT = ['/ip/hotspot/user/print', '=.proplist=name'];
const INTERRUPTED = ['!trap =category=2 =message=interrupted', '!done'];

t.test(
  'identical prints in flight share one router command; each waiter gets every row as it arrives',
  async (t) => {
    const h = cacheHarness();
    const a = h.send([...PRINT, '.tag=1'], { clientId: 1 });
    const b = h.send([...PRINT, '.tag=2'], { clientId: 2 });
    t.equal(a.context.notes.cache, 'miss');
    t.equal(b.context.notes.cache, 'coalesced');
    t.equal(h.router.calls.length, 1);
    h.router.last.reply('!re', '=name=a');
    t.same(a.sink.texts, ['!re =name=a']);
    t.same(b.sink.texts, ['!re =name=a'], 'the second waiter got the row at once');
    h.router.last.reply('!re', '=name=b');
    h.router.last.done();
    t.same(a.sink.texts, ['!re =name=a', '!re =name=b', '!done']);
    t.same(b.sink.texts, a.sink.texts);
    t.equal(a.sink.ends + b.sink.ends, 2);
    t.match(h.cache.stats(), { r1: { misses: 1, coalesced: 1, entries: 1 } });
  },
);

t.test('a late joiner gets the rows so far first, then the rest', async (t) => {
  const h = cacheHarness();
  const a = h.send(PRINT);
  h.router.last.reply('!re', '=name=a');
  h.router.last.reply('!re', '=name=b');
  const late = h.send(PRINT, { clientId: 2 });
  t.same(late.sink.texts, ['!re =name=a', '!re =name=b']);
  h.router.last.reply('!re', '=name=c');
  h.router.last.done();
  t.same(late.sink.texts, a.sink.texts);
  t.equal(late.sink.texts.length, 4);
});

t.test('when the first client cancels, the others still get the whole reply', async (t) => {
  const h = cacheHarness();
  const leader = h.send(PRINT, { clientId: 1 });
  const other = h.send(PRINT, { clientId: 2 });
  h.router.last.reply('!re', '=name=a');
  let answered = false;
  leader.exchange.cancel(() => (answered = true));
  t.ok(answered);
  t.same(leader.sink.texts, ['!re =name=a', ...INTERRUPTED], 'the leader is answered locally');
  t.equal(h.router.last.cancels, 0, 'the router command goes on');
  h.router.last.reply('!re', '=name=b');
  h.router.last.done();
  t.same(other.sink.texts, ['!re =name=a', '!re =name=b', '!done']);
  t.equal(leader.sink.ends, 1, 'the leader got nothing after its cancel');
  t.equal(h.send(PRINT).context.notes.cache, 'hit', 'the whole reply was kept');
});

t.test('the router command is cancelled only when the last waiter leaves', async (t) => {
  const h = cacheHarness();
  const one = h.send(PRINT, { clientId: 1 });
  const two = h.send(PRINT, { clientId: 2 });
  const call = h.router.last;
  one.exchange.cancel(() => undefined);
  t.equal(call.cancels, 0);
  const order: string[] = [];
  two.exchange.cancel(() => order.push('answered'));
  t.equal(call.cancels, 1, 'now the router command is cancelled');
  t.same(two.sink.texts, INTERRUPTED);
  t.same(order, ['answered']);
  t.equal(h.send(PRINT).context.notes.cache, 'miss', 'a new print does not join a cancelled one');
  t.equal(h.router.calls.length, 2);
  t.equal(h.cache.stats()['r1']?.entries, 0);
});

t.test('cancelling twice, or after the answer, only acknowledges', async (t) => {
  const h = cacheHarness();
  const one = h.send(PRINT, { clientId: 1 });
  h.send(PRINT, { clientId: 2 });
  let acks = 0;
  one.exchange.cancel(() => acks++);
  one.exchange.cancel(() => acks++);
  t.equal(acks, 2);
  t.same(one.sink.texts, INTERRUPTED);
  h.router.last.done();
  const two = h.send(['/ip/route/print']);
  h.router.last.done();
  two.exchange.cancel(() => acks++);
  t.equal(acks, 3);
  t.same(two.sink.texts, ['!done']);
});

t.test('a trap ends sharing: later identical prints go to the router themselves', async (t) => {
  const h = cacheHarness();
  const a = h.send(PRINT);
  h.router.last.reply('!trap', '=message=busy');
  const b = h.send(PRINT, { clientId: 2 });
  t.equal(b.context.notes.cache, 'miss');
  t.equal(h.router.calls.length, 2);
  t.same(a.sink.texts, ['!trap =message=busy']);
});

t.test('a refusal reaches every waiter', async (t) => {
  const h = cacheHarness({ maxStaleMs: 0 });
  const a = h.send(PRINT);
  const b = h.send(PRINT, { clientId: 2 });
  h.router.last.refuse(ErrorCode.RateLimited);
  t.equal(a.sink.error?.code, ErrorCode.RateLimited);
  t.equal(b.sink.error?.code, ErrorCode.RateLimited);
});

t.test('a waiter whose sink throws is refused alone; the others go on', async (t) => {
  const h = cacheHarness();
  const good = h.send(PRINT, { clientId: 1 });
  const broken = new (class extends RecordingSink {
    override reply(): void {
      throw new Error('socket gone');
    }
  })();
  h.send(PRINT, { clientId: 2, sink: broken });
  h.router.last.reply('!re', '=name=a');
  t.equal(broken.error?.code, ErrorCode.Internal);
  t.equal(broken.ends, 1);
  h.router.last.done();
  t.same(good.sink.texts, ['!re =name=a', '!done']);
  t.equal(broken.ends, 1, 'nothing more for the refused waiter');
});

t.test('a sink that throws even on refusal cannot disturb the others', async (t) => {
  const h = cacheHarness();
  const hopeless = {
    reply(): void {
      throw new Error('reply');
    },
    done(): void {
      throw new Error('done');
    },
    refuse(): void {
      throw new Error('refuse');
    },
  };
  const good = h.send(PRINT, { clientId: 1 });
  h.send(PRINT, { clientId: 2, sink: hopeless });
  h.send(PRINT, { clientId: 3, sink: { ...hopeless, reply: () => undefined } });
  h.router.last.reply('!re', '=name=a');
  h.router.last.done();
  t.same(good.sink.texts, ['!re =name=a', '!done']);
  t.equal(h.router.last.cancels, 0);
});

t.test('the last waiter failing cancels the router command', async (t) => {
  const h = cacheHarness();
  const broken = new (class extends RecordingSink {
    override reply(): void {
      throw new Error('socket gone');
    }
  })();
  h.send(PRINT, { sink: broken });
  h.router.last.reply('!re', '=name=a');
  t.equal(h.router.last.cancels, 1);
  t.equal(broken.ends, 1);
});

t.test(
  'a waiter failing while the router answers at once still cancels once handle returns',
  async (t) => {
    const h = cacheHarness();
    h.router.onCommand = (call) => call.reply('!re', '=name=a');
    const broken = new (class extends RecordingSink {
      override reply(): void {
        throw new Error('socket gone');
      }
    })();
    h.send(PRINT, { sink: broken });
    t.equal(h.router.last.cancels, 1);
    h.router.onCommand = (call) => {
      call.reply('!re', '=name=a');
      call.done();
    };
    const throwsOnReply = new (class extends RecordingSink {
      override reply(): void {
        throw new Error('socket gone');
      }
    })();
    h.send(['/ip/route/print'], { sink: throwsOnReply });
    t.equal(h.router.last.cancels, 0, 'a command already over is not cancelled');
  },
);

t.test('an inner handler that throws refuses the print', async (t) => {
  const h = cacheHarness();
  h.router.onCommand = () => {
    throw new Error('bug');
  };
  const a = h.send(PRINT);
  t.equal(a.sink.error?.code, ErrorCode.Internal);
  h.router.onCommand = undefined;
  t.equal(h.send(PRINT).context.notes.cache, 'miss', 'nothing was left in flight');
});

t.test('a reply past the entry bound is neither kept nor shared', async (t) => {
  const h = cacheHarness({ maxBytes: 1000, maxEntryShare: 0.1 });
  const a = h.send(PRINT);
  h.router.last.reply('!re', `=name=${'x'.repeat(60)}`);
  h.router.last.reply('!re', `=name=${'y'.repeat(60)}`);
  const b = h.send(PRINT, { clientId: 2 });
  t.equal(b.context.notes.cache, 'miss', 'its rows were not kept for late joiners');
  h.router.calls[0]?.done();
  t.equal(a.sink.texts.length, 3, 'the client still gets every row');
  t.equal(h.cache.stats()['r1']?.entries, 0);
});

t.test('sentences a waiter got are the router sentences themselves', async (t) => {
  const h = cacheHarness();
  const a = h.send(PRINT);
  const row: Sentence = h.router.last.reply('!re', '=name=a');
  t.equal(a.sink.sentences[0], row);
});

t.test('a waiter whose sink throws on its own cancel answer is refused once', async (t) => {
  const h = cacheHarness();
  const broken = new (class extends RecordingSink {
    override reply(): void {
      throw new Error('socket gone');
    }
  })();
  const a = h.send(PRINT, { sink: broken });
  let acks = 0;
  a.exchange.cancel(() => acks++);
  t.equal(acks, 1);
  t.equal(broken.error?.code, ErrorCode.Internal);
  t.equal(h.router.last.cancels, 1, 'it was the last waiter: the router command is cancelled');
});

t.test('an inner handler that ends a print twice is heard once', async (t) => {
  const h = cacheHarness();
  const a = h.send(PRINT);
  h.router.last.done();
  h.router.last.reply('!re', '=name=late');
  h.router.last.done();
  h.router.last.refuse(ErrorCode.UpstreamClosed);
  t.same(a.sink.texts, ['!done']);
  t.equal(a.sink.error, undefined);
  t.equal(h.send(PRINT).context.notes.cache, 'hit');
});
