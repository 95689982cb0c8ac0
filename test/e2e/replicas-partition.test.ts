/**
 * A replica cut off from Redis while the others still reach it (a network
 * partition): once its session leases have lapsed, the others may take
 * them, so the cut-off replica keeps only its share of the router's
 * sessions; when Redis is back its leases are confirmed and the cap goes.
 * Two full apps, one simulator, one real redis-server; replica A reaches
 * Redis through a relay the test cuts.
 */
import t from 'tap';
import { cuttableRelay } from '../fixtures/cuttable-relay.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw } from '../fixtures/raw-client.js';
import { startRedis } from '../fixtures/redis-server.js';
import { groupPrefix, replicaStacks, type ReplicaStackOptions } from '../fixtures/replicas.js';
import { startTestSimulator, type Stack } from '../fixtures/stack.js';

const CAP = 3;
const USER = { user: 'billing', password: 'billing-pw' };

t.test(
  'a replica cut off from Redis past its leases keeps only its share while the other takes the rest',
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const relay = await cuttableRelay(t, redis.port);
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
    // The cache's listens ride on the sessions: a retired one that carries them is cut after acquireTimeoutMs.
    const pool = { max: CAP, maxInFlightPerSession: 8, acquireTimeoutMs: 1000 };
    const common: ReplicaStackOptions = {
      prefix: groupPrefix(),
      count: 1,
      // Short leases, renewed often: the test waits for a lapse, not 15 s.
      app: { shared: { replicaTtlMs: 600, heartbeatMs: 100, probeMs: 50 } },
      config: { users: [{ name: USER.user, password: USER.password }] },
    };
    const [a] = (await replicaStacks(t, sim, {
      ...common,
      url: relay.url,
      router: { maxSessions: CAP, pool: { ...pool, min: CAP } },
    })) as [Stack];
    await eventually(() => a.router.pool.stats.ready === CAP, 'replica A to hold the whole cap');
    const [b] = (await replicaStacks(t, sim, {
      ...common,
      url: redis.url,
      first: 2,
      router: { maxSessions: CAP, pool: { ...pool, min: 0 } },
    })) as [Stack];

    await eventually(() => a.app.group?.group.replicas === 2, 'A to count both replicas');
    // Prints of the watched menus: A's cache starts its listens on its sessions.
    const billing = await openRaw(t, a.port, USER);
    for (const menu of [
      '/ip/hotspot/user',
      '/ip/hotspot/user/profile',
      '/ppp/secret',
      '/ppp/profile',
    ])
      await billing.call([`${menu}/print`]);
    await eventually(() => sim.activeStreams() === 4, "A's listens to run");

    relay.cut();
    await eventually(
      () => a.router.pool.stats.ready === 1,
      'A to keep only its share, floor(3 / 2)',
    );
    await eventually(() => sim.counters.sessionsNow === 1, 'the router to see the other two close');

    // B wants the whole cap: three commands at once, one per session.
    const clients = await Promise.all([1, 2, 3].map(() => openRaw(t, b.port, USER)));
    const replies = await Promise.all(clients.map((c) => c.call(['/system/clock/print'])));
    t.ok(
      replies.every((r) => String(r.at(-1)) === '!done' && !r.some((s) => s.command === '!trap')),
      "B's commands ran on the leases A let lapse",
    );
    t.ok(
      sim.counters.sessionsNow <= CAP + 1,
      `the router holds at most the cap and A's share (${sim.counters.sessionsNow})`,
    );

    relay.heal();
    await eventually(() => a.app.group?.group.isUp === true, 'A to reach Redis again');
    await eventually(
      () => a.router.pool.stats.ready === CAP || sim.counters.sessionsNow >= CAP,
      'A to grow again once its leases are confirmed, as far as the group has room',
    );
    const viaA = await openRaw(t, a.port, USER);
    t.equal(String((await viaA.call(['/system/identity/print'])).at(-1)), '!done', 'A serves');
  },
);
