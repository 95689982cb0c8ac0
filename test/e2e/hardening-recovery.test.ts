/**
 * Recovery and what is logged, through the whole app: a router
 * that goes silent or away is noticed within its timeout, and an outage is
 * told in a few log lines, not one per failure.
 */
import t from 'tap';
import { Sentence } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { text } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from '../fixtures/stack.js';

const lines = (stack: Stack, msg: string, from = 0) =>
  stack.logs.slice(from).filter((l) => l.msg === msg);

t.test('a busy session the router went silent on fails its command within timeoutMs', async (t) => {
  const stack = await startStack(t, {
    router: { timeoutMs: 200, pool: { min: 1, max: 1, healthCheckIntervalMs: 600_000 } },
    // Neither the idle probe nor the flow stage's own timeout may say it first.
    config: { cache: { enabled: false }, flow: { commandIdleTimeoutMs: 600_000 } },
  });
  const c = await loggedIn(t, stack);
  await eventually(() => stack.router.pool.stats.ready === 1);
  stack.sim.faults.stopAnswering = true;
  t.same(text(await c.call(['/ip/hotspot/user/print', '.tag=q'])), [
    '!trap .tag=q =message=router did not answer the health probe in time',
    '!done .tag=q',
  ]);
  stack.sim.faults.stopAnswering = false;
  t.equal(
    String((await c.call(['/system/identity/print', '.tag=after'])).at(-1)),
    '!done .tag=after',
    'a fresh session serves the next command',
  );
});

t.test(
  'a router slower than half of timeoutMs keeps its sessions: its replies prove them alive',
  async (t) => {
    const stack = await startStack(t, {
      router: { timeoutMs: 400 },
      config: { cache: { enabled: false } },
    });
    const [a, b] = await Promise.all([loggedIn(t, stack), loggedIn(t, stack)]);
    await eventually(() => stack.router.pool.stats.ready >= 1, 'a router session');
    // Each answer comes after 260 ms: past the health probe's 200 ms, within timeoutMs.
    stack.sim.faults.latencyMs = 260;
    const adds = async (c: typeof a, name: string): Promise<string[]> => {
      const replies: string[] = [];
      for (let i = 0; i < 6; i++) {
        const tag = `${name}${i}`;
        const add = ['/ip/hotspot/user/add', `=name=${tag}`, '=password=x', `.tag=${tag}`];
        replies.push(String((await c.call(add)).at(-1)).split(' ')[0] as string);
      }
      return replies;
    };
    const first = adds(a, 'a');
    await eventually(() => (stack.sim.counters.commands['/ip/hotspot/user/add'] ?? 0) >= 1);
    // The second client starts while the first one's add runs: the session stays busy.
    const replies = (await Promise.all([first, adds(b, 'b')])).flat();
    t.same(replies, Array(12).fill('!done'), 'every add is answered');
    t.equal(stack.router.pool.stats.closed, 0, 'no session was failed');
  },
);

t.test('an outage is logged once, its retries and refusals at debug', async (t) => {
  const stack = await startStack(t, {
    router: {
      pool: {
        min: 2,
        max: 2,
        acquireTimeoutMs: 30,
        reconnectInitialDelayMs: 5,
        reconnectMaxDelayMs: 10,
      },
    },
    config: { cache: { enabled: false }, flow: { breaker: { enabled: false } } },
  });
  const c = await loggedIn(t, stack);
  await eventually(() => stack.router.pool.stats.ready === 2);
  const from = stack.logs.length;
  stack.sim.faults.refuseConnections = true;
  stack.sim.faults.dropAll();
  await eventually(() => stack.router.pool.stats.failedConnects >= 4, 'several failed reconnects');
  for (let i = 0; i < 3; i++) {
    t.match(text(await c.call(['/system/identity/print', `.tag=${i}`])), [
      new RegExp(`^!trap \\.tag=${i} =message=no router session available in time: `),
      `!done .tag=${i}`,
    ]);
  }

  const closed = lines(stack, 'router session closed', from);
  t.equal(closed.length, 2, 'each lost session is logged once');
  t.match(closed, [
    { level: 30, code: 'ROSGATE_UPSTREAM_CLOSED', reason: 'router closed the connection' },
    { level: 30, code: 'ROSGATE_UPSTREAM_CLOSED', reason: 'router closed the connection' },
  ]);
  t.match(lines(stack, 'router unreachable; retrying', from), [{ level: 40 }]);
  t.equal(
    lines(stack, 'router unreachable; retrying', from).length,
    1,
    'the outage is one warning',
  );
  t.ok(
    lines(stack, 'router session failed to open', from).every((l) => l.level === 20),
    'each further failed reconnect is a debug line',
  );
  t.ok(lines(stack, 'router session failed to open', from).length >= 3);
  t.match(lines(stack, 'command refused', from), [{ level: 20 }, { level: 20 }, { level: 20 }]);

  stack.sim.faults.refuseConnections = false;
  await eventually(() => stack.router.pool.stats.ready === 2, 'the pool to come back');
  t.match(lines(stack, 'router reachable again', from), [{ level: 30 }]);
  t.equal(lines(stack, 'router reachable again', from).length, 1);
});

t.test(
  "a new session's login refused while others work is a warning that names the password, not a session limit",
  async (t) => {
    const stack = await startStack(t, {
      router: { pool: { min: 1, max: 2, maxInFlightPerSession: 1 } },
      config: { cache: { enabled: false } },
    });
    await eventually(() => stack.router.pool.stats.ready === 1, 'one session');
    // The service account's password is changed on the router; the open session stays logged in.
    stack.sim.data.require('/user').set(['admin'], { password: 'changed' });
    const busy = await stack.router.pool.acquireAsync();
    busy.send(Sentence.from(['/interface/monitor-traffic', '=interface=ether1']), {
      onReply: () => undefined,
      onError: () => undefined,
    });
    // Busy: the next acquire opens a second session, whose login the router refuses.
    stack.router.pool.acquire(
      () => undefined,
      () => undefined,
    );
    const refused = () =>
      stack.logs.filter((l) => String(l.msg).startsWith('router refused the service account'));
    await eventually(() => refused().length > 0, 'the refusal to be logged');
    t.match(refused(), [{ level: 40, code: 'ROSGATE_UPSTREAM_LOGIN' }]);
    t.same(lines(stack, 'router unreachable; retrying', 0), [], 'the router is not down');
  },
);
