import t from 'tap';
import { Sentence } from '../../src/protocol/index.js';
import { startSimulator } from '../../src/simulator/index.js';
import { Pool, type PoolOptions, type SessionPermit } from '../../src/upstream/pool.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { eventually } from '../fixtures/eventually.js';
import { TEST_POOL, simPool } from '../fixtures/sim-pool.js';

const BASE: PoolOptions = { ...TEST_POOL, min: 3, max: 3, acquireTimeoutMs: 2000 };

/** A budget of `cap` permits that counts what is held, like a group's session budget. */
function budget(cap: number) {
  const state = { held: 0, asked: 0, cap };
  const ask = (): Promise<SessionPermit | undefined> => {
    state.asked++;
    if (state.held >= state.cap) return Promise.resolve(undefined);
    state.held++;
    let isReleased = false;
    return Promise.resolve({
      release() {
        if (isReleased) return;
        isReleased = true;
        state.held--;
      },
    });
  };
  return { state, ask };
}

function setup(
  t: { teardown(fn: () => unknown): void },
  ask: () => Promise<SessionPermit | undefined>,
  password = 'pw',
) {
  return simPool(t, BASE, { password, hooks: { sessionPermit: ask } });
}

t.test('a pool opens only the sessions its permits allow, and asks again later', async (t) => {
  const { state, ask } = budget(2);
  const { pool } = await setup(t, ask);
  pool.start();
  await eventually(() => pool.stats.ready === 2 && state.asked >= 4);
  t.equal(state.held, 2, 'two permits held for two sessions');
  t.equal(pool.stats.connecting, 0, 'no session waits to open without a permit');
  state.cap = 3;
  await eventually(() => pool.stats.ready === 3);
  t.equal(state.held, 3, 'the third session opened once the budget allowed it');
  pool.close();
  t.equal(state.held, 0, 'closing the pool releases every permit');
});

t.test('a session that fails to log in releases its permit', async (t) => {
  const { state, ask } = budget(5);
  const { pool } = await setup(t, ask, 'wrong');
  pool.start();
  await eventually(() => pool.stats.failedConnects >= 1);
  await eventually(() => state.held === 0);
  t.equal(pool.stats.ready, 0);
});

t.test('a permit granted after the pool closed is given back at once', async (t) => {
  const grants: ((permit: SessionPermit | undefined) => void)[] = [];
  let released = 0;
  const { pool } = await setup(
    t,
    () =>
      new Promise((resolve) => {
        grants.push(resolve);
      }),
  );
  pool.start();
  pool.close();
  for (const grant of grants) grant({ release: () => released++ });
  await eventually(() => released === 3);
  t.equal(pool.stats.connecting, 0);
});

t.test('a session that opens after the pool closed releases its permit', async (t) => {
  const { state, ask } = budget(5);
  const { pool } = await setup(t, async () => {
    const permit = await ask();
    // Closed between the permit and the login's answer.
    setImmediate(() => pool.close());
    return permit;
  });
  pool.start();
  await eventually(() => state.asked >= 1 && state.held === 0);
  t.equal(pool.stats.ready, 0);
});

t.test('without a budget, a session that opens after the pool closed is closed too', async (t) => {
  const sim = await startSimulator({ user: 'svc', password: 'pw' });
  t.teardown(() => sim.close());
  const connections: UpstreamConnection[] = [];
  const pool = new Pool({ ...BASE, min: 1 }, () => {
    const connection = new UpstreamConnection({
      host: '127.0.0.1',
      port: sim.port,
      username: 'svc',
      password: 'pw',
      timeoutMs: 2000,
    });
    connections.push(connection);
    // Closed between the connect and the login's answer.
    setImmediate(() => pool.close());
    return connection;
  });
  pool.start();
  await eventually(() => connections.length === 1 && connections[0]?.state === 'closed');
  t.equal(pool.stats.ready, 0, 'no session is handed out by a closed pool');
});

t.test(
  'a falling session cap retires the surplus once idle and opens no more; a rising one lets the pool grow again',
  async (t) => {
    const { state, ask } = budget(5);
    const cap = { value: Infinity, listeners: new Set<() => void>() };
    const setCap = (value: number) => {
      cap.value = value;
      for (const listener of cap.listeners) listener();
    };
    const { pool } = await simPool(t, BASE, {
      password: 'pw',
      hooks: {
        sessionPermit: ask,
        sessionCap: {
          current: () => cap.value,
          onChange: (listener) => {
            cap.listeners.add(listener);
            return () => cap.listeners.delete(listener);
          },
        },
      },
    });
    pool.start();
    await eventually(() => pool.stats.ready === 3, 'min sessions');
    const busy = await pool.acquireAsync();
    const tag = busy.send(Sentence.from(['/interface/monitor-traffic', '=interface=ether1']), {
      onReply: () => undefined,
      onError: () => undefined,
    });
    setCap(1);
    await eventually(() => pool.stats.ready === 1, 'the idle surplus to close');
    t.equal(busy.state, 'ready', 'the busy session kept, as the one within the cap');
    t.equal(state.held, 1, 'their permits given back');
    t.same(await pool.acquireAsync(), busy, 'commands go to the session within the cap');
    busy.cancel(tag);
    await eventually(() => busy.inFlight === 0, 'the stream to end');
    pool.commandEnded();
    t.equal(pool.stats.ready, 1, 'min is not refilled above the cap');
    setCap(Infinity);
    await eventually(() => pool.stats.ready === 3, 'min sessions again');
    pool.close();
    t.equal(cap.listeners.size, 0, 'a closed pool stops listening to the cap');
  },
);

t.test(
  'when the session cap falls, retired sessions that only carry streams are cut after acquireTimeoutMs',
  async (t) => {
    const listeners = new Set<() => void>();
    let cap = Infinity;
    const { pool, sim } = await simPool(
      t,
      { ...BASE, acquireTimeoutMs: 100 },
      {
        password: 'pw',
        hooks: {
          sessionCap: {
            current: () => cap,
            onChange: (listener) => {
              listeners.add(listener);
              return () => listeners.delete(listener);
            },
          },
        },
      },
    );
    pool.start();
    await eventually(() => pool.stats.ready === 3, 'min sessions');
    const errors: string[] = [];
    for (let i = 0; i < 3; i++) {
      const session = await pool.acquireAsync();
      session.send(Sentence.from(['/interface/monitor-traffic', '=interface=ether1']), {
        onReply: () => undefined,
        onError: (error) => errors.push(error.code),
      });
    }
    await eventually(() => sim.activeStreams() === 3, 'a stream on every session');
    cap = 1;
    for (const listener of listeners) listener();
    t.equal(pool.stats.ready, 3, 'nothing cut at once');
    await eventually(() => pool.stats.ready === 1, 'the busy surplus to be cut');
    await eventually(() => sim.activeStreams() === 1, 'the router to end their streams');
    t.equal(errors.length, 2, "the cut sessions' streams got the session's error");
  },
);
