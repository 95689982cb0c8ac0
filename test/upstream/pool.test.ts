import net from 'node:net';
import t from 'tap';
import { ErrorCode, type RosgateError } from '../../src/errors.js';
import { Sentence } from '../../src/protocol/index.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { Pool, type PoolOptions } from '../../src/upstream/pool.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { eventually } from '../fixtures/eventually.js';
import { fakeRouter, tagOf } from '../fixtures/fake-router.js';

const BASE: PoolOptions = {
  min: 1,
  max: 3,
  acquireTimeoutMs: 200,
  idleTimeoutMs: 60_000,
  healthCheckIntervalMs: 60_000,
  reconnectInitialDelayMs: 5,
  reconnectMaxDelayMs: 20,
  maxInFlightPerSession: 2,
};

async function setup(
  t: { teardown(fn: () => unknown): void },
  options: Partial<PoolOptions> = {},
  timeoutMs = 2000,
) {
  const sim: Simulator = await startSimulator({ user: 'svc', password: 'pw', streamIntervalMs: 5 });
  const pool = new Pool(
    { ...BASE, ...options },
    () =>
      new UpstreamConnection({
        host: '127.0.0.1',
        port: sim.port,
        username: 'svc',
        password: 'pw',
        timeoutMs,
      }),
    { random: () => 0.5 },
  );
  t.teardown(async () => {
    pool.close();
    await sim.close();
  });
  return { sim, pool };
}

/** Start a stream on `connection` so it counts as busy. */
function busy(connection: UpstreamConnection): string {
  return connection.send(Sentence.from(['/interface/monitor-traffic', '=interface=ether1']), {
    onReply: () => undefined,
    onError: () => undefined,
  });
}

t.test('opens min sessions at start and hands out the least loaded one', async (t) => {
  const { sim, pool } = await setup(t, { min: 2 });
  pool.start();
  await eventually(() => pool.stats.ready === 2);
  const first = await pool.acquireAsync();
  busy(first);
  const second = await pool.acquireAsync();
  t.not(second, first, 'the idle session is preferred');
  t.equal(sim.counters.sessionsNow, 2);
});

t.test(
  'grows toward max under load, never past it, and makes callers wait past capacity',
  async (t) => {
    const { sim, pool } = await setup(t, { min: 1, max: 2, maxInFlightPerSession: 1 });
    pool.start();
    const a = await pool.acquireAsync();
    busy(a);
    await eventually(() => pool.stats.ready === 2, 'the pool to grow for a busy session');
    const b = await pool.acquireAsync();
    t.not(a, b);
    const tagB = busy(b);
    const waiting = pool.acquireAsync();
    t.equal(pool.stats.waiting, 1, 'a third caller waits: both sessions are at capacity');
    b.cancel(tagB);
    await eventually(() => b.inFlight === 0);
    pool.commandEnded();
    t.equal(await waiting, b, 'released capacity goes to the waiter');
    t.ok(sim.counters.sessionsPeak <= 2);
  },
);

t.test('an acquire that waits too long gets a clear error', async (t) => {
  const { pool } = await setup(t, {
    min: 1,
    max: 1,
    maxInFlightPerSession: 1,
    acquireTimeoutMs: 20,
  });
  pool.start();
  await eventually(() => pool.stats.ready === 1);
  busy(await pool.acquireAsync());
  const err = (await pool.acquireAsync().catch((e: unknown) => e)) as RosgateError;
  t.equal(err.code, ErrorCode.AcquireTimeout);
  t.match(err.message, /no router session available in time/);
  t.same(err.details, { timeoutMs: 20, isRouterDown: false }, 'busy, not down');
});

t.test('reconnects with backoff after the router drops it, and reports failures', async (t) => {
  const { sim, pool } = await setup(t, { min: 1, max: 1 });
  const failures: RosgateError[] = [];
  pool.on('connectError', (e: RosgateError) => failures.push(e));
  pool.start();
  await eventually(() => pool.stats.ready === 1);
  sim.faults.refuseConnections = true;
  sim.faults.dropAll();
  await eventually(() => failures.length >= 2, 'reconnects to be tried again');
  t.equal(pool.stats.ready, 0);
  t.ok(pool.lastError !== undefined);
  sim.faults.refuseConnections = false;
  await eventually(() => pool.stats.ready === 1, 'the pool to come back with the router');
  t.equal(pool.lastError, undefined);
  t.ok(pool.stats.failedConnects >= 2);
});

