import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { RawClient } from '../fixtures/raw-client.js';
import { loggedIn, startStack } from '../fixtures/stack.js';

t.test('when the router drops every connection mid-command', async (t) => {
  const stack = await startStack(t, {
    sim: { streamIntervalMs: 5 },
    router: { pool: { min: 2, max: 2, reconnectInitialDelayMs: 5, reconnectMaxDelayMs: 20 } },
  });
  const clients = await Promise.all([loggedIn(t, stack), loggedIn(t, stack), loggedIn(t, stack)]);
  clients[0]?.send('/interface/monitor-traffic', '=interface=ether1', '.tag=m');
  clients[1]?.send('/ip/hotspot/user/print', '=follow-only=', '.tag=f');
  clients[2]?.send('/ping', '=address=10.0.0.1', '.tag=p');
  await clients[0]?.waitFor(2);
  t.ok(await eventually(() => stack.sim.activeStreams() === 3));

  stack.sim.faults.dropAll();

  const tails = await Promise.all([
    clients[0]?.untilDone('m'),
    clients[1]?.untilDone('f'),
    clients[2]?.untilDone('p'),
  ]);
  for (const tail of tails) {
    t.match(
      tail?.at(-2),
      /^!trap =message=router closed the connection/,
      'a trap names the reason',
    );
    t.match(tail?.at(-1), /^!done/, 'then done');
  }
  t.ok(await eventually(() => stack.router.pool.stats.ready === 2), 'the pool reconnects');
  const [, done] = await (clients[0] as RawClient).call(
    ['/system/identity/print', '.tag=after'],
    2,
  );
  t.equal(done, '!done .tag=after', 'the next command succeeds on the same client connection');
});

t.test(
  'a client that stops reading does not slow another client on the same router session',
  async (t) => {
    const stack = await startStack(t, {
      sim: { hotspotUsers: 3000 },
      router: { pool: { min: 1, max: 1 } },
      config: { limits: { maxOutputBufferBytes: 64 * 1024 } },
    });
    const stalled = await loggedIn(t, stack);
    const healthy = await loggedIn(t, stack);
    stalled.socket.pause();
    // Far more than loopback socket buffers absorb, so rosgate's own bound is reached.
    for (let i = 0; i < 12; i++) stalled.send('/ip/hotspot/user/print', `.tag=big${i}`);
    for (let i = 0; i < 20; i++) {
      const [, done] = await healthy.call(['/system/identity/print', `.tag=h${i}`], 2);
      t.equal(done, `!done .tag=h${i}`);
      if (t.counts.fail > 0) break;
    }
    t.ok(
      await eventually(() => stack.router.stats.slowClientDrops === 1),
      'the stalled client is dropped past its bound',
    );
    t.ok(
      await eventually(() => stack.router.pool.stats.inFlight === 0),
      'its print was finished or cancelled on the router',
    );
    const [, done] = await healthy.call(['/system/identity/print', '.tag=last'], 2);
    t.equal(done, '!done .tag=last');
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
  const c = await RawClient.connect(stack.port);
  t.teardown(() => c.close());
  await c.login('u', 'p');
  stack.sim.faults.refuseConnections = true;
  stack.sim.faults.dropAll();
  t.ok(await eventually(() => stack.router.pool.stats.ready === 0));
  const refused = await c.call(['/system/identity/print', '.tag=d'], 2);
  t.match(refused[0], /^!trap =message=no router session available in time: router .* \.tag=d$/);
  t.equal(refused[1], '!done .tag=d');
  stack.sim.faults.refuseConnections = false;
  t.ok(
    await eventually(() => stack.router.pool.stats.ready === 1),
    'the pool comes back with the router',
  );
  const [, done] = await c.call(['/system/identity/print', '.tag=e'], 2);
  t.equal(done, '!done .tag=e');
});

t.test('a router that stops answering fails the commands waiting on it', async (t) => {
  const stack = await startStack(t, {
    router: { timeoutMs: 50, pool: { min: 1, max: 1, healthCheckIntervalMs: 20 } },
    config: { users: [{ name: 'u', password: 'p' }] },
  });
  const c = await RawClient.connect(stack.port);
  t.teardown(() => c.close());
  await c.login('u', 'p');
  t.ok(await eventually(() => stack.router.pool.stats.ready === 1));
  stack.sim.faults.stopAnswering = true;
  c.send('/ip/hotspot/user/print', '.tag=h');
  t.same(await c.untilDone('h'), [
    '!trap =message=router did not answer the health probe in time .tag=h',
    '!done .tag=h',
  ]);
  stack.sim.faults.stopAnswering = false;
  t.ok(await eventually(() => stack.router.pool.stats.ready === 1), 'a fresh session replaces it');
});
