import t from 'tap';
import {
  createLoginGate,
  type GroupLockout,
  type LockoutEvent,
  type LoginGateOptions,
} from '../../src/policy/index.js';

type Began = Awaited<ReturnType<GroupLockout['recordFailure']>>;

/** A group lockout driven by the test: its locks and what its next failure begins. */
class FakeGroup implements GroupLockout {
  readonly calls: string[] = [];
  memory = 0;
  remote = 0;
  next: Began = [];
  lockedUntil(address: string, user: string): number {
    this.calls.push(`memory ${address}|${user}`);
    return this.memory;
  }
  check(address: string, user: string): Promise<number> {
    this.calls.push(`check ${address}|${user}`);
    return Promise.resolve(this.remote);
  }
  recordFailure(address: string, user: string): Promise<Began> {
    this.calls.push(`fail ${address}|${user}`);
    return Promise.resolve(this.next);
  }
  recordSuccess(address: string, user: string): Promise<void> {
    this.calls.push(`ok ${address}|${user}`);
    return Promise.resolve();
  }
}

function gate(group: FakeGroup, options: LoginGateOptions = {}) {
  let clock = 1_000_000;
  const events: LockoutEvent[] = [];
  const g = createLoginGate({
    now: () => clock,
    onLockout: (e) => events.push(e),
    shared: group,
    ...options,
  });
  return { g, events, advance: (ms: number) => (clock += ms), now: () => clock };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('a lock the group holds in memory refuses at admit', (t) => {
  const group = new FakeGroup();
  const { g, now } = gate(group);
  group.memory = now() + 30_000;
  t.match(g.admit('192.0.2.1', 'ann'), { code: 'ROSGATE_LOCKED_OUT', message: /30s/ });
  t.same(group.calls, ['memory 192.0.2.1|ann']);
  t.equal(g.stats().refused, 1);
  t.end();
});

t.test(
  'a lock another replica took refuses at check, and the admitted login is given back',
  async (t) => {
    const group = new FakeGroup();
    const { g, now } = gate(group, { maxAttempts: 1 });
    t.equal(g.admit('192.0.2.1', 'ann'), undefined);
    group.remote = now() + 5000;
    const refusal = await g.check?.('192.0.2.1', 'ann');
    t.match(refusal, { code: 'ROSGATE_LOCKED_OUT', details: { untilMs: now() + 5000 } });
    group.remote = 0;
    t.equal(
      g.admit('192.0.2.1', 'ann'),
      undefined,
      'the refused login no longer counts as being checked',
    );
    t.equal(await g.check?.('192.0.2.1', 'ann'), undefined, 'a free login goes ahead');
  },
);

t.test('a trusted source is counted by the group only with its user', async (t) => {
  const group = new FakeGroup();
  const { g } = gate(group);
  g.admit('::ffff:127.0.0.1', 'ann');
  g.record('::ffff:127.0.0.1', 'ann', true);
  g.admit('192.0.2.9', 'bob');
  g.record('192.0.2.9', 'bob', false);
  await flush();
  t.same(group.calls, [
    'memory 127.0.0.1 ann|ann',
    'ok 127.0.0.1 ann|ann',
    'memory 192.0.2.9|bob',

    'fail 192.0.2.9|bob',
  ]);
});

t.test('lockouts the group began are reported once each, by the gate scope', async (t) => {
  const group = new FakeGroup();
  const { g, events, now } = gate(group);
  const until = now() + 900_000;
  group.next = [
    { scope: 'pair', untilMs: until },
    { scope: 'address', untilMs: until },
    { scope: 'user', untilMs: until },
  ];
  g.admit('192.0.2.1', 'ann');
  g.record('192.0.2.1', 'ann', false);
  g.admit('127.0.0.1', 'bob');
  g.record('127.0.0.1', 'bob', false);
  await flush();
  t.same(events, [
    { scope: 'source', address: '192.0.2.1', failures: 5, untilMs: until },
    { scope: 'user', user: 'ann', failures: 20, untilMs: until },
    { scope: 'source-user', address: '127.0.0.1', user: 'bob', failures: 5, untilMs: until },
    { scope: 'user', user: 'bob', failures: 20, untilMs: until },
  ]);
});

t.test('a lockout the gate reported itself is not reported again for the group', async (t) => {
  const group = new FakeGroup();
  const { g, events, now } = gate(group, { maxAttempts: 1, userMaxAttempts: 1 });
  group.next = [
    { scope: 'address', untilMs: now() + 900_000 },
    { scope: 'user', untilMs: now() + 900_000 },
  ];
  g.admit('192.0.2.1', 'ann');
  g.record('192.0.2.1', 'ann', false);
  await flush();
  t.same(
    events.map((e) => e.scope),
    ['source', 'user'],
  );
});

t.test('without a group the gate has no check', (t) => {
  t.equal(createLoginGate().check, undefined);
  t.end();
});
