/**
 * Redis away from a group of replicas (issue 18): a lockout taken on one
 * replica meanwhile reaches the others once Redis is back, and each replica
 * runs at its share of the router's rate (bucket / N) while it is away.
 * Full apps, one simulator, one real redis-server each test kills and
 * restarts on the same port.
 */
import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { startRedis } from '../fixtures/redis-server.js';
import {
  burst,
  groupPrefix,
  queuedIn,
  ran,
  replicaStacks,
  ReplicaClock,
} from '../fixtures/replicas.js';
import { startTestSimulator, type Stack } from '../fixtures/stack.js';

/** How long a lockout taken during an outage may take to reach the others once Redis is back. */
const REPUBLISH_BOUND_MS = 5000;
/**
 * A router account that is not rosgate's own: the router checks its
 * passwords, so the simulator's login counters show what reached it.
 */
const CASHIER = { name: 'cashier', password: 'till-pw' };
const ROUTER_ACCOUNTS = {
  user: 'admin',
  password: 'secret',
  version: '7.17',
  users: { [CASHIER.name]: CASHIER.password },
};

t.test(
  'a lockout taken while Redis is down is re-published when it is back: another replica refuses the user before the router is asked',
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const sim = await startTestSimulator(t, ROUTER_ACCOUNTS);
    const prefix = groupPrefix();
    const stacks = await replicaStacks(t, sim, {
      url: redis.url,
      prefix,
      config: { policy: { lockout: { maxAttempts: 3 } }, limits: { loginFailureCacheTtlMs: 0 } },
    });
    const [r1, r2, r3] = stacks as [Stack, Stack, Stack];
    await redis.kill();
    await eventually(
      () => stacks.every((s) => s.app.group?.snapshot().isUp === false),
      'every replica to notice Redis is away',
    );

    const failedBefore = sim.counters.loginsFailed;
    for (let i = 0; i < 3; i++) {
      const c = await openRaw(t, r1.port);
      t.match(
        text(await c.login(CASHIER.name, `wrong-${i}`)).join(' '),
        /!trap/,
        `wrong password ${i}`,
      );
    }
    t.equal(sim.counters.loginsFailed - failedBefore, 3, 'the router judged the wrong passwords');
    const locked = await openRaw(t, r1.port);
    t.match(
      text(await locked.login(CASHIER.name, CASHIER.password)).join(' '),
      /too many failed logins/,
      'replica 1 locked the user on its own',
    );
    const lockKeys = `${prefix}{default}:lock:*`;

    const logins = () => sim.counters.loginsOk + sim.counters.loginsFailed;
    const before = logins();
    const restartedAt = performance.now();
    await redis.restart();
    await eventually(
      () =>
        stacks.every((s) => s.app.group?.snapshot().isUp === true) &&
        (r1.app.group?.group.stats().republished ?? 0) > 0,
      'Redis back on every replica, and replica 1 to re-publish',
    );
    const locks = await redis.command('EVAL', "return #redis.call('KEYS', ARGV[1])", '0', lockKeys);
    t.not(locks, ':0\r\n', `the locks are in the new Redis (${locks.trim()})`);
    for (const stack of [r2, r3]) {
      const c = await openRaw(t, stack.port);
      t.match(
        text(await c.login(CASHIER.name, CASHIER.password)).join(' '),
        /too many failed logins/,
        `${stack.app.group?.replicaId} refuses the user locked on replica 1`,
      );
    }
    const elapsedMs = performance.now() - restartedAt;
    t.ok(
      elapsedMs < REPUBLISH_BOUND_MS,
      `refused on the others ${elapsedMs.toFixed(0)} ms after Redis came back (bound ${REPUBLISH_BOUND_MS})`,
    );
    t.equal(logins(), before, 'no login reached the router once Redis was back');
  },
);

