import net from 'node:net';
import t, { type Test } from 'tap';
import { sampleValue } from '../fixtures/admin-prom-parse.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, RawClient, text } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from '../fixtures/stack.js';
import { adminClient, type AdminClient } from '../fixtures/wire-admin.js';
import { startLoad } from '../fixtures/wire-load.js';

// Live configuration through the admin port of the running app:
// PUT /monitoring/config/<section> while clients keep working.

const TOKEN = 'e2e-reload-token-0123456789';

async function stackWithAdmin(
  t: Test,
  config: Record<string, unknown> = {},
  sim: Record<string, unknown> = {},
  router: Record<string, unknown> = {},
): Promise<{ stack: Stack; admin: AdminClient }> {
  const stack = await startStack(t, {
    sim,
    router,
    config: { monitoring: { host: '127.0.0.1', port: 0, token: TOKEN }, ...config },
  });
  return { stack, admin: adminClient(stack.app.adminPort as number, TOKEN) };
}

async function lastReloadOk(admin: AdminClient): Promise<number | undefined> {
  return sampleValue(await admin.metrics(), 'rosgate_config_last_reload_successful');
}

t.test('a new pool maximum takes effect while clients keep working', async (t) => {
  const { stack, admin } = await stackWithAdmin(
    t,
    { cache: { enabled: false }, flow: { rateLimit: { enabled: false } } },
    { latencyMs: 5 },
  );
  t.equal(stack.app.config.routers[0]?.pool.max, 5);
  const first = await admin.request('config/routers', {
    method: 'PUT',
    body: { default: { pool: { max: 1 } } },
  });
  t.same(
    [first.status, first.json()],
    [
      200,
      {
        ok: true,
        section: 'routers',
        changes: [{ key: 'routers.default.pool.max', old: 5, new: 1, applies: 'now' }],
      },
    ],
  );
  const load = await startLoad(t, stack.port, {
    clients: 4,
    words: ['/system/identity/print'],
    user: 'admin',
    password: 'secret',
  });
  await eventually(() => load.answered() >= 40, 'commands on one session');
  t.equal(stack.router.pool.stats.ready, 1, 'one session with a maximum of 1');

  const put = await admin.request('config/routers', {
    method: 'PUT',
    body: { default: { pool: { max: 2 } } },
  });
  t.match([put.status, put.json()], [200, { ok: true, changes: [{ old: 1, new: 2 }] }]);
  await eventually(() => stack.router.pool.stats.ready === 2, 'a second session');
  const atTwo = load.answered();
  await eventually(() => load.answered() >= atTwo + 40, 'commands on two sessions');
  t.equal(stack.sim.counters.sessionsPeak, 2, 'never more than the maximum');

  const result = await load.stop();
  t.same(result.failures, [], 'no client dropped, no command refused');
  t.ok(
    result.answered.every((n) => n > 0),
    'every client was answered',
  );
  const families = await admin.metrics();
  t.equal(sampleValue(families, 'mikrotik_connection_pool_total', { router: 'default' }), 2);
  t.equal(sampleValue(families, 'rosgate_config_last_reload_successful'), 1);
  const config = (await admin.request('config')).json<{ routers: { pool: { max: number } }[] }>();
  t.equal(config.routers[0]?.pool.max, 2, 'the configuration in force says so');
});

t.test('a smaller pool maximum closes the sessions beyond it', async (t) => {
  // The pool looks after its sessions every 50 ms (the interval set at start).
  const { stack, admin } = await stackWithAdmin(
    t,
    { cache: { enabled: false }, flow: { rateLimit: { enabled: false } } },
    { latencyMs: 5 },
    { pool: { healthCheckIntervalMs: 50 } },
  );
  await admin.request('config/routers', {
    method: 'PUT',
    body: { default: { pool: { min: 3, max: 3 } } },
  });
  await eventually(() => stack.router.pool.stats.ready === 3, 'three sessions');
  const load = await startLoad(t, stack.port, {
    clients: 3,
    words: ['/system/identity/print'],
    user: 'admin',
    password: 'secret',
  });
  const put = await admin.request('config/routers', {
    method: 'PUT',
    // A merge: min (3) stays unless the body names it.
    body: { default: { pool: { min: null, max: 1 } } },
  });
  t.equal(put.status, 200);
  await eventually(() => stack.router.pool.stats.ready === 1, 'one session left');
  const atOne = load.answered();
  await eventually(() => load.answered() >= atOne + 20, 'commands on the one session');
  t.same((await load.stop()).failures, [], 'no client dropped, no command refused');
});

