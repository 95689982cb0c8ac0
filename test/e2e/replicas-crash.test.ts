/**
 * A replica that dies without a word (issue 18): its session leases keep
 * the group's cap until they expire, then the others use them; it drops out
 * of the replica count, so the survivors' share of the rate grows. Three
 * full apps, one simulator, one real redis-server; one virtual clock for the
 * group (leases expire by it, not after 15 s of waiting).
 */
import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text, type RawClient } from '../fixtures/raw-client.js';
import { startRedis, type RedisServer } from '../fixtures/redis-server.js';
import {
  burst,
  groupPrefix,
  queuedIn,
  ran,
  replicaStacks,
  ReplicaClock,
  type ReplicaStackOptions,
} from '../fixtures/replicas.js';
import { startTestSimulator, type Stack } from '../fixtures/stack.js';
import type { Simulator } from '../../src/simulator/index.js';

type Tap = Parameters<typeof startTestSimulator>[0];

const CAP = 3;
/** A session lease lives this long without a heartbeat (SessionBudget's default). */
const SESSION_LEASE_TTL_MS = 15_000;
/** The group's bucket: 12 at once, 6 per 100 ms. */
const RATE = { bucketSize: 12, refillTokens: 6, refillIntervalMs: 100 };
const USER = { user: 'billing', password: 'billing-pw' };

/** `sessions` key of the default router in a group with `prefix`. */
const sessionsKey = (prefix: string) => `${prefix}{default}:sessions`;

/** The integer of a RESP integer reply (`:3`). */
function integerOf(reply: string): number {
  const match = /^:(-?\d+)\r\n$/.exec(reply);
  if (match === null) throw new Error(`not an integer reply: ${JSON.stringify(reply)}`);
  return Number(match[1]);
}

/** The members of a zset, sorted, read in one bulk reply. */
async function membersOf(redis: RedisServer, key: string): Promise<string[]> {
  const script = "return table.concat(redis.call('ZRANGE', KEYS[1], 0, -1), ',')";
  const reply = await redis.command('EVAL', script, '1', key);
  const body = reply.split('\r\n')[1] ?? '';
  return body === '' ? [] : body.split(',').sort();
}

/**
 * Samples the zset's size every few milliseconds until stopped; `max` is the
 * largest seen: what the group held at most.
 */
