import t from 'tap';
import type { SessionTicket } from '../../src/shared/index.js';
import { cuttableRelay } from '../fixtures/cuttable-relay.js';
import { eventually } from '../fixtures/eventually.js';
import { startRedis } from '../fixtures/redis-server.js';
import {
  eventuallyDefined,
  startReplicas,
  type VirtualClock,
} from '../fixtures/shared-replicas.js';

const redis = await startRedis();
t.teardown(() => redis.stop());

async function acquireAll(
  budgets: readonly { tryAcquire(): Promise<SessionTicket | undefined> }[],
  each: number,
): Promise<SessionTicket[]> {
  const tickets = await Promise.all(
    budgets.flatMap((b) => Array.from({ length: each }, () => b.tryAcquire())),
  );
  return tickets.filter((ticket) => ticket !== undefined);
}

t.test('three replicas together never hold more sessions than the group cap', async (t) => {
  const groups = await startReplicas(t, redis.url, 3);
  const budgets = groups.map((g) => g.sessionBudget('core', { maxSessions: 4 }));
  const granted = await acquireAll(budgets, 3);
  t.equal(granted.length, 4);
  t.same(
    budgets.reduce((sum, b) => sum + b.stats().refused, 0),
    5,
    'the other five were refused',
  );
  t.match(granted[0]!.id, /^r\d:\d+$/, 'a lease is replica:session');
  t.equal(
    budgets.reduce((sum, b) => sum + b.stats().held, 0),
    4,
  );
});

t.test('a released session lets another replica open one', async (t) => {
  const [a, b] = await startReplicas(t, redis.url, 2);
  const ba = a!.sessionBudget('core', { maxSessions: 1 });
  const bb = b!.sessionBudget('core', { maxSessions: 1 });
  const ticket = await ba.tryAcquire();
  t.ok(ticket);
  t.equal(await bb.tryAcquire(), undefined);
  ticket!.release();
  ticket!.release();
  t.equal(ba.stats().held, 0);
  const other = await eventuallyDefined(() => bb.tryAcquire(), 'the freed lease');
  t.ok(other, 'the freed lease is available to the other replica');
  t.equal(bb.stats().groupHeld, 1);
});

t.test("a crashed replica's leases stop counting once their TTL has passed", async (t) => {
  const clock: VirtualClock = { now: 1_000_000 };
  const [a, b, c] = await startReplicas(t, redis.url, 3, { clock });
  const budgets = [a!, b!, c!].map((g) => g.sessionBudget('core', { maxSessions: 3 }));
  t.equal((await acquireAll([budgets[2]!], 2)).length, 2, 'the third replica holds two');
  t.ok(await budgets[0]!.tryAcquire());
  c!.destroy();
  t.equal(await budgets[1]!.tryAcquire(), undefined, 'full while the crashed leases live');
  clock.now += 14_999;
  await a!.heartbeat();
  t.equal(await budgets[1]!.tryAcquire(), undefined, 'still within 15 s');
  clock.now += 1;
  t.equal((await acquireAll([budgets[1]!], 3)).length, 2, 'both crashed leases are free at 15 s');
});

t.test('the heartbeat renews the leases of a live replica', async (t) => {
  const clock: VirtualClock = { now: 1_000_000 };
  const [a, b] = await startReplicas(t, redis.url, 2, { clock });
  const ba = a!.sessionBudget('core', { maxSessions: 1, leaseTtlMs: 1000 });
  const bb = b!.sessionBudget('core', { maxSessions: 1, leaseTtlMs: 1000 });
  t.ok(await ba.tryAcquire());
  for (let i = 0; i < 5; i++) {
    clock.now += 900;
    await a!.heartbeat();
    t.equal(await bb.tryAcquire(), undefined, `held after ${i + 1} renewals`);
  }
  t.equal(ba.stats().groupHeld, 1);
});

t.test('with real Redis TIME a short lease TTL expires by itself', async (t) => {
  const [a, b] = await startReplicas(t, redis.url, 2);
  const ba = a!.sessionBudget('short', { maxSessions: 1, leaseTtlMs: 100 });
  const bb = b!.sessionBudget('short', { maxSessions: 1, leaseTtlMs: 100 });
  t.ok(await ba.tryAcquire());
  a!.destroy();
  t.ok(await eventuallyDefined(() => bb.tryAcquire(), 'the lease to expire'));
});

