import t from 'tap';
import { SharedGroup } from '../../src/shared/index.js';
import { eventually } from '../fixtures/eventually.js';
import { startRedis } from '../fixtures/redis-server.js';
import { memoryLogger, startReplicas, warnings } from '../fixtures/shared-replicas.js';

const redis = await startRedis();
t.teardown(() => redis.stop());

t.test('three replicas see each other: N is 3 and the registry holds their ids', async (t) => {
  const groups = await startReplicas(t, redis.url, 3);
  for (const g of groups) {
    t.ok(g.isUp);
    t.equal(g.replicas, 3);
  }
  const stats = groups[0]!.stats();
  t.equal(stats.isUp, true);
  t.equal(stats.replicaId, 'r1');
  t.equal(stats.downReason, undefined);
  t.ok(stats.roundTrips >= 2, 'each heartbeat is a round trip');
  const members = await redis.command('ZRANGE', `${groups[0]!.prefix}replicas`, '0', '-1');
  t.match(members, /r1[\s\S]*r2[\s\S]*r3/);
});

t.test('keys of one router share a Cluster hash tag under the prefix', async (t) => {
  const [g] = await startReplicas(t, redis.url, 1, { prefix: 'grp:' });
  t.equal(g!.key('core-1', 'bucket'), 'grp:{core-1}:bucket');
  t.equal(g!.prefix, 'grp:');
});

t.test('a replica that closes leaves the registry; the others count one fewer', async (t) => {
  const [a, b] = await startReplicas(t, redis.url, 2);
  const counts: number[] = [];
  a!.on('replicas', (n) => counts.push(n));
  await b!.close();
  await b!.close();
  t.equal(await b!.heartbeat(), false, 'a closed group does not beat');
  await a!.heartbeat();
  t.equal(a!.replicas, 1);
  t.same(counts, [1]);
});

t.test('a crashed replica stays counted until its registration expires', async (t) => {
  const clock = { now: 1_000_000 };
  const [a, b] = await startReplicas(t, redis.url, 2, { clock, replicaTtlMs: 15_000 });
  b!.destroy();
  await a!.heartbeat();
  t.equal(a!.replicas, 2, 'still counted within the TTL');
  clock.now += 15_000;
  await a!.heartbeat();
  t.equal(a!.replicas, 1, 'gone once its TTL passed');
});

t.test(
  'a group started with no Redis starts down, never throws, and comes up when Redis does',
  async (t) => {
    const server = await startRedis();
    t.teardown(() => server.stop());
    await server.kill();
    const logger = memoryLogger();
    const group = new SharedGroup({
      url: server.url,
      replicaId: 'lonely',
      opTimeoutMs: 200,
      probeMs: 20,
      logger,
    });
    t.teardown(() => group.destroy());
    const ups: string[] = [];
    group.on('up', () => ups.push('up'));
    t.equal(await group.start(), false);
    t.equal(group.isUp, false);
    t.match(group.stats().downReason, /ECONNREFUSED/, 'the reason says the cause');
    t.equal(group.replicas, 1, 'alone until Redis says otherwise');
    t.equal(await group.send(['PING']), undefined, 'commands fall back while down');
    t.ok(group.stats().fallbacks >= 1);
    await server.restart();
    await eventually(() => group.isUp, 'the group to come up');
    t.same(ups, ['up']);
    t.match(logger.lines, [
      {
        level: 'warn',
        msg: 'shared: Redis not reached; local state until it answers',
        obj: { replicaId: 'lonely', reason: /ECONNREFUSED/ },
      },
      { level: 'info', msg: 'shared: Redis up', obj: { replicaId: 'lonely' } },
    ]);
    t.equal(warnings(logger).length, 1, 'one warning, not one per retry');
  },
);

