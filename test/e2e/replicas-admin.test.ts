/**
 * The admin side of a group of replicas (issue 18): each replica's breaker
 * in the group's view (breakers are not shared), audit records that name
 * their replica, and lockouts cleared on one replica's admin port for the
 * whole group.
 */
import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { startRedis, type RedisServer } from '../fixtures/redis-server.js';
import { startReplicaStacks } from '../fixtures/replica-stacks.js';
import { startTestSimulator, type Stack } from '../fixtures/stack.js';

let redis: RedisServer;
t.before(async () => {
  redis = await startRedis();
});
t.teardown(() => redis.stop());

const TOKEN = 'replica-admin-token-0123';
const MONITORING = { host: '127.0.0.1', port: 0, businessPollMs: 0, token: TOKEN };

/** A page of a replica's admin port, as JSON. */
async function admin(stack: Stack, page: string, method = 'GET'): Promise<unknown> {
  const res = await fetch(`http://127.0.0.1:${stack.app.adminPort}/monitoring/${page}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return res.json();
}

interface Member {
  id: string;
  breakers: Record<string, { state: string; since: string }>;
}

const membersOf = async (stack: Stack, page: string): Promise<Member[]> =>
  ((await admin(stack, page)) as { shared: { members: Member[] } }).shared.members;

t.test(
  "one replica's open breaker shows in the other's group view, and opens nothing there",
  async (t) => {
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
    const [r1, r2] = (await startReplicaStacks(t, sim, redis.url, {
      config: {
        monitoring: MONITORING,
        cache: { enabled: false },
        flow: {
          commandIdleTimeoutMs: 100,
          rateLimit: { enabled: false },
          breaker: { threshold: 3, volumeThreshold: 3, resetTimeoutMs: 60_000, monitoringMs: 5000 },
        },
      },
    })) as [Stack, Stack];
    await eventually(() => r1.router.pool.stats.ready > 0, 'a router session on replica 1');
    const c = await openRaw(t, r1.port, { user: 'admin', password: 'secret' });
    sim.faults.stopAnswering = true;
    for (const tag of ['t1', 't2', 't3']) await c.call(['/ip/address/print', `.tag=${tag}`]);
    sim.faults.stopAnswering = false;
    t.equal(r1.router.flow.breakerState, 'open', "replica 1's breaker opened");
    const members = await eventually(() => membersOf(r2, 'status'), {
      until: (m) => m.find((x) => x.id === 'r1')?.breakers['default']?.state === 'open',
      what: "replica 1's open breaker in replica 2's view",
      intervalMs: 20,
    });
    t.match(members, [
      { id: 'r1', breakers: { default: { state: 'open', since: /^\d{4}-\d\d-\d\dT/ } } },
      { id: 'r2', breakers: { default: { state: 'closed' } } },
    ]);
    t.equal(r2.router.flow.breakerState, 'closed', "replica 2's own breaker stays closed");
    t.match(await membersOf(r2, 'health'), members, 'health shows the same view');
    const r2Client = await openRaw(t, r2.port, { user: 'admin', password: 'secret' });
    t.equal(String((await r2Client.call(['/system/identity/print'])).at(-1)), '!done');
  },
);

t.test('a replica that leaves takes its breakers out of the view', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
  const [r1, r2] = (await startReplicaStacks(t, sim, redis.url, {
    config: { monitoring: MONITORING },
  })) as [Stack, Stack];
  await eventually(() => membersOf(r2, 'status'), {
    until: (m) => m.length === 2,
    what: 'both replicas in the view',
    intervalMs: 20,
  });
  await r1.app.stop(0);
  await eventually(() => membersOf(r2, 'status'), {
    until: (m) => m.length === 1,
    what: 'replica 1 to leave the view',
    intervalMs: 20,
  });
  t.match(await membersOf(r2, 'status'), [{ id: 'r2' }]);
});

t.test('audit records name the replica that wrote them', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
  const [r1, r2] = (await startReplicaStacks(t, sim, redis.url, {
    // Each stack writes its own audit folder (records are flushed every 5 s).
    config: { monitoring: MONITORING },
  })) as [Stack, Stack];
  for (const stack of [r1, r2]) {
    const c = await openRaw(t, stack.port, { user: 'admin', password: 'secret' });
    await c.call(['/ip/hotspot/user/add', '=name=V8K2', '=comment=paid|1|{"plan":"gold"}']);
  }
  for (const [stack, id] of [
    [r1, 'r1'],
    [r2, 'r2'],
  ] as const) {
    const found = await eventually(
      async () =>
        (await admin(stack, `audit-logs?replica=${id}&path=/ip/hotspot/user/add`)) as {
          records: { replica: string; verb: string }[];
        },
      { until: (r) => r.records.length > 0, what: `replica ${id}'s records`, intervalMs: 20 },
    );
    t.match(found.records, [{ replica: id, verb: 'add' }]);
    const other = (await admin(stack, `audit-logs?replica=${id === 'r1' ? 'r2' : 'r1'}`)) as {
      count: number;
    };
    t.equal(other.count, 0, `replica ${id} wrote no record under another name`);
  }
});

