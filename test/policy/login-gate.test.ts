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
  t.same(events, [{ scope: 'source', address: '192.0.2.1', failures: 5, untilMs: 1_900_000 }]);
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
    trackedPairs: 0,
    addressLockouts: 1,
    userLockouts: 0,
    pairLockouts: 0,
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
    t.same(events, [{ scope: 'user', user: 'admin', failures: 4, untilMs: 1_900_000 }]);
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
  t.same(
    events,
    [{ scope: 'user', user: 'admin', failures: 3, untilMs: 1_900_000 }],
    'the user count survived the success',
  );
});

t.test('logins being checked count, so concurrent attempts cannot exceed the limit', async (t) => {
  const { gate: g, events } = gate({ maxAttempts: 3 });
  for (let i = 0; i < 3; i++) t.equal(g.admit('192.0.2.1', `u${i}`), undefined);
  t.equal(g.admit('192.0.2.1', 'u3')?.message, 'too many logins at once; try again in a moment');
  g.record('192.0.2.1', 'u0', true);
  t.equal(g.admit('192.0.2.1', 'u3'), undefined, 'a finished check frees its place');
  for (const user of ['u1', 'u2', 'u3']) g.record('192.0.2.1', user, false);
  t.same(events, [{ scope: 'source', address: '192.0.2.1', failures: 3, untilMs: 1_900_000 }]);
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
    t.same(events, [{ scope: 'source', address: '192.0.2.1', failures: 1, untilMs: 1_900_000 }]);
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

t.test(
  'in a sidecar, wrong passwords for one user from loopback lock that user there, not loopback',
  async (t) => {
    const { gate: g, events, attempt } = gate({ maxAttempts: 3 });
    for (let i = 0; i < 3; i++) t.equal(attempt('127.0.0.1', 'mallory', false), undefined);
    t.equal(
      attempt('127.0.0.1', 'mallory', false),
      'too many failed logins; try again in 900s',
      'the fourth try is refused',
    );
    t.same(events, [
      {
        scope: 'source-user',
        address: '127.0.0.1',
        user: 'mallory',
        failures: 3,
        untilMs: 1_900_000,
      },
    ]);
    t.equal(attempt('127.0.0.1', 'admin', true), undefined, 'admin logs in from the same address');
    t.equal(attempt('::ffff:127.0.0.1', 'admin', true), undefined, 'also as a mapped address');
    t.equal(g.admit('::ffff:127.0.0.1', 'mallory')?.code, ErrorCode.LockedOut, 'one source');
    t.equal(attempt('127.0.0.2', 'mallory', false), undefined, 'the whole of 127/8 is trusted');
    t.equal(attempt('::1', 'billing', false), undefined, '::1 is trusted too');
    t.match(g.stats(), { trackedAddresses: 0, trackedPairs: 4, pairLockouts: 1, refused: 2 });
  },
);

t.test('from a trusted source the per-user lockout still applies', async (t) => {
  const { gate: g, events, attempt } = gate({ maxAttempts: 10, userMaxAttempts: 2 });
  attempt('127.0.0.1', 'mallory', false);
  attempt('127.0.0.1', 'mallory', false);
  t.same(events, [{ scope: 'user', user: 'mallory', failures: 2, untilMs: 1_900_000 }]);
  t.equal(g.admit('127.0.0.1', 'mallory')?.code, ErrorCode.LockedOut);
  t.equal(g.admit('127.0.0.1', 'admin'), undefined);
});

t.test(
  'a success from a trusted source forgives its own pair, and a release frees its place',
  async (t) => {
    const { gate: g, events, attempt } = gate({ maxAttempts: 2 });
    attempt('127.0.0.1', 'billing', false);
    attempt('127.0.0.1', 'billing', true);
    attempt('127.0.0.1', 'billing', false);
    t.same(events, [], 'the success forgave the first failure');
    t.equal(g.admit('127.0.0.1', 'billing'), undefined);
    t.equal(
      g.admit('127.0.0.1', 'billing')?.message,
      'too many logins at once; try again in a moment',
    );
    g.release('127.0.0.1', 'billing');
    t.equal(g.admit('127.0.0.1', 'billing'), undefined, 'the released check left');
  },
);

t.test('the trusted list replaces the default: addresses and CIDRs of both families', async (t) => {
  const {
    gate: g,
    events,
    attempt,
  } = gate({
    maxAttempts: 1,
    trustedSources: ['10.0.0.0/8', 'fd00::/8', '192.0.2.7'],
  });
  attempt('10.1.2.3', 'a', false);
  attempt('fd12::5', 'b', false);
  attempt('192.0.2.7', 'c', false);
  t.same(
    events.map((e) => e.scope),
    ['source-user', 'source-user', 'source-user'],
  );
  t.equal(g.admit('10.1.2.3', 'x'), undefined);
  attempt('127.0.0.1', 'd', false);
  t.match(events.at(-1), { scope: 'source', address: '127.0.0.1' }, 'loopback left the list');
  attempt('not-an-address', 'e', false);
  t.match(events.at(-1), { scope: 'source', address: 'not-an-address' });
});

t.test('the lockouts in force are listed by scope, and leave the list when they end', async (t) => {
  const { gate: g, clock, attempt } = gate({ maxAttempts: 1, userMaxAttempts: 3 });
  attempt('192.0.2.1', 'alice', false);
  clock.nowMs += 1000;
  attempt('127.0.0.1', 'mallory', false);
  attempt('198.51.100.1', 'mallory', false);
  attempt('198.51.100.2', 'mallory', false);
  t.same(g.lockouts(), [
    { scope: 'source', address: '192.0.2.1', failures: 1, untilMs: 1_900_000 },
    { scope: 'source', address: '198.51.100.1', failures: 1, untilMs: 1_901_000 },
    { scope: 'source', address: '198.51.100.2', failures: 1, untilMs: 1_901_000 },
    {
      scope: 'source-user',
      address: '127.0.0.1',
      user: 'mallory',
      failures: 1,
      untilMs: 1_901_000,
    },
    { scope: 'user', user: 'mallory', failures: 3, untilMs: 1_901_000 },
  ]);
  clock.nowMs += 899_000;
  t.equal(g.lockouts().length, 4, 'the first lock ended');
  clock.nowMs += 1000;
  t.same(g.lockouts(), []);
});

t.test(
  'lockouts that end in the same millisecond are listed in key order, whatever came first',
  async (t) => {
    for (const order of [
      ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
      ['192.0.2.3', '192.0.2.2', '192.0.2.1'],
    ]) {
      const { gate: g, attempt } = gate({ maxAttempts: 1 });
      for (const address of order) attempt(address, 'alice', false);
      t.same(
        g.lockouts().map((l) => l.address),
        ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
        `locked as ${order.join(', ')}`,
      );
    }
  },
);

t.test('clearing ends the lockouts that match and forgets their failures', async (t) => {
  const setup = () => {
    const made = gate({ maxAttempts: 2, userMaxAttempts: 4 });
    for (const address of ['192.0.2.1', '192.0.2.1', '127.0.0.1', '127.0.0.1']) {
      made.attempt(address, 'mallory', false);
    }
    made.attempt('198.51.100.1', 'alice', false);
    made.attempt('198.51.100.1', 'alice', false);
    return made;
  };
  const scopes = (list: readonly { scope: string; address?: string; user?: string }[]) =>
    list.map((l) => `${l.scope} ${l.address ?? '-'} ${l.user ?? '-'}`);

  const all = setup();
  t.same(scopes(all.gate.lockouts()), [
    'source 192.0.2.1 -',
    'source 198.51.100.1 -',
    'source-user 127.0.0.1 mallory',
    'user - mallory',
  ]);
  const before = scopes(all.gate.lockouts());
  t.same(scopes(all.gate.clear()), before, 'no filter clears every lockout');
  t.same(all.gate.lockouts(), []);
  t.equal(all.attempt('127.0.0.1', 'mallory', false), undefined, 'failures were forgotten');
  t.same(all.gate.lockouts(), [], 'one failure locks nothing after a clear');

  const bySource = setup();
  t.same(scopes(bySource.gate.clear({ address: '::ffff:127.0.0.1' })), [
    'source-user 127.0.0.1 mallory',
  ]);
  t.equal(bySource.gate.lockouts().length, 3);

  const byUser = setup();
  t.same(scopes(byUser.gate.clear({ user: 'mallory' })), [
    'source-user 127.0.0.1 mallory',
    'user - mallory',
  ]);
  t.same(scopes(byUser.gate.lockouts()), ['source 192.0.2.1 -', 'source 198.51.100.1 -']);

  const byBoth = setup();
  t.same(scopes(byBoth.gate.clear({ address: '127.0.0.1', user: 'mallory' })), [
    'source-user 127.0.0.1 mallory',
  ]);
  t.same(byBoth.gate.clear({ address: '203.0.113.9' }), [], 'nothing matches');
});

t.test('new settings keep the lockouts in force, except of addresses now trusted', async (t) => {
  const { gate: g, events, attempt } = gate({ maxAttempts: 2, trustedSources: [] });
  attempt('127.0.0.1', 'a', false);
  attempt('127.0.0.1', 'b', false);
  attempt('192.0.2.1', 'a', false);
  attempt('192.0.2.1', 'b', false);
  t.equal(g.lockouts().length, 2);
  g.reconfigure({ maxAttempts: 2, trustedSources: [] });
  t.equal(g.lockouts().length, 2, 'the same rules keep both');
  g.reconfigure({ maxAttempts: 1 });
  t.same(
    g.lockouts().map((l) => l.address),
    ['192.0.2.1'],
    'loopback is trusted again: its lock is gone',
  );
  t.equal(g.admit('127.0.0.1', 'a'), undefined);
  attempt('127.0.0.1', 'c', false);
  t.match(events.at(-1), { scope: 'source-user', user: 'c', failures: 1 }, 'the new threshold');
  t.throws(
    () => g.reconfigure({ windowMs: 0 }),
    new RangeError('windowMs must be an integer >= 1'),
  );
});

t.test('trusted sources are checked and named', async (t) => {
  for (const bad of [
    'nope',
    '10.0.0.0/33',
    '10.0.0.0/8/1',
    '::1/129',
    '10.0.0.0/x',
    '/8',
    '10.0.0.0/',
  ]) {
    t.throws(
      () => createLoginGate({ trustedSources: ['127.0.0.1', bad] }),
      new RangeError('trustedSources[1] must be an IP address or a CIDR such as 10.0.0.0/8'),
      bad,
    );
  }
});
