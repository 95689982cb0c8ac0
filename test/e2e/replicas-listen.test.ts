/**
 * Three rosgate replicas in front of one simulated router and one real
 * redis-server run the router's `listen`s once for the group (issue 18):
 * the replica holding the lease runs them and the others follow what they
 * report; it leaves or crashes and another one takes over; Redis away, each
 * replica runs its own, and when Redis is back one runs them again.
 */
import { randomUUID } from 'node:crypto';
import type { RouterOSAPI } from 'node-routeros';
import t, { type Test } from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { startRedis, type RedisServer } from '../fixtures/redis-server.js';
import { startStack, startTestSimulator, type Stack } from '../fixtures/stack.js';
import type { Simulator } from '../../src/simulator/index.js';

type Tap = Test;

const MENU = '/ip/hotspot/user';
const LISTEN = `${MENU}/listen`;
const PRINT = `${MENU}/print`;

/** One Redis for the file; each test has a prefix of its own. */
let redis: RedisServer;
t.before(async () => {
  redis = await startRedis();
});
t.teardown(() => redis.stop());

interface Replica {
  readonly stack: Stack;
  readonly id: string;
  /** A node-routeros client through this replica. */
  readonly api: RouterOSAPI;
}

/**
 * Replicas `r1`..`r3` of one group, each a full app watching one menu, all
 * in front of `sim`; heartbeats every 100 ms and a lease of `leaseTtlMs`, so
 * a crashed holder is replaced quickly.
 */
async function replicas(t: Tap, sim: Simulator, url = redis.url): Promise<Replica[]> {
  const prefix = `l${randomUUID().slice(0, 8)}:`;
  const out: Replica[] = [];
  for (let i = 1; i <= 3; i++) {
    const stack = await startStack(t, {
      simulator: sim,
      config: {
        shared: { url, prefix, replicaId: `r${i}` },
        monitoring: { host: '127.0.0.1', port: 0, businessPollMs: 0 },
        flow: { rateLimit: { enabled: false } },
        cache: { listen: { paths: [MENU], retryInitialMs: 100 } },
      },
      app: { shared: { heartbeatMs: 100, replicaTtlMs: 1000 } },
    });
    out.push({ stack, id: `r${i}`, api: await stack.client() });
  }
  await eventually(
    () => out.every((r) => r.stack.app.group?.snapshot().replicas === 3),
    'every replica sees the group',
  );
  return out;
}

/** The replica the group's lease names on each of `live`, when they all agree. */
function holderOf(live: readonly Replica[]): string | undefined {
  const seen = new Set(live.map((r) => r.stack.app.group?.snapshot().listenHolders['default']));
  const [holder] = seen;
  return seen.size === 1 && typeof holder === 'string' ? holder : undefined;
}

/** The comment of row `*1`, printed through `replica`. */
async function commentOf(replica: Replica): Promise<string | undefined> {
  const rows = (await replica.api.write(PRINT, ['=.proplist=.id,comment'])) as {
    '.id': string;
    comment?: string;
  }[];
  return rows.find((row) => row['.id'] === '*1')?.comment;
}

const ran = (sim: Simulator, command: string): number => sim.counters.commands[command] ?? 0;

/** True once `replica` follows a holder's listen on the menu (bus live, menu watched). */
function follows(replica: Replica): boolean {
  return replica.stack.app.group?.listenRole('default')?.isFollowed(MENU) === true;
}

/**
 * Prints through every replica until each answers from its cache, then
 * changes row `*1` on the router itself (as Winbox would) and waits until a
 * print through every replica shows the new comment.
 */
async function changeOutside(t: Tap, sim: Simulator, live: readonly Replica[], comment: string) {
  for (const replica of live) await commentOf(replica);
  const printed = ran(sim, PRINT);
  for (const replica of live) await commentOf(replica);
  t.equal(ran(sim, PRINT), printed, 'every replica answers the print from its cache');
  const dropped = () => live.map((r) => r.stack.app.cache.stats()['default']?.invalidations ?? 0);
  const before = dropped();
  const changedAt = performance.now();
  sim.data.require(MENU).set(['*1'], { comment });
  await eventually(() => dropped().every((n, i) => n > (before[i] as number)), {
    until: (isDropped) => isDropped,
    what: 'every replica to drop the changed row',
    intervalMs: 1,
  });
  t.comment(
    `from the change on the router to the drop on every replica: ${(performance.now() - changedAt).toFixed(1)} ms`,
  );
  for (const replica of live) {
    t.equal(await commentOf(replica), comment, `a change made on the router reached ${replica.id}`);
  }
}

/**
 * A simulator and three replicas of one group in front of it (`url`'s
 * Redis), each having printed the menu once: `r1` holds the lease and runs
 * the listen, and `followers` trust it.
 */
async function listeningReplicas(t: Tap, url = redis.url) {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
  const all = await replicas(t, sim, url);
  for (const replica of all) await commentOf(replica);
  const [r1, ...followers] = all as [Replica, Replica, Replica];
  await eventually(() => followers.every(follows), 'the followers to trust the listen');
  return { sim, all, r1, followers };
}

/**
 * After the holder `r1` is gone: another of `rest` holds the lease (`what`
 * names why), runs the one listen, the last one follows it, and a change
 * made on the router reaches both.
 */
