import t from 'tap';
import { sentenceOverheadBytes } from '../../src/cache/cached-reply.js';
import { Sentence } from '../../src/protocol/index.js';
import { cacheHarness, type CacheHarness } from '../fixtures/cache-fake-handler.js';

function fill(h: CacheHarness, path: string, row: string): void {
  h.send([`${path}/print`]);
  h.router.last.reply('!re', row);
  h.router.last.done();
}

/** What one `fill(h, path, row)` entry counts, measured in a cache of its own. */
function entryBytes(path: string, row: string): number {
  const probe = cacheHarness();
  fill(probe, path, row);
  return probe.cache.stats()['r1']?.bytes as number;
}

t.test('the least recently used reply goes first when maxBytes is reached', async (t) => {
  const row = `=v=${'x'.repeat(100)}`;
  const size = entryBytes('/a', row);
  // Room for three entries, not four.
  const h = cacheHarness({ maxBytes: Math.floor(size * 3.5), maxEntryShare: 0.5 });
  fill(h, '/a', row);
  fill(h, '/b', row);
  fill(h, '/c', row);
  t.equal(h.send(['/a/print']).context.notes.cache, 'hit', '/a is now the most recent');
  fill(h, '/d', row);
  const stats = h.cache.stats()['r1'];
  t.equal(stats?.entries, 3);
  t.equal(stats?.evictions, 1);
  t.ok((stats?.bytes ?? 0) <= size * 3.5, `bytes ${stats?.bytes}`);
  t.equal(h.send(['/b/print']).context.notes.cache, 'miss', '/b was evicted');
  h.router.last.done();
  t.equal(h.send(['/a/print']).context.notes.cache, 'hit');
});

t.test('the bound counts keys and rows as memory, not only wire bytes', async (t) => {
  // A client's prints with large queries (the key holds them) answered by
  // !empty, and prints of many one-word rows: tiny on the wire, large in memory.
  const maxBytes = 1024 * 1024;
  const h = cacheHarness({ maxBytes, maxEntryShare: 0.1 });
  for (let i = 0; i < 200; i++) {
    h.send(['/ip/hotspot/user/print', `?comment=${i}-${'q'.repeat(50_000)}`]);
    h.router.last.reply('!empty');
    h.router.last.done();
  }
  let stats = h.cache.stats()['r1'];
  t.ok((stats?.bytes ?? 0) <= maxBytes, `keys counted: ${stats?.bytes} bytes`);
  t.ok((stats?.entries ?? 0) < 30, `${stats?.entries} entries of 50 KB keys kept`);
  h.send(['/ip/arp/print', '=.proplist=.id']);
  for (let i = 0; i < 400; i++) h.router.last.reply('!re', `=.id=*${i}`);
  h.router.last.done();
  stats = h.cache.stats()['r1'];
  t.ok((stats?.bytes ?? 0) <= maxBytes);
  const rowsAlone = entryBytes('/x', '=.id=*1');
  t.ok(rowsAlone > 280 * 2, `a one-row reply counts ${rowsAlone} bytes: its two sentences' views`);
});

t.test('maxEntries bounds the count of replies', async (t) => {
  const h = cacheHarness({ maxEntries: 2 });
  fill(h, '/a', '=v=1');
  fill(h, '/b', '=v=1');
  fill(h, '/c', '=v=1');
  t.match(h.cache.stats(), { r1: { entries: 2, evictions: 1 } });
  t.equal(h.send(['/a/print']).context.notes.cache, 'miss');
});

t.test('a reply larger than maxEntryShare of maxBytes is not kept', async (t) => {
  const small = entryBytes('/small', '=v=1');
  // Room for the small reply, not for one with a row 100 bytes longer.
  const h = cacheHarness({ maxBytes: 10_000, maxEntryShare: (small + 50) / 10_000 });
  fill(h, '/big', `=v=${'x'.repeat(100)}`);
  fill(h, '/small', '=v=1');
  t.match(h.cache.stats(), { r1: { entries: 1, evictions: 0 } });
  t.equal(h.send(['/big/print']).context.notes.cache, 'miss');
});

t.test('a reply stored again under its key replaces the old one', async (t) => {
  const h = cacheHarness({ ttlRules: [{ path: '/a', ttlMs: 10 }], maxStaleMs: 1000 });
  fill(h, '/a', '=v=1');
  h.clock.advance(20);
  fill(h, '/a', '=v=2');
  t.match(h.cache.stats(), { r1: { entries: 1, evictions: 0 } });
  t.same(h.send(['/a/print']).sink.texts, ['!re =v=2', '!done']);
  t.equal(h.cache.flush('/a'), 1, 'the menu index follows the replacement');
});

t.test('the bound counts the final !done too', async (t) => {
  const row = `=v=${'x'.repeat(90)}`;
  const size = entryBytes('/a', row);
  const done = Sentence.from(['!done']);
  // Room for the row, its key and everything but the !done.
  const share = (size - done.byteLength - sentenceOverheadBytes(done)) / 1000;
  const h = cacheHarness({ maxBytes: 1000, maxEntryShare: share });
  fill(h, '/a', row);
  t.equal(h.cache.stats()['r1']?.entries, 0);
  const roomy = cacheHarness({ maxBytes: 1000, maxEntryShare: size / 1000 });
  fill(roomy, '/a', row);
  t.equal(roomy.cache.stats()['r1']?.entries, 1, 'with room for it too, it is kept');
});
