import t from 'tap';
import { cacheHarness, type CacheHarness } from '../fixtures/cache-fake-handler.js';

function fill(h: CacheHarness, path: string, row: string): void {
  h.send([`${path}/print`]);
  h.router.last.reply('!re', row);
  h.router.last.done();
}

t.test('the least recently used reply goes first when maxBytes is reached', async (t) => {
  const h = cacheHarness({ maxBytes: 400, maxEntryShare: 0.5 });
  const row = `=v=${'x'.repeat(100)}`;
  fill(h, '/a', row);
  fill(h, '/b', row);
  fill(h, '/c', row);
  t.equal(h.send(['/a/print']).context.notes.cache, 'hit', '/a is now the most recent');
  fill(h, '/d', row);
  const stats = h.cache.stats()['r1'];
  t.equal(stats?.entries, 3);
  t.equal(stats?.evictions, 1);
  t.ok((stats?.bytes ?? 0) <= 400, `bytes ${stats?.bytes}`);
  t.equal(h.send(['/b/print']).context.notes.cache, 'miss', '/b was evicted');
  h.router.last.done();
  t.equal(h.send(['/a/print']).context.notes.cache, 'hit');
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
  const h = cacheHarness({ maxBytes: 10_000, maxEntryShare: 0.01 });
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
  // 100 bytes per entry: a 95-byte row fits, the row and its !done do not.
  const h = cacheHarness({ maxBytes: 1000, maxEntryShare: 0.1 });
  fill(h, '/a', `=v=${'x'.repeat(90)}`);
  t.equal(h.cache.stats()['r1']?.entries, 0);
});
