/**
 * Strict mode (issue 18, `shared.strict`): a print through any replica
 * right after a write's `!done` through another sees the write, because a
 * cache hit checks the menu's version in Redis; with Redis away a strict
 * replica answers from the router.
 */
import t from 'tap';
import { validateConfig } from '../../src/config/index.js';
import type { Simulator } from '../../src/simulator/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw } from '../fixtures/raw-client.js';
import { startRedis, type RedisServer } from '../fixtures/redis-server.js';
import { deafConnection, startReplicaStacks } from '../fixtures/replica-stacks.js';
import { commentOf } from '../fixtures/replicas.js';
import { startTestSimulator, type Stack } from '../fixtures/stack.js';

let redis: RedisServer;
t.before(async () => {
  redis = await startRedis();
});
t.teardown(() => redis.stop());

const CONFIG = {
  flow: { rateLimit: { enabled: false } },
  cache: { listen: { enabled: false }, defaultTtlMs: 600_000, ttlRules: [] },
  audit: { enabled: false },
};
const PRINT = ['/ip/hotspot/user/print', '=.proplist=.id,name,comment'];

const printsOf = (sim: Simulator): number => sim.counters.commands['/ip/hotspot/user/print'] ?? 0;

async function hotspot(t: Parameters<typeof startTestSimulator>[0]) {
  return startTestSimulator(t, { user: 'admin', password: 'secret', hotspotUsers: 3 });
}

t.test('REDIS_STRICT_CACHE turns strict mode on; it is off by default', (t) => {
  const router = { name: 'a', host: 'r', password: 'pw' };
  const env = { REDIS_URL: 'redis://r:6379', REDIS_STRICT_CACHE: 'true' };
  t.equal(validateConfig({ routers: [router] }, env).config.shared?.strict, true);
  const plain = validateConfig({ routers: [router] }, { REDIS_URL: 'redis://r:6379' });
  t.equal(plain.config.shared?.strict, undefined);
  t.end();
});

t.test(
  'a write through replica 1 is seen by the very next print through replica 2, hits stay hits',
  async (t) => {
    const sim = await hotspot(t);
    const [r1, r2] = (await startReplicaStacks(t, sim, redis.url, {
      config: CONFIG,
      shared: { strict: true },
    })) as [Stack, Stack];
    const writer = await openRaw(t, r1.port, { user: 'admin', password: 'secret' });
    const reader = await openRaw(t, r2.port, { user: 'admin', password: 'secret' });
    for (let round = 0; round < 5; round++) {
      await reader.call(PRINT);
      const printed = printsOf(sim);
      await reader.call(PRINT);
      t.equal(printsOf(sim), printed, `round ${round}: an unchanged menu is a cache hit`);
      const comment = `paid|${round}|{"plan":"gold"}`;
      await writer.call(['/ip/hotspot/user/set', '=.id=*1', `=comment=${comment}`]);
      t.equal(commentOf(await reader.call(PRINT)), comment, `round ${round}: no wait needed`);
    }
    const stats = r2.app.cache.stats()[r2.router.config.name];
    t.ok((stats?.hits ?? 0) >= 5, 'replica 2 served hits');
  },
);

t.test('a strict replica that hears no invalidation still sees a write at once', async (t) => {
  const sim = await hotspot(t);
  const [r1, r2] = (await startReplicaStacks(t, sim, redis.url, {
    config: CONFIG,
    shared: { strict: true },
    group: (replica) => (replica === 2 ? { connect: deafConnection } : {}),
  })) as [Stack, Stack];
  const writer = await openRaw(t, r1.port, { user: 'admin', password: 'secret' });
  const reader = await openRaw(t, r2.port, { user: 'admin', password: 'secret' });
  await reader.call(PRINT);
  await writer.call(['/ip/hotspot/user/set', '=.id=*1', '=comment=unheard']);
  t.equal(commentOf(await reader.call(PRINT)), 'unheard');
  t.equal(r2.app.group?.group.stats().invalidationsReceived, 0, 'replica 2 heard nothing');
  // A write to a related menu (/ip/hotspot/user/profile drops /ip/hotspot/user) counts too.
  await reader.call(PRINT);
  const printed = printsOf(sim);
  await writer.call(['/ip/hotspot/user/profile/set', '=.id=*0', '=comment=p']);
  await reader.call(PRINT);
  t.equal(printsOf(sim), printed + 1, 'the print after the related write went to the router');
  await reader.call(PRINT);
  t.equal(printsOf(sim), printed + 1, 'and the next one is a hit again');
});

t.test('with Redis down a strict replica answers every print from the router', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const sim = await hotspot(t);
  const [, r2] = (await startReplicaStacks(t, sim, server.url, {
    config: CONFIG,
    shared: { strict: true },
    group: { probeMs: 20 },
  })) as [Stack, Stack];
  const reader = await openRaw(t, r2.port, { user: 'admin', password: 'secret' });
  await reader.call(PRINT);
  await server.kill();
  await eventually(() => r2.app.group?.group.isUp === false, 'replica 2 to notice');
  const printed = printsOf(sim);
  for (let i = 0; i < 3; i++) {
    t.equal(String((await reader.call(PRINT)).at(-1)), '!done', `print ${i} answered`);
  }
  t.equal(printsOf(sim), printed + 3, 'no version to check: each print went to the router');
  await server.restart();
  await eventually(() => r2.app.group?.group.isUp === true, 'Redis back');
  await reader.call(PRINT);
  const refilled = printsOf(sim);
  await reader.call(PRINT);
  t.equal(printsOf(sim), refilled, 'hits again once Redis answers');
});
