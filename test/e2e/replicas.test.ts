/**
 * Three rosgate replicas in front of one simulated router and one real
 * redis-server act as one (issue 18): the group's rate, its session cap,
 * its lockout and its cache invalidations; Redis taken away and brought
 * back under load fails no client command.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text, type RawClient } from '../fixtures/raw-client.js';
import { startRedis, type RedisServer } from '../fixtures/redis-server.js';
import { commentOf, ran, replicaStacks, type ReplicaStackOptions } from '../fixtures/replicas.js';
import { startStack, startTestSimulator, type Stack } from '../fixtures/stack.js';
import type { Simulator } from '../../src/simulator/index.js';
import { createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';

type Tap = Parameters<typeof startStack>[0];

/** One Redis for the file; each test has a prefix of its own. */
let redis: RedisServer;
t.before(async () => {
  redis = await startRedis();
});
t.teardown(() => redis.stop());

/** Replicas `r1`..`rN` of one group, each a full app, all in front of `sim`. */
function replicas(
  t: Tap,
  sim: Simulator,
  options: Omit<ReplicaStackOptions, 'url'> & { url?: string } = {},
): Promise<Stack[]> {
  return replicaStacks(t, sim, { ...options, url: options.url ?? redis.url });
}

const TOKEN = 'replica-admin-token-0123';

t.test(
  'a write through one replica is seen through another within 100 ms, with no listen running',
  async (t) => {
    const sim = await startTestSimulator(t, {
      user: 'admin',
      password: 'secret',
      version: '7.17',
      hotspotUsers: 3,
    });
    const [r1, r2, r3] = (await replicas(t, sim, {
      config: {
        flow: { rateLimit: { enabled: false } },
        cache: { listen: { enabled: false }, defaultTtlMs: 600_000, ttlRules: [] },
      },
    })) as [Stack, Stack, Stack];
    const writer = await openRaw(t, r1.port, { user: 'admin', password: 'secret' });
    const readers = [
      await openRaw(t, r2.port, { user: 'admin', password: 'secret' }),
      await openRaw(t, r3.port, { user: 'admin', password: 'secret' }),
    ];
    const PRINT = ['/ip/hotspot/user/print', '=.proplist=.id,name,comment'];
    const worst: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (const reader of readers) await reader.call(PRINT);
      for (const reader of readers) await reader.call(PRINT);
      const printed = ran(sim, '/ip/hotspot/user/print');
      for (const reader of readers) await reader.call(PRINT);
      t.equal(
        ran(sim, '/ip/hotspot/user/print'),
        printed,
        `round ${round}: the prints are served from each replica's cache`,
      );
      const comment = `paid|${round}|{"plan":"gold"}`;
      const done = await writer.call(['/ip/hotspot/user/set', '=.id=*1', `=comment=${comment}`]);
      t.equal(String(done.at(-1)), '!done');
      const doneAt = performance.now();
      for (const reader of readers) {
        await eventually(
          async () => commentOf(await reader.call(PRINT)) === comment,
          'the new comment',
          200,
        );
      }
      worst.push(performance.now() - doneAt);
    }
    const received = r2.app.group?.group.stats().invalidationsReceived ?? 0;
    t.ok(received >= 5, 'replica 2 heard the writes through Redis');
    t.ok(
      Math.max(...worst) < 100,
      `new value seen within 100 ms of !done (worst ${Math.max(...worst).toFixed(1)} ms)`,
    );
  },
);

t.test(
  'wrong passwords on one replica lock the user on the others, before the router is asked',
  async (t) => {
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
    const [r1, r2, r3] = (await replicas(t, sim, {
      config: { policy: { lockout: { maxAttempts: 3 } }, limits: { loginFailureCacheTtlMs: 0 } },
    })) as [Stack, Stack, Stack];
    const failedBefore = sim.counters.loginsFailed;
    for (let i = 0; i < 3; i++) {
      const c = await openRaw(t, [r1, r2, r1][i]?.port as number);
      const replies = await c.login('admin', `wrong-${i}`);
      t.match(text(replies).join(' '), /!trap/, `wrong password ${i} refused`);
    }
    const reachedRouter = sim.counters.loginsFailed - failedBefore;
    const c = await openRaw(t, r3.port);
    const refused = await c.login('admin', 'secret');
    t.match(
      text(refused).join(' '),
      /too many failed logins/,
      'the right password is refused on a third replica',
    );
    const again = await openRaw(t, r2.port);
    t.match(text(await again.login('admin', 'wrong-9')).join(' '), /too many failed logins/);
    t.equal(
      sim.counters.loginsFailed - failedBefore,
      reachedRouter,
      'no login reached the router once locked',
    );
    t.ok(
      reachedRouter <= 3,
      `wrong passwords that reached the router: ${reachedRouter} (limit 3 for the group)`,
    );
  },
);

