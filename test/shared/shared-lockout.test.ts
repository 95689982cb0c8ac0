import t from 'tap';
import { SharedLockout } from '../../src/shared/index.js';
import { deafenable } from '../fixtures/deaf-subscriber.js';
import { eventually } from '../fixtures/eventually.js';
import { FakeSharedLink, settle } from '../fixtures/fake-shared-link.js';
import { startRedis } from '../fixtures/redis-server.js';
import { startReplicas } from '../fixtures/shared-replicas.js';

const redis = await startRedis();
t.teardown(() => redis.stop());

const ADDRESS = '198.51.100.7';

t.test('five failures spread over three replicas lock the address on all of them', async (t) => {
  const groups = await startReplicas(t, redis.url, 3);
  const lockouts = groups.map((g) => g.lockout('core', { maxAttempts: 5 }));
  for (let i = 0; i < 4; i++) {
    t.same(
      await lockouts[i % 3]!.recordFailure(ADDRESS, `user${i}`),
      [],
      `failure ${i + 1} locks nothing`,
    );
  }
  const began = await lockouts[1]!.recordFailure(ADDRESS, 'user4');
  t.match(began, [{ scope: 'address' }], 'the fifth locks the address');
  t.ok(began[0]!.untilMs > groups[1]!.now());
  for (const lockout of lockouts) {
    t.ok((await lockout.check(ADDRESS, 'someone')) > 0, 'every replica refuses the address');
  }
  t.equal(await lockouts[2]!.check('203.0.113.9', 'someone'), 0, 'another address is free');
});

t.test('a lock known to a replica costs no Redis call', async (t) => {
  const [a, b] = await startReplicas(t, redis.url, 2);
  const la = a!.lockout('core', { maxAttempts: 2 });
  const lb = b!.lockout('core', { maxAttempts: 2 });
  await la.recordFailure(ADDRESS, 'u');
  await la.recordFailure(ADDRESS, 'u');
  t.equal(lb.lockedUntil(ADDRESS, 'u'), 0, 'not known on the other replica before it asks');
  t.ok((await lb.check(ADDRESS, 'u')) > 0);
  const trips = b!.stats().roundTrips;
  for (let i = 0; i < 10; i++) t.ok((await lb.check(ADDRESS, 'u')) > 0);
  t.ok(lb.lockedUntil(ADDRESS, 'u') > 0);
  t.equal(b!.stats().roundTrips, trips, 'a locked guesser is answered from memory');
  t.equal(lb.stats().refusedFromMemory, 10);
  t.equal(lb.stats().locked, 2, 'the pair and the address');
});

t.test('failures for one user from many addresses lock the user', async (t) => {
  const groups = await startReplicas(t, redis.url, 3);
  const lockouts = groups.map((g) => g.lockout('core', { userMaxAttempts: 6 }));
  let began: unknown[] = [];
  for (let i = 0; i < 6; i++) began = await lockouts[i % 3]!.recordFailure(`192.0.2.${i}`, 'admin');
  t.match(began, [{ scope: 'user' }]);
  t.ok(
    (await lockouts[0]!.check('192.0.2.200', 'admin')) > 0,
    'the user is locked from a new address',
  );
  t.equal(await lockouts[0]!.check('192.0.2.200', 'billing'), 0);
});

t.test('a pair can lock before its address does', async (t) => {
  const [a] = await startReplicas(t, redis.url, 1);
  const lockout = a!.lockout('core', { maxAttempts: 10, pairMaxAttempts: 2 });
  await lockout.recordFailure(ADDRESS, 'alice');
  t.match(await lockout.recordFailure(ADDRESS, 'alice'), [{ scope: 'pair' }]);
  t.ok((await lockout.check(ADDRESS, 'alice')) > 0);
  t.equal(await lockout.check(ADDRESS, 'bob'), 0, 'the address itself is not locked');
  t.same(
    await lockout.recordFailure(ADDRESS, 'alice'),
    [],
    'a locked pair counts no more failures',
  );
});

t.test("a success forgives its address's failures, not its user's", async (t) => {
  const [a, b] = await startReplicas(t, redis.url, 2);
  const options = { maxAttempts: 3, userMaxAttempts: 3 };
  const la = a!.lockout('core', options);
  const lb = b!.lockout('core', options);
  await la.recordFailure(ADDRESS, 'carol');
  await lb.recordFailure(ADDRESS, 'carol');
  await la.recordSuccess(ADDRESS, 'dave');
  await la.recordSuccess(`::ffff:${ADDRESS}`, 'carol');
  const began = await lb.recordFailure('192.0.2.1', 'carol');
  t.match(began, [{ scope: 'user' }], "the user's count went on");
  t.same(await lb.recordFailure(ADDRESS, 'erin'), [], "the address's count started over");
});

