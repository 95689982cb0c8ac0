import net from 'node:net';
import t, { type Test } from 'tap';
import { createApp } from '../src/app.js';
import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/logger.js';
import { computeResponse, type Sentence } from '../src/protocol/index.js';
import { sampleValue } from './fixtures/admin-prom-parse.js';
import { eventually } from './fixtures/eventually.js';
import { openRaw, RawClient, text } from './fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from './fixtures/stack.js';
import type { PromFamily } from './fixtures/admin-prom-parse.js';
import { adminClient } from './fixtures/wire-admin.js';
import { parseStrictJson } from './fixtures/strict-json.js';

// What the composition root wires beyond the path of a command: audit off or
// to the log, address lockouts, live sections through app.reconfigure, the
// audit head before its first flush, router outages, and legacy challenge
// logins relayed to an old router.

const TOKEN = 'app-test-token-0123456789';
const MONITORING = { host: '127.0.0.1', port: 0, token: TOKEN };

/** The 16 bytes of a `!done =ret=<32 hex>` challenge. */
function challengeOf(replies: readonly Sentence[]): Buffer {
  const hex = replies[0]?.attributeString('ret') ?? '';
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error(`no challenge in ${text(replies).join(' | ')}`);
  return Buffer.from(hex, 'hex');
}

async function auditEndpoints(t: Test, stack: Stack): Promise<Map<string, PromFamily>> {
  const admin = adminClient(stack.app.adminPort as number, TOKEN);
  for (const path of ['audit-logs', 'audit/head']) {
    const answer = await admin.request(path);
    t.same([answer.status, answer.json()], [404, { error: 'audit is off', field: 'path' }]);
  }
  return admin.metrics();
}

t.test('with audit off nothing is recorded and there are no audit series', async (t) => {
  const stack = await startStack(t, {
    config: { monitoring: MONITORING, audit: { enabled: false } },
  });
  const c = await loggedIn(t, stack);
  await c.call(['/system/identity/print']);
  const families = await auditEndpoints(t, stack);
  t.notOk(families.has('rosgate_audit_records_written_total'));
  t.same(
    stack.logs.filter((l) => l['msg'] === 'audit'),
    [],
    'nothing in the log either',
  );
});

t.test(
  'with audit to the log the records are log lines, and no audit files are served',
  async (t) => {
    const stack = await startStack(t, {
      config: { monitoring: MONITORING, audit: { toFile: false } },
    });
    const c = await loggedIn(t, stack);
    await c.call(['/system/identity/print']);
    const families = await auditEndpoints(t, stack);
    t.ok((sampleValue(families, 'rosgate_audit_records_written_total') as number) >= 3);
    const records = stack.logs.filter((l) => l['msg'] === 'audit').map((l) => l['audit']);
    t.match(records, [
      { kind: 'start' },
      { kind: 'login', userId: 'admin' },
      { kind: 'command', action: '/system/identity/print' },
    ]);
  },
);

t.test('an address locked out after failed logins is an event and an audit record', async (t) => {
  const dir = t.testdir();
  const stack = await startStack(t, {
    config: {
      monitoring: MONITORING,
      audit: { dir, flushIntervalMs: 10 },
      // Loopback is trusted by default (a sidecar): trust no one here to lock the address.
      policy: { lockout: { maxAttempts: 2, trustedSources: [] } },
    },
  });
  const admin = adminClient(stack.app.adminPort as number, TOKEN);
  for (let i = 0; i < 2; i++) {
    const c = await openRaw(t, stack.port);
    t.match(text(await c.login('admin', 'wrong-password')), [/^!trap/]);
  }
  const statistics = (await admin.request('statistics')).json<{
    events: { kind: string; message: string }[];
  }>();
  t.match(statistics.events, [{ kind: 'lockout', message: 'address 127.0.0.1 locked out' }]);
  const found = await eventually(
    async () =>
      (await admin.request('audit-logs?kind=lockout')).json<{
        records: Record<string, unknown>[];
      }>().records,
    {
      until: (records) => records.length > 0,
      what: 'the lockout on disk',
      intervalMs: 20,
      attempts: 250,
    },
  );
  t.match(found, [{ ipAddress: '127.0.0.1', result: 'denied', category: 'security' }]);
  const m = await admin.metrics();
  t.equal(sampleValue(m, 'rosgate_lockouts_total', { router: 'default' }), 1);
});

