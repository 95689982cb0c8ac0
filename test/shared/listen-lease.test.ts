import { Writable } from 'node:stream';
import t from 'tap';
import { validateConfig } from '../../src/config/index.js';
import { groupWiringOf } from '../../src/group-wiring.js';
import { createLogger } from '../../src/logger.js';
import { ListenLease, type SharedGroup } from '../../src/shared/index.js';
import { eventually } from '../fixtures/eventually.js';
import { FakeSharedLink, settle } from '../fixtures/fake-shared-link.js';
import { startRedis } from '../fixtures/redis-server.js';
import { memoryLogger, startReplicas, warnings } from '../fixtures/shared-replicas.js';

const redis = await startRedis();
t.teardown(() => redis.stop());

const MENU = '/ip/hotspot/user';

/** One lease per replica for router `core`, each done with its first claim. */
async function leasesOf(
  t: { teardown(fn: () => unknown): void },
  groups: readonly SharedGroup[],
  leaseTtlMs?: number,
): Promise<ListenLease[]> {
  const leases = groups.map(
    (g) => new ListenLease(g, 'core', leaseTtlMs === undefined ? {} : { leaseTtlMs }),
  );
  for (const lease of leases) t.teardown(() => lease.close());
  await Promise.all(leases.map((l) => l.claim()));
  return leases;
}

const holders = (leases: readonly ListenLease[]) => leases.filter((l) => l.role === 'holder');

t.test('a lease needs a positive lifetime', (t) => {
  const link = new FakeSharedLink();
  link.isUp = false;
  t.throws(() => new ListenLease(link, 'core', { leaseTtlMs: 0 }), /leaseTtlMs must be/);
  t.throws(() => new ListenLease(link, 'core', { leaseTtlMs: Number.NaN }), /leaseTtlMs must be/);
  t.equal(new ListenLease(link, 'core').role, 'fallback', 'before Redis answered: fallback');
  t.equal(link.calls.length, 0, 'nothing asked of a Redis that is down');
  t.end();
});

t.test(
  'one of three replicas holds the lease; the others follow it and learn the menus it watches',
  async (t) => {
    const groups = await startReplicas(t, redis.url, 3);
    const leases = await leasesOf(t, groups);
    const [holder, ...followers] = [
      ...holders(leases),
      ...leases.filter((l) => l.role !== 'holder'),
    ] as [ListenLease, ListenLease, ListenLease];
    t.equal(holders(leases).length, 1, 'one holder');
    t.ok(holder.runsListens, 'the holder runs the listens');
    const id = holder.stats().holder;
    for (const follower of followers) {
      t.equal(follower.role, 'follower');
      t.notOk(follower.runsListens, 'a follower runs none');
      t.equal(follower.stats().holder, id, 'a follower knows the holder');
      t.notOk(follower.isWatching(MENU), 'no listen runs yet');
    }
    await holder.setRunning(MENU, true);
    t.same(holder.stats().menus, [MENU]);
    t.notOk(holder.isWatching(MENU), 'the holder does not follow its own listen');
    await eventually(() => followers.every((f) => f.isWatching(MENU)), 'the followers to hear');
    await holder.setRunning(MENU, false);
    await eventually(() => followers.every((f) => !f.isWatching(MENU)), 'the followers to hear');
    await holder.claim();
    t.equal(holder.stats().acquired, 1, 'a renewal is not a new lease');
    await followers[0].setRunning('/ppp/secret', true);
    t.same(holder.stats().menus, [], "a follower's listens are not the group's");
  },
);

t.test('the holder gives the lease up on close; another replica takes it at once', async (t) => {
  const groups = await startReplicas(t, redis.url, 3);
  const leases = await leasesOf(t, groups);
  const [holder] = holders(leases) as [ListenLease];
  await holder.setRunning(MENU, true);
  const rest = leases.filter((l) => l !== holder);
  await holder.close();
  await holder.close();
  t.equal(holder.role, 'follower', 'the old holder runs no listen');
  const next = await eventually(() => holders(rest), {
    until: (found) => found.length === 1,
    what: 'another replica to take the lease',
  });
  const other = rest.find((l) => l !== next[0]) as ListenLease;
  await eventually(
    () => other.stats().holder === next[0]?.stats().holder,
    'the last one to follow it',
  );
  t.notOk(other.isWatching(MENU), "the old holder's menus went with it");
});