t.test('a bad PUT is refused naming the field, and changes nothing', async (t) => {
  const { stack, admin } = await stackWithAdmin(t);
  const before = (await admin.request('config')).text;

  const flow = await admin.request('config/flow', {
    method: 'PUT',
    body: { rateLimit: { bucketSize: 0 }, maxConcurrency: -1 },
  });
  t.equal(flow.status, 400);
  t.match(flow.json(), {
    error: 'the configuration was not changed',
    field: 'flow.rateLimit.bucketSize',
    errors: [/^flow\.rateLimit\.bucketSize must be >= 1/, /^flow\.maxConcurrency/],
  });
  t.equal(await lastReloadOk(admin), 0, 'the failed change shows in the metric');

  const pool = await admin.request('config/routers', {
    method: 'PUT',
    body: { default: { pool: { max: 0 } }, elsewhere: {} },
  });
  t.equal(pool.status, 400);
  t.match(pool.json(), {
    field: 'routers.default.pool.max',
    errors: [
      /^routers\.default\.pool\.max must be/,
      'routers.elsewhere must name a running router',
    ],
  });

  const notJson = await admin.request('config/flow', {
    method: 'PUT',
    headers: { 'content-type': 'text/plain' },
  });
  t.equal(notJson.status, 415);
  const array = await admin.request('config/flow', { method: 'PUT', body: [] });
  t.same(
    [array.status, array.json()],
    [400, { error: 'the body must be a JSON object', field: 'body' }],
  );
  const noToken = await admin.request('config/log', {
    method: 'PUT',
    body: { level: 'warn' },
    token: false,
  });
  t.equal(noToken.status, 401, 'a change needs the token');

  t.equal((await admin.request('config')).text, before, 'the configuration in force is unchanged');
  t.equal(stack.router.pool.stats.ready >= 1, true);
  const c = await loggedIn(t, stack);
  t.equal(text(await c.call(['/system/identity/print'])).at(-1), '!done', 'clients still work');

  const good = await admin.request('config/shutdown', { method: 'PUT', body: { graceMs: 10 } });
  t.equal(good.status, 200);
  t.equal(await lastReloadOk(admin), 1, 'the next good change sets it back');
  t.equal(stack.app.config.shutdown.graceMs, 10);
});

t.test('a section that needs a restart is refused and says so', async (t) => {
  const { stack, admin } = await stackWithAdmin(t);
  for (const section of ['monitoring', 'audit']) {
    const answer = await admin.request(`config/${section}`, { method: 'PUT', body: {} });
    t.equal(answer.status, 400);
    t.same(answer.json(), {
      error: 'the configuration was not changed',
      field: section,
      errors: [`${section} cannot change while rosgate runs: it needs a restart`],
    });
  }
  const users = await admin.request('config/users', { method: 'PUT', body: {} });
  t.same(
    [users.status, users.json()],
    [
      400,
      {
        error: 'the configuration was not changed',
        field: 'users',
        errors: [
          'users cannot change through the admin port: change the file and reload it (SIGHUP), so that no secret travels over HTTP',
        ],
      },
    ],
  );
  const host = await admin.request('config/routers', {
    method: 'PUT',
    body: { default: { host: '10.1.1.1', pool: { max: 2 } } },
  });
  t.same(host.json(), {
    error: 'the configuration was not changed',
    field: 'routers.default.host',
    errors: ['routers.default.host cannot change live: it needs a restart'],
  });
  t.equal(stack.app.config.routers[0]?.pool.max, 5, 'the pool part was not applied either');
  const odd = await admin.request('config/no-such-section!', { method: 'PUT', body: {} });
  t.same([odd.status, odd.json<{ field: string }>().field], [400, 'section']);
});

