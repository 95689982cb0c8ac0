/**
 * Lifetimes, delays and rates run on a clock that only moves forward: a
 * wall clock stepped back (an NTP step, a VM's clock corrected) must not
 * stall the rate limit or keep a cached reply fresh for the length of the
 * step. Each test builds a component with its default clock, then steps
 * `Date.now` an hour back.
 */
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { createCacheStage } from '../src/cache/index.js';
import { monotonicNow } from '../src/clock.js';
import { SECTIONS } from '../src/config/index.js';
import { TokenBucket } from '../src/flow/token-bucket.js';
import { createLoginGate } from '../src/policy/index.js';
import { commandOf, FakeHandler, RecordingSink } from './fixtures/cache-fake-handler.js';
import { eventually } from './fixtures/eventually.js';

const HOUR_MS = 3_600_000;

/**
 * `Date.now` as it is, until `step()` puts it an hour back; restored when
 * the test ends. Installed before the component is built, which may keep
 * `Date.now` itself as its clock.
 */
function steppableWallClock(t: Test): { step(): void } {
  const wall = Date.now;
  let behind = 0;
  Date.now = (): number => wall() - behind;
  t.teardown(() => {
    Date.now = wall;
  });
  return {
    step: () => {
      behind = HOUR_MS;
    },
  };
}

t.test('the clock moves on when the wall clock is stepped back', async (t) => {
  const clock = steppableWallClock(t);
  const before = monotonicNow();
  clock.step();
  t.ok(monotonicNow() >= before);
  t.ok(
    Number.isInteger(monotonicNow()),
    'whole milliseconds, as Date.now gives (they go to Redis)',
  );
  t.ok(Math.abs(monotonicNow() - (Date.now() + HOUR_MS)) < 60_000, 'it reads as ms since epoch');
});

t.test('the rate limit refills after the wall clock is stepped back', async (t) => {
  const clock = steppableWallClock(t);
  const bucket = new TokenBucket({ capacity: 1, refillTokens: 1, refillIntervalMs: 10 });
  t.ok(bucket.tryTake());
  t.notOk(bucket.tryTake(), 'empty');
  clock.step();
  await eventually(() => bucket.tokens >= 1, 'a token to come back');
  t.ok(bucket.msUntilNext() <= 10, 'and the next one is an interval away, not an hour');
});

t.test('a cached reply expires after the wall clock is stepped back', async (t) => {
  const clock = steppableWallClock(t);
  const cache = createCacheStage({
    config: SECTIONS.cache.schema.parse({
      ttlRules: [{ path: '/ip/pool', ttlMs: 250 }],
      listen: { enabled: false },
    }),
    logger: pino({ level: 'silent' }),
  });
  t.teardown(() => cache.close());
  const router = new FakeHandler();
  const handler = cache.stage(router);
  const print = (): void => {
    handler.handle(commandOf(['/ip/pool/print']), new RecordingSink());
  };
  print();
  router.of('/ip/pool/print')[0]?.done();
  print(); // well within the reply's lifetime, even on a loaded machine
  t.equal(router.of('/ip/pool/print').length, 1, 'the second print is a hit');
  clock.step();
  await eventually(
    () => {
      print();
      return router.of('/ip/pool/print').length > 1;
    },
    { until: (isMiss) => isMiss, what: 'the reply to expire', intervalMs: 5 },
  );
  t.equal(router.of('/ip/pool/print').length, 2, 'the print after its lifetime asks the router');
});

t.test('a lockout ends after its duration though the wall clock is stepped back', async (t) => {
  const clock = steppableWallClock(t);
  const gate = createLoginGate({ maxAttempts: 1, durationMs: 20 });
  gate.record('192.0.2.1', 'u', false);
  t.ok(gate.admit('192.0.2.1', 'u'), 'locked');
  clock.step();
  await eventually(() => gate.admit('192.0.2.1', 'u') === undefined, 'the lockout to end');
  t.same(gate.lockouts(), [], 'and no lockout is listed');
});