t.test(
  'before Redis was ever reached the reason is the latest cause, and only the first is logged',
  async (t) => {
    const handlers = new Map<string, (err?: unknown) => void>();
    let reply: () => Promise<unknown> = async () => {
      // Connecting to localhost: one error per address, gathered without a message.
      throw Object.assign(new Error(''), { code: 'ECONNREFUSED' });
    };
    const fake = {
      isReady: true,
      connect: async () => undefined,
      sendCommand: () => reply(),
      on(event: string, listener: (err?: unknown) => void) {
        handlers.set(event, listener);
      },
      close: async () => undefined,
      destroy: () => undefined,
    };
    const logger = memoryLogger();
    const g = new SharedGroup({
      url: 'redis://fake',
      replicaId: 'f',
      opTimeoutMs: 20,
      probeMs: 60_000,
      logger,
      connect: () => fake as never,
    });
    t.teardown(() => g.destroy());
    t.equal(await g.start(), false);
    t.equal(g.stats().downReason, 'ECONNREFUSED', 'the code when the error has no message');
    handlers.get('error')!(new Error(''));
    t.equal(g.stats().downReason, 'connection lost', 'neither message nor code: the reason');
    handlers.get('error')!('not an error');
    t.equal(g.stats().downReason, 'connection lost');
    reply = () => new Promise(() => undefined);
    t.equal(await g.heartbeat(), false);
    t.equal(g.stats().downReason, 'timeout');
    t.match(warnings(logger), [
      {
        msg: 'shared: Redis not reached; local state until it answers',
        obj: { reason: 'ECONNREFUSED' },
      },
    ]);
    t.equal(warnings(logger).length, 1);
  },
);

t.test('the password may come in the URL or as an option', async (t) => {
  const server = await startRedis('s3cret');
  t.teardown(() => server.stop());
  const inUrl = new SharedGroup({
    url: `redis://:s3cret@127.0.0.1:${server.port}`,
    replicaId: 'a',
  });
  const asOption = new SharedGroup({ url: server.url, password: 's3cret', replicaId: 'b' });
  const wrong = new SharedGroup({
    url: server.url,
    password: 'nope',
    replicaId: 'c',
    opTimeoutMs: 200,
  });
  for (const g of [inUrl, asOption, wrong]) t.teardown(() => g.destroy());
  t.equal(await inUrl.start(), true);
  t.equal(await asOption.start(), true);
  t.equal(await wrong.start(), false, 'a wrong password is Redis down, not an exception');
});

t.test(
  'an error reply from Redis is logged and answered locally, and the group stays up',
  async (t) => {
    const logger = memoryLogger();
    const [g] = await startReplicas(t, redis.url, 1, { logger });
    t.equal(await g!.send(['NOSUCHCOMMAND']), undefined);
    t.ok(g!.isUp, 'Redis answered: it is up');
    t.equal(g!.stats().errors, 1);
    t.match(warnings(logger), [{ msg: 'shared: Redis refused a command' }]);
  },
);

t.test(
  'Redis that answers but takes no writes (too few replicas, out of memory, read-only) is down',
  async (t) => {
    const server = await startRedis();
    t.teardown(() => server.stop());
    const [g] = await startReplicas(t, server.url, 1);
    t.ok(g!.isUp);
    // Every write refused with NOREPLICAS, as OOM or READONLY refuse them.
    await server.command('CONFIG', 'SET', 'min-replicas-to-write', '1');
    t.equal(await g!.heartbeat(), false, 'the heartbeat cannot register the replica');
    t.notOk(g!.isUp, 'down: the replica falls back to its own share');
    await server.command('CONFIG', 'SET', 'min-replicas-to-write', '0');
    t.equal(await g!.send(['PING']), undefined, 'commands wait for the heartbeat while down');
    t.equal(await g!.heartbeat(), true, 'up again once Redis takes writes');
  },
);

t.test('a state listener that throws is logged and the others still run', async (t) => {
  const logger = memoryLogger();
  const server = await startRedis();
  t.teardown(() => server.stop());
  const [g] = await startReplicas(t, server.url, 1, { logger, probeMs: 20 });
  const seen: boolean[] = [];
  g!.onStateChange(() => {
    throw new Error('boom');
  });
  g!.onStateChange((isUp) => seen.push(isUp));
  await server.kill();
  await eventually(() => !g!.isUp, 'the group to go down');
  t.same(seen, [false]);
  t.match(warnings(logger), [
    { msg: 'shared: Redis down, falling back to local state', obj: { reason: 'connection lost' } },
    { msg: 'shared: a state listener threw' },
  ]);
});

t.test('options are checked and name the option', async (t) => {
  t.throws(() => new SharedGroup({ url: redis.url, replicaId: 'a:b' }), /replicaId/);
  t.throws(() => new SharedGroup({ url: redis.url, replicaId: '' }), /replicaId/);
  t.throws(
    () => new SharedGroup({ url: redis.url, replicaId: 'a', opTimeoutMs: 0 }),
    /opTimeoutMs/,
  );
  t.throws(
    () => new SharedGroup({ url: redis.url, replicaId: 'a', heartbeatMs: -1 }),
    /heartbeatMs/,
  );
});