t.test('each live section changes what it governs', async (t) => {
  const { stack, admin } = await stackWithAdmin(t, {}, { streamIntervalMs: 20 });
  const put = async (section: string, body: unknown) => {
    const answer = await admin.request(`config/${section}`, { method: 'PUT', body });
    t.match([answer.status, answer.json()], [200, { ok: true, section }], `${section} applied`);
  };
  const c = await loggedIn(t, stack);

  t.test('log: the level', async (t) => {
    await put('log', { level: 'warn' });
    const seen = stack.logs.length;
    await c.call(['/system/identity/print']);
    await admin.request('health');
    t.same(
      stack.logs.slice(seen).filter((l) => (l['level'] as number) < 40),
      [],
      'nothing below warn is logged',
    );
    await put('log', { level: 'debug' });
  });

  t.test('cache: prints reach the router every time once it is off', async (t) => {
    const count = () => stack.sim.counters.commands['/system/identity/print'] ?? 0;
    await c.call(['/system/identity/print']);
    const cached = count();
    await c.call(['/system/identity/print']);
    t.equal(count(), cached, 'the cache answered');
    await put('cache', { enabled: false });
    await c.call(['/system/identity/print']);
    await c.call(['/system/identity/print']);
    t.equal(count(), cached + 2, 'both reached the router');
  });

  t.test('policy: a new rule decides the next command', async (t) => {
    await put('policy', {
      rules: [{ name: 'no-identity', action: 'deny', path: '/system/identity/**' }],
    });
    const replies = text(await c.call(['/system/identity/print']));
    t.match(replies, [/^!trap .*no-identity/, '!done']);
    await put('policy', { rules: null });
    t.match(
      text(await c.call(['/system/identity/print'])),
      [/^!re /, '!done'],
      'null takes the rules back to none',
    );
  });

  t.test('flow: a stream running when the flow changes goes on until cancelled', async (t) => {
    const stream = await loggedIn(t, stack);
    stream.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=s']);
    await stream.read(1);
    await put('flow', {
      rateLimit: { bucketSize: 2, refillTokens: 1, refillIntervalMs: 60_000, maxQueue: 0 },
    });
    // Rows keep arriving well past the old flow's next idle check (100 ms).
    const rows = await stream.readUntil((_, i) => i === 9, 'ten more rows');
    t.ok(rows.every((s) => s.command === '!re'));
    stream.send(['/cancel', '=tag=s', '.tag=c']);
    await stream.untilDone('s');
    await eventually(
      () => stack.logs.some((l) => l['msg'] === 'replaced flow stage closed'),
      'the old flow closed once its stream ended',
    );
    t.match(
      stack.logs.find((l) => l['msg'] === 'replaced flow stage closed'),
      {
        router: 'default',
        running: 0,
      },
    );
    // The new bucket holds two tokens and lets nothing wait (the cache is
    // off since the cache test, so every print takes a token).
    const answers = [];
    for (let i = 0; i < 3; i++)
      answers.push(text(await c.call(['/ip/address/print', `.tag=${i}`])));
    t.equal(answers[0]?.at(-1), '!done .tag=0');
    t.match(answers.at(-1), [/^!trap \.tag=2 /, '!done .tag=2']);
    await put('flow', { rateLimit: null });
    t.equal(stack.app.config.flow.rateLimit.bucketSize, 100, 'the bucket is back to its default');
  });

  t.test('limits: new clients meet the new caps', async (t) => {
    await eventually(() => stack.router.stats.clientsConnected === 1, 'the stream client gone');
    await put('limits', { maxClients: 2 });
    await openRaw(t, stack.port, { user: 'admin', password: 'secret' });
    const third = await RawClient.connect(stack.port);
    t.teardown(() => third.close());
    t.same(text(await third.untilClosed()), ['!fatal too many connections']);
    t.equal(text(await c.call(['/system/identity/print'])).at(-1), '!done', 'the others work');
  });
});

t.test('a PUT changes only the keys it names and answers with each of them', async (t) => {
  const { stack, admin } = await stackWithAdmin(t, { flow: { breaker: { enabled: false } } });
  const put = await admin.request('config/flow', { method: 'PUT', body: { maxConcurrency: 8 } });
  t.same(put.json(), {
    ok: true,
    section: 'flow',
    changes: [{ key: 'flow.maxConcurrency', old: 16, new: 8, applies: 'now' }],
  });
  t.equal(stack.app.config.flow.breaker.enabled, false, 'the breaker that was off stays off');
  const reset = await admin.request('config/flow', {
    method: 'PUT',
    body: { maxConcurrency: null, breaker: { enabled: null } },
  });
  t.same(
    reset.json<{ changes: unknown[] }>().changes,
    [
      { key: 'flow.maxConcurrency', old: 8, new: 16, applies: 'now' },
      { key: 'flow.breaker.enabled', old: false, new: true, applies: 'now' },
    ],
    'null sets a key back to its default',
  );
  const c = await loggedIn(t, stack);
  t.equal(text(await c.call(['/ip/address/print'])).at(-1), '!done', 'clients still work');
});