t.test('an IPv4-mapped IPv6 address counts as the IPv4 address', async (t) => {
  const [a] = await startReplicas(t, redis.url, 1);
  const lockout = a!.lockout('core', { maxAttempts: 2 });
  await lockout.recordFailure(`::ffff:${ADDRESS}`, 'u');
  t.match(await lockout.recordFailure(ADDRESS, 'v'), [{ scope: 'address' }]);
});

t.test('a lock ends after its duration', async (t) => {
  const [a] = await startReplicas(t, redis.url, 1);
  const lockout = a!.lockout('core', { maxAttempts: 1, durationMs: 30 });
  await lockout.recordFailure(ADDRESS, 'u');
  t.ok(lockout.lockedUntil(ADDRESS, 'u') > 0);
  await eventually(() => lockout.lockedUntil(ADDRESS, 'u') === 0, 'the lock to end in memory');
  t.equal(await lockout.check(ADDRESS, 'u'), 0, 'and in Redis');
});

t.test(
  'with Redis down failures count locally; when it is back they and the locks are re-published',
  async (t) => {
    const server = await startRedis();
    t.teardown(() => server.stop());
    const groups = await startReplicas(t, server.url, 2, { probeMs: 20 });
    const options = { maxAttempts: 3, userMaxAttempts: 100 };
    const [la, lb] = groups.map((g) => g.lockout('core', options));
    await server.kill();
    await eventually(() => groups.every((g) => !g.isUp), 'both replicas to notice');
    t.same(await la!.recordFailure(ADDRESS, 'u1'), []);
    t.same(await la!.recordFailure(ADDRESS, 'u2'), []);
    t.match(
      await la!.recordFailure(ADDRESS, 'u3'),
      [{ scope: 'address' }],
      'locked by local counters',
    );
    t.ok((await la!.check(ADDRESS, 'u4')) > 0);
    t.equal(await lb!.check(ADDRESS, 'u4'), 0, 'the other replica cannot know yet');
    await la!.recordFailure('192.0.2.50', 'u5');
    await la!.recordFailure('192.0.2.50', 'u6');
    // Five pairs and five users once each, 192.0.2.50 twice; the locked address's count became its lock.
    t.equal(la!.stats().unpublished, 5 + 5 + 2, 'pairs, addresses and users counted locally');
    await server.restart();
    await eventually(() => la!.stats().unpublished === 0, 'the re-publication');
    t.ok(groups[0]!.stats().republished > 0);
    await eventually(() => groups[1]!.isUp, 'the other replica to come back');
    t.ok(
      (await lb!.check(ADDRESS, 'u4')) > 0,
      'the lock taken in the outage holds on the other replica',
    );
    t.match(
      await lb!.recordFailure('192.0.2.50', 'u7'),
      [{ scope: 'address' }],
      'the local failures were added',
    );
  },
);

t.test('a local lock that ended before Redis came back is not published', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const [a] = await startReplicas(t, server.url, 1, { probeMs: 3_600_000 });
  const lockout = a!.lockout('core', { maxAttempts: 1, durationMs: 20 });
  await server.kill();
  await eventually(() => !a!.isUp, 'the replica to notice');
  t.match(await lockout.recordFailure(ADDRESS, 'u'), [{ scope: 'pair' }, { scope: 'address' }]);
  await eventually(() => lockout.lockedUntil(ADDRESS, 'u') === 0, 'the local lock to end');
  await server.restart();
  await eventually(() => a!.isUp, 'Redis back');
  await lockout.republish();
  t.equal(await lockout.check(ADDRESS, 'u'), 0);
});

t.test('failures whose window ended during the outage are not published', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const clock = { now: 1_000 };
  const [a] = await startReplicas(t, server.url, 1, { probeMs: 3_600_000, clock });
  const lockout = a!.lockout('core', { maxAttempts: 2, windowMs: 60_000 });
  await server.kill();
  await eventually(() => !a!.isUp, 'the replica to notice');
  await lockout.recordFailure(ADDRESS, 'u');
  t.equal(lockout.stats().unpublished, 3);
  clock.now += 60_001;
  await server.restart();
  await eventually(() => a!.isUp, 'Redis back');
  await lockout.republish();
  t.equal(lockout.stats().unpublished, 0);
  // One more failure now is the first of a new window, not the second of the old one.
  t.same(await lockout.recordFailure(ADDRESS, 'u'), [], 'not locked');
});