t.test('the replica id defaults to HOSTNAME', async (t) => {
  const saved = process.env.HOSTNAME;
  t.teardown(() => {
    if (saved === undefined) delete process.env.HOSTNAME;
    else process.env.HOSTNAME = saved;
  });
  process.env.HOSTNAME = 'billing-7f9c';
  const g = new SharedGroup({ url: redis.url });
  t.equal(g.replicaId, 'billing-7f9c');
  delete process.env.HOSTNAME;
  const h = new SharedGroup({ url: redis.url });
  t.ok(h.replicaId.length > 0, 'else the host name');
  g.destroy();
  h.destroy();
});

t.test('the heartbeat timer renews the registration by itself', async (t) => {
  const [g] = await startReplicas(t, redis.url, 1, { heartbeatMs: 10 });
  const before = g!.stats().roundTrips;
  await eventually(() => g!.stats().roundTrips >= before + 2, 'two more heartbeats');
  t.ok(g!.isUp);
});

t.test('two routers share one subscriber connection, and a close releases it', async (t) => {
  const [a, b] = await startReplicas(t, redis.url, 2);
  const buses = [a!.invalidationBus('one'), a!.invalidationBus('two'), b!.invalidationBus('two')];
  await eventually(() => buses.every((bus) => bus.isLive), 'every bus live');
  const heard: string[] = [];
  buses[1]!.on('invalidate', (e) => heard.push(`${e.router} ${e.menu}`));
  await buses[2]!.publish('/ip/address');
  await eventually(() => heard.length === 1, 'the invalidation');
  t.same(heard, ['two /ip/address']);
  await a!.close();
  t.notOk(a!.isSubscribed);
});

t.test('a subscription listener that throws is logged', async (t) => {
  const logger = memoryLogger();
  const [g] = await startReplicas(t, redis.url, 1, { logger });
  let isReady = false;
  g!.subscribe(
    'plain',
    () => undefined,
    () => {
      isReady = true;
      throw new Error('listener broke');
    },
  );
  await eventually(() => isReady, 'the subscription');
  await eventually(() => warnings(logger).length > 0, 'the warning');
  t.match(warnings(logger), [{ msg: 'shared: a subscription listener threw' }]);
});

t.test('closing while Redis is down neither waits long nor throws', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const [g] = await startReplicas(t, server.url, 1, { probeMs: 3_600_000 });
  await server.kill();
  await eventually(() => !g!.isUp, 'the replica to notice');
  await g!.close();
  t.notOk(g!.isUp);
});

t.test(
  'a subscribe the subscriber connection refuses is tried again at its next ready',
  async (t) => {
    const handlers = new Map<string, (err?: unknown) => void>();
    let attempts = 0;
    const fake = {
      isReady: true,
      connect: async () => {
        throw new Error('no connection in this test');
      },
      sendCommand: async () => 1,
      subscribe: async () => {
        attempts++;
        if (attempts === 1) throw new Error('refused');
      },
      unsubscribe: async () => undefined,
      on(event: string, listener: (err?: unknown) => void) {
        handlers.set(event, listener);
      },
      duplicate: () => fake,
      close: async () => {
        throw new Error('already closed');
      },
      destroy: () => undefined,
    };
    const g = new SharedGroup({ url: 'redis://fake', replicaId: 'f', connect: () => fake });
    t.teardown(() => g.destroy());
    let readies = 0;
    g.subscribe(
      'ch',
      () => undefined,
      () => readies++,
    );
    await eventually(() => attempts === 1, 'the first attempt');
    t.equal(readies, 0, 'not subscribed');
    handlers.get('error')!(new Error('lost'));
    handlers.get('ready')!();
    await eventually(() => readies === 1, 'the second attempt');
    t.equal(attempts, 2);
    await g.close();
    t.pass('a close the connection refuses is not an error');
  },
);

t.test('a heartbeat under way when the group is destroyed schedules nothing more', async (t) => {
  const [g] = await startReplicas(t, redis.url, 1);
  const beat = g!.heartbeat();
  g!.destroy();
  t.equal(await beat, false);
  t.equal(await g!.heartbeat(), false);
});