t.test(
  'failed logins spread over replicas while Redis is down add up when it is back: the group locks the user',
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const sim = await startTestSimulator(t, ROUTER_ACCOUNTS);
    const stacks = await replicaStacks(t, sim, {
      url: redis.url,
      config: { policy: { lockout: { maxAttempts: 3 } }, limits: { loginFailureCacheTtlMs: 0 } },
    });
    const [r1, r2, r3] = stacks as [Stack, Stack, Stack];
    await redis.kill();
    await eventually(
      () => stacks.every((s) => s.app.group?.snapshot().isUp === false),
      'every replica to notice Redis is away',
    );
    const logins = () => sim.counters.loginsOk + sim.counters.loginsFailed;
    const failedBefore = sim.counters.loginsFailed;
    // Two wrong passwords on each of two replicas: under the limit of 3 on each.
    for (const [i, stack] of [r1, r1, r2, r2].entries()) {
      const c = await openRaw(t, stack.port);
      t.match(
        text(await c.login(CASHIER.name, `wrong-${i}`)).join(' '),
        /invalid user name or password/,
        `wrong password ${i} refused by the router`,
      );
    }
    t.equal(
      sim.counters.loginsFailed - failedBefore,
      4,
      'each wrong password reached the router: none was locked',
    );
    const before = logins();
    await redis.restart();
    await eventually(
      () =>
        stacks.every((s) => s.app.group?.snapshot().isUp === true) &&
        [r1, r2].every((s) => (s.app.group?.group.stats().republished ?? 0) > 0),
      'Redis back on every replica, and replicas 1 and 2 to re-publish their counts',
    );
    const c = await openRaw(t, r3.port);
    t.match(
      text(await c.login(CASHIER.name, CASHIER.password)).join(' '),
      /too many failed logins/,
      'replica 3 refuses the user: 2 + 2 failures reached the limit of 3 in Redis',
    );
    t.equal(logins(), before, 'the refusal did not ask the router');
  },
);

t.test(
  'while Redis is down each replica spends its share of the bucket (bucket / N, refill / N), not the whole bucket',
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
    const clock = new ReplicaClock();
    const RATE = { bucketSize: 12, refillTokens: 6, refillIntervalMs: 100 };
    const login = { user: 'billing', password: 'billing-pw' };
    const stacks = await replicaStacks(t, sim, {
      url: redis.url,
      app: { shared: clock.groupOptions() },
      config: {
        users: [{ name: login.user, password: login.password }],
        flow: { rateLimit: { ...RATE, maxWaitMs: 60_000, maxQueue: 1000 } },
        cache: { enabled: false },
      },
    });
    await redis.kill();
    await eventually(
      () => stacks.every((s) => s.app.group?.snapshot().isUp === false),
      'every replica to notice Redis is away',
    );
    // Stop the group's clock (nothing refills) past the life of any lease held.
    clock.freeze();
    clock.jump(10_000);
    const SENT = 8;
    const commands = ['/ip/address/print', '/queue/simple/print', '/system/clock/print'];
    const load = await burst(t, stacks, commands, SENT, login);
    const counts = () => commands.map((command) => ran(sim, command));

    await load.settled('each command answered or queued');
    const share = RATE.bucketSize / 3;
    t.same(counts(), [share, share, share], `each replica ran ${share}: a third of the bucket`);
    t.same(
      stacks.map(queuedIn),
      stacks.map(() => SENT - share),
      'each holds the rest until tokens come',
    );

    // One refill step on the group's clock: each replica gets a third of it.
    clock.jump(RATE.refillIntervalMs);
    const step = RATE.refillTokens / 3;
    await eventually(
      () => load.answered.every((n) => n === share + step),
      'the commands one refill step lets through',
    );
    await load.settled('each command answered or queued after the step');
    t.same(
      counts(),
      [share + step, share + step, share + step],
      `each replica ran ${step} more: a third of the refill`,
    );
    t.equal(
      counts().reduce((sum, n) => sum + n, 0),
      RATE.bucketSize + RATE.refillTokens,
      'together the replicas kept to the group budget, not three times it',
    );

    clock.thaw();
    await load.done;
    t.same(load.failures, [], 'no command was refused');
  },
);
