/**
 * Two rosgate replicas share their state through a Redis Cluster (issue
 * 18, `shared.cluster`): three real masters, every slot assigned. Each
 * script runs on the node that owns its router's hash tag; the lockout, the
 * cache invalidations and the group rate bucket work as with one Redis.
 */
import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import {
  burst,
  expectLockoutShared,
  expectWriteSeenAcross,
  ran,
  ReplicaClock,
  replicaStacks,
} from '../fixtures/replicas.js';
import { startCluster, type ClusterSetup } from '../fixtures/redis-topology.js';
import { startTestSimulator, type Stack } from '../fixtures/stack.js';
import type { Simulator } from '../../src/simulator/index.js';
import { connectNodeRedis, routingKey } from '../../src/shared/redis-connection.js';

type Tap = Parameters<typeof startTestSimulator>[0];

let cluster: ClusterSetup;
t.before(async () => {
  cluster = await startCluster();
});
t.teardown(() => cluster.stop());

/** Two replicas whose shared section names one node of the cluster. */
function replicas(
  t: Tap,
  sim: Simulator,
  config: Record<string, unknown>,
  clock?: ReplicaClock,
): Promise<Stack[]> {
  return replicaStacks(t, sim, {
    count: 2,
    shared: { cluster: { nodes: [cluster.urls[0]] } },
    config,
    ...(clock === undefined ? {} : { app: { shared: clock.groupOptions() } }),
  });
}

/** The ports of the nodes that hold `key`. */
async function holders(key: string): Promise<number[]> {
  const found: number[] = [];
  for (const port of cluster.ports) {
    // Asked of a node that does not own the slot, EXISTS answers -MOVED.
    if ((await cluster.command(port, 'EXISTS', key)) === ':1\r\n') found.push(port);
  }
  return found;
}

t.test('wrong passwords on one replica lock the user on the other', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
  const [r1, r2] = (await replicas(t, sim, {
    policy: { lockout: { maxAttempts: 3 } },
    limits: { loginFailureCacheTtlMs: 0 },
  })) as [Stack, Stack];
  await expectLockoutShared(
    t,
    sim,
    r1,
    r2,
    3,
    'the right password is refused on the other replica',
  );
  // The clear finds the lock with SCAN, which reads the node that owns the router's slot.
  const cleared = await r2.app.group?.clearLockouts({ user: 'admin' });
  t.ok((cleared ?? []).length >= 1, 'the lockout clear found the lock in the cluster');
  const again = await openRaw(t, r1.port);
  t.match(text(await again.login('admin', 'secret')).join(' '), /!done/, 'the user logs in again');
});

t.test('a write through one replica drops the other replica’s cached reply', async (t) => {
  const sim = await startTestSimulator(t, {
    user: 'admin',
    password: 'secret',
    version: '7.17',
    hotspotUsers: 3,
  });
  const [r1, r2] = (await replicas(t, sim, {
    flow: { rateLimit: { enabled: false } },
    cache: { listen: { enabled: false }, defaultTtlMs: 600_000, ttlRules: [] },
  })) as [Stack, Stack];
  await expectWriteSeenAcross(t, sim, r1, r2);
});

t.test('the group rate bucket lives on one node and holds both replicas to it', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
  const clock = new ReplicaClock();
  const stacks = (await replicas(
    t,
    sim,
    {
      flow: {
        rateLimit: {
          bucketSize: 10,
          refillTokens: 5,
          refillIntervalMs: 100,
          maxWaitMs: 600_000,
          maxQueue: 100,
        },
      },
      cache: { enabled: false },
    },
    clock,
  )) as [Stack, Stack];
  // Nothing refills while the clock stands: the group has its ten tokens.
  clock.freeze();
  const commands = ['/ip/address/print', '/queue/simple/print'];
  const load = await burst(t, stacks, commands, 10, { user: 'admin', password: 'secret' });
  await load.settled('every command answered or queued');
  const total = ran(sim, commands[0] as string) + ran(sim, commands[1] as string);
  t.equal(total, 10, 'the router ran the group’s 10 tokens’ worth, not 20');
  const router = stacks[0]?.router.config.name ?? '';
  const bucketKey = `${stacks[0]?.app.group?.group.prefix ?? ''}{${router}}:bucket`;
  t.equal((await holders(bucketKey)).length, 1, 'the bucket is a key on one node');
  const leases = stacks.reduce((n, s) => n + (s.app.group?.group.stats().leases ?? 0), 0);
  t.ok(leases >= 2, `the slot's owner granted leases to both replicas (${leases})`);
  // The clock runs again: the rest are served.
  clock.thaw();
  await load.done;
  t.same(load.failures, [], 'no command was refused');
});

