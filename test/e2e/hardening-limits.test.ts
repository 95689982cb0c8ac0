/**
 * Resources a peer can pin, and logins under pressure, through
 * the whole app: what a client can make rosgate hold is bounded.
 */
import net from 'node:net';
import t from 'tap';
import { encodeSentences } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, RawClient, text } from '../fixtures/raw-client.js';
import { loggedIn, startStack } from '../fixtures/stack.js';
import { TEST_PEM_FILES } from '../fixtures/tls-peers.js';

const routerLogins = (sim: { counters: { loginsOk: number; loginsFailed: number } }): number =>
  sim.counters.loginsOk + sim.counters.loginsFailed;

t.test('a 64 KiB sentence before login is a framing error', async (t) => {
  const stack = await startStack(t);
  const c = await openRaw(t, stack.port);
  c.send(['/login', '=name=admin', `=password=${'x'.repeat(64 * 1024)}`]);
  t.same(text(await c.untilClosed()), ['!fatal protocol error']);
  t.equal(stack.router.stats.framingErrors, 1);
  const after = await loggedIn(t, stack);
  t.same(
    text(await after.call(['/system/identity/print', '=.proplist=name', '.tag=1'])).at(-1),
    '!done .tag=1',
    'others log in and work',
  );
});

t.test('a logged-in client silent for limits.clientIdleTimeoutMs is closed', async (t) => {
  const stack = await startStack(t, { config: { limits: { clientIdleTimeoutMs: 30 } } });
  const c = await loggedIn(t, stack);
  t.same(text(await c.untilClosed()), ['!fatal idle timeout']);
  await eventually(() => stack.router.listener.sessions.size === 0, 'its slot to be freed');
});

t.test('200 bare cancels over 32 streams send at most one router cancel per stream', async (t) => {
  const stack = await startStack(t, { sim: { streamIntervalMs: 5 } });
  const c = await loggedIn(t, stack);
  for (let i = 0; i < 32; i++)
    c.send(['/interface/monitor-traffic', '=interface=ether1', `.tag=s${i}`]);
  await eventually(() => stack.sim.activeStreams() === 32, '32 streams on the router');
  c.write(encodeSentences(Array.from({ length: 200 }, (_, i) => ['/cancel', `.tag=c${i}`])));
  const cancels = new Set<string>();
  const streams = new Set<string>();
  await c.readUntil((s) => {
    const tag = s.tagString ?? '';
    if (s.command === '!done' && tag.startsWith('c')) cancels.add(tag);
    if (s.command === '!done' && tag.startsWith('s')) streams.add(tag);
    return cancels.size === 200 && streams.size === 32;
  }, 'every cancel and every stream to end');
  t.ok(
    stack.sim.counters.cancels <= 32,
    `${stack.sim.counters.cancels} cancels reached the router`,
  );
  await eventually(() => stack.sim.activeStreams() === 0);
  t.equal(
    String((await c.call(['/system/identity/print', '.tag=after'])).at(-1)),
    '!done .tag=after',
    'the client goes on',
  );
});

t.test(
  'a silent TLS client is cut after preLoginTimeoutMs and logged with its address',
  async (t) => {
    const stack = await startStack(t, {
      tls: { certFile: 'cert.pem', keyFile: 'key.pem' },
      files: TEST_PEM_FILES,
      config: { limits: { preLoginTimeoutMs: 40 } },
    });
    const silent = net.connect({ port: stack.tlsPort as number, host: '127.0.0.1' });
    silent.on('error', () => undefined);
    await new Promise((resolve) => silent.once('close', resolve));
    t.equal(stack.router.stats.tlsHandshakeErrors, 1);
    t.match(
      stack.logs.filter((l) => l.msg === 'TLS handshake with a client failed'),
      [{ address: '127.0.0.1', router: 'default' }],
    );
  },
);

t.test('the listen backlog is set from limits.listenBacklog', async (t) => {
  const backlogs: unknown[] = [];
  const original = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    backlogs.push((args[0] as { backlog?: number }).backlog);
    return original.apply(this, args as Parameters<typeof original>);
  } as typeof original;
  t.teardown(() => {
    net.Server.prototype.listen = original;
  });
  await startStack(t, { config: { limits: { listenBacklog: 1234 } } });
  t.ok(backlogs.includes(1234), 'the client port listens with the configured backlog');
});

t.test('a wrong password retried is refused from memory, not by the router', async (t) => {
  const stack = await startStack(t, { sim: { users: { billing: 'pw' } } });
  await eventually(() => stack.router.pool.stats.ready === 1);
  const before = routerLogins(stack.sim);
  const c = await openRaw(t, stack.port);
  for (let i = 0; i < 3; i++) {
    t.same(text(await c.login('billing', 'wrong')), [
      '!trap =message=invalid user name or password (6)',
      '!done',
    ]);
  }
  t.equal(routerLogins(stack.sim) - before, 1, 'one router login for three tries');
});

t.test('a login whose client left before its turn never reaches the router', async (t) => {
  const stack = await startStack(t, {
    sim: { users: { first: 'pw', second: 'pw' } },
    config: { limits: { maxConcurrentLoginChecks: 1 } },
  });
  await eventually(() => stack.router.pool.stats.ready === 1);
  const before = routerLogins(stack.sim);
  stack.sim.faults.latencyMs = 40;
  const first = await openRaw(t, stack.port);
  const answered = first.login('first', 'pw');
  await eventually(
    () => stack.sim.counters.sessionsNow === 2,
    'the first check to reach the router',
  );
  const second = await RawClient.connect(stack.port);
  second.send(['/login', '=name=second', '=password=pw']);
  await eventually(() => stack.router.listener.sessions.size === 2);
  await second.close();
  await eventually(() => stack.router.listener.sessions.size === 1, 'rosgate to see it leave');
  t.same(text(await answered), ['!done']);
  stack.sim.faults.latencyMs = 0;
  const third = await openRaw(t, stack.port, { user: 'first', password: 'pw' });
  await third.close();
  t.equal(routerLogins(stack.sim) - before, 1, 'only the first login reached the router');
});

t.test('logins are checked several at once, within maxConcurrentLoginChecks', async (t) => {
  const users = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`u${i}`, 'pw']));
  const stack = await startStack(t, {
    sim: { users },
    // Six logins at once from one address are more than the lockout lets through by default.
    config: { limits: { maxConcurrentLoginChecks: 3 }, policy: { lockout: { maxAttempts: 100 } } },
  });
  await eventually(() => stack.router.pool.stats.ready === 1);
  stack.sim.faults.latencyMs = 30;
  const clients = await Promise.all(Object.keys(users).map(() => RawClient.connect(stack.port)));
  t.teardown(() => Promise.all(clients.map((c) => c.close())));
  const logins = Promise.all(clients.map((c, i) => c.login(`u${i}`, 'pw')));
  await eventually(() => stack.sim.counters.sessionsNow >= 3, 'checks to run side by side');
  t.same(
    (await logins).map((r) => text(r)),
    clients.map(() => ['!done']),
  );
  t.ok(
    stack.sim.counters.sessionsPeak <= 1 + 3 + 3,
    'the pool session, three checks, and at most three closing',
  );
});
