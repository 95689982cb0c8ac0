import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { cacheHarness, type CacheHarness } from '../fixtures/cache-fake-handler.js';

const PRINT = ['/ip/pool/print'];

/** Keeps a reply, then flips one byte of the stored copy, through the view a hit hands out. */
function corrupted(config: Record<string, unknown>): CacheHarness {
  const h = cacheHarness(config);
  h.send(PRINT);
  h.router.last.reply('!re', '=name=pool1', '=ranges=10.0.0.2-10.0.0.254');
  h.router.last.done();
  const hit = h.send(PRINT);
  const raw = hit.sink.sentences[0]?.raw as Buffer;
  raw[raw.length - 3] = 0x39; // '5' -> '9' in the stored bytes
  return h;
}

t.test(
  'with integrity on, a reply whose bytes changed is dropped, counted and fetched again',
  async (t) => {
    const h = corrupted({ integrity: true });
    const next = h.send(PRINT);
    t.equal(next.context.notes.cache, 'miss');
    t.equal(h.router.calls.length, 2);
    t.match(h.cache.stats(), { r1: { integrityFailures: 1, entries: 0 } });
    t.match(
      h.logs().find((l) => l['level'] === 40),
      {
        router: 'r1',
        path: '/ip/pool',
        msg: 'cache reply failed its integrity check; dropped',
      },
    );
    h.router.last.reply('!re', '=name=pool1', '=ranges=10.0.0.2-10.0.0.254');
    h.router.last.done();
    t.same(h.send(PRINT).sink.texts, ['!re =name=pool1 =ranges=10.0.0.2-10.0.0.254', '!done']);
  },
);

t.test('with integrity off (the default), hits are not checked', async (t) => {
  const h = corrupted({});
  const next = h.send(PRINT);
  t.equal(next.context.notes.cache, 'hit');
  t.same(next.sink.texts, ['!re =name=pool1 =ranges=10.0.0.2-10.0.0.294', '!done']);
  t.equal(h.cache.stats()['r1']?.integrityFailures, 0);
});

t.test('a stale reply is checked too', async (t) => {
  const h = corrupted({ integrity: true, ttlRules: [{ path: '/ip/pool', ttlMs: 10 }] });
  h.clock.advance(20);
  const next = h.send(PRINT);
  h.router.last.refuse(ErrorCode.BreakerOpen);
  t.equal(next.sink.error?.code, ErrorCode.BreakerOpen);
  t.equal(h.cache.stats()['r1']?.integrityFailures, 1);
});
