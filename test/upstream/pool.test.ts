import t from 'tap';
import { ErrorCode, type RosgateError } from '../../src/errors.js';
import { Sentence } from '../../src/protocol/index.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { Pool, type PoolOptions } from '../../src/upstream/pool.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { eventually } from '../fixtures/eventually.js';

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
    pool.release();
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