t.test('sessions failing together schedule one retry', async (t) => {
  const { sim, pool } = await setup(t, { min: 3, max: 3 });
  sim.faults.refuseConnections = true;
  const failures: RosgateError[] = [];
  pool.on('connectError', (e: RosgateError) => failures.push(e));
  pool.start();
  await eventually(() => failures.length >= 3);
  sim.faults.refuseConnections = false;
  await eventually(() => pool.stats.ready === 3, 'every session to come back');
});

t.test('closes idle sessions beyond min and probes idle ones', async (t) => {
  const { sim, pool } = await setup(t, {
    min: 1,
    max: 2,
    idleTimeoutMs: 20,
    healthCheckIntervalMs: 10,
  });
  pool.start();
  const a = await pool.acquireAsync();
  const tag = busy(a);
  await eventually(() => pool.stats.ready === 2);
  a.cancel(tag);
  await eventually(() => pool.stats.ready === 1, 'the extra idle session to close');
  const probes = () => sim.counters.commands['/system/identity/print'] ?? 0;
  await eventually(() => probes() > 0, 'idle sessions to be health-checked');
});

t.test('a session that fails its health probe is replaced', async (t) => {
  const { sim, pool } = await setup(t, { min: 1, max: 1, healthCheckIntervalMs: 10 }, 30);
  pool.start();
  await eventually(() => pool.stats.ready === 1);
  const first = pool.connections[0];
  sim.faults.stopAnswering = true;
  await eventually(() => first?.state === 'closed', 'the stalled session to close');
  sim.faults.stopAnswering = false;
  await eventually(
    () => pool.stats.ready === 1 && pool.connections[0] !== first,
    'a new session to replace it',
  );
});

t.test('close rejects waiters and later acquires, and closes sessions', async (t) => {
  const { pool } = await setup(t, { min: 1, max: 1, maxInFlightPerSession: 1 });
  pool.start();
  const a = await pool.acquireAsync();
  busy(a);
  const waiting = pool.acquireAsync();
  pool.close();
  await t.rejects(waiting, { code: ErrorCode.ShuttingDown });
  await t.rejects(pool.acquireAsync(), { code: ErrorCode.ShuttingDown });
  t.equal(a.state, 'closed');
});

t.test('a session that connects after close is closed at once', async (t) => {
  const { sim, pool } = await setup(t, { min: 1, max: 1 });
  sim.faults.latencyMs = 20;
  pool.start();
  pool.close();
  await eventually(() => sim.counters.sessionsNow === 0 && pool.stats.connecting === 0);
  t.equal(pool.stats.ready, 0);
});

const identity = (): Sentence => Sentence.from(['/system/identity/print']);
const ignore = { onReply: () => undefined, onError: () => undefined };

t.test('a caller waiting for a session is never handed one that failed', async (t) => {
  const { sim, pool } = await setup(t, {
    min: 1,
    max: 1,
    maxInFlightPerSession: 1,
    acquireTimeoutMs: 5000,
  });
  pool.start();
  const first = await pool.acquireAsync();
  let firstError: RosgateError | undefined;
  first.send(Sentence.from(['/interface/monitor-traffic', '=interface=ether1']), {
    onReply: () => undefined,
    onError(err) {
      firstError = err;
      // As the upstream handler does: the command is over, its capacity freed.
      pool.commandEnded();
    },
  });
  const handedOut: string[] = [];
  const answered = new Promise<string[]>((resolve, reject) => {
    pool.acquire((connection) => {
      handedOut.push(connection.state);
      const lines: string[] = [];
      connection.send(identity(), {
        onReply(s, isFinal) {
          lines.push(s.command);
          if (isFinal) resolve(lines);
        },
        onError: reject,
      });
    }, reject);
  });
  t.equal(pool.stats.waiting, 1, 'the second caller waits for the only session');
  sim.faults.dropAll();
  t.same(await answered, ['!re', '!done'], "the waiter's command is answered");
  t.equal(firstError?.code, ErrorCode.UpstreamClosed, 'the first command is told of the drop');
  t.same(handedOut, ['ready'], 'on a fresh session, not the one that failed');
  t.equal(pool.stats.closed, 1, 'the lost session is counted');
  t.ok(pool.lastErrorAt !== undefined, 'and when it was lost is known');
});

