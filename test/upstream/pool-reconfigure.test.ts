import t from 'tap';
import { Sentence } from '../../src/protocol/index.js';
import { startSimulator } from '../../src/simulator/index.js';
import { Pool, type PoolOptions } from '../../src/upstream/pool.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { eventually } from '../fixtures/eventually.js';
import { freePort } from '../fixtures/free-port.js';
import { TEST_POOL, simPool } from '../fixtures/sim-pool.js';

const BASE: PoolOptions = {
  ...TEST_POOL,
  min: 2,
  max: 2,
  acquireTimeoutMs: 500,
  maxInFlightPerSession: 4,
};

function setup(t: { teardown(fn: () => unknown): void }) {
  return simPool(t, BASE);
}

/** A stream that keeps `connection` busy until it is cancelled. */
function stream(connection: UpstreamConnection): string {
  return connection.send(Sentence.from(['/interface/monitor-traffic', '=interface=ether1']), {
    onReply: () => undefined,
    onError: () => undefined,
  });
}

t.test('options given before the start are the ones it starts with', async (t) => {
  const { pool } = await setup(t);
  pool.reconfigure({ ...BASE, min: 1, max: 1 });
  pool.start();
  await eventually(() => pool.stats.ready === 1, 'one session');
  t.equal(pool.options.max, 1);
});

t.test(
  'a lower max retires the surplus session: no new command, closed when its last one ends',
  async (t) => {
    const { sim, pool } = await setup(t);
    pool.start();
    await eventually(() => pool.stats.ready === 2, 'two sessions');
    const a = await pool.acquireAsync();
    const tags = new Map([[a, stream(a)]]);
    const b = await pool.acquireAsync();
    tags.set(b, stream(b));
    t.not(a, b, 'each session carries one stream');
    await eventually(() => sim.activeStreams() === 2, 'both streams on the router');

    pool.reconfigure({ ...BASE, min: 1, max: 1 });
    t.equal(pool.stats.ready, 2, 'a busy session is not cut');
    const next = await pool.acquireAsync();
    const retired = next === a ? b : a;
    t.equal(next.inFlight, 1, 'new commands go to the session that stays');
    t.not(next, retired);

    // The retired session's stream ends; its release closes it.
    retired.cancel(tags.get(retired) as string);
    await eventually(() => retired.inFlight === 0, 'the stream to end');
    pool.commandEnded();
    await eventually(() => pool.stats.ready === 1, 'one session left');
    t.equal(retired.state, 'closed');
  },
);

t.test('a reload after the close changes nothing that runs', async (t) => {
  const { pool } = await setup(t);
  pool.start();
  await eventually(() => pool.stats.ready === 2, 'two sessions');
  pool.close();
  pool.reconfigure({ ...BASE, min: 3, max: 3 });
  t.equal(pool.stats.ready, 0);
  t.equal(pool.stats.connecting, 0, 'no session is opened after the close');
});

t.test(
  'a lower max reached while sessions log in: the pool ends at the new max once they are ready',
  async (t) => {
    const { sim, pool } = await setup(t);
    pool.start();
    t.equal(pool.stats.connecting, 2, 'two sessions logging in');
    pool.reconfigure({ ...BASE, min: 1, max: 1 });
    await eventually(() => pool.stats.connecting === 0, 'both logins to end');
    await eventually(() => pool.stats.ready === 1, 'the surplus session to close');
    await eventually(() => sim.counters.sessionsNow === 1, 'one session left on the router');
    t.equal(pool.stats.opened, 2, 'both logged in');
  },
);

t.test('more room per session goes to the callers waiting already', async (t) => {
  const { pool } = await simPool(t, {
    ...BASE,
    min: 1,
    max: 1,
    maxInFlightPerSession: 1,
    acquireTimeoutMs: 60_000,
  });
  pool.start();
  const session = await pool.acquireAsync();
  stream(session);
  const waiting = pool.acquireAsync();
  t.equal(pool.stats.waiting, 1, 'the only session is full: a caller waits');
  pool.reconfigure({ ...BASE, min: 1, max: 1, maxInFlightPerSession: 2 });
  t.equal(pool.stats.waiting, 0, 'served at once');
  t.equal(await waiting, session);
});

t.test(
  'a session that logs in ends the wait of a reconnect scheduled by one that failed',
  async (t) => {
    const sim = await startSimulator({ user: 'svc', password: 'pw' });
    const nobody = await freePort();
    let made = 0;
    const pool = new Pool(
      // A reconnect scheduled now would wait 45 s.
      { ...BASE, min: 2, max: 3, reconnectInitialDelayMs: 60_000, reconnectMaxDelayMs: 60_000 },
      () =>
        new UpstreamConnection({
          host: '127.0.0.1',
          // The first session finds nobody (it fails before the second logs in).
          port: made++ === 0 ? nobody : sim.port,
          username: 'svc',
          password: 'pw',
          timeoutMs: 2000,
        }),
      { random: () => 0.5 },
    );
    const retries: number[] = [];
    pool.on('retryScheduled', (delayMs: number) => retries.push(delayMs));
    t.teardown(async () => {
      pool.close();
      await sim.close();
    });
    pool.start();
    await eventually(() => pool.stats.ready === 2, 'the pool back to min without waiting 45 s');
    t.same(retries, [45_000], 'the failed one had scheduled a reconnect');
    stream(await pool.acquireAsync());
    stream(await pool.acquireAsync());
    await pool.acquireAsync(); // both sessions are busy: the pool grows at once
    await eventually(() => pool.stats.ready === 3, 'the pool to grow');
  },
);