t.test('the node of the router’s slot killed: commands are still answered', async (t) => {
  const own = await startCluster();
  t.teardown(() => own.stop());
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
  const stacks = (await replicaStacks(t, sim, {
    count: 2,
    shared: { cluster: { nodes: own.urls } },
    config: { cache: { enabled: false } },
  })) as [Stack, Stack];
  const router = stacks[0].router.config.name;
  const slotKey = `${stacks[0].app.group?.group.prefix ?? ''}{${router}}:bucket`;
  let owner: number | undefined;
  for (const port of own.ports) {
    if (!(await own.command(port, 'GET', slotKey)).startsWith('-MOVED')) owner = port;
  }
  await own.kill(owner as number);
  const clients = await Promise.all(
    stacks.map((s) => openRaw(t, s.port, { user: 'admin', password: 'secret' })),
  );
  for (let round = 0; round < 3; round++) {
    for (const [i, c] of clients.entries()) {
      const replies = await c.call(['/system/identity/print']);
      t.equal(String(replies.at(-1)), '!done', `replica ${i + 1}, round ${round}: answered`);
    }
  }
  await eventually(
    () => stacks.every((s) => s.app.group?.snapshot().isUp === false),
    'both replicas to count Redis as down',
  );
  const c = clients[0] as (typeof clients)[number];
  t.equal(
    String((await c.call(['/system/identity/print'])).at(-1)),
    '!done',
    'answered while down',
  );
});

t.test('a command goes to the slot of its first key, a script to its first KEYS', (t) => {
  t.equal(routingKey(['EVALSHA', 'sha', '2', 'p:{r}:a', 'p:{r}:b', 'x']), 'p:{r}:a');
  t.equal(routingKey(['EVAL', 'return 1', '0']), undefined, 'a script with no keys: any node');
  t.equal(routingKey(['SCAN', '0', 'MATCH', 'p:{r\\*1}:fail:*', 'COUNT', '10']), 'p:{r*1}:fail:');
  t.equal(routingKey(['SCAN', '0']), undefined, 'a SCAN with no pattern: any node');
  t.equal(routingKey(['ZREM', 'p:replicas', 'r1']), 'p:replicas');
  t.end();
});

t.test('a cluster connection names cluster events as a plain client does', async (t) => {
  const connection = connectNodeRedis({
    cluster: { nodes: [cluster.urls[1] as string] },
    connectTimeoutMs: 1000,
  });
  let ready = 0;
  const errors: unknown[] = [];
  connection.on('ready', () => ready++);
  connection.on('error', (err) => errors.push(err));
  await connection.connect();
  await eventually(() => ready === 1, 'ready once every master is connected');
  t.equal(connection.isReady, true);
  t.equal(await connection.sendCommand(['SET', 'k{a}', '1']), 'OK');
  t.equal(await connection.sendCommand(['GET', 'k{a}']), '1');
  // A node drops its clients: the node's error, then ready again when it is back.
  for (const port of cluster.ports) await cluster.command(port, 'CLIENT', 'KILL', 'TYPE', 'normal');
  await eventually(() => errors.length >= 1 && ready >= 2, 'an error, then ready again');
  const copy = connection.duplicate();
  t.equal(copy.isReady, false, 'a duplicate connects on its own');
  copy.destroy();
  await connection.close();
});
