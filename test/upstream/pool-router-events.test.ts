/**
 * What the pool tells of the router: `routerLost` for
 * every session it did not close and every failed connect, with the error
 * the session's commands get; `routerReachable` when a session logs in and
 * when a health probe is answered.
 */
import t from 'tap';
import type { RosgateError } from '../../src/errors.js';
import { Sentence } from '../../src/protocol/index.js';
import type { PoolOptions, ReachableEvidence } from '../../src/upstream/pool.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { eventually } from '../fixtures/eventually.js';
import { TEST_POOL, simPool } from '../fixtures/sim-pool.js';

const BASE: PoolOptions = { ...TEST_POOL, maxInFlightPerSession: 1 };

async function setup(t: { teardown(fn: () => unknown): void }, options: Partial<PoolOptions>) {
  const { sim, pool } = await simPool(t, { ...BASE, ...options });
  const lost: RosgateError[] = [];
  const reachable: ReachableEvidence[] = [];
  pool.on('routerLost', (error: RosgateError) => lost.push(error));
  pool.on('routerReachable', (evidence: ReachableEvidence) => reachable.push(evidence));
  return { sim, pool, lost, reachable };
}

/** Starts a stream on `connection`; returns its tag. */
function stream(connection: UpstreamConnection): string {
  return connection.send(Sentence.from(['/interface/monitor-traffic', '=interface=ether1']), {
    onReply: () => undefined,
    onError: () => undefined,
  });
}

/** Starts a stream on `connection`; resolves with the error that ends it. */
function streamUntilLost(connection: UpstreamConnection): Promise<RosgateError> {
  return new Promise((resolve) => {
    connection.send(Sentence.from(['/interface/monitor-traffic', '=interface=ether1']), {
      onReply: () => undefined,
      onError: resolve,
    });
  });
}

t.test(
  'each session the router drops is reported lost first, with the error its commands get',
  async (t) => {
    const { sim, pool, lost, reachable } = await setup(t, { min: 2, max: 2 });
    pool.start();
    await eventually(() => pool.stats.ready === 2, 'two sessions');
    t.same(reachable, ['login', 'login'], 'each login shows the router reachable');
    const ended = pool.connections.map((c) => {
      const error = streamUntilLost(c);
      return error.then((e) => ({ e, lostBefore: lost.includes(e) }));
    });
    sim.faults.refuseConnections = true;
    sim.faults.dropAll();
    const outcomes = await Promise.all(ended);
    for (const { lostBefore } of outcomes) {
      t.ok(lostBefore, 'the pool reported the loss before the command heard of it');
    }
    t.same(
      lost.slice(0, 2).map((e) => e.code),
      ['ROSGATE_UPSTREAM_CLOSED', 'ROSGATE_UPSTREAM_CLOSED'],
    );
    await eventually(() => lost.length >= 4, 'failed reconnects to be reported too');
    t.ok(
      lost.slice(2).every((e) => !outcomes.some((o) => o.e === e)),
      'a failed connect has an error of its own',
    );
    sim.faults.refuseConnections = false;
    await eventually(() => pool.stats.ready === 2, 'the router back');
    t.same(reachable.slice(-2), ['login', 'login']);
  },
);

t.test('sessions the pool closes itself are not losses of the router', async (t) => {
  const { pool, lost } = await setup(t, { min: 1, max: 2, idleTimeoutMs: 20 });
  const closed: RosgateError[] = [];
  pool.on('sessionClosed', (error: RosgateError) => closed.push(error));
  pool.start();
  const a = await pool.acquireAsync();
  const tagA = stream(a);
  await eventually(() => pool.stats.ready === 2, 'a second session for the busy one');
  await eventually(() => closed.length === 1, 'the idle one to close');

  const b = await pool.acquireAsync();
  const tagB = stream(b);
  await eventually(() => pool.stats.ready === 2, 'two busy sessions');
  pool.reconfigure({ ...BASE, min: 1, max: 1 });
  a.cancel(tagA);
  b.cancel(tagB);
  await eventually(() => a.inFlight === 0 && b.inFlight === 0, 'both streams to end');
  pool.commandEnded();
  await eventually(() => closed.length === 2, 'the retired session to close once idle');
  pool.close();
  t.equal(closed.length, 2, 'closing the pool reports nothing');
  t.same(lost, [], 'no loss of the router');
});

t.test('an answered health probe shows the router reachable', async (t) => {
  const { pool, reachable } = await setup(t, { min: 1, max: 1, healthCheckIntervalMs: 10 });
  pool.start();
  await eventually(() => reachable.includes('probe'), 'a health probe answered');
  t.equal(reachable[0], 'login');
});

t.test(
  'a session refused while another answers is no loss of the router: the pool stops growing for a while',
  async (t) => {
    let now = 1_000;
    const { sim, pool } = await simPool(
      t,
      {
        ...BASE,
        min: 1,
        max: 3,
        maxInFlightPerSession: 2,
        acquireTimeoutMs: 20,
        reconnectInitialDelayMs: 1_000,
        reconnectMaxDelayMs: 3_000,
      },
      { hooks: { now: () => now } },
    );
    const lost: RosgateError[] = [];
    const growth: [RosgateError, number][] = [];
    const connectErrors: RosgateError[] = [];
    pool.on('routerLost', (error: RosgateError) => lost.push(error));
    pool.on('connectError', (error: RosgateError) => connectErrors.push(error));
    pool.on('growthFailed', (error: RosgateError, delayMs: number) =>
      growth.push([error, delayMs]),
    );
    pool.start();
    await eventually(() => pool.stats.ready === 1, 'one session');
    sim.faults.refuseConnections = true; // the router's max-sessions is reached

    const a = await pool.acquireAsync();
    stream(a);
    await pool.acquireAsync().then(stream); // busy: the pool tries one more session
    await eventually(() => growth.length === 1, 'the refused session');
    t.same(growth[0]?.[1], 750, 'a delay before the next attempt (initial, with jitter)');
    t.same(lost, [], 'no loss of the router');
    t.same(connectErrors, [], 'no connect error: the router answers');
    t.equal(pool.stats.failedConnects, 1, 'the refusal is counted');
    t.equal(pool.lastError, growth[0]?.[0], 'and kept for the health report');

    const timedOut = (await pool.acquireAsync().catch((e: unknown) => e)) as RosgateError;
    t.equal(timedOut.code, 'ROSGATE_ACQUIRE_TIMEOUT');
    t.equal(timedOut.details['isRouterDown'], false, 'a busy pool, not a router down');
    t.equal(pool.stats.connecting, 0, 'no new attempt before the delay');

    now += 750; // the delay is over: the next busy acquire tries again, and waits twice as long
    void pool.acquireAsync().catch(() => undefined);
    await eventually(() => growth.length === 2, 'the second refusal');
    t.equal(growth[1]?.[1], 1_500);
    t.same(lost, []);

    sim.faults.refuseConnections = false; // a session is free again
    now += 1_500;
    void pool.acquireAsync().catch(() => undefined);
    await eventually(() => pool.stats.ready === 2, 'the pool grows once the router lets it');
    t.same(lost, []);
  },
);

t.test('a failed connect while no session is ready is still a loss of the router', async (t) => {
  const { sim, pool, lost } = await setup(t, { min: 1, max: 1 });
  sim.faults.refuseConnections = true;
  const growth: RosgateError[] = [];
  pool.on('growthFailed', (error: RosgateError) => growth.push(error));
  pool.start();
  await eventually(() => lost.length >= 1, 'the failed connect reported');
  t.same(growth, [], 'no growth was tried');
});
