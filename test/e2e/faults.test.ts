import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text, type RawClient } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from '../fixtures/stack.js';

t.test('when the router drops every connection mid-command', async (t) => {
  const stack = await startStack(t, {
    sim: { streamIntervalMs: 5 },
    router: { pool: { min: 2, max: 2, reconnectInitialDelayMs: 5, reconnectMaxDelayMs: 20 } },
  });
  const [monitor, follow, ping] = await Promise.all([
    loggedIn(t, stack),
    loggedIn(t, stack),
    loggedIn(t, stack),
  ]);
  monitor.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=m']);
  follow.send(['/ip/hotspot/user/print', '=follow-only=', '.tag=f']);
  ping.send(['/ping', '=address=10.0.0.1', '.tag=p']);
  await monitor.next();
  await eventually(() => stack.sim.activeStreams() === 3, 'three streams on the router');

  stack.sim.faults.dropAll();

  const tails = await Promise.all([
    monitor.untilDone('m'),
    follow.untilDone('f'),
    ping.untilDone('p'),
  ]);
  for (const tail of tails) {
    t.match(
      String(tail.at(-2)),
      /^!trap \.tag=[mfp] =message=router closed the connection/,
      'a trap names the reason',
    );
    t.match(String(tail.at(-1)), /^!done/, 'then done');
  }
  await eventually(() => stack.router.pool.stats.ready === 2, 'the pool to reconnect');
  t.equal(
    String((await monitor.call(['/system/identity/print', '.tag=after'])).at(-1)),
    '!done .tag=after',
    'the next command succeeds on the same client connection',
  );
});

/** One identity print on `c`; undefined when answered in full, else what came back. */
async function roundTrip(c: RawClient, tag: string): Promise<string | undefined> {
  const replies = text(await c.call(['/system/identity/print', `.tag=${tag}`])).join(' | ');
  return replies === `!re .tag=${tag} =name=MikroTik | !done .tag=${tag}` ? undefined : replies;
}

const userPrints = (stack: Stack): number =>
  stack.sim.counters.commands['/ip/hotspot/user/print'] ?? 0;

t.test(
  'a client that stops reading does not slow another client on the same router session',
  async (t) => {
    // One print is about 0.7 MB; four stay well below the client's bound.
    // Every print goes to the router (no cache), so the router's counts tell
    // what rosgate has read for the stalled client.
    const stack = await startStack(t, {
      sim: { hotspotUsers: 3000 },
      router: { pool: { min: 1, max: 1 } },
      config: { limits: { maxOutputBufferBytes: 4 * 1024 * 1024 }, cache: { enabled: false } },
    });
    const stalled = await loggedIn(t, stack);
    const healthy = await loggedIn(t, stack);
    stalled.socket.pause();
    for (let i = 0; i < 4; i++) stalled.send(['/ip/hotspot/user/print', `.tag=big${i}`]);
    await eventually(
      () => userPrints(stack) === 4 && stack.router.pool.stats.inFlight === 0,
      'the router to answer every print of the stalled client',
    );

    // The stalled client has read none of that output and rosgate still holds it for it.
    const wrong: string[] = [];
    for (let i = 0; i < 20; i++) {
      const reply = await roundTrip(healthy, `h${i}`);
      if (reply !== undefined) wrong.push(reply);
    }
    t.same(wrong, [], 'every round trip of the healthy client completes during the stall');
    t.equal(stack.router.stats.slowClientDrops, 0, 'while the stalled client is still connected');

    // The stall goes on and grows until the stalled client passes its bound;
    // the healthy client's replies keep arriving all the while.
    for (let i = 0; stack.router.stats.slowClientDrops === 0 && i < 100; i++) {
      stalled.send(['/ip/hotspot/user/print', `.tag=more${i}`]);
      const reply = await roundTrip(healthy, `g${i}`);
      if (reply !== undefined) wrong.push(reply);
    }
    t.equal(stack.router.stats.slowClientDrops, 1, 'the stalled client is dropped past its bound');
    t.same(wrong, [], 'and no round trip of the healthy client waited for the stall to end');
    await eventually(
      () => stack.router.pool.stats.inFlight === 0,
      "the stalled client's prints to be finished or cancelled on the router",
    );
    t.equal(
      await roundTrip(healthy, 'last'),
      undefined,
      'the healthy client goes on after the drop',
    );
  },
);

