import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import type { Sentence } from '../../src/protocol/index.js';
import { cacheHarness, RecordingSink, type CacheHarness } from '../fixtures/cache-fake-handler.js';

function fill(h: CacheHarness, words: string[], ...rows: string[]): void {
  h.send(words);
  for (const row of rows) h.router.last.reply('!re', row);
  h.router.last.done();
}

t.test('a write drops its menu before its !done reaches the client', async (t) => {
  const h = cacheHarness();
  fill(h, ['/ip/hotspot/user/print', '=.proplist=name'], '=name=a');
  fill(h, ['/ip/hotspot/user/print', '=.proplist=name', '?name=a'], '=name=a');
  const seenAtDone: (string | undefined)[] = [];
  // A client that prints the moment it sees its add acknowledged.
  const sink = new (class extends RecordingSink {
    override done(sentence: Sentence): void {
      seenAtDone.push(h.send(['/ip/hotspot/user/print', '=.proplist=name']).context.notes.cache);
      super.done(sentence);
    }
  })();
  const add = h.send(['/ip/hotspot/user/add', '=name=b'], { sink });
  t.equal(add.context.notes.cache, 'bypass');
  t.equal(h.router.last.sink === sink, false, 'the write sink is wrapped');
  h.router.last.done('!done', '=ret=*2');
  t.same(seenAtDone, ['miss'], 'the print after the add goes to the router');
  t.same(sink.texts, ['!done =ret=*2']);
  t.equal(h.cache.stats()['r1']?.invalidations, 1, 'the lookup of another name cannot show b');
  t.equal(
    h.send(['/ip/hotspot/user/print', '=.proplist=name', '?name=a']).context.notes.cache,
    'hit',
  );
});

t.test('a write drops its menu already when it is sent', async (t) => {
  const h = cacheHarness();
  fill(h, ['/ppp/secret/print'], '=name=a');
  h.send(['/ppp/secret/remove', '=.id=*1']);
  t.equal(h.cache.stats()['r1']?.entries, 0);
  t.equal(h.send(['/ppp/secret/print']).context.notes.cache, 'miss');
});

t.test('a write that fails or is refused still invalidates before its answer', async (t) => {
  const h = cacheHarness();
  const sink = new (class extends RecordingSink {
    entriesAtEnd: number | undefined;
    override refuse(error: Parameters<RecordingSink['refuse']>[0]): void {
      this.entriesAtEnd = h.cache.stats()['r1']?.entries;
      super.refuse(error);
    }
  })();
  h.send(['/ip/address/set', '=.id=*1', '=comment=x'], { sink });
  fill(h, ['/ip/address/print'], '=address=1'); // a print that overtook the write
  h.router.calls[0]?.refuse(ErrorCode.UpstreamTimeout);
  t.equal(sink.entriesAtEnd, 0, 'dropped before the refusal reached the client');
  t.equal(sink.error?.code, ErrorCode.UpstreamTimeout);

  fill(h, ['/ip/address/print'], '=address=1');
  const trap = h.send(['/ip/address/add', '=address=bad']);
  h.router.last.reply('!trap', '=message=invalid value');
  t.equal(h.cache.stats()['r1']?.entries, 0);
  h.router.last.done();
  t.same(
    trap.sink.texts,
    ['!trap =message=invalid value', '!done'],
    'a trapped write is answered as the router did',
  );
});

t.test('a print in flight when a write to its menu finishes does not fill the cache', async (t) => {
  const h = cacheHarness();
  const before = h.send(['/ip/hotspot/user/print']);
  const printCall = h.router.last;
  h.send(['/ip/hotspot/user/add', '=name=b']);
  h.router.last.done('!done', '=ret=*2');
  // Sent after the add was acknowledged: it must not share the older print.
  const after = h.send(['/ip/hotspot/user/print']);
  t.equal(after.context.notes.cache, 'miss');
  printCall.reply('!re', '=name=a');
  printCall.done();
  t.same(before.sink.texts, ['!re =name=a', '!done'], 'the old print still answers its client');
  t.equal(h.cache.stats()['r1']?.entries, 0, 'but what it read before the write is not kept');
  h.router.last.reply('!re', '=name=a');
  h.router.last.reply('!re', '=name=b');
  h.router.last.done();
  t.same(h.send(['/ip/hotspot/user/print']).sink.texts, ['!re =name=a', '!re =name=b', '!done']);
});

t.test('a print sent while a write runs is not kept either', async (t) => {
  const h = cacheHarness();
  h.send(['/ip/address/add', '=address=10.0.0.9/24']);
  const write = h.router.last;
  const print = h.send(['/ip/address/print']);
  const printCall = h.router.last;
  printCall.reply('!re', '=address=10.0.0.1/24');
  write.done();
  printCall.done();
  t.equal(print.sink.ends, 1);
  t.equal(h.send(['/ip/address/print']).context.notes.cache, 'miss');
});