t.test('the group holds no more router sessions than ROUTER_MAX_SESSIONS', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
  const stacks = await replicas(t, sim, {
    router: {
      maxSessions: 4,
      pool: { min: 1, max: 5, maxInFlightPerSession: 1, idleTimeoutMs: 100 },
    },
    config: {
      users: [{ name: 'billing', password: 'billing-pw' }],
      flow: { rateLimit: { enabled: false } },
      cache: { enabled: false },
    },
  });
  const clients: RawClient[] = [];
  for (const stack of stacks) {
    for (let i = 0; i < 4; i++)
      clients.push(await openRaw(t, stack.port, { user: 'billing', password: 'billing-pw' }));
  }
  // Every client keeps a command running: each replica wants all five sessions.
  const load = clients.map(async (c) => {
    for (let i = 0; i < 15; i++) {
      const replies = await c.call(['/system/identity/print']);
      if (replies.some((s) => s.command === '!trap')) return text(replies).join(' ');
    }
    return 'ok';
  });
  const outcomes = await Promise.all(load);
  t.same(new Set(outcomes), new Set(['ok']), 'every command was answered');
  t.ok(
    sim.counters.sessionsPeak <= 4,
    `router sessions at most 4 (peak ${sim.counters.sessionsPeak})`,
  );
  const held = stacks.map((s) => s.router.pool.stats.ready);
  t.ok(held.reduce((a, b) => a + b, 0) <= 4, `sessions held by the replicas: ${held.join(' + ')}`);
});

t.test('the router gets the group rate, not three times it', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
  const stacks = await replicas(t, sim, {
    config: {
      flow: {
        rateLimit: {
          bucketSize: 10,
          refillTokens: 5,
          refillIntervalMs: 100,
          maxWaitMs: 60_000,
          maxQueue: 1000,
        },
      },
      cache: { enabled: false },
    },
  });
  const clients: RawClient[] = [];
  for (const stack of stacks) {
    for (let i = 0; i < 4; i++)
      clients.push(await openRaw(t, stack.port, { user: 'admin', password: 'secret' }));
  }
  const COMMAND = '/system/identity/print';
  let isRunning = true;
  let failed = 0;
  const load = clients.map(async (c) => {
    while (isRunning) {
      const replies = await c.call([COMMAND]);
      if (String(replies.at(-1)) !== '!done' || replies.some((s) => s.command === '!trap'))
        failed++;
    }
  });
  // Past the first burst, count what the router runs for a bounded number of steps.
  await eventually(() => ran(sim, COMMAND) >= 30, 'the load to start');
  const trips = () => stacks.reduce((n, s) => n + (s.app.group?.group.stats().roundTrips ?? 0), 0);
  const from = { count: ran(sim, COMMAND), at: performance.now(), trips: trips() };
  await eventually(
    () => ran(sim, COMMAND) - from.count >= 200,
    'two hundred commands at the router',
    4000,
  );
  const to = { count: ran(sim, COMMAND), at: performance.now(), trips: trips() };
  isRunning = false;
  await Promise.all(load);
  const rate = ((to.count - from.count) * 1000) / (to.at - from.at);
  const perCommand = (to.trips - from.trips) / (to.count - from.count);
  t.comment(
    `group rate ${rate.toFixed(1)}/s for 50/s; Redis round trips per command ${perCommand.toFixed(3)}`,
  );
  t.ok(rate <= 50 * 1.05, `at most 5% over the group's 50/s (${rate.toFixed(1)}/s)`);
  t.ok(rate >= 50 * 0.9, `the group's budget is used (${rate.toFixed(1)}/s)`);
  t.equal(failed, 0, 'no command was refused');
  t.ok(
    perCommand <= 0.2,
    `Redis stays off the per-command path (${perCommand.toFixed(3)} calls per command)`,
  );
});