t.test(
  'a client that reads nothing for sendTimeoutMs is dropped below its bound; the others go on',
  async (t) => {
    // At the defaults (cache, flow, audit on): the first print goes to the
    // router, the rest are cache hits. Far more than the loopback socket's
    // buffers hold, far less than the bound.
    const stack = await startStack(t, {
      sim: { hotspotUsers: 3000 },
      config: { limits: { maxOutputBufferBytes: 256 * 1024 * 1024, sendTimeoutMs: 200 } },
    });
    const stalled = await loggedIn(t, stack);
    const healthy = await loggedIn(t, stack);
    stalled.socket.pause();
    for (let i = 0; i < 40; i++) stalled.send(['/ip/hotspot/user/print', `.tag=big${i}`]);
    await eventually(() => stack.router.stats.slowClientDrops, {
      until: (drops) => drops === 1,
      what: 'the send clock to drop the stalled client',
      intervalMs: 20,
      attempts: 1500,
    });
    t.match(
      stack.logs.find((l) => l.msg === 'client took none of its output in time; dropped'),
      { code: 'ROSGATE_SLOW_CLIENT', sendTimeoutMs: 200 },
    );
    t.ok(
      (stack.logs.find((l) => l.msg === 'client took none of its output in time; dropped')
        ?.bufferedBytes as number) <
        256 * 1024 * 1024,
      'dropped by the clock, not by the bound',
    );
    // The cache's listen on the menu stays a stream: only commands are counted.
    await eventually(
      () => stack.router.flow.stats().inFlight === 0,
      "the stalled client's prints finished or cancelled on the router",
    );
    t.equal(await roundTrip(healthy, 'after'), undefined, 'the healthy client goes on');
  },
);

t.test('with the router down, a command gets a clear trap instead of hanging', async (t) => {
  const stack = await startStack(t, {
    router: {
      pool: {
        min: 1,
        max: 1,
        acquireTimeoutMs: 50,
        reconnectInitialDelayMs: 5,
        reconnectMaxDelayMs: 10,
      },
    },
    config: { users: [{ name: 'u', password: 'p' }] },
  });
  const c = await openRaw(t, stack.port, { user: 'u', password: 'p' });
  stack.sim.faults.refuseConnections = true;
  stack.sim.faults.dropAll();
  await eventually(() => stack.router.pool.stats.ready === 0, 'the pool to lose its session');
  const refused = text(await c.call(['/system/identity/print', '.tag=d']));
  t.match(refused[0], /^!trap \.tag=d =message=no router session available in time: router .*$/);
  t.equal(refused[1], '!done .tag=d');
  stack.sim.faults.refuseConnections = false;
  await eventually(
    () => stack.router.pool.stats.ready === 1,
    'the pool to come back with the router',
  );
  t.equal(String((await c.call(['/system/identity/print', '.tag=e'])).at(-1)), '!done .tag=e');
});

t.test('a router that stops answering fails the commands waiting on it', async (t) => {
  const stack = await startStack(t, {
    router: { timeoutMs: 50, pool: { min: 1, max: 1, healthCheckIntervalMs: 20 } },
    config: { users: [{ name: 'u', password: 'p' }] },
  });
  const c = await openRaw(t, stack.port, { user: 'u', password: 'p' });
  await eventually(() => stack.router.pool.stats.ready === 1, 'the pool to open its session');
  stack.sim.faults.stopAnswering = true;
  // The flow stage's idle timeout and the session's probe race to say it.
  const [trap, done] = text(await c.call(['/ip/hotspot/user/print', '.tag=h']));
  t.match(
    trap,
    /^!trap \.tag=h =message=router did not answer (in time|the health probe in time)$/,
  );
  t.equal(done, '!done .tag=h');
  stack.sim.faults.stopAnswering = false;
  await eventually(() => stack.router.pool.stats.ready === 1, 'a fresh session to replace it');
});
