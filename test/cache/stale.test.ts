import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { cacheHarness, type CacheHarness } from '../fixtures/cache-fake-handler.js';

const PRINT = ['/system/identity/print'];

/** A harness with an identity reply kept for 1 s and served stale up to 10 s past that. */
function withKeptIdentity(config: Record<string, unknown> = {}): CacheHarness {
  const h = cacheHarness({
    ttlRules: [{ path: '/system/identity', ttlMs: 1000 }],
    maxStaleMs: 10_000,
    ...config,
  });
  h.send(PRINT);
  h.router.last.reply('!re', '=name=MikroTik');
  h.router.last.done();
  return h;
}

for (const code of [ErrorCode.BreakerOpen, ErrorCode.AcquireTimeout, ErrorCode.UpstreamClosed]) {
  t.test(`an expired reply is served when the router cannot be reached (${code})`, async (t) => {
    const h = withKeptIdentity();
    h.clock.advance(5000);
    const a = h.send(PRINT, { clientId: 7 });
    const b = h.send(PRINT, { clientId: 8 });
    t.equal(a.context.notes.cache, 'miss');
    h.router.last.refuse(code);
    t.same(a.sink.texts, ['!re =name=MikroTik', '!done']);
    t.same(b.sink.texts, a.sink.texts, 'every waiter gets it');
    t.equal(a.sink.error, undefined);
    t.equal(a.context.notes.cache, 'stale');
    t.equal(b.context.notes.cache, 'stale');
    t.equal(h.cache.stats()['r1']?.staleServed, 2);
    const logged = h
      .logs()
      .filter((l) => l['msg'] === 'cache served a stale reply: the router cannot be reached');
    t.equal(logged.length, 2);
    t.match(logged[0], { level: 20, router: 'r1', connId: 7, cmd: '/system/identity/print' });
  });
}

t.test('a reply older than maxStaleMs past its TTL is not served', async (t) => {
  const h = withKeptIdentity();
  h.clock.advance(11_001);
  const a = h.send(PRINT);
  h.router.last.refuse(ErrorCode.BreakerOpen);
  t.equal(a.sink.error?.code, ErrorCode.BreakerOpen);
  t.equal(h.cache.stats()['r1']?.entries, 0, 'it was dropped when it could serve no more');
});

t.test('at exactly maxStaleMs past its TTL a reply may still be served', async (t) => {
  const h = withKeptIdentity();
  h.clock.advance(11_000);
  const a = h.send(PRINT);
  h.router.last.refuse(ErrorCode.BreakerOpen);
  t.equal(a.context.notes.cache, 'stale');
});

t.test('maxStaleMs 0 switches stale serving off', async (t) => {
  const h = withKeptIdentity({ maxStaleMs: 0 });
  h.clock.advance(1500);
  const a = h.send(PRINT);
  h.router.last.refuse(ErrorCode.BreakerOpen);
  t.equal(a.sink.error?.code, ErrorCode.BreakerOpen);
});

t.test('other refusals are passed on, not covered with a stale reply', async (t) => {
  const h = withKeptIdentity();
  h.clock.advance(1500);
  for (const code of [ErrorCode.RateLimited, ErrorCode.UpstreamTimeout, ErrorCode.PolicyDenied]) {
    const a = h.send(PRINT);
    h.router.last.refuse(code);
    t.equal(a.sink.error?.code, code);
  }
});

t.test('no stale reply once rows of the live reply went out', async (t) => {
  const h = withKeptIdentity();
  h.clock.advance(1500);
  const a = h.send(PRINT);
  h.router.last.reply('!re', '=name=New');
  h.router.last.refuse(ErrorCode.UpstreamClosed);
  t.same(a.sink.texts, ['!re =name=New']);
  t.equal(a.sink.error?.code, ErrorCode.UpstreamClosed);
});

t.test('writes are never answered stale', async (t) => {
  const h = withKeptIdentity();
  h.clock.advance(1500);
  const set = h.send(['/system/identity/set', '=name=x']);
  h.router.last.refuse(ErrorCode.BreakerOpen);
  t.equal(set.sink.error?.code, ErrorCode.BreakerOpen);
  const print = h.send(PRINT);
  h.router.last.refuse(ErrorCode.BreakerOpen);
  t.equal(
    print.sink.error?.code,
    ErrorCode.BreakerOpen,
    'and the write dropped the reply it might have served',
  );
});

t.test('without a kept reply the refusal is passed on', async (t) => {
  const h = cacheHarness();
  const a = h.send(['/ip/route/print']);
  h.router.last.refuse(ErrorCode.BreakerOpen);
  t.equal(a.sink.error?.code, ErrorCode.BreakerOpen);
});

t.test(
  'a watched menu whose listen was lost is served stale for maxStaleMs from the loss, not from its TTL',
  async (t) => {
    const users = ['/ip/hotspot/user/print', '=.proplist=name'];
    const h = cacheHarness({
      listen: { paths: ['/ip/hotspot/user'], retryInitialMs: 60_000, retryMaxMs: 60_000 },
      maxStaleMs: 10_000,
    });
    h.send(users);
    h.router.last.reply('!re', '=name=a');
    h.router.last.done();
    h.clock.advance(1000);
    h.router.of('/ip/hotspot/user/listen')[0]?.refuse(ErrorCode.UpstreamClosed);
    h.clock.advance(10_000);
    const a = h.send(users);
    h.router.last.refuse(ErrorCode.BreakerOpen);
    t.same(a.sink.texts, ['!re =name=a', '!done'], 'its 5-minute TTL is not over, the loss was');
    t.equal(a.context.notes.cache, 'stale');
    h.clock.advance(1);
    const b = h.send(users);
    h.router.last.refuse(ErrorCode.BreakerOpen);
    t.equal(b.sink.error?.code, ErrorCode.BreakerOpen, 'past maxStaleMs from the loss');
  },
);
