import t from 'tap';
import { TokenBucket } from '../../src/flow/token-bucket.js';

function bucket(now: () => number) {
  return new TokenBucket({ capacity: 3, refillTokens: 2, refillIntervalMs: 100, now });
}

t.test('a new bucket is full and gives its capacity at once, then nothing', (t) => {
  const b = bucket(() => 0);
  t.equal(b.tokens, 3);
  t.ok(b.tryTake());
  t.ok(b.tryTake());
  t.ok(b.tryTake());
  t.notOk(b.tryTake());
  t.equal(b.tokens, 0);
  t.end();
});

t.test('tokens come back in whole steps of refillTokens per refillIntervalMs', (t) => {
  let now = 0;
  const b = bucket(() => now);
  while (b.tryTake());
  t.equal(b.msUntilNext(), 100, 'a full interval until the first refill');
  now = 60;
  t.equal(b.msUntilNext(), 40, 'part of a step does not count');
  t.notOk(b.tryTake());
  now = 100;
  t.equal(b.msUntilNext(), 0);
  t.equal(b.tokens, 2, 'one step adds refillTokens');
  t.ok(b.tryTake());
  t.ok(b.tryTake());
  t.notOk(b.tryTake());
  t.equal(b.msUntilNext(), 100, 'the next step starts where the last one ended');
  t.end();
});

t.test('a long pause refills the bucket to its capacity, never beyond', (t) => {
  let now = 0;
  const b = bucket(() => now);
  while (b.tryTake());
  now = 10_000;
  t.equal(b.tokens, 3);
  t.end();
});

t.test('over a long run the bucket gives capacity plus the refill rate, no more', (t) => {
  let now = 0;
  const b = bucket(() => now);
  let taken = 0;
  for (now = 0; now < 1000; now += 7) {
    while (b.tryTake()) taken++;
  }
  // 3 at start, then 2 per 100 ms over 994 ms: 9 full steps.
  t.equal(taken, 3 + 9 * 2);
  t.end();
});

t.test('a clock that steps back adds no tokens', (t) => {
  let now = 1000;
  const b = bucket(() => now);
  while (b.tryTake());
  now = 500;
  t.equal(b.tokens, 0);
  t.end();
});

t.test('the bucket reads Date.now when no clock is given', (t) => {
  const b = new TokenBucket({ capacity: 1, refillTokens: 1, refillIntervalMs: 60_000 });
  t.ok(b.tryTake());
  t.ok(b.msUntilNext() > 0);
  t.end();
});