t.test('a failed re-publication is tried again at the next return of Redis', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const [a] = await startReplicas(t, server.url, 1, { probeMs: 3_600_000 });
  const lockout = a!.lockout('core', { maxAttempts: 5 });
  await server.kill();
  await eventually(() => !a!.isUp, 'the replica to notice');
  await lockout.recordFailure(ADDRESS, 'u');
  await lockout.republish();
  t.equal(lockout.stats().unpublished, 3, 'nothing was lost');
});

t.test('a local count starts over once its window has passed', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const clock = { now: 1_000 };
  const [a] = await startReplicas(t, server.url, 1, { probeMs: 3_600_000, clock });
  const lockout = a!.lockout('core', { maxAttempts: 2, windowMs: 1_000 });
  await server.kill();
  await eventually(() => !a!.isUp, 'the replica to notice');
  await lockout.recordFailure(ADDRESS, 'u');
  clock.now += 1_000;
  t.same(await lockout.recordFailure(ADDRESS, 'u'), [], 'the first failure left the window');
  t.match(await lockout.recordFailure(ADDRESS, 'u'), [{ scope: 'pair' }, { scope: 'address' }]);
  t.same(await lockout.recordFailure(ADDRESS, 'u'), [], 'locked keys count no more failures');
  t.equal(
    lockout.stats().unpublished,
    3,
    "only the user's count goes on (three since the window began again)",
  );
});

t.test('memory is bounded by maxTracked', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const [a] = await startReplicas(t, server.url, 1, { probeMs: 3_600_000 });
  const lockout = a!.lockout('core', { maxAttempts: 1, userMaxAttempts: 1, maxTracked: 2 });
  await server.kill();
  await eventually(() => !a!.isUp, 'the replica to notice');
  await lockout.recordFailure(ADDRESS, 'u');
  t.equal(lockout.stats().locked, 2, 'three locks, two remembered');
});

t.test('options are checked and name the option', async (t) => {
  const [g] = await startReplicas(t, redis.url, 1);
  t.throws(() => g!.lockout('x', { maxAttempts: 0 }), /maxAttempts/);
  t.throws(() => g!.lockout('x', { durationMs: 1.5 }), /durationMs/);
  t.throws(() => g!.lockout('x', { pairMaxAttempts: -1 }), /pairMaxAttempts/);
  t.ok(g!.lockout('x'), 'every option has a default');
});

t.test('a clear on one replica ends the lock in Redis and in every replica’s memory', async (t) => {
  const [a, b] = await startReplicas(t, redis.url, 2);
  const la = a!.lockout('core', { maxAttempts: 2 });
  const lb = b!.lockout('core', { maxAttempts: 2 });
  const heard: unknown[] = [];
  la.onClear((filter) => heard.push(filter));
  const stop = lb.onClear((filter) => heard.push(['b', filter]));
  stop();
  await la.recordFailure(ADDRESS, 'u');
  await la.recordFailure(ADDRESS, 'u');
  await la.recordFailure('192.0.2.9', 'other');
  t.ok(la.lockedUntil(ADDRESS, 'u') > 0, 'locked in the memory of the replica that counted');
  t.ok((await lb.check(ADDRESS, 'v')) > 0, 'and known to the other');
  const cleared = await lb.clear({ address: ADDRESS });
  t.match(
    cleared
      .map(({ scope, address, user }) => ({ scope, address, user }))
      .sort((x, y) => x.scope.localeCompare(y.scope)),
    [
      { scope: 'address', address: ADDRESS, user: undefined },
      { scope: 'pair', address: ADDRESS, user: 'u' },
    ],
    'the address and its pair, with when they would have ended',
  );
  t.ok(cleared.every((lock) => lock.untilMs > b!.now()));
  t.equal(lb.lockedUntil(ADDRESS, 'v'), 0, 'gone from the clearing replica at once');
  await eventually(() => la.lockedUntil(ADDRESS, 'u') === 0, 'the other replica to hear it');
  t.same(heard, [{ address: ADDRESS }], "the other replica's listener got the filter");
  t.equal(await la.check(ADDRESS, 'u'), 0, 'free in Redis');
  t.same(await la.recordFailure(ADDRESS, 'u'), [], 'the failures were forgotten too');
  t.ok((await la.recordFailure('192.0.2.9', 'other')).length > 0, 'another address kept its count');
});

