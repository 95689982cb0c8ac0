import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { text, taggedWith } from '../fixtures/raw-client.js';
import { loggedIn, startStack } from '../fixtures/stack.js';

/** One token, the next a minute away, and no queue: the second command is refused. */
const ONE_TOKEN = {
  rateLimit: { bucketSize: 1, refillTokens: 1, refillIntervalMs: 60_000, maxQueue: 0 },
};

t.test(
  'a live reload of flow applies to new commands while connected clients keep working',
  async (t) => {
    const stack = await startStack(t, {
      sim: { streamIntervalMs: 5 },
      config: { cache: { enabled: false } },
    });
    const [c, watcher] = await Promise.all([loggedIn(t, stack), loggedIn(t, stack)]);
    watcher.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=s']);
    await watcher.next();
    for (let i = 0; i < 3; i++) {
      t.equal(
        String((await c.call(['/system/identity/print', `.tag=b${i}`])).at(-1)),
        `!done .tag=b${i}`,
        `before the reload command ${i} passes`,
      );
    }
    const before = stack.router.flow;

    t.match(await stack.app.reconfigure('flow', ONE_TOKEN), { ok: true }, 'the reload is applied');
    t.not(stack.router.flow, before, 'the router has a new flow stage');
    t.equal(stack.app.config.flow.rateLimit.bucketSize, 1, 'the configuration in force says so');
    t.equal(
      String((await c.call(['/system/identity/print', '.tag=n1'])).at(-1)),
      '!done .tag=n1',
      'on the same connection, the first command takes the new bucket’s token',
    );
    t.same(
      text(await c.call(['/system/identity/print', '.tag=n2'])),
      ['!trap .tag=n2 =message=rate limited: queue full (0 waiting)', '!done .tag=n2'],
      'the second finds the new limit',
    );

    const unread = watcher.unread;
    await eventually(
      () => watcher.unread > unread,
      'the stream started before the reload to go on',
    );
    watcher.send(['/cancel', '=tag=s', '.tag=c']);
    const tail = text(await watcher.untilDone('s')).filter(taggedWith('s'));
    t.same(
      tail.slice(-2),
      ['!trap .tag=s =category=2 =message=interrupted', '!done .tag=s'],
      'and it is cancelled like any stream',
    );

    t.same(
      await stack.app.reconfigure('flow', {
        rateLimit: { bucketSize: null, refillTokens: null, refillIntervalMs: null, maxQueue: null },
      }),
      {
        ok: true,
        changes: [
          { key: 'flow.rateLimit.bucketSize', old: 1, new: 100, applies: 'now' },
          { key: 'flow.rateLimit.refillTokens', old: 1, new: 10, applies: 'now' },
          { key: 'flow.rateLimit.refillIntervalMs', old: 60_000, new: 100, applies: 'now' },
          { key: 'flow.rateLimit.maxQueue', old: 0, new: 1000, applies: 'now' },
        ],
      },
      'null sets each key back to its default',
    );
    t.equal(
      String((await c.call(['/system/identity/print', '.tag=d'])).at(-1)),
      '!done .tag=d',
      'and the client is no longer limited',
    );
    const reloads = stack.app.metrics.events().filter((e) => e.kind === 'reload');
    t.same(
      reloads.map((e) => e.message),
      ['configuration flow applied: flow', 'configuration flow applied: flow'],
      'each reload is a dashboard event',
    );
  },
);

t.test('a flow reload that fails its checks changes nothing', async (t) => {
  const stack = await startStack(t, { config: { cache: { enabled: false } } });
  const c = await loggedIn(t, stack);
  const before = stack.router.flow;
  const result = await stack.app.reconfigure('flow', { rateLimit: { bucketSize: 0 } });
  t.equal(result.ok, false, 'the reload is refused');
  t.match(result, { errors: [/flow\.rateLimit\.bucketSize/] }, 'naming the key');
  t.equal(stack.router.flow, before, 'the flow stage in force stays');
  t.equal(
    String((await c.call(['/system/identity/print', '.tag=x'])).at(-1)),
    '!done .tag=x',
    'and commands pass as before',
  );
});

t.test(
  'with every stage at its default, cache misses and writes still reach the router after a flow change',
  async (t) => {
    // Nothing turned off: the cache, audit and policy run as shipped.
    const stack = await startStack(t);
    t.equal(stack.app.config.cache.enabled, true, 'the cache is on');
    const c = await loggedIn(t, stack);
    t.equal(text(await c.call(['/ip/address/print', '.tag=a'])).at(-1), '!done .tag=a');
    const before = stack.router.flow;
    const defaultConcurrency = stack.app.config.flow.maxConcurrency;

    const result = await stack.app.reconfigure('flow', { maxConcurrency: 8 });
    t.same(result, {
      ok: true,
      changes: [{ key: 'flow.maxConcurrency', old: defaultConcurrency, new: 8, applies: 'now' }],
    });
    t.not(stack.router.flow, before, 'the router has a new flow stage');
    // The replaced stage closes once idle; from then on it refuses all it gets.
    await eventually(
      () => stack.logs.some((l) => l['msg'] === 'replaced flow stage closed'),
      'the old flow stage to close',
    );

    const routerPrints = () => stack.sim.counters.commands['/interface/print'] ?? 0;
    const seen = routerPrints();
    const printed = text(await c.call(['/interface/print', '=.proplist=name', '.tag=m']));
    t.equal(printed.at(-1), '!done .tag=m', 'a print the cache does not hold is answered');
    t.notOk(
      printed.some((r) => r.startsWith('!trap')),
      'without a trap',
    );
    t.equal(routerPrints(), seen + 1, 'by the router, through the new flow stage');
    const added = text(
      await c.call(['/ip/hotspot/user/add', '=name=after-reload', '=password=x', '.tag=w']),
    );
    t.match(added, [/^!done \.tag=w =ret=\*[0-9A-F]+$/], 'a write is answered by the router');
    const users = text(await c.call(['/ip/hotspot/user/print', '?name=after-reload', '.tag=u']));
    t.match(users, [/^!re .*=name=after-reload/, '!done .tag=u'], 'and the write took effect');
    t.notOk(
      stack.logText().includes('rosgate is shutting down'),
      'no command met the retired stage',
    );
  },
);

