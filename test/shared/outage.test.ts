/**
 * Redis killed and restarted, and Redis slow, under three replicas using
 * every primitive: nothing throws, every call answers (locally) at once or
 * within the operation timeout, and sharing resumes when Redis is back.
 */
import t from 'tap';
import type { SessionTicket } from '../../src/shared/index.js';
import { eventually } from '../fixtures/eventually.js';
import { startRedis } from '../fixtures/redis-server.js';
import { startReplicas } from '../fixtures/shared-replicas.js';

const SHAPE = { capacity: 10, refillTokens: 5, refillIntervalMs: 100 };
const ADDRESS = '198.51.100.23';

t.test(
  'Redis killed and restarted: every replica falls back, nothing throws, sharing resumes and local lockouts are re-published',
  async (t) => {
    const server = await startRedis();
    t.teardown(() => server.stop());
    const groups = await startReplicas(t, server.url, 3, { probeMs: 50 });
    const replicas = groups.map((g) => ({
      group: g,
      bucket: g.rateBucket('core', SHAPE),
      budget: g.sessionBudget('core', { maxSessions: 6 }),
      lockout: g.lockout('core', { maxAttempts: 3 }),
      bus: g.invalidationBus('core'),
    }));
    await eventually(() => replicas.every((r) => r.bus.isLive), 'every bus live');
    const order: string[] = [];
    for (const r of replicas) {
      r.group.on('down', () => order.push(`${r.group.replicaId} down`));
      r.group.on('up', () => order.push(`${r.group.replicaId} up`));
    }
    const tickets: SessionTicket[] = [];
    for (const r of replicas) tickets.push((await r.budget.tryAcquire())!);

    const leasesBefore = replicas[0]!.group.stats().leases;
    await server.kill();
    // The lost connection is noticed at once: no command has to time out first.
    await eventually(() => groups.every((g) => !g.isUp), 'every replica to fall back');
    t.same(order.sort(), ['r1 down', 'r2 down', 'r3 down']);

    const local = replicas[0]!;
    t.ok(local.bucket.tryTake(), 'the rate limit spends the share');
    t.ok(await local.budget.tryAcquire(), 'a session within the share of 6 / 3');
    t.equal(await local.budget.tryAcquire(), undefined, 'and no more');
    for (let i = 0; i < 3; i++) await local.lockout.recordFailure(ADDRESS, `guess${i}`);
    t.ok(local.lockout.lockedUntil(ADDRESS, 'x') > 0, 'the lockout counts locally');
    t.equal(await local.bus.publish('/ip/address'), false, 'the invalidation is kept');
    t.equal(await local.bus.menuVersion('/ip/address'), undefined);
    t.notOk(local.bus.isLive);
    t.ok(local.group.stats().fallbacks > 0, 'counted as fallbacks');

    const heard: string[] = [];
    replicas[2]!.bus.on('invalidate', (e) => heard.push(e.menu));
    await server.restart();
    await eventually(() => groups.every((g) => g.isUp), 'sharing to resume');
    t.equal(order.filter((o) => o.endsWith('up')).length, 3);
    await eventually(() => heard.includes('/ip/address'), 'the kept invalidation to arrive');
    await eventually(() => local.lockout.stats().unpublished === 0, 'the re-publication');
    t.ok(
      (await replicas[1]!.lockout.check(ADDRESS, 'x')) > 0,
      'a lockout taken during the outage holds on another replica',
    );
    await Promise.all(groups.map((g) => g.heartbeat()));
    t.equal(replicas[0]!.budget.stats().groupHeld, 4, 'sessions re-registered: three plus one');
    local.bucket.tryTake();
    await local.bucket.settle();
    t.ok(local.bucket.tryTake(), 'the rate limit spends a lease again');
    t.ok(local.group.stats().leases > leasesBefore, 'leased after Redis came back');
    await eventually(() => replicas.every((r) => r.bus.isLive), 'every bus live again');
  },
);

t.test('Redis slow (DEBUG SLEEP): no call is held longer than the operation timeout', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const groups = await startReplicas(t, server.url, 2, { opTimeoutMs: 150, probeMs: 50 });
  const g = groups[0]!;
  const bucket = g.rateBucket('core', SHAPE);
  const budget = g.sessionBudget('core', { maxSessions: 4 });
  const lockout = g.lockout('core');
  const bus = g.invalidationBus('core');
  await eventually(() => bus.isLive, 'the bus live');

  let isAwake = false;
  const sleeping = server.command('DEBUG', 'SLEEP', '3').then(() => (isAwake = true));
  // Let the DEBUG command reach Redis before ours (a few ms on any machine).
  await new Promise((resolve) => setTimeout(resolve, 30));
  const answers = await Promise.all([
    budget.tryAcquire(),
    lockout.check(ADDRESS, 'u'),
    lockout.recordFailure(ADDRESS, 'u'),
    bus.publish('/ip/address'),
    bus.menuVersion('/ip/address'),
    g.heartbeat(),
    (bucket.tryTake(), bucket.settle()),
  ]);
  t.notOk(isAwake, 'every call answered while Redis still slept');
  t.ok(answers[0], 'the session came from the local share');
  t.equal(answers[1], 0);
  t.same(answers[2], []);
  t.equal(answers[3], false);
  t.equal(answers[4], undefined);
  t.equal(answers[5], false);
  t.notOk(g.isUp, 'the group fell back');
  t.ok(g.stats().timeouts >= 1);
  t.equal(g.stats().downReason, 'timeout');
  t.ok(bucket.tryTake(), 'the rate limit spends the share while Redis sleeps');
  await sleeping;
  await eventually(() => g.isUp, 'the group to come back when Redis wakes');
});