t.test(
  'a clear published while a replica was resubscribing ends its lock once it is back',
  async (t) => {
    const deaf = deafenable();
    const [a] = await startReplicas(t, redis.url, 1, { replicaId: 'clearing' });
    const [b] = await startReplicas(t, redis.url, 1, { prefix: a!.prefix, connect: deaf.connect });
    const options = { maxAttempts: 2, userMaxAttempts: 2 };
    const la = a!.lockout('core', options);
    const lb = b!.lockout('core', options);
    const heard: unknown[] = [];
    lb.onClear((filter) => heard.push(filter));
    await eventually(() => b!.isSubscribed, 'the replica to subscribe');
    await lb.recordFailure(ADDRESS, 'u');
    await lb.recordFailure(ADDRESS, 'u');
    t.equal(lb.stats().locked, 3, 'the pair, the address and the user locked in memory');
    deaf.isDeaf = true;
    await la.clear({ user: 'u' });
    t.ok(lb.lockedUntil('192.0.2.1', 'u') > 0, 'the clear was lost on the way');
    await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await eventually(() => lb.lockedUntil('192.0.2.1', 'u') === 0, 'the locks to be rechecked');
    t.same(
      heard,
      [{ address: ADDRESS, user: 'u' }, { user: 'u' }],
      "the gate's listeners hear what went: the pair and the user",
    );
    t.ok(lb.lockedUntil(ADDRESS, 'someone') > 0, 'the address lock Redis still holds is kept');
    deaf.isDeaf = true;
    await la.clear({ address: ADDRESS });
    await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await eventually(() => lb.lockedUntil(ADDRESS, 'someone') === 0, 'the next recheck');
    t.same(heard.slice(2), [{ address: ADDRESS }], 'an address lock names its address alone');
  },
);

t.test(
  'a lock remembered across a Redis restart that lost it is dropped once Redis answers',
  async (t) => {
    const server = await startRedis();
    t.teardown(() => server.stop());
    const [a] = await startReplicas(t, server.url, 1, { probeMs: 20 });
    const lockout = a!.lockout('core', { maxAttempts: 2 });
    await lockout.recordFailure(ADDRESS, 'u');
    await lockout.recordFailure(ADDRESS, 'u');
    t.ok(lockout.lockedUntil(ADDRESS, 'u') > 0, 'locked in memory');
    await server.kill();
    await eventually(() => !a!.isUp, 'the replica to notice');
    await server.restart();
    await eventually(() => lockout.lockedUntil(ADDRESS, 'u') === 0, 'the lock Redis lost to go');
    t.ok(a!.isUp);
  },
);

t.test('a clear by user reaches the user and its pairs; no filter reaches all', async (t) => {
  const [a] = await startReplicas(t, redis.url, 1);
  const lockout = a!.lockout('core', { maxAttempts: 1, userMaxAttempts: 1 });
  // A trusted source, as the login gate passes it: `<source> <user>`.
  await lockout.recordFailure('127.0.0.1 ops', 'ops');
  await lockout.recordFailure('[weird]*', 'x*y');
  const byUser = await lockout.clear({ user: 'ops' });
  t.same(byUser.map((lock) => lock.scope).sort(), ['address', 'pair', 'user']);
  t.ok(
    byUser.every((l) => l.user === 'ops' && (l.scope === 'user' || l.address === '127.0.0.1')),
    'a trusted source names its address and user',
  );
  t.ok((await lockout.check('[weird]*', 'x*y')) > 0, 'another user is still locked');
  t.same(await lockout.clear({ address: '127.0.0.1', user: 'nobody' }), []);
  const all = await lockout.clear();
  t.equal(all.length, 3, "the odd names' pair, address and user");
  t.equal(await lockout.check('[weird]*', 'x*y'), 0);
});

t.test('a clear with Redis down clears this replica’s memory only', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const [a] = await startReplicas(t, server.url, 1, { probeMs: 3_600_000 });
  const lockout = a!.lockout('core', { maxAttempts: 1 });
  await server.kill();
  await eventually(() => !a!.isUp, 'the replica to notice');
  await lockout.recordFailure(ADDRESS, 'u');
  t.ok(lockout.lockedUntil(ADDRESS, 'u') > 0);
  t.same(await lockout.clear(), []);
  t.equal(lockout.lockedUntil(ADDRESS, 'u'), 0);
  t.equal(lockout.stats().unpublished, 0, 'nothing left to re-publish');
});

