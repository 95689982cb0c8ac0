import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { text, type RawClient } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from '../fixtures/stack.js';

const IDENTITY = ['/system/identity/print'];
const USERS = ['/ip/hotspot/user/print', '=.proplist=.id,name,comment'];
const STALE_LOG = 'cache served a stale reply: the router cannot be reached';

/**
 * A stack whose identity replies expire at once (so what the cache holds is
 * stale), served stale for a minute; the breaker settings small when it is on.
 */
function staleStack(t: Parameters<typeof startStack>[0], isBreakerOn: boolean): Promise<Stack> {
  return startStack(t, {
    sim: { version: '7.19', hotspotUsers: 5 },
    router: {
      pool: { acquireTimeoutMs: 300, reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 100 },
    },
    config: {
      flow: {
        rateLimit: { enabled: false },
        breaker: isBreakerOn
          ? { threshold: 1, volumeThreshold: 1, monitoringMs: 10_000, resetTimeoutMs: 200 }
          : { enabled: false },
      },
      cache: {
        ttlRules: [{ path: '/system/identity', ttlMs: 1 }],
        maxStaleMs: 60_000,
        listen: { retryInitialMs: 20, retryMaxMs: 100 },
      },
    },
  });
}

const cacheStats = (stack: Stack) => stack.app.cache.stats()[stack.router.config.name];
const ran = (stack: Stack, command: string): number => stack.sim.counters.commands[command] ?? 0;

/** Takes the router away: its sessions drop and new ones are refused. */
function routerDown(stack: Stack): void {
  stack.sim.faults.refuseConnections = true;
  stack.sim.faults.dropAll();
}

/** Fills the cache with the identity and the users, as the router has them now. */
async function fill(c: RawClient): Promise<{ identity: string[]; users: string[] }> {
  const identity = text(await c.call([...IDENTITY, '.tag=i']));
  const users = text(await c.call([...USERS, '.tag=u']));
  return { identity, users };
}

for (const isBreakerOn of [true, false]) {
  const why = isBreakerOn ? 'the breaker is open' : 'no router session can be had';
  t.test(`while ${why}, prints are served stale, and writes are refused`, async (t) => {
    const stack = await staleStack(t, isBreakerOn);
    const c = await loggedIn(t, stack);
    const before = await fill(c);
    await eventually(() => cacheStats(stack)?.listensActive === 1, 'the users listen running');
    routerDown(stack);
    await eventually(() => stack.router.pool.connections.length === 0, 'every session gone');

    t.same(text(await c.call([...IDENTITY, '.tag=i'])), before.identity, 'the identity, stale');
    t.same(text(await c.call([...USERS, '.tag=u'])), before.users, 'the users, stale');
    t.equal(cacheStats(stack)?.staleServed, 2);
    t.equal(stack.logs.filter((l) => l['msg'] === STALE_LOG && l['level'] === 20).length, 2);
    if (isBreakerOn)
      t.ok(stack.router.flow.stats().refusals.breakerOpen >= 2, 'refused by the breaker');

    const add = text(await c.call(['/ip/hotspot/user/add', '=name=late', '=password=x', '.tag=w']));
    t.match(
      add,
      [/^!trap \.tag=w =message=.+$/, '!done .tag=w'],
      'a write is never answered stale',
    );
    t.equal(cacheStats(stack)?.staleServed, 2);
    const afterWrite = text(await c.call([...USERS, '.tag=u']));
    t.match(afterWrite[0], /^!trap /, 'the written menu is not served stale after a write');
    t.same(text(await c.call([...IDENTITY, '.tag=i'])), before.identity, 'other menus still are');

    stack.sim.faults.refuseConnections = false;
    await eventually(
      () => stack.router.pool.connections.length > 0 && cacheStats(stack)?.listensActive === 1,
      'the router back, and the listen',
    );
    const printed = ran(stack, '/system/identity/print');
    // Each print is answered the same, from the cache until the entry expires.
    await eventually(
      async () => {
        t.same(text(await c.call([...IDENTITY, '.tag=i'])), before.identity);
        return ran(stack, '/system/identity/print') > printed;
      },
      {
        until: (isRun) => isRun,
        what: 'a print to reach the router',
        intervalMs: 20,
        attempts: 100,
      },
    );
    t.ok(ran(stack, '/system/identity/print') > printed, 'prints reach the router again');
    t.equal(ran(stack, '/ip/hotspot/user/add'), 0, 'the refused write never reached the router');
  });
}
