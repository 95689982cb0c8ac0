import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import {
  createLoginGate,
  type LockoutEvent,
  type LoginGateOptions,
} from '../../src/policy/index.js';

/** A gate on a clock the test moves, recording its lockout events. */
function gate(options: LoginGateOptions = {}) {
  const clock = { nowMs: 1_000_000 };
  const events: LockoutEvent[] = [];
  const g = createLoginGate({
    now: () => clock.nowMs,
    onLockout: (e) => events.push(e),
    ...options,
  });
  /** One checked login: admitted (or not), then its outcome recorded. */
  const attempt = (address: string, user: string, isOk: boolean): string | undefined => {
    const refusal = g.admit(address, user);
    if (refusal !== undefined) return refusal.message;
    g.record(address, user, isOk);
    return undefined;
  };
  return { gate: g, clock, events, attempt };
}

t.test('five failures from one address lock it for the lockout duration', async (t) => {
  const { gate: g, clock, events, attempt } = gate();
  for (let i = 0; i < 5; i++) t.equal(attempt('192.0.2.1', `user${i}`, false), undefined);
  t.same(events, [{ address: '192.0.2.1', untilMs: 1_900_000 }]);
  const refusal = g.admit('192.0.2.1', 'alice');
  t.equal(refusal?.code, ErrorCode.LockedOut);
  t.equal(refusal?.message, 'too many failed logins; try again in 900s');
  t.same(refusal?.details, { untilMs: 1_900_000 });
  t.equal(attempt('192.0.2.2', 'alice', true), undefined, 'other addresses are not locked');
  clock.nowMs += 899_001;
  t.equal(g.admit('192.0.2.1', 'alice')?.message, 'too many failed logins; try again in 1s');
  clock.nowMs += 999;
  t.equal(attempt('192.0.2.1', 'alice', true), undefined, 'the lock ends');
  t.same(g.stats(), {
    trackedAddresses: 2,
    trackedUsers: 6,
    addressLockouts: 1,
    userLockouts: 0,
    refused: 2,
  });
});

t.test('failures older than the window do not count', async (t) => {
  const { clock, events, attempt } = gate({ maxAttempts: 3, windowMs: 60_000 });
  attempt('192.0.2.1', 'u', false);
  attempt('192.0.2.1', 'u', false);
  clock.nowMs += 60_000;
  attempt('192.0.2.1', 'u', false);
  t.same(events, [], 'two failures left the window');
  attempt('192.0.2.1', 'u', false);
  attempt('192.0.2.1', 'u', false);
  t.equal(events.length, 1);
});

t.test(
  'failures for one user from many addresses lock that user at its own threshold',
  async (t) => {
    const { gate: g, events, attempt } = gate({ maxAttempts: 100, userMaxAttempts: 4 });
    for (let i = 0; i < 4; i++) attempt(`198.51.100.${i}`, 'admin', false);
    t.same(events, [{ user: 'admin', untilMs: 1_900_000 }]);
    t.equal(g.admit('203.0.113.7', 'admin')?.code, ErrorCode.LockedOut);
    t.equal(g.admit('203.0.113.7', 'billing'), undefined);
    t.equal(g.stats().userLockouts, 1);
  },
);

t.test('a success forgives its address, not its user', async (t) => {
  const { events, attempt } = gate({ maxAttempts: 3, userMaxAttempts: 3 });
  attempt('192.0.2.1', 'admin', false);
  attempt('192.0.2.1', 'admin', false);
  attempt('192.0.2.1', 'billing', true);
  attempt('192.0.2.1', 'admin', false);
  t.same(events, [{ user: 'admin', untilMs: 1_900_000 }], 'the user count survived the success');
});

t.test('logins being checked count, so concurrent attempts cannot exceed the limit', async (t) => {
  const { gate: g, events } = gate({ maxAttempts: 3 });
  for (let i = 0; i < 3; i++) t.equal(g.admit('192.0.2.1', `u${i}`), undefined);
  t.equal(g.admit('192.0.2.1', 'u3')?.message, 'too many logins at once; try again in a moment');
  g.record('192.0.2.1', 'u0', true);
  t.equal(g.admit('192.0.2.1', 'u3'), undefined, 'a finished check frees its place');
  for (const user of ['u1', 'u2', 'u3']) g.record('192.0.2.1', user, false);
  t.same(events, [{ address: '192.0.2.1', untilMs: 1_900_000 }]);
});