t.test('a crashed holder is replaced when its lease would expire', async (t) => {
  const groups = await startReplicas(t, redis.url, 3);
  const leases = await leasesOf(t, groups, 300);
  const holder = holders(leases)[0] as ListenLease;
  const crashed = groups[leases.indexOf(holder)] as SharedGroup;
  crashed.destroy();
  const rest = leases.filter((l) => l !== holder);
  const next = await eventually(() => holders(rest), {
    until: (found) => found.length === 1,
    what: 'a follower to take the expired lease',
  });
  t.not(next[0]?.stats().holder, crashed.replicaId);
});

t.test('Redis away: every replica runs its own listens; back: one holder again', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.stop());
  const groups = await startReplicas(t, own.url, 3);
  const leases = await leasesOf(t, groups);
  await own.kill();
  await eventually(
    () => leases.every((l) => l.role === 'fallback' && l.runsListens),
    'every replica to fall back',
  );
  t.same(
    leases.map((l) => l.stats().holder),
    [undefined, undefined, undefined],
    'no holder known',
  );
  await own.restart();
  const back = await eventually(() => holders(leases), {
    until: (found) => found.length === 1 && leases.every((l) => l.role !== 'fallback'),
    what: 'one holder again',
  });
  t.equal(back.length, 1);
});

/** A lease on a fake link, closed at the end without a Redis to answer its release. */
function fakeLease(t: { teardown(fn: () => unknown): void }, link: FakeSharedLink): ListenLease {
  const lease = new ListenLease(link, 'core');
  t.teardown(() => {
    link.isUp = false;
    return lease.close();
  });
  return lease;
}

t.test('what another holder says on the channel is followed; nonsense is not', async (t) => {
  const link = new FakeSharedLink();
  const lease = fakeLease(t, link);
  link.answer([0, 'other', 5000, [MENU]]);
  await settle();
  t.equal(lease.role, 'follower');
  t.ok(lease.isWatching(MENU));
  link.deliver('not json');
  t.match(warnings(link.logger), [{ msg: 'shared: a listen lease message was not understood' }]);
  link.deliver(JSON.stringify({ holder: 'me', menus: [] }));
  t.ok(lease.isWatching(MENU), "this replica's own state, heard back, changes nothing");
  // cjson writes an empty list as an object.
  link.deliver(JSON.stringify({ holder: 'third', menus: {} }));
  t.equal(lease.stats().holder, 'third');
  t.notOk(lease.isWatching(MENU));
  link.isUp = false;
  link.deliver(JSON.stringify({ holder: 'fourth', menus: [MENU] }));
  t.equal(lease.stats().holder, 'third', 'nothing heard while Redis counts as down');
  link.isUp = true;
  link.deliver(JSON.stringify({ holder: false }));
  t.equal(lease.stats().holder, undefined, 'given up');
  t.equal(link.calls.length, 1, 'a lease given up is claimed at once');
  link.answer([1, 'me', 5000, []]);
  await settle();
  t.equal(lease.role, 'holder');
  t.equal(lease.stats().acquired, 1);
});

t.test('claims asked for while one is under way run once more after it', async (t) => {
  const link = new FakeSharedLink();
  const lease = new ListenLease(link, 'core');
  // The constructor's claim is under way: these two wait for one more after it.
  const again = lease.claim();
  t.equal(lease.claim(), again, 'asked twice meanwhile: one claim more');
  t.equal(link.calls.length, 1, 'one claim at a time');
  link.answer([1, 'me', 5000, []]);
  await settle();
  t.equal(link.calls.length, 1, 'then the one more');
  link.answer([1, 'me', 5000, []]);
  await again;
  const running = lease.setRunning(MENU, true);
  await settle();
  t.same(link.calls[0]?.args.slice(3), [MENU], "the holder's claim carries its listens");
  link.answer(undefined);
  await running;
  t.equal(lease.role, 'holder', 'an unanswered claim changes nothing');
  const closing = lease.close();
  await settle();
  t.equal(link.calls.length, 1, 'the holder gives the lease up');
  link.answer(1);
  await closing;
  t.equal(lease.role, 'follower');
  await lease.claim();
  t.equal(link.calls.length, 0, 'a closed lease claims nothing');
});