async function expectTakenOver(
  t: Tap,
  sim: Simulator,
  rest: readonly Replica[],
  what: string,
  comment: string,
): Promise<void> {
  const holder = await eventually(() => holderOf(rest), {
    until: (id) => id !== undefined && id !== 'r1',
    what,
  });
  await eventually(() => sim.activeStreams() === 1, 'the new holder to run the listen');
  const follower = rest.find((r) => r.id !== holder) as Replica;
  await eventually(() => follows(follower), 'the follower to trust the new listen');
  await changeOutside(t, sim, rest, comment);
  t.equal(sim.activeStreams(), 1, 'one listen runs on the router');
}

t.test('the router carries one listen per watched menu, not one per replica', async (t) => {
  const { sim, all } = await listeningReplicas(t);
  t.equal(holderOf(all), 'r1', 'the first replica to start holds the lease');
  t.equal(ran(sim, LISTEN), 1, 'one listen was sent');
  t.equal(sim.activeStreams(), 1, 'one listen runs on the router');
  t.same(
    all.map((r) => r.stack.app.cache.stats()['default']?.listensActive),
    [1, 0, 0],
    'only the holder runs it',
  );
  await changeOutside(t, sim, all, 'paid|1|{"plan":"gold"}');
  t.equal(ran(sim, LISTEN), 1, 'still one listen');
  const metrics = await Promise.all(
    all.map(async (r) =>
      (await fetch(`http://127.0.0.1:${r.stack.app.adminPort}/monitoring/metrics`)).text(),
    ),
  );
  t.match(metrics[0], /rosgate_shared_listen_holder\{router="default",replica="r1"\} 1/);
  t.match(metrics[1], /rosgate_shared_listen_holder\{router="default",replica="r2"\} 0/);
  const health = await fetch(`http://127.0.0.1:${all[2]?.stack.app.adminPort}/monitoring/health`);
  t.match(
    await health.json(),
    { replica: 'r3', shared: { up: true, listenHolders: { default: 'r1' } } },
    'the group view names the holder',
  );
});

t.test(
  "the holder's listen is lost: the others drop the menu and trust it again once it runs",
  async (t) => {
    const { sim, all, followers } = await listeningReplicas(t);
    const dropped = () =>
      followers.map((r) => r.stack.app.cache.stats()['default']?.invalidations ?? 0);
    const before = dropped();
    // Every router session goes, the holder's listen with them.
    sim.faults.dropAll();
    await eventually(
      () => dropped().every((n, i) => n > (before[i] as number)),
      "the followers to drop the menu's replies",
    );
    await eventually(
      () => ran(sim, LISTEN) >= 2 && sim.activeStreams() === 1,
      'the holder to send its listen again',
    );
    await eventually(() => followers.every(follows), 'the followers to trust it again');
    await changeOutside(t, sim, all, 'after-loss|6');
    t.equal(sim.activeStreams(), 1, 'one listen per menu, still');
  },
);

t.test(
  'the holder leaves: another replica takes the lease at once and runs the listen',
  async (t) => {
    const { sim, r1, followers: rest } = await listeningReplicas(t);
    await r1.stack.app.stop(0);
    await expectTakenOver(t, sim, rest, 'another replica to hold the lease', 'moved|2');
    t.equal(ran(sim, LISTEN), 2, 'one more listen was sent: the new holder');
  },
);

t.test(
  'the holder crashes without giving the lease up: another replica takes it when it expires',
  async (t) => {
    const { sim, r1, followers: rest } = await listeningReplicas(t);
    // A crash: Redis is not told; the process's router sessions go with it.
    r1.stack.app.group?.group.destroy();
    await r1.stack.app.stop(0);
    await expectTakenOver(
      t,
      sim,
      rest,
      'the lease to expire and another replica to take it',
      'after-crash|3',
    );
  },
);

t.test(
  'Redis away: every replica runs its own listen; Redis back: one replica runs it again',
  async (t) => {
    const own = await startRedis();
    t.teardown(() => own.stop());
    const { sim, all } = await listeningReplicas(t, own.url);
    await own.kill();
    await eventually(
      () => sim.activeStreams() === 3,
      'every replica to run its own listen while Redis is away',
    );
    t.same(
      all.map((r) => r.stack.app.cache.stats()['default']?.listensActive),
      [1, 1, 1],
      'one listen per replica',
    );
    await changeOutside(t, sim, all, 'outage|4');
    await own.restart();
    await eventually(
      () => sim.activeStreams() === 1 && holderOf(all) !== undefined,
      'one replica to hold the lease and run the listen again',
    );
    const holder = holderOf(all);
    const followers = all.filter((r) => r.id !== holder);
    await eventually(() => followers.every(follows), 'the followers to trust its listen');
    await changeOutside(t, sim, all, 'back|5');
    t.equal(sim.activeStreams(), 1, 'one listen runs on the router');
  },
);

t.test(
  'a cache reload on the holder sends its listen again from the new cache, still one per menu',
  async (t) => {
    const { sim, all, r1, followers } = await listeningReplicas(t);
    t.match(await r1.stack.app.reconfigure('cache', { defaultTtlMs: 600_000 }), { ok: true });
    await eventually(() => sim.activeStreams() === 0, "the old cache's listen to end");
    await commentOf(r1);
    await eventually(() => sim.activeStreams() === 1, "the new cache's listen to run");
    await eventually(() => followers.every(follows), 'the followers to trust it');
    t.equal(holderOf(all), 'r1', 'the lease stays with the holder');
    await changeOutside(t, sim, all, 'reloaded|7');
    t.equal(sim.activeStreams(), 1, 'one listen per menu');
  },
);
