import t, { type Test } from 'tap';
import type { Sentence } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text, type RawClient, taggedWith } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from '../fixtures/stack.js';

/** Reads up to and including the `count`-th `!done`, whatever its tag. */
function dones(c: RawClient, count: number): Promise<Sentence[]> {
  let seen = 0;
  return c.readUntil((s) => s.command === '!done' && ++seen === count, `${count} dones`);
}

/** The tags of the `!done`s among `sentences`, in arrival order. */
function doneTags(sentences: readonly Sentence[]): (string | undefined)[] {
  return sentences.filter((s) => s.command === '!done').map((s) => s.tagString);
}

const queued = (stack: Stack): number => {
  const { high, normal, low } = stack.router.flow.stats().queued;
  return high + normal + low;
};

t.test('with the bucket empty', async (t) => {
  // One token, and the next one a minute away: the first command takes it,
  // the next two wait, a fourth finds the queue full. Whatever is answered
  // before the read timeout (10 s) did not wait for a token.
  /** Each subtest's own app, with the token taken and two commands waiting. */
  const setup = async (t: Test) => {
    const stack = await startStack(t, {
      sim: { users: { billing: 'pw' } },
      config: {
        cache: { enabled: false },
        flow: {
          rateLimit: { bucketSize: 1, refillTokens: 1, refillIntervalMs: 60_000, maxQueue: 2 },
        },
      },
    });
    const c = await loggedIn(t, stack);
    t.equal(
      String((await c.call(['/system/identity/print', '.tag=go'])).at(-1)),
      '!done .tag=go',
      'the first command takes the only token',
    );
    c.send(['/ip/address/print', '.tag=q1']);
    c.send(['/ip/address/print', '.tag=q2']);
    await eventually(() => queued(stack) === 2, 'two commands to wait for a token');
    return { stack, c };
  };

  t.test('a command past the queue bound is refused with a rate-limit trap', async (t) => {
    const { stack, c } = await setup(t);
    t.same(
      text(await c.call(['/ip/address/print', '.tag=q3'])),
      ['!trap .tag=q3 =message=rate limited: queue full (2 waiting)', '!done .tag=q3'],
      'a trap names the reason, then done',
    );
    t.equal(stack.router.flow.stats().refusals.queueFull, 1, 'counted as queue full');
  });

  t.test('the keepalive is answered at once', async (t) => {
    const { c } = await setup(t);
    t.same(text(await c.call(['#', '.tag=k'])), ['!done .tag=k'], 'with done');
  });

  t.test('a login is answered at once', async (t) => {
    const { stack } = await setup(t);
    const loginsBefore = stack.sim.counters.loginsOk;
    const other = await openRaw(t, stack.port, { user: 'billing', password: 'pw' });
    t.equal(stack.sim.counters.loginsOk, loginsBefore + 1, 'the router checked the password');
    t.notOk(other.isClosed, 'and the client is logged in');
  });

  t.test(
    'a cancel is answered at once, and the waiting command gets interrupted without reaching the router',
    async (t) => {
      const { stack, c } = await setup(t);
      c.send(['/cancel', '=tag=q1', '.tag=c1']);
      const replies = text(await dones(c, 2));
      t.same(
        replies.filter(taggedWith('q1')),
        ['!trap .tag=q1 =category=2 =message=interrupted', '!done .tag=q1'],
        'the command is interrupted',
      );
      t.ok(replies.includes('!done .tag=c1'), 'and the cancel done');

      c.send(['/cancel']);
      const bare = text(await dones(c, 2));
      t.same(
        bare.filter(taggedWith('q2')),
        ['!trap .tag=q2 =category=2 =message=interrupted', '!done .tag=q2'],
        'a bare cancel interrupts the other',
      );
      t.ok(bare.includes('!done'), 'and is done');
      t.equal(queued(stack), 0, 'nothing waits any more');
      t.equal(
        stack.sim.counters.commands['/ip/address/print'],
        undefined,
        'no print reached the router',
      );
      t.equal(stack.sim.counters.cancels, 0, 'nor any cancel');
    },
  );
});

t.test('a command that waits longer than maxWaitMs is refused', async (t) => {
  const stack = await startStack(t, {
    config: {
      cache: { enabled: false },
      flow: {
        rateLimit: { bucketSize: 1, refillTokens: 1, refillIntervalMs: 60_000, maxWaitMs: 30 },
      },
    },
  });
  const c = await loggedIn(t, stack);
  await c.call(['/system/identity/print', '.tag=go']);
  const [trap, done] = text(await c.call(['/ip/address/print', '.tag=w']));
  t.match(
    trap,
    /^!trap \.tag=w =message=rate limited: waited \d+ms$/,
    'a trap says how long it waited',
  );
  t.equal(done, '!done .tag=w', 'then done');
  t.equal(stack.router.flow.stats().refusals.waitTimeout, 1, 'counted as a wait timeout');
  t.equal(
    stack.sim.counters.commands['/ip/address/print'],
    undefined,
    'it never reached the router',
  );
});