t.test(
  "lockouts cleared on replica 2's admin port let the client log in through replica 1",
  async (t) => {
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
    const [r1, r2] = (await startReplicaStacks(t, sim, redis.url, {
      config: {
        monitoring: MONITORING,
        policy: { lockout: { maxAttempts: 3 } },
        limits: { loginFailureCacheTtlMs: 0 },
      },
    })) as [Stack, Stack];
    for (let i = 0; i < 3; i++) {
      const c = await openRaw(t, r1.port);
      t.match(text(await c.login('admin', `wrong-${i}`)).join(' '), /!trap/);
    }
    const locked = await openRaw(t, r1.port);
    t.match(text(await locked.login('admin', 'secret')).join(' '), /too many failed logins/);
    t.equal(
      ((await admin(r2, 'lockouts')) as { count: number }).count,
      0,
      "replica 2's own gate counted nothing",
    );
    const answer = (await admin(r2, 'lockouts', 'DELETE')) as {
      count: number;
      cleared: { router: string; scope: string; source: string | null; user: string | null }[];
    };
    t.match(answer.cleared, [
      { router: 'default', scope: 'source-user', source: '127.0.0.1', user: 'admin' },
    ]);
    t.equal(answer.count, 1, 'the trusted source and user, once');
    await eventually(
      async () => ((await admin(r1, 'lockouts')) as { count: number }).count === 0,
      "replica 1's gate to forget it",
    );
    const again = await openRaw(t, r1.port);
    t.match(text(await again.login('admin', 'secret')).join(' '), /^!done/, 'logged in');
  },
);

t.test(
  'an untrusted source: clearing by user ends the user and pair lockouts, by source the rest',
  async (t) => {
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
    const [r1, r2] = (await startReplicaStacks(t, sim, redis.url, {
      config: {
        monitoring: MONITORING,
        policy: { lockout: { maxAttempts: 3, userMaxAttempts: 3, trustedSources: [] } },
        limits: { loginFailureCacheTtlMs: 0 },
      },
    })) as [Stack, Stack];
    for (let i = 0; i < 3; i++) {
      const c = await openRaw(t, r1.port);
      t.match(text(await c.login('admin', `wrong-${i}`)).join(' '), /!trap/);
    }
    const byUser = (await admin(r2, 'lockouts?user=admin', 'DELETE')) as {
      cleared: { scope: string; source: string | null; user: string | null; failures: number }[];
    };
    t.same(
      byUser.cleared
        .map(({ scope, source, user, failures }) => [scope, source, user, failures])
        .sort(),
      [
        ['source-user', '127.0.0.1', 'admin', 3],
        ['user', null, 'admin', 3],
      ],
      'the user and the pair, not the address',
    );
    const stillLocked = await openRaw(t, r1.port);
    t.match(text(await stillLocked.login('admin', 'secret')).join(' '), /too many failed logins/);
    await eventually(
      async () =>
        ((await admin(r1, 'lockouts')) as { lockouts: { scope: string }[] }).lockouts.every(
          (l) => l.scope === 'source',
        ),
      "replica 1's gate to forget the user's lockout",
    );
    const bySource = (await admin(r2, 'lockouts?source=127.0.0.1', 'DELETE')) as {
      cleared: { scope: string; source: string | null }[];
    };
    t.match(bySource.cleared, [{ scope: 'source', source: '127.0.0.1' }]);
    await eventually(
      async () => ((await admin(r1, 'lockouts')) as { count: number }).count === 0,
      "replica 1's gate to forget the address",
    );
    const again = await openRaw(t, r1.port);
    t.match(text(await again.login('admin', 'secret')).join(' '), /^!done/, 'logged in');
  },
);