t.test('a client port already in use names its key and variable, plain or TLS', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => taken.close(resolve)));
  const takenPort = (taken.address() as net.AddressInfo).port;
  const startWith = async (
    router: Record<string, unknown>,
    more: Record<string, unknown>[] = [],
  ) => {
    const { config } = validateConfig({
      routers: [
        { host: '127.0.0.1', password: 'pw', listen: { host: '127.0.0.1', port: 0 }, ...router },
        ...more,
      ],
      monitoring: { enabled: false },
      audit: { enabled: false },
    });
    const app = createApp(config, createLogger('silent', process.stdout));
    t.teardown(() => app.stop());
    return app.start();
  };
  await t.rejects(startWith({ listen: { host: '127.0.0.1', port: takenPort } }), {
    code: 'EADDRINUSE',
    message: new RegExp(
      `^cannot listen \\(EADDRINUSE\\): routers\\[0\\]\\.listen\\.port \\(PROXY_PORT\\): 127\\.0\\.0\\.1:${takenPort} is already in use`,
    ),
  });
  await t.rejects(startWith({ tls: { host: '127.0.0.1', port: takenPort } }), {
    message: /routers\[0\]\.tls\.port \(PROXY_TLS_PORT\): /,
  });
  await t.rejects(
    startWith({}, [
      {
        name: 'edge',
        host: '127.0.0.1',
        password: 'pw',
        listen: { host: '127.0.0.1', port: takenPort },
      },
    ]),
    { message: /\): routers\[1\]\.listen\.port: 127/ },
  );
});

t.test('a port already in use fails the start and leaves no port open', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => taken.close(resolve)));
  const { config } = validateConfig({
    routers: [{ host: '127.0.0.1', password: 'pw', listen: { host: '127.0.0.1', port: 0 } }],
    monitoring: { host: '127.0.0.1', port: (taken.address() as net.AddressInfo).port },
    audit: { enabled: false },
  });
  const app = createApp(config, createLogger('silent', process.stdout));
  const takenPort = (taken.address() as net.AddressInfo).port;
  await t.rejects(app.start(), {
    code: 'EADDRINUSE',
    message: `cannot listen (EADDRINUSE): monitoring.port (MONITORING_PORT): 127.0.0.1:${takenPort} is already in use; stop what listens there, or choose another port`,
  });
  const port = app.routers[0]?.port as number;
  t.ok(port > 0, 'the client port had been bound');
  await t.rejects(RawClient.connect(port), { code: 'ECONNREFUSED' }, 'and is closed again');
  await app.stop();
  t.equal(app.routers[0]?.pool.stats.opened, 0, 'no router session was opened');
});

t.test('a start asked to stop before it binds anything binds nothing', async (t) => {
  const { config } = validateConfig({
    routers: [{ host: '127.0.0.1', password: 'pw', listen: { host: '127.0.0.1', port: 0 } }],
    monitoring: { host: '127.0.0.1', port: 0 },
    audit: { enabled: false },
  });
  const app = createApp(config, createLogger('silent', process.stdout));
  const reason = new Error('stopped while starting');
  await t.rejects(app.start(AbortSignal.abort(reason)), reason);
  t.equal(app.routers[0]?.port, 0, 'no client port was bound: still the configured 0');
  t.equal(app.routers[0]?.pool.stats.opened, 0, 'no router session was opened');
});

t.test('app.reconfigure applies a section, and app.cache is the cache in force', async (t) => {
  const stack = await startStack(t);
  const before = stack.app.cache;
  t.match(await stack.app.reconfigure('cache', { enabled: false }), { ok: true });
  t.not(stack.app.cache, before, 'a new cache');
  t.equal(stack.app.config.cache.enabled, false);
  t.same(await stack.app.reconfigure('audit', {}), {
    ok: false,
    errors: ['audit cannot change while rosgate runs: it needs a restart'],
  });
  t.same(
    await stack.app.reload(stack.app.config),
    { ok: true, changes: [], kept: ['cache.enabled'], overridden: [] },
    'the same configuration',
  );
});

t.test('the audit head is null until the first flush, then the last record', async (t) => {
  const stack = await startStack(t, {
    config: { monitoring: MONITORING, audit: { dir: t.testdir(), flushIntervalMs: 3_600_000 } },
  });
  const admin = adminClient(stack.app.adminPort as number, TOKEN);
  const head = await admin.request('audit/head');
  t.same([head.status, head.json()], [200, null]);
});

t.test('a router that goes away and comes back is logged once each way', async (t) => {
  const stack = await startStack(t, {
    router: { pool: { reconnectInitialDelayMs: 10, reconnectMaxDelayMs: 20 } },
    config: { monitoring: MONITORING },
  });
  const admin = adminClient(stack.app.adminPort as number, TOKEN);
  const messages = () => stack.logs.map((l) => l['msg']);
  stack.sim.faults.refuseConnections = true;
  stack.sim.faults.dropAll();
  await eventually(
    () => messages().filter((m) => m === 'router session failed to open').length >= 2,
    'failed retries',
  );
  t.equal(messages().filter((m) => m === 'router unreachable; retrying').length, 1);
  t.match((await admin.request('health')).json(), {
    status: 'degraded',
    routers: [{ up: false, lastError: { code: /^ROSGATE_/, at: String } }],
  });
  stack.sim.faults.refuseConnections = false;
  await eventually(() => messages().includes('router reachable again'), 'the router back');
  const c = await loggedIn(t, stack);
  t.equal(text(await c.call(['/system/identity/print'])).at(-1), '!done');
});