/**
 * A router that serves one command at a time, held by a stream until
 * `release()`: commands sent meanwhile wait in the fair queue, and run one
 * after the other once it ends, in the queue's order.
 */
async function oneSlotHeld(
  t: Test,
  flow: Record<string, unknown> = {},
): Promise<{ stack: Stack; release(): Promise<void> }> {
  const stack = await startStack(t, {
    config: {
      cache: { enabled: false },
      flow: { maxConcurrency: 1, streamsHoldSlot: true, rateLimit: { enabled: false }, ...flow },
    },
  });
  const holder = await loggedIn(t, stack);
  holder.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=s']);
  await eventually(
    () => stack.sim.activeStreams() === 1 && stack.router.flow.stats().inFlight === 1,
    'the stream to hold the only slot',
  );
  return {
    stack,
    async release() {
      holder.send(['/cancel', '=tag=s']);
      await holder.untilDone('s');
    },
  };
}

/** `=name=` of every row among `sentences` that starts with `prefix`. */
function names(sentences: readonly Sentence[], prefix: string): string[] {
  return sentences
    .filter((s) => s.command === '!re')
    .map((s) => s.attributeString('name') ?? '')
    .filter((name) => name.startsWith(prefix));
}

t.test(
  "two clients' bursts of 20 adds delay a third client's print by one turn each",
  async (t) => {
    const { stack, release } = await oneSlotHeld(t);
    const flooders = await Promise.all([loggedIn(t, stack), loggedIn(t, stack)]);
    const reader = await loggedIn(t, stack);
    flooders.forEach((c, n) => {
      for (let i = 0; i < 20; i++) {
        c.send(['/ip/hotspot/user/add', `=name=flood-${n}-${i}`, '=password=x', `.tag=a${i}`]);
      }
    });
    await eventually(() => queued(stack) === 40, 'the bursts to wait');
    // A full-table print of a large menu: the lowest priority there is.
    reader.send(['/ip/hotspot/user/print', '=.proplist=name', '.tag=r']);
    await eventually(() => stack.router.flow.stats().queued.low === 1, 'the print to wait');

    await release();
    t.same(
      names(await reader.untilDone('r'), 'flood-'),
      ['flood-0-0', 'flood-1-0'],
      'the print ran after one add of each flooding client, not after their bursts',
    );
    for (const c of flooders) {
      const replies = await dones(c, 20);
      t.equal(replies.filter((s) => s.command === '!trap').length, 0, 'every add is done');
    }
  },
);

t.test('priority orders the commands within a client and the clients within a round', async (t) => {
  const { stack, release } = await oneSlotHeld(t);
  const [c, x, y] = await Promise.all([loggedIn(t, stack), loggedIn(t, stack), loggedIn(t, stack)]);
  c.send(['/ip/hotspot/user/print', '.tag=low']);
  c.send(['/system/identity/print', '.tag=normal']);
  c.send(['/ip/hotspot/user/add', '=name=first', '=password=x', '.tag=high1']);
  c.send(['/ip/hotspot/user/add', '=name=second', '=password=x', '.tag=high2']);
  // x queues its print before y's add; y's add goes first all the same.
  x.send(['/ip/hotspot/user/print', '?name=from-y', '.tag=x']);
  await eventually(() => queued(stack) === 5, "x's print to wait");
  y.send(['/ip/hotspot/user/add', '=name=from-y', '=password=x', '.tag=y']);
  await eventually(() => queued(stack) === 6, "y's add to wait");

  await release();
  t.same(
    doneTags(await dones(c, 4)),
    ['high1', 'high2', 'normal', 'low'],
    'writes first, then the print, then the full-table print',
  );
  t.same(
    names(await x.untilDone('x'), 'from-'),
    ['from-y'],
    "in a round, y's add (high) ran before x's print (normal)",
  );
  t.equal(String((await y.untilDone('y')).at(-1)).startsWith('!done'), true, "y's add is done");
});

t.test('aging lifts a waiting print to the level of a later write', async (t) => {
  const { stack, release } = await oneSlotHeld(t, { priority: { agingMs: 1 } });
  const c = await loggedIn(t, stack);
  c.send(['/ip/hotspot/user/print', '.tag=low']);
  c.send(['/ip/hotspot/user/add', '=name=aged', '=password=x', '.tag=high']);
  await eventually(() => queued(stack) === 2, 'both to wait');
  // A few milliseconds of waiting are many agingMs: the print has risen to high.
  await new Promise((resolve) => setTimeout(resolve, 10));
  await release();
  t.same(doneTags(await dones(c, 2)), ['low', 'high'], 'the older print goes first');
});
