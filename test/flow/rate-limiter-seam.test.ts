import t from 'tap';
import type { RateLimiter } from '../../src/flow/token-bucket.js';
import { setupFlow } from '../fixtures/flow-setup.js';

/** A limiter given tokens by hand, as a group's shared bucket gets leases. */
class HandLimiter implements RateLimiter {
  tokens = 0;
  isClosed = false;
  onAvailable: () => void = () => undefined;
  tryTake(): boolean {
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
  msUntilNext(): number {
    return this.tokens >= 1 ? 0 : 60_000;
  }
  close(): void {
    this.isClosed = true;
  }
  grant(n: number): void {
    this.tokens += n;
    this.onAvailable();
  }
}

t.test(
  'a given rate limiter replaces the local bucket and its onAvailable pumps the queue',
  (t) => {
    const limiter = new HandLimiter();
    const { send, inner, flow } = setupFlow(
      t,
      { rateLimit: { bucketSize: 50 } },
      {
        stage: {
          rateBucket: (onAvailable) => {
            limiter.onAvailable = onAvailable;
            return limiter;
          },
        },
      },
    );
    for (let i = 0; i < 3; i++) send(['/system/identity/print']);
    t.equal(inner.calls.length, 0, 'no token from the group: everything waits');
    t.equal(flow.stats().tokens, 0, 'stats read the given limiter');
    limiter.grant(2);
    t.equal(inner.calls.length, 2, 'a lease sends what it covers at once, without a timer');
    limiter.grant(1);
    t.equal(inner.calls.length, 3);
    flow.close();
    t.ok(limiter.isClosed, 'the limiter closes with the stage');
    t.end();
  },
);

t.test('with rate limiting off, no limiter is asked for', (t) => {
  let asked = 0;
  const { send, inner } = setupFlow(
    t,
    { rateLimit: { enabled: false } },
    {
      stage: {
        rateBucket: () => {
          asked++;
          return new HandLimiter();
        },
      },
    },
  );
  send(['/system/identity/print']);
  t.equal(inner.calls.length, 1);
  t.equal(asked, 0);
  t.end();
});