t.test('a session that is closing is never handed out, even to a caller asking then', async (t) => {
  const sim = await startSimulator({ user: 'svc', password: 'pw' });
  t.teardown(() => sim.close());
  const handedOut: string[] = [];
  const pool: Pool = new Pool({ ...BASE, min: 1, max: 1 }, () => {
    const connection = new UpstreamConnection({
      host: '127.0.0.1',
      port: sim.port,
      username: 'svc',
      password: 'pw',
      timeoutMs: 2000,
    });
    // Heard before the pool's own close listener: the session is still in its ready set.
    connection.once('close', () =>
      pool.acquire(
        (c) => {
          handedOut.push(c.state);
          c.send(identity(), ignore);
        },
        () => undefined,
      ),
    );
    return connection;
  });
  t.teardown(() => pool.close());
  pool.start();
  await eventually(() => pool.stats.ready === 1);
  sim.faults.dropAll();
  await eventually(() => handedOut.length === 1, 'the caller to get a session');
  t.same(handedOut, ['ready']);
});

t.test('a congested session gets no new command until it drains', async (t) => {
  let peer: net.Socket | undefined;
  const port = await fakeRouter(t, (s, reply, socket) => {
    if (s.command === '/login') {
      reply('!done', tagOf(s));
      peer = socket;
      socket.pause();
    }
  });
  const pool = new Pool({ ...BASE, min: 1, max: 1, maxInFlightPerSession: 1000 }, () => {
    return new UpstreamConnection({
      host: '127.0.0.1',
      port,
      username: 'svc',
      password: 'pw',
      timeoutMs: 60_000,
      maxWriteBufferBytes: 64 * 1024,
    });
  });
  t.teardown(() => pool.close());
  pool.start();
  const session = await pool.acquireAsync();
  const big = Sentence.from(['/ip/hotspot/user/add', `=comment=${'x'.repeat(256 * 1024)}`]);
  for (let i = 0; i < 400 && !session.isCongested; i++) session.send(big, ignore);
  t.equal(session.isCongested, true, 'the router stopped reading');
  let served: UpstreamConnection | undefined;
  pool.acquire(
    (c) => {
      served = c;
    },
    () => undefined,
  );
  t.equal(served, undefined, 'a caller is not handed the congested session');
  t.equal(pool.stats.waiting, 1, 'it waits');
  peer?.resume();
  await eventually(() => served !== undefined, 'the caller to be served once the writes drain');
  t.equal(served, session);
});

t.test(
  'a router back after 300 ms is reconnected within 100 ms; one backoff per router',
  async (t) => {
    const sim = await startSimulator({ user: 'svc', password: 'pw' });
    t.teardown(() => sim.close());
    let now = 0;
    const pool = new Pool(
      {
        ...BASE,
        min: 3,
        max: 3,
        reconnectInitialDelayMs: 100,
        reconnectMaxDelayMs: 10_000,
      },
      () =>
        new UpstreamConnection({
          host: '127.0.0.1',
          port: sim.port,
          username: 'svc',
          password: 'pw',
          timeoutMs: 2000,
        }),
      // The longest delay the jitter allows.
      { random: () => 1, now: () => now },
    );
    t.teardown(() => pool.close());
    const delays: number[] = [];
    pool.on('retryScheduled', (delayMs: number) => delays.push(delayMs));
    const failures: RosgateError[] = [];
    pool.on('connectError', (e: RosgateError) => failures.push(e));
    pool.start();
    await eventually(() => pool.stats.ready === 3);

    sim.faults.refuseConnections = true;
    sim.faults.dropAll();
    await eventually(() => failures.length === 3, 'the three sessions to fail to reopen');
    t.same(delays, [100], 'three sessions failing together schedule one retry');

    now = 300;
    await eventually(() => delays.length === 2, 'the retry to fail while the router is away');
    t.same(delays, [100, 100], 'after 300 ms away the next try is still within 100 ms');
    sim.faults.refuseConnections = false;
    await eventually(() => pool.stats.ready === 3, 'the pool to come back with the router');

    sim.faults.refuseConnections = true;
    now = 10_000;
    sim.faults.dropAll();
    await eventually(() => delays.length === 3, 'a retry after the next outage');
    t.equal(delays[2], 100, 'a new outage starts again from the shortest delay');
    now = 50_000;
    await eventually(() => delays.length === 4, 'the retry to fail again');
    t.equal(delays[3], 10_000, 'a router away for 40 s is tried at the capped delay');
  },
);

t.test('the jitter picks a delay between half and all of the backoff', async (t) => {
  const sim = await startSimulator({ user: 'svc', password: 'pw' });
  sim.faults.refuseConnections = true;
  t.teardown(() => sim.close());
  const pool = new Pool(
    { ...BASE, min: 1, max: 1, reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 10_000 },
    () =>
      new UpstreamConnection({
        host: '127.0.0.1',
        port: sim.port,
        username: 'svc',
        password: 'pw',
        timeoutMs: 2000,
      }),
    { random: () => 0, now: () => 0 },
  );
  t.teardown(() => pool.close());
  const delays: number[] = [];
  pool.on('retryScheduled', (delayMs: number) => delays.push(delayMs));
  pool.start();
  await eventually(() => delays.length === 1);
  t.same(delays, [50]);
});