t.test(
  'with Redis down a replica holds its share; when Redis is back the heartbeat registers them',
  async (t) => {
    const server = await startRedis();
    t.teardown(() => server.stop());
    const groups = await startReplicas(t, server.url, 3, { probeMs: 20 });
    const budgets = groups.map((g) => g.sessionBudget('core', { maxSessions: 7 }));
    const early = await budgets[0]!.tryAcquire();
    t.ok(early);
    await server.kill();
    await eventually(() => groups.every((g) => !g.isUp), 'every replica to notice');
    t.equal(budgets[0]!.localShare, 2, 'floor(7 / 3)');
    const granted = await acquireAll([budgets[0]!], 3);
    t.equal(granted.length, 1, 'one more makes its share of two');
    t.same(budgets[0]!.stats(), {
      held: 2,
      groupHeld: 1,
      refused: 2,
      quietRefusals: 0,
      localGrants: 1,
    });
    early!.release();
    t.equal(budgets[0]!.stats().held, 1);
    await server.restart();
    await eventually(() => groups[0]!.isUp, 'the replica to come back');
    await groups[0]!.heartbeat();
    const members = await server.command('ZRANGE', groups[0]!.key('core', 'sessions'), '0', '-1');
    t.match(
      members,
      new RegExp(granted[0]!.id),
      'the session opened during the outage is registered',
    );
    t.notMatch(members, new RegExp(`${early!.id}\\r`), 'the one released during the outage is not');
    t.equal(budgets[0]!.stats().groupHeld, 1);
  },
);

t.test(
  'a replica cut off from Redis longer than a lease lives keeps only its share; Redis back, the cap goes',
  async (t) => {
    const relay = await cuttableRelay(t, redis.port);
    const [b] = await startReplicas(t, redis.url, 1);
    const [a] = await startReplicas(t, relay.url, 1, {
      prefix: b!.prefix,
      replicaId: 'cut',
      probeMs: 20,
    });
    await b!.heartbeat();
    const options = { maxSessions: 3, leaseTtlMs: 200 };
    const ba = a!.sessionBudget('core', options);
    const bb = b!.sessionBudget('core', options);
    const changes: number[] = [];
    ba.onSessionCapChange(() => changes.push(ba.sessionCap));
    t.equal((await acquireAll([ba], 3)).length, 3, 'the cut-off replica holds every session');
    t.equal(ba.sessionCap, Infinity, 'no cap of its own while its leases stand');
    relay.cut();
    await eventually(() => !a!.isUp, 'the replica to notice');
    t.equal(await bb.tryAcquire(), undefined, 'the group is full while the leases live');
    await eventually(() => changes.length === 1, 'the leases to lapse');
    t.same(changes, [1], 'its share of 3 between two replicas');
    t.equal((await acquireAll([bb], 3)).length, 3, 'the other replica takes the lapsed leases');
    relay.heal();
    await eventually(() => a!.isUp, 'the replica to come back');
    await a!.heartbeat();
    t.same(changes, [1, Infinity], 'Redis confirms its leases again: no cap');
  },
);

t.test('a lone replica may always hold one session while Redis is down', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const groups = await startReplicas(t, server.url, 3, { probeMs: 20 });
  const budget = groups[0]!.sessionBudget('core', { maxSessions: 2 });
  await server.kill();
  await eventually(() => !groups[0]!.isUp, 'the replica to notice');
  t.equal(budget.localShare, 1, 'max(1, floor(2 / 3))');
  t.ok(await budget.tryAcquire());
  t.equal(await budget.tryAcquire(), undefined);
});

t.test("a graceful close releases the replica's leases", async (t) => {
  const [a, b] = await startReplicas(t, redis.url, 2);
  const ba = a!.sessionBudget('close', { maxSessions: 2 });
  const bb = b!.sessionBudget('close', { maxSessions: 2 });
  t.equal((await acquireAll([ba], 2)).length, 2);
  t.equal(await bb.tryAcquire(), undefined);
  await a!.close();
  t.ok(await bb.tryAcquire(), 'the closed replica left room');
});

t.test('a renewal under way keeps an acquire that has not been answered yet', async (t) => {
  const [a] = await startReplicas(t, redis.url, 1);
  const budget = a!.sessionBudget('race', { maxSessions: 5 });
  const acquiring = budget.tryAcquire();
  const renewing = budget.renew();
  const [ticket] = await Promise.all([acquiring, renewing]);
  await budget.renew();
  const members = await redis.command('ZRANGE', a!.key('race', 'sessions'), '0', '-1');
  t.match(members, new RegExp(ticket!.id));
});

t.test('options are checked and name the option', async (t) => {
  const [g] = await startReplicas(t, redis.url, 1);
  t.throws(() => g!.sessionBudget('x', { maxSessions: 0 }), /maxSessions/);
  t.throws(() => g!.sessionBudget('x', { maxSessions: 1.5 }), /maxSessions/);
  t.throws(() => g!.sessionBudget('x', { maxSessions: 1, leaseTtlMs: 0 }), /leaseTtlMs/);
});