t.test('a check never recorded stops counting after checkTimeoutMs', async (t) => {
  const { gate: g, clock } = gate({ maxAttempts: 1, checkTimeoutMs: 1000 });
  t.equal(g.admit('192.0.2.1', 'u'), undefined);
  t.equal(g.admit('192.0.2.1', 'u')?.code, ErrorCode.LockedOut);
  clock.nowMs += 999;
  t.equal(g.admit('192.0.2.1', 'u')?.code, ErrorCode.LockedOut);
  clock.nowMs += 1;
  t.equal(g.admit('192.0.2.1', 'u'), undefined);
});

t.test('a released check frees its place without counting as a failure or a success', async (t) => {
  const { gate: g, events } = gate({ maxAttempts: 2, userMaxAttempts: 2 });
  g.record('192.0.2.1', 'u', false);
  t.equal(g.admit('192.0.2.1', 'u'), undefined);
  t.equal(
    g.admit('192.0.2.1', 'u')?.code,
    ErrorCode.LockedOut,
    'one failure and one check fill it',
  );
  g.release('192.0.2.1', 'u');
  t.equal(g.admit('192.0.2.1', 'u'), undefined, 'the failure is still there, the check is gone');
  g.record('192.0.2.1', 'u', false);
  t.equal(events.length, 2, 'the remembered failure and this one lock address and user');
  g.release('198.51.100.1', 'nobody');
});

t.test('a failure recorded while already locked does not extend the lock', async (t) => {
  const { gate: g, events } = gate({ maxAttempts: 2 });
  for (const user of ['a', 'b']) t.equal(g.admit('192.0.2.1', user), undefined);
  g.record('192.0.2.1', 'a', false);
  g.record('192.0.2.1', 'b', false);
  g.record('192.0.2.1', 'c', false);
  t.equal(events.length, 1);
});

t.test(
  'a failure recorded without admit still counts; a success for an unknown address is harmless',
  async (t) => {
    const { gate: g, events } = gate({ maxAttempts: 1 });
    g.record('192.0.2.9', 'u', true);
    g.record('192.0.2.1', 'u', false);
    t.same(events, [{ address: '192.0.2.1', untilMs: 1_900_000 }]);
  },
);

t.test('an IPv4-mapped IPv6 address shares the IPv4 counter', async (t) => {
  const { gate: g, attempt } = gate({ maxAttempts: 2 });
  attempt('::ffff:192.0.2.1', 'u', false);
  attempt('192.0.2.1', 'u', false);
  t.equal(g.admit('::ffff:192.0.2.1', 'u')?.code, ErrorCode.LockedOut);
  t.equal(g.admit('::ffff:c000:201', 'v'), undefined, 'a hex-written address is its own key');
});

t.test(
  'memory is bounded: the least recently seen addresses and users are forgotten',
  async (t) => {
    const { gate: g, attempt } = gate({ maxTracked: 3, maxAttempts: 2 });
    attempt('192.0.2.1', 'a', false);
    for (let i = 2; i < 100; i++) attempt(`192.0.2.${i}`, `u${i}`, false);
    t.same(g.stats().trackedAddresses, 3);
    t.same(g.stats().trackedUsers, 3);
    attempt('192.0.2.1', 'a', false);
    t.equal(g.admit('192.0.2.1', 'a'), undefined, 'the first failure was forgotten');
  },
);

t.test('a zero duration counts lockouts without refusing anyone', async (t) => {
  const { gate: g, events, attempt } = gate({ maxAttempts: 1, durationMs: 0 });
  attempt('192.0.2.1', 'u', false);
  t.equal(events.length, 1);
  t.equal(g.admit('192.0.2.1', 'u'), undefined);
});

t.test('defaults: five attempts, fifteen minutes, the system clock', async (t) => {
  const g = createLoginGate();
  for (let i = 0; i < 5; i++) {
    t.equal(g.admit('192.0.2.1', `u${i}`), undefined);
    g.record('192.0.2.1', `u${i}`, false);
  }
  t.match(g.admit('192.0.2.1', 'x')?.message, /^too many failed logins; try again in (900|899)s$/);
});

t.test('options are checked and named', async (t) => {
  t.throws(
    () => createLoginGate({ maxAttempts: 0 }),
    new RangeError('maxAttempts must be an integer >= 1'),
  );
  t.throws(
    () => createLoginGate({ userMaxAttempts: 1.5 }),
    new RangeError('userMaxAttempts must be an integer >= 1'),
  );
  t.throws(
    () => createLoginGate({ windowMs: 0 }),
    new RangeError('windowMs must be an integer >= 1'),
  );
  t.throws(
    () => createLoginGate({ durationMs: -1 }),
    new RangeError('durationMs must be an integer >= 0'),
  );
  t.throws(
    () => createLoginGate({ maxTracked: Number.NaN }),
    new RangeError('maxTracked must be an integer >= 1'),
  );
});