t.test('an answer that comes after Redis went down, or after close, is not taken', async (t) => {
  const link = new FakeSharedLink();
  const lease = new ListenLease(link, 'core');
  link.isUp = false;
  link.answer([1, 'me', 5000, []]);
  await settle();
  t.equal(lease.role, 'fallback', 'Redis went away meanwhile');
  link.isUp = true;
  const claim = lease.claim();
  const closing = lease.close();
  link.answer([0, 'other', 5000, []]);
  await claim;
  await closing;
  t.equal(lease.role, 'fallback', 'closed meanwhile');
  link.deliver(JSON.stringify({ holder: 'other', menus: [] }));
  t.equal(lease.role, 'fallback', 'a closed lease hears nothing');
});

t.test('a role listener that throws is logged, not thrown into Redis callbacks', async (t) => {
  const link = new FakeSharedLink();
  const lease = fakeLease(t, link);
  lease.on('role', () => {
    throw new Error('boom');
  });
  link.answer([1, 'me', 5000, []]);
  await settle();
  t.equal(lease.role, 'holder');
  t.match(warnings(link.logger), [{ msg: 'shared: a lease listener threw' }]);
});

t.test('a follower asks again when the lease would expire, and takes it then', async (t) => {
  const link = new FakeSharedLink();
  const fired: (() => void)[] = [];
  const lease = fakeLease(
    t,
    Object.assign(link, {
      timers: {
        setTimeout: (callback: () => void) => fired.push(callback),
        clearTimeout: () => undefined,
      },
    }),
  );
  link.answer([0, 'other', 0, []]);
  await settle();
  t.equal(fired.length, 1, 'a try is set for when it would expire');
  void lease.claim();
  link.answer([0, 'other', 10, []]);
  await settle();
  t.equal(fired.length, 2, 'the next answer sets the next try');
  fired[1]?.();
  link.answer([1, 'me', 5000, []]);
  await settle();
  t.equal(lease.role, 'holder');
});

t.test("the group wiring names each router's holder, none before it knows", async (t) => {
  const quiet = createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));
  const { config } = validateConfig(
    {
      routers: [{ name: 'a', host: 'r', password: 'pw' }],
      shared: { url: 'redis://127.0.0.1:1', replicaId: 'pod-1' },
    },
    {},
  );
  const group = groupWiringOf(config, quiet, () => ({
    invalidate: () => undefined,
    flush: () => 0,
  }));
  t.ok(group);
  if (group === undefined) return;
  t.teardown(() => group.close());
  t.same(group.snapshot().listenHolders, { a: null });
  t.equal(group.listenRole('elsewhere'), undefined, 'no role for an unknown router');
  const role = group.listenRole('a');
  t.equal(role?.runsListens, true, 'Redis not reached: this replica runs its own');
  t.equal(role?.isFollowed(MENU), false);
});

t.test('a lease logs when it is taken, to a group with a logger', async (t) => {
  const logger = memoryLogger();
  const [group] = await startReplicas(t, redis.url, 1, { logger });
  await leasesOf(t, [group as SharedGroup]);
  t.match(
    logger.lines.filter((line) => line.msg.includes('listens')),
    [{ level: 'info', obj: { router: 'core', replicaId: 'r1' } }],
    "one line: this replica runs the router's listens",
  );
});

t.test(
  "a follower's claim answered after a newer message on the channel does not undo it",
  async (t) => {
    const link = new FakeSharedLink();
    const lease = fakeLease(t, link);
    link.answer([0, 'other', 5000, [MENU]]);
    await settle();
    t.ok(lease.isWatching(MENU));
    // A claim runs in Redis while the menu is watched; before its answer
    // comes (another connection), the holder's listen ends and says so.
    const claim = lease.claim();
    link.deliver(JSON.stringify({ holder: 'other', menus: {} }));
    t.notOk(lease.isWatching(MENU), 'the message is followed');
    link.answer([0, 'other', 5000, [MENU]]);
    await claim;
    t.notOk(lease.isWatching(MENU), 'the older answer does not bring the ended listen back');
    t.equal(lease.role, 'follower');
    // With no message meanwhile, a claim's answer is followed as before.
    const next = lease.claim();
    link.answer([0, 'other', 5000, [MENU]]);
    await next;
    t.ok(lease.isWatching(MENU), 'a claim with nothing heard meanwhile is followed');
  },
);