t.test('a write invalidates the menus declared related to it', async (t) => {
  const h = cacheHarness();
  fill(h, ['/ip/hotspot/active/print'], '=user=a');
  fill(h, ['/ip/hotspot/host/print'], '=mac-address=x');
  fill(h, ['/ip/hotspot/user/profile/print'], '=name=default');
  fill(h, ['/ppp/secret/print'], '=name=p');
  h.send(['/ip/hotspot/user/remove', '=.id=*1']);
  t.equal(h.send(['/ip/hotspot/active/print']).context.notes.cache, 'miss');
  t.equal(h.send(['/ip/hotspot/host/print']).context.notes.cache, 'miss');
  t.equal(
    h.send(['/ip/hotspot/user/profile/print']).context.notes.cache,
    'hit',
    'a profile is not changed by a user write',
  );
  t.equal(h.send(['/ppp/secret/print']).context.notes.cache, 'hit');
});

t.test('a profile write invalidates its users', async (t) => {
  const h = cacheHarness();
  fill(h, ['/ppp/secret/print'], '=name=p');
  fill(h, ['/ppp/active/print'], '=name=p');
  h.send(['/ppp/profile/set', '=.id=*1', '=rate-limit=1M/1M']);
  t.equal(h.send(['/ppp/secret/print']).context.notes.cache, 'miss');
  t.equal(h.send(['/ppp/active/print']).context.notes.cache, 'miss');
});

t.test('related menus may be globs, and keys may be globs', async (t) => {
  const h = cacheHarness();
  fill(h, ['/interface/print'], '=name=ether1');
  fill(h, ['/interface/ethernet/print'], '=name=ether1');
  fill(h, ['/interface/bridge/port/print'], '=interface=ether2');
  fill(h, ['/ip/address/print'], '=address=1');
  h.send(['/interface/set', '=.id=*1', '=mtu=1400']);
  t.equal(h.cache.stats()['r1']?.entries, 1, 'every /interface menu went, /ip/address stayed');
  fill(h, ['/interface/print'], '=name=ether1');
  h.send(['/interface/vlan/add', '=name=v1']);
  t.equal(h.send(['/interface/print']).context.notes.cache, 'miss');

  const custom = cacheHarness({ related: { '/a/*': ['/b'] } });
  fill(custom, ['/b/print'], '=x=1');
  custom.send(['/a/c/add']);
  t.equal(custom.send(['/b/print']).context.notes.cache, 'miss');
});

t.test('a glob invalidation rules out prints in flight on the menus it matches', async (t) => {
  const h = cacheHarness();
  h.send(['/interface/ethernet/print']);
  const call = h.router.last;
  h.send(['/interface/set', '=.id=*1', '=disabled=yes']);
  h.router.last.done();
  call.done();
  t.equal(h.cache.stats()['r1']?.entries, 0);
});

t.test('flush drops one menu, a glob, or everything, and counts what it dropped', async (t) => {
  const h = cacheHarness();
  fill(h, ['/ip/address/print'], '=a=1');
  fill(h, ['/ip/address/print', '=detail='], '=a=1');
  fill(h, ['/ip/route/print'], '=r=1');
  fill(h, ['/ip/pool/print'], '=p=1');
  t.equal(h.cache.flush('/ip/address'), 2);
  t.equal(h.cache.flush('/ip/nothing'), 0);
  t.equal(h.cache.flush('/ip/*'), 2);
  fill(h, ['/ip/route/print'], '=r=1');
  h.send(['/ip/pool/print']);
  const inFlight = h.router.last;
  t.equal(h.cache.flush(), 1);
  inFlight.done();
  t.equal(h.cache.stats()['r1']?.entries, 0, 'a print in flight during a flush is not kept');
  t.equal(h.cache.stats()['r1']?.invalidations, 0, 'flushes are not invalidations');
});

t.test(
  'a script run or a configuration load may change any menu: every reply goes, before and after it',
  async (t) => {
    const h = cacheHarness();
    for (const command of ['/execute', '/system/script/run', '/import']) {
      fill(h, ['/ip/hotspot/user/print'], '=name=a');
      fill(h, ['/ip/pool/print'], '=name=p');
      h.send(['/ip/route/print']);
      const inFlight = h.router.last;
      const run = h.send([command, '=script=x']);
      t.equal(run.context.notes.cache, 'bypass');
      t.equal(h.cache.stats()['r1']?.entries, 0, `${command}: dropped when sent`);
      inFlight.done();
      fill(h, ['/ip/pool/print'], '=name=p'); // a print that overtook the script
      h.router.calls.find((c) => c.context === run.context)?.done();
      t.equal(h.cache.stats()['r1']?.entries, 0, `${command}: dropped again before its !done`);
      t.equal(h.send(['/ip/route/print']).context.notes.cache, 'miss', 'nor kept from before it');
      h.router.last.done();
    }
    const refused = h.send(['/system/script/run', '=number=0']);
    fill(h, ['/ip/pool/print'], '=name=p');
    h.router.calls.find((c) => c.context === refused.context)?.refuse(ErrorCode.UpstreamTimeout);
    t.equal(h.cache.stats()['r1']?.entries, 0, 'a refused one too');
    t.equal(refused.sink.error?.code, ErrorCode.UpstreamTimeout);
  },
);