function sampleCard(redis: RedisServer, key: string) {
  const sampler = { max: 0, samples: 0, isRunning: true, done: Promise.resolve() };
  sampler.done = (async () => {
    while (sampler.isRunning) {
      sampler.max = Math.max(sampler.max, integerOf(await redis.command('ZCARD', key)));
      sampler.samples++;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  return sampler;
}

/** Replica A alone first, holding every session of the cap; then B and C, with none. */
async function crashGroup(t: Tap, redis: RedisServer, sim: Simulator, clock: ReplicaClock) {
  const prefix = groupPrefix();
  const pool = { max: CAP, maxInFlightPerSession: 1, idleTimeoutMs: 100, acquireTimeoutMs: 60_000 };
  const common: ReplicaStackOptions = {
    url: redis.url,
    prefix,
    app: { shared: clock.groupOptions() },
    config: {
      users: [{ name: USER.user, password: USER.password }],
      flow: { rateLimit: { ...RATE, maxWaitMs: 60_000, maxQueue: 1000 } },
      cache: { enabled: false },
    },
  };
  const [a] = (await replicaStacks(t, sim, {
    ...common,
    count: 1,
    router: { maxSessions: CAP, pool: { ...pool, min: CAP } },
  })) as [Stack];
  await eventually(() => a.router.pool.stats.ready === CAP, 'replica A to hold the whole cap');
  const [b, c] = (await replicaStacks(t, sim, {
    ...common,
    first: 2,
    count: 2,
    router: { maxSessions: CAP, pool: { ...pool, min: 0 } },
  })) as [Stack, Stack];
  return { prefix, a, b, c };
}

/** A crash: the group dropped without releasing anything, then every socket closed. */
async function crash(stack: Stack): Promise<void> {
  stack.app.group?.group.destroy();
  await stack.app.stop(0);
}

t.test(
  "a replica killed while holding the group's sessions: the others get them once its leases expire, never above the cap",
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
    const clock = new ReplicaClock();
    const { prefix, a, b, c } = await crashGroup(t, redis, sim, clock);
    const key = sessionsKey(prefix);
    const sampler = sampleCard(redis, key);
    t.teardown(() => {
      sampler.isRunning = false;
      return sampler.done;
    });
    t.same(
      await membersOf(redis, key),
      ['r1:1', 'r1:2', 'r1:3'],
      'replica A holds every lease of the cap',
    );

    // B cannot open one more: its command waits for a session.
    const waiting = await openRaw(t, b.port, { ...USER, readTimeoutMs: 60_000 });
    let isAnswered = false;
    const first = waiting.call(['/system/clock/print']).then((replies) => {
      isAnswered = true;
      return replies;
    });
    await eventually(() => b.router.pool.stats.waiting === 1, "B's command to wait for a session");
    const asked = b.app.group?.group.stats().roundTrips ?? 0;
    await eventually(
      () => (b.app.group?.group.stats().roundTrips ?? 0) >= asked + 2,
      'B to ask the group for a session again',
    );
    t.equal(b.router.pool.stats.ready, 0, 'B holds no router session');
    t.equal(sim.counters.sessionsNow, CAP, 'the router holds only the sessions of A');

    // A dies: no release; its sockets close as a killed process's would.
    await crash(a);
    await eventually(() => sim.counters.sessionsNow === 0, "the router to see A's sockets close");
    t.same(
      await membersOf(redis, key),
      ['r1:1', 'r1:2', 'r1:3'],
      "A's leases outlive it: nothing released them",
    );
    t.notOk(isAnswered, "B's command still waits: the leases hold the cap until they expire");

    // The leases expire (by the group's clock): B gets a session, its command runs.
    clock.jump(SESSION_LEASE_TTL_MS + 1);
    const replies = await first;
    t.equal(String(replies.at(-1)), '!done', "B's waiting command ran once A's leases expired");
    t.notOk(
      replies.some((s) => s.command === '!trap'),
      'and was not refused',
    );

    // B and C under load, each wanting the whole cap.
    const clients: RawClient[] = [];
    for (const stack of [b, c, b, c, b, c]) clients.push(await openRaw(t, stack.port, USER));
    const outcomes = await Promise.all(
      clients.map(async (client) => {
        for (let i = 0; i < 10; i++) {
          const answer = await client.call(['/system/clock/print']);
          if (String(answer.at(-1)) !== '!done' || answer.some((s) => s.command === '!trap'))
            return text(answer).join(' ');
        }
        return 'ok';
      }),
    );
    t.same(new Set(outcomes), new Set(['ok']), 'every command of B and C was answered');
    sampler.isRunning = false;
    await sampler.done;
    t.ok(sampler.samples > 10, `the leases were sampled (${sampler.samples} samples)`);
    t.ok(sampler.max <= CAP, `the group never held more than ${CAP} leases (most ${sampler.max})`);
    t.ok(
      sim.counters.sessionsPeak <= CAP,
      `the router never had more than ${CAP} sessions (peak ${sim.counters.sessionsPeak})`,
    );
    t.ok(
      (await membersOf(redis, key)).every((member) => !member.startsWith('r1:')),
      "A's expired leases are gone",
    );
  },
);

t.test(
  'a killed replica drops out of the replica count, and the survivors share the rate without it',
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret', version: '7.17' });
    const clock = new ReplicaClock();
    const { prefix, a, b, c } = await crashGroup(t, redis, sim, clock);
    await a.app.group?.group.heartbeat();
    for (const stack of [a, b, c])
      t.equal(stack.app.group?.snapshot().replicas, 3, `${stack.app.group?.replicaId} sees three`);
    await crash(a);

    // A's registration expires (by the group's clock); B and C renew theirs.
    clock.jump(10_000);
    for (const stack of [b, c]) await stack.app.group?.group.heartbeat();
    clock.jump(6_000);
    for (const stack of [b, c, b]) await stack.app.group?.group.heartbeat();
    for (const stack of [b, c])
      t.equal(stack.app.group?.snapshot().replicas, 2, `${stack.app.group?.replicaId} sees two`);
    t.equal(
      integerOf(await redis.command('ZCARD', `${prefix}replicas`)),
      2,
      'the registry holds the two live replicas',
    );

    // Redis away: each survivor spends its share, bucket / 2, and no more.
    await redis.kill();
    await eventually(
      () => [b, c].every((s) => s.app.group?.snapshot().isUp === false),
      'B and C to notice Redis is away',
    );
    // Stop the clock (nothing refills), past the life of any lease still held.
    clock.freeze();
    clock.jump(10_000);
    const SENT = 10;
    const commands = ['/ip/address/print', '/queue/simple/print'];
    const load = await burst(t, [b, c], commands, SENT, USER);
    await load.settled('each command of B and C answered or queued');
    const share = RATE.bucketSize / 2;
    for (const [i, stack] of [b, c].entries()) {
      const name = stack.app.group?.replicaId as string;
      t.equal(
        ran(sim, commands[i] as string),
        share,
        `${name} ran ${share} commands: half the bucket`,
      );
      t.equal(queuedIn(stack), SENT - share, `${name} holds the rest until tokens come`);
    }
    t.equal(
      ran(sim, '/ip/address/print') + ran(sim, '/queue/simple/print'),
      RATE.bucketSize,
      'together the survivors spent the whole bucket, not two thirds of it',
    );

    // The clock runs again: the rest are served.
    clock.thaw();
    await load.done;
    t.same(load.failures, [], 'no command was refused');
  },
);