t.test(
  'Redis killed and restarted under load: no client command fails, health says degraded meanwhile',
  async (t) => {
    const own = await startRedis();
    t.teardown(() => own.stop());
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
    const stacks = await replicas(t, sim, {
      url: own.url,
      config: {
        flow: { rateLimit: { bucketSize: 200, refillTokens: 100, refillIntervalMs: 100 } },
      },
    });
    const clients: RawClient[] = [];
    for (const stack of stacks) {
      for (let i = 0; i < 2; i++)
        clients.push(await openRaw(t, stack.port, { user: 'admin', password: 'secret' }));
    }
    let isRunning = true;
    const failures: string[] = [];
    let answered = 0;
    const load = clients.map(async (c, i) => {
      for (let n = 0; isRunning; n++) {
        const words =
          n % 3 === 0
            ? ['/ip/hotspot/user/set', '=.id=*1', `=comment=c${i}|${n}`]
            : ['/ip/hotspot/user/print', '=.proplist=name,comment'];
        const replies = await c.call(words);
        answered++;
        if (replies.some((s) => s.command === '!trap')) failures.push(text(replies).join(' '));
      }
    });
    const health = async (stack: Stack) => {
      const res = await fetch(`http://127.0.0.1:${stack.app.adminPort}/monitoring/health`);
      return (await res.json()) as { status: string; reasons?: string[]; shared?: { up: boolean } };
    };
    await eventually(() => answered >= 30, 'the load to start');
    await own.kill();
    await eventually(
      () => stacks.every((s) => s.app.group?.snapshot().isUp === false),
      'every replica to notice',
    );
    const down = await health(stacks[1] as Stack);
    t.equal(down.status, 'degraded');
    t.match(down.reasons?.join(' '), /shared state unreachable/);
    const ready = await fetch(`http://127.0.0.1:${stacks[1]?.app.adminPort}/monitoring/ready`);
    t.equal(ready.status, 200, 'ready stays true: the replica serves');
    const during = answered;
    await eventually(() => answered >= during + 30, 'commands answered while Redis is away');
    await own.restart();
    await eventually(
      () => stacks.every((s) => s.app.group?.snapshot().isUp === true),
      'sharing to resume',
      1000,
    );
    const after = answered;
    await eventually(() => answered >= after + 30, 'commands answered after Redis came back');
    isRunning = false;
    await Promise.all(load);
    t.same(failures, [], 'no client command failed');
    t.equal((await health(stacks[0] as Stack)).shared?.up, true);
  },
);