t.test(
  'a flow reload during an outage keeps the circuit open: commands still get a fast circuit-open trap',
  async (t) => {
    const stack = await startStack(t, {
      router: { pool: { acquireTimeoutMs: 60_000 } },
      config: { cache: { enabled: false }, flow: { breaker: { monitoringMs: 300 } } },
    });
    const c = await loggedIn(t, stack);
    await eventually(() => stack.router.pool.stats.ready > 0, 'a router session');
    stack.sim.faults.refuseConnections = true;
    stack.sim.faults.dropAll();
    await eventually(() => stack.router.flow.breakerState === 'open', 'the circuit to open');
    const before = stack.router.flow;

    t.match(await stack.app.reconfigure('flow', { maxConcurrency: 8 }), { ok: true });
    t.not(stack.router.flow, before, 'a new flow stage');
    t.equal(stack.router.flow.breakerState, 'open', 'its circuit is open as the old one was');
    t.same(stack.router.flow.stats().breakerTransitions.open, 0, 'no new transition is reported');
    // A closed circuit would make it wait for a session (a minute here).
    t.match(text(await c.call(['/system/identity/print', '.tag=a'])), [
      /^!trap \.tag=a =message=router unavailable \(circuit open, retry in \d+s\): router /,
      '!done .tag=a',
    ]);

    stack.sim.faults.refuseConnections = false;
    await eventually(() => stack.router.flow.breakerState === 'closed', 'the router back');
    t.equal(text(await c.call(['/system/identity/print', '.tag=b'])).at(-1), '!done .tag=b');
  },
);

t.test(
  'a flow reload while commands run lets no more than maxConcurrency reach the router, and answers everything in order',
  async (t) => {
    const stack = await startStack(t, {
      config: {
        cache: { enabled: false },
        flow: { maxConcurrency: 2, rateLimit: { enabled: false }, priority: { enabled: false } },
      },
    });
    const c = await loggedIn(t, stack);
    const atRouter = (command: string): number => stack.sim.counters.commands[command] ?? 0;
    // Pings of a hundred thousand rounds: they run until cancelled, each holding a slot.
    for (const tag of ['p1', 'p2'])
      c.send(['/ping', '=address=10.0.0.1', '=count=100000', `.tag=${tag}`]);
    await eventually(() => atRouter('/ping') === 2, 'both pings on the router');
    c.send(['/ppp/secret/print', '=.proplist=name', '.tag=q']);
    await eventually(() => stack.router.flow.stats().queued.normal === 1, 'a print to wait');
    const before = stack.router.flow;

    t.match(await stack.app.reconfigure('flow', { slowCommandMs: 5000 }), { ok: true });
    t.not(stack.router.flow, before, 'a new flow stage');
    for (const tag of ['n1', 'n2']) c.send(['/interface/print', '=.proplist=name', `.tag=${tag}`]);
    await eventually(
      () =>
        before.stats().queued.normal +
          stack.router.flow.stats().queued.normal +
          atRouter('/interface/print') >=
        3,
      'the prints sent after the reload to wait or reach the router',
    );
    t.equal(atRouter('/interface/print'), 0, 'none reached the router while both slots are held');
    t.equal(atRouter('/ppp/secret/print'), 0, 'nor the one that waited before the reload');
    t.equal(stack.router.flow.stats().queued.normal, 3, 'all three wait in the new stage');
    t.equal(before.stats().inFlight, 2, 'the old stage still runs the pings');
    const gauge = await stack.app.metrics.registry.getSingleMetric('rosgate_flow_in_flight')?.get();
    t.same(
      gauge?.values.map((v) => v.value),
      [2],
      "the in-flight gauge counts the router's commands, the old stage's too",
    );

    c.send(['/cancel', '=tag=p1', '.tag=c1']);
    const answered = text(await c.untilDone('n2'));
    const ends = answered.filter((line) => line.startsWith('!done'));
    t.same(
      ends,
      ['!done .tag=c1', '!done .tag=p1', '!done .tag=q', '!done .tag=n1', '!done .tag=n2'],
      'one slot freed: the print that waited first, then the later ones, one at a time',
    );
    t.equal(atRouter('/ping'), 2, 'the other ping ran all along');
    t.equal(atRouter('/interface/print'), 2);
    c.send(['/cancel', '=tag=p2', '.tag=c2']);
    t.equal(text(await c.untilDone('p2')).at(-1), '!done .tag=p2');
  },
);