t.test(
  'a limits PUT reaches the decoder, the keepalive and the login checks of new clients',
  async (t) => {
    // Every stage at its default; a second account on the router, checked by it.
    const { stack, admin } = await stackWithAdmin(t, {}, { users: { billing: 'billing-pw' } });
    const keepAlives = t.capture(net.Socket.prototype, 'setKeepAlive', function (this: net.Socket) {
      return this;
    });
    const login = async (password = 'billing-pw') => {
      const before = { ...stack.sim.counters };
      const client = await openRaw(t, stack.port, { user: 'billing', password }).catch(
        () => undefined,
      );
      return {
        client,
        checkedOk: stack.sim.counters.loginsOk - before.loginsOk,
        checkedFailed: stack.sim.counters.loginsFailed - before.loginsFailed,
      };
    };
    // The pool's own sessions log in too: let them open first.
    const { min } = stack.app.config.routers[0]?.pool ?? { min: 0 };
    await eventually(() => stack.router.pool.stats.ready >= min, 'the pool to open');
    const early = await login();
    t.equal(early.checkedOk, 1, 'the first login is checked by the router');
    t.equal((await login()).checkedOk, 0, 'the next one is remembered (loginCacheTtlMs)');
    t.equal((await login('wrong')).checkedFailed, 1, 'a wrong password is checked once');
    t.equal((await login('wrong')).checkedFailed, 0, 'then remembered (loginFailureCacheTtlMs)');

    const put = await admin.request('config/limits', {
      method: 'PUT',
      body: {
        maxWordBytes: 256,
        clientKeepAliveMs: 4321,
        loginCacheTtlMs: 0,
        loginFailureCacheTtlMs: 0,
        maxConcurrentLoginChecks: 2,
        listenBacklog: 16,
      },
    });
    t.same(put.json(), {
      ok: true,
      section: 'limits',
      changes: [
        { key: 'limits.maxWordBytes', old: 1_048_576, new: 256, applies: 'new-clients' },
        { key: 'limits.loginCacheTtlMs', old: 60_000, new: 0, applies: 'now' },
        { key: 'limits.loginFailureCacheTtlMs', old: 5000, new: 0, applies: 'now' },
        { key: 'limits.maxConcurrentLoginChecks', old: 4, new: 2, applies: 'now' },
        { key: 'limits.clientKeepAliveMs', old: 60_000, new: 4321, applies: 'new-clients' },
        { key: 'limits.listenBacklog', old: 4096, new: 16, applies: 'restart' },
      ],
    });
    t.match(
      stack.logs.find((l) => String(l['msg']).endsWith('take effect only after a restart')),
      { keys: ['limits.listenBacklog'] },
      'the restart-only key is logged',
    );

    const late = await login();
    t.equal(late.checkedOk, 1, 'a remembered login is forgotten: the router checks again');
    t.equal((await login()).checkedOk, 1, 'and nothing is remembered any more');
    t.equal((await login('wrong')).checkedFailed, 1, 'a wrong password reaches the router');
    t.equal((await login('wrong')).checkedFailed, 1, 'every time');
    t.ok(
      keepAlives.args().some(([isOn, delay]) => isOn === true && delay === 4321),
      'a new client socket gets the new keepalive delay',
    );

    const long = `=comment=${'x'.repeat(300)}`;
    const fresh = late.client as RawClient;
    fresh.send(['/ip/address/print', long]);
    t.match(text(await fresh.untilClosed()), [/^!fatal/], 'a new client meets the new word limit');
    const old = early.client as RawClient;
    t.notMatch(
      text(await old.call(['/ip/address/print', long, '.tag=o'])),
      [/^!fatal/],
      'a client connected before keeps the limits it started with',
    );
  },
);

t.test('a change while rosgate stops, or after, is refused and builds nothing', async (t) => {
  const { stack } = await stackWithAdmin(t);
  const client = await openRaw(t, stack.port, { user: 'admin', password: 'secret' });
  const level = stack.app.config.log.level;
  // A connected client holds the drain open for the grace period.
  const stopping = stack.app.stop(10_000);
  const refused = {
    ok: false,
    errors: ['rosgate is stopping: nothing is changed now'],
  };
  t.same(
    await stack.app.reconfigure('log', { level: level === 'debug' ? 'info' : 'debug' }),
    refused,
    'a PUT while draining',
  );
  t.same(
    await stack.app.reload({
      ...stack.app.config,
      cache: { ...stack.app.config.cache, enabled: false },
    }),
    refused,
    'a reload while draining',
  );
  t.equal(stack.app.config.log.level, level);
  t.equal(stack.app.config.cache.enabled, true, 'the cache stage was not replaced');
  t.match(
    stack.logs.find((l) => l.msg === 'configuration reload refused; nothing changed'),
    { errors: refused.errors },
  );
  client.close();
  await stopping;
  t.same(await stack.app.reconfigure('flow', {}), refused, 'and after the stop');
});