t.test('a clear message that is not one is ignored', async (t) => {
  const [a, b] = await startReplicas(t, redis.url, 2);
  const la = a!.lockout('core', { maxAttempts: 1 });
  const heard: { user?: string | undefined }[] = [];
  la.onClear((filter) => heard.push(filter));
  await la.recordFailure(ADDRESS, 'u');
  const channel = a!.key('core', 'lockout:clear');
  // Published until heard: the subscription is established after that.
  const probe = JSON.stringify({ origin: 'x', user: 'probe' });
  await eventually(async () => {
    await b!.send(['PUBLISH', channel, probe]);
    return heard.length > 0;
  }, 'the subscription');
  for (const message of ['not json', 'null', '{"origin":"x","address":7}', '{"user":[]}']) {
    await b!.send(['PUBLISH', channel, message]);
  }
  await b!.send(['PUBLISH', channel, JSON.stringify({ origin: 'r1', user: 'u' })]);
  // Messages arrive in order: once this one is heard, the others were.
  await b!.send(['PUBLISH', channel, JSON.stringify({ origin: 'x', user: 'someone-else' })]);
  await eventually(() => heard.some((h) => h.user === 'someone-else'), 'the last message');
  t.same(
    heard.filter((h) => h.user !== 'probe'),
    [{ user: 'someone-else' }],
    'only the well-formed clear of another replica',
  );
  t.ok(la.lockedUntil(ADDRESS, 'u') > 0, 'the lock is still known');
  t.equal(la.stats().locked, 2, 'the pair and the address');
});

t.test('a clear cut short by Redis going away returns what it ended so far', async (t) => {
  const link = new FakeSharedLink();
  const lockout = new SharedLockout(link, 'core');
  const clearing = lockout.clear({ user: 'u' });
  await settle();
  link.answer(['0', ['fake:{core}:fail:u:u', 'fake:{core}:fail:a:192.0.2.1']]);
  await settle();
  link.answer(['0', ['fake:{core}:lock:u:u']]);
  await settle();
  t.same(
    link.calls[0]?.keys,
    ['fake:{core}:fail:u:u', 'fake:{core}:lock:u:u'],
    'only the keys the filter reaches',
  );
  link.answer(undefined);
  t.same(await clearing, []);
  t.equal(link.calls.length, 0, 'nothing is published');
});

/** What COUNT_FAILURES answers for a login's three targets, each locked for a minute. */
const ALL_LOCKED = [60_000, 0, 60_000, 0, 60_000, 0];

t.test(
  "a lock reported by a check that another replica's clear overtook is not learned",
  async (t) => {
    const link = new FakeSharedLink();
    const lockout = new SharedLockout(link, 'core');
    // The check's script runs in Redis before the clear; the clear's message
    // (another connection) comes before the check's answer.
    const check = lockout.check(ADDRESS, 'u');
    link.subscriptions[0]?.onMessage(JSON.stringify({ origin: 'other', user: 'u' }));
    link.answer(ALL_LOCKED);
    t.equal(await check, 0, 'the check does not refuse by what the clear ended');
    t.equal(lockout.lockedUntil(ADDRESS, 'u'), 0, 'nor does this replica remember it');
    const again = lockout.check(ADDRESS, 'u');
    await settle();
    t.equal(link.calls.length, 1, 'the next check asks Redis');
    link.answer(ALL_LOCKED);
    t.ok((await again) > 0, 'and a lock Redis still holds is learned');
  },
);

/** The same with the user and the pair locked, what a clear of the user reaches. */
const USER_LOCKED = [60_000, 0, 0, 0, 60_000, 0];

t.test('a lock reported while this replica clears is not learned', async (t) => {
  const link = new FakeSharedLink();
  const lockout = new SharedLockout(link, 'core');
  const check = lockout.check(ADDRESS, 'u');
  const clearing = lockout.clear({ user: 'u' });
  await settle();
  // The check ran in Redis before the clear's deletes, and is answered during the clear.
  link.answer(USER_LOCKED);
  t.equal(await check, 0);
  const late = lockout.check(ADDRESS, 'u'); // sent during the clear, answered before its deletes
  await settle();
  link.answer(['0', []]); // the SCAN of counters
  await settle();
  link.answer(USER_LOCKED); // the late check
  t.ok((await late) > 0, 'a check answered before the deletes refuses, as Redis said then');
  link.answer(['0', ['fake:{core}:lock:u:u']]); // the SCAN of locks
  await settle();
  link.answer([60_000]); // the deletes
  await settle();
  link.answer(1); // the publish
  t.same(await clearing, [{ scope: 'user', user: 'u', untilMs: 60_000 }]);
  t.equal(lockout.lockedUntil(ADDRESS, 'u'), 0, 'once cleared, this replica remembers no lock');
});