t.test('a live reconfigure applies new sizes to later opens', async (t) => {
  const { pool } = await setup(t, { min: 1, max: 3 });
  pool.start();
  await eventually(() => pool.stats.ready === 1);
  pool.reconfigure({ ...BASE, min: 2, max: 3 });
  t.equal(pool.options.min, 2);
  await eventually(() => pool.stats.ready === 2, 'the pool to open up to the new min');
});

t.test('withdrawing a request that was served or timed out changes nothing', async (t) => {
  const { pool } = await setup(t, {
    min: 1,
    max: 1,
    maxInFlightPerSession: 1,
    acquireTimeoutMs: 20,
  });
  pool.start();
  await eventually(() => pool.stats.ready === 1);
  let served: UpstreamConnection | undefined;
  const withdrawServed = pool.acquire(
    (c) => {
      served = c;
      busy(c);
    },
    () => undefined,
  );
  t.ok(served !== undefined, 'served at once');
  withdrawServed();
  let timedOut: RosgateError | undefined;
  const withdrawLate = pool.acquire(
    () => t.fail('no session has room'),
    (e) => {
      timedOut = e;
    },
  );
  pool.commandEnded();
  t.equal(pool.stats.waiting, 1, 'a release with no room left serves nobody');
  await eventually(() => timedOut !== undefined);
  withdrawLate();
  t.equal(timedOut?.code, ErrorCode.AcquireTimeout);
  t.equal(pool.stats.waiting, 0);
});

t.test('a session whose login completes just as the pool closes is closed at once', async (t) => {
  let finishLogin: () => void = () => undefined;
  const opened: UpstreamConnection[] = [];
  class SlowLogin extends UpstreamConnection {
    override connect(): Promise<void> {
      return new Promise((resolve) => {
        finishLogin = resolve;
      });
    }
  }
  const pool = new Pool({ ...BASE, min: 1, max: 1 }, () => {
    const c = new SlowLogin({
      host: '127.0.0.1',
      port: 1,
      username: 'u',
      password: 'p',
      timeoutMs: 10,
    });
    opened.push(c);
    return c;
  });
  pool.start();
  pool.close();
  finishLogin();
  await eventually(() => opened[0]?.state === 'closed', 'the late session to be closed');
  t.equal(pool.stats.ready, 0, 'and never counted ready');
});

t.test(
  'each acquisition reports how long it waited; a withdrawn request is never served',
  async (t) => {
    const sim = await startSimulator({ user: 'svc', password: 'pw', streamIntervalMs: 5 });
    t.teardown(() => sim.close());
    let now = 0;
    const waits: number[] = [];
    const pool = new Pool(
      { ...BASE, min: 1, max: 1, maxInFlightPerSession: 1, acquireTimeoutMs: 5000 },
      () =>
        new UpstreamConnection({
          host: '127.0.0.1',
          port: sim.port,
          username: 'svc',
          password: 'pw',
          timeoutMs: 2000,
        }),
      { now: () => now, onAcquired: (waitMs) => waits.push(waitMs) },
    );
    t.teardown(() => pool.close());
    pool.start();
    await eventually(() => pool.stats.ready === 1);
    const session = await pool.acquireAsync();
    const tag = busy(session);
    const withdraw = pool.acquire(
      () => t.fail('a withdrawn request is not served'),
      () => t.fail('nor refused'),
    );
    const waiting = pool.acquireAsync();
    t.equal(pool.stats.waiting, 2);
    withdraw();
    t.equal(pool.stats.waiting, 1, 'the withdrawn request leaves the queue');
    now = 40;
    t.equal(pool.stats.longestWaitMs, 40, 'the oldest waiter has waited 40 ms');
    session.cancel(tag);
    await eventually(() => session.inFlight === 0);
    pool.commandEnded();
    t.equal(await waiting, session);
    t.same(waits, [0, 40], 'served at once, then after 40 ms');
  },
);

t.test('an acquire that times out while the router is away says why', async (t) => {
  const { sim, pool } = await setup(t, { min: 1, max: 1, acquireTimeoutMs: 30 });
  sim.faults.refuseConnections = true;
  pool.start();
  await eventually(() => pool.lastError !== undefined, 'a connect to fail');
  await t.rejects(pool.acquireAsync(), {
    code: ErrorCode.AcquireTimeout,
    message: /^no router session available in time: router /,
    details: { isRouterDown: true },
  });
});