const OLD_ROUTER = { version: '6.44', users: { billing: 'b1ll' } };

t.test('a legacy challenge login is relayed to a router older than 6.45.1', async (t) => {
  const stack = await startStack(t, { sim: OLD_ROUTER });
  const c = await openRaw(t, stack.port);
  const challenge = challengeOf(await c.call(['/login']));
  const response = computeResponse('b1ll', challenge);
  t.same(text(await c.call(['/login', '=name=billing', `=response=${response}`])), ['!done']);
  t.equal(text(await c.call(['/system/identity/print'])).at(-1), '!done');
});

t.test(
  'when the router cannot say its version, rosgate answers alone and asks again',
  async (t) => {
    const stack = await startStack(t, { sim: OLD_ROUTER });
    const asks = () => stack.sim.counters.commands['/system/resource/print'] ?? 0;
    await eventually(() => stack.router.pool.stats.ready > 0, 'a pool session');
    stack.sim.faults.stopAnswering = true;
    const c = await openRaw(t, stack.port);
    c.send(['/login']);
    await eventually(() => stack.router.pool.stats.inFlight === 1, 'the version asked');
    // The session carrying the question goes away before the answer.
    stack.sim.faults.stopAnswering = false;
    stack.sim.faults.dropAll();
    const own = challengeOf([await c.next()]);
    t.match(
      text(await c.call(['/login', '=name=billing', `=response=${computeResponse('b1ll', own)}`])),
      [/^!trap/],
      'rosgate cannot check a response to its own challenge for a router user',
    );
    await eventually(() => stack.router.pool.stats.ready > 0, 'the pool back');
    const before = asks();
    const d = await openRaw(t, stack.port);
    const relayed = challengeOf(await d.call(['/login']));
    t.equal(asks(), before + 1, 'the version is asked again');
    t.same(
      text(
        await d.call(['/login', '=name=billing', `=response=${computeResponse('b1ll', relayed)}`]),
      ),
      ['!done'],
    );
  },
);

t.test('configured users log in on the routers they are given', async (t) => {
  const stack = await startStack(t, {
    moreRouters: [{ name: 'edge' }],
    config: {
      users: [
        { name: 'noc', password: 'noc-pw' },
        { name: 'edge-only', password: 'edge-pw', routers: ['edge'] },
      ],
    },
  });
  const edge = stack.app.routers[1]?.port as number;
  const login = async (port: number, user: string, password: string) =>
    text(await (await openRaw(t, port)).login(user, password));
  t.same(await login(stack.port, 'noc', 'noc-pw'), ['!done'], 'everywhere when not limited');
  t.same(await login(edge, 'noc', 'noc-pw'), ['!done']);
  t.same(await login(edge, 'edge-only', 'edge-pw'), ['!done']);
  t.match(await login(stack.port, 'edge-only', 'edge-pw'), [/^!trap/], 'not on other routers');
});

t.test(
  'a Redis unreachable at start is one warning with its cause, and the health says the cause',
  async (t) => {
    const stack = await startStack(t, {
      config: {
        monitoring: MONITORING,
        shared: { url: 'redis://:pw@127.0.0.1:1/0', replicaId: 'r-alone' },
      },
      app: { shared: { probeMs: 20, opTimeoutMs: 50 } },
    });
    const admin = adminClient(stack.app.adminPort as number, TOKEN);
    const notReached = () =>
      stack.logs.filter(
        (l) => l['msg'] === 'shared: Redis not reached; local state until it answers',
      );
    await eventually(() => notReached().length === 1, 'the warning');
    t.match(notReached()[0], { level: 40, replica: 'r-alone', reason: /ECONNREFUSED/ });
    t.match((await admin.request('health')).json(), {
      status: 'degraded',
      shared: { up: false, reason: /ECONNREFUSED/ },
    });
    const joined = stack.logs.findIndex((l) => l['msg'] === 'joined the group of replicas');
    t.match(stack.logs[joined], { replica: 'r-alone', isUp: false });
    const roundTrips = stack.app.group?.group.stats().roundTrips ?? 0;
    await eventually(
      () => (stack.app.group?.group.stats().roundTrips ?? 0) >= roundTrips + 3,
      'more probes',
    );
    t.equal(notReached().length, 1, 'not one per retry');
    t.equal(stack.logs[joined]?.['replica'], 'r-alone');
    const lines = stack
      .logText()
      .split('\n')
      .filter((line) => line !== '');
    const repeating = lines.filter((line) => {
      try {
        parseStrictJson(line);
        return false;
      } catch {
        return true;
      }
    });
    t.same(repeating, [], 'no log line repeats a key');
  },
);