t.test('the admin views and metrics name the replica and the group state', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
  const [r1, r2] = (await replicas(t, sim, {
    count: 2,
    router: { maxSessions: 6 },
    config: {
      cache: { listen: { enabled: false } },
      monitoring: { host: '127.0.0.1', port: 0, businessPollMs: 0, token: TOKEN },
    },
  })) as [Stack, Stack];
  const writer = await openRaw(t, r1.port, { user: 'admin', password: 'secret' });
  await writer.call(['/ip/hotspot/user/set', '=.id=*1', '=comment=x']);
  for (let i = 0; i < 12; i++) await writer.call(['/system/identity/print']);
  await eventually(
    () => (r2.app.group?.group.stats().invalidationsReceived ?? 0) >= 1,
    'replica 2 to hear the write',
  );
  const json = async (stack: Stack, page: string) =>
    (await (
      await fetch(`http://127.0.0.1:${stack.app.adminPort}/monitoring/${page}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as unknown;
  const metricsOf = async (stack: Stack) =>
    (await fetch(`http://127.0.0.1:${stack.app.adminPort}/monitoring/metrics`)).text();
  t.match(await json(r2, 'health'), {
    status: 'ok',
    replica: 'r2',
    shared: { up: true, replicas: 2, reason: null },
  });
  t.same(await json(r2, 'ready'), { status: 'ready' });
  t.match(await json(r1, 'status'), { replica: 'r1', shared: { up: true } });
  t.match(await json(r1, 'pools'), { pools: [{ router: 'default', replica: 'r1' }] });
  const metrics1 = await metricsOf(r1);
  t.match(metrics1, /rosgate_shared_up\{router="default",replica="r1"\} 1/);
  t.match(metrics1, /rosgate_shared_replicas\{router="default",replica="r1"\} 2/);
  t.match(metrics1, /rosgate_shared_invalidations_sent_total\{router="default",replica="r1"\} 1/);
  t.match(metrics1, /rosgate_shared_leases_total\{router="default",replica="r1"\} [1-9]/);
  t.match(metrics1, /rosgate_shared_sessions_held\{router="default",replica="r1"\} [1-9]/);
  t.match(metrics1, /rosgate_shared_round_trips_total\{replica="r1"\} [1-9]/);
  t.match(metrics1, /rosgate_shared_fallbacks_total\{replica="r1"\} \d/);
  const metrics2 = await metricsOf(r2);
  t.match(
    metrics2,
    /rosgate_shared_invalidations_received_total\{router="default",replica="r2"\} 1/,
  );
  t.match(metrics2, /rosgate_shared_cache_flushes_total\{router="default",replica="r2"\} 0/);
  t.match(metrics2, /rosgate_shared_timeouts_total\{replica="r2"\} \d/);
  t.match(metrics2, /rosgate_shared_republished_total\{replica="r2"\} 0/);
  t.ok(
    r1.logs.some(
      (line) => line['replica'] === 'r1' && line['msg'] === 'joined the group of replicas',
    ),
    'log lines name the replica',
  );
});

t.test(
  'Redis that stops answering holds no command longer than the fallback timeout',
  async (t) => {
    const own = await startRedis();
    t.teardown(() => own.stop());
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
    const [r1, r2] = (await replicas(t, sim, {
      url: own.url,
      count: 2,
      router: { maxSessions: 10 },
      config: { policy: { lockout: { maxAttempts: 50 } } },
    })) as [Stack, Stack];
    const c1 = await openRaw(t, r1.port, { user: 'admin', password: 'secret' });
    const c2 = await openRaw(t, r2.port, { user: 'admin', password: 'secret' });
    // Redis busy for 3 s: every call into it gets no answer meanwhile.
    const sleeping = own.command('DEBUG', 'SLEEP', '3');
    const slowest: number[] = [];
    const timed = async (c: RawClient, words: string[]) => {
      const started = performance.now();
      const replies = await c.call(words);
      slowest.push(performance.now() - started);
      return replies;
    };
    for (let i = 0; i < 4; i++) {
      const write = await timed(c1, ['/ip/hotspot/user/set', '=.id=*1', `=comment=slow|${i}`]);
      t.notOk(
        write.some((s) => s.command === '!trap'),
        `write ${i} answered`,
      );
      await timed(c2, ['/system/identity/print']);
    }
    const guesser = await openRaw(t, r2.port);
    await timed(guesser, ['/login', '=name=admin', '=password=wrong']);
    await sleeping;
    t.ok(
      Math.max(...slowest) < 2000,
      `no command waited on Redis (slowest ${Math.max(...slowest).toFixed(0)} ms of a 3000 ms stall)`,
    );
    await eventually(() => r1.app.group?.snapshot().isUp === true, 'Redis to count as back');
  },
);

t.test('a replica that cannot bind its port leaves the group it was given', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const { port } = blocker.address() as net.AddressInfo;
  const { config } = validateConfig(
    {
      routers: [
        {
          host: '127.0.0.1',
          port: sim.port,
          password: 'secret',
          listen: { host: '127.0.0.1', port },
        },
      ],
      monitoring: { enabled: false },
      audit: { enabled: false },
      shared: { url: redis.url, prefix: `t${randomUUID().slice(0, 8)}:`, replicaId: 'lost' },
    },
    {},
  );
  const app = createApp(config, createLogger('silent', process.stdout));
  await t.rejects(app.start(), { code: 'EADDRINUSE' });
  t.equal(app.group?.snapshot().isUp, false, 'the group is closed, not left connected');
});
