import net from 'node:net';
import t, { type Test } from 'tap';
import { encodeSentences } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, RawClient, text, taggedWith } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from '../fixtures/stack.js';

const identityPrints = (stack: Stack): number =>
  stack.sim.counters.commands['/system/identity/print'] ?? 0;

t.test('limits', async (t) => {
  /** Each subtest's own app: none depends on another's traffic. */
  const setup = (t: Test) =>
    startStack(t, {
      sim: { streamIntervalMs: 5 },
      config: {
        limits: { maxInFlightPerClient: 2, maxClientsPerAddress: 3, keepaliveReply: 'trap' },
      },
    });

  t.test('past the in-flight limit a command is refused with a trap on its tag', async (t) => {
    const stack = await setup(t);
    const c = await loggedIn(t, stack);
    c.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=1']);
    c.send(['/interface/monitor-traffic', '=interface=ether2', '.tag=2']);
    c.send(['/system/identity/print', '.tag=3']);
    t.same(text((await c.untilDone('3')).filter((s) => s.tagString === '3')), [
      '!trap .tag=3 =message=too many commands in flight (limit 2)',
      '!done .tag=3',
    ]);
    t.equal(stack.router.stats.refusedInFlight, 1);
  });

  t.test('the keepalive can be answered with a trap', async (t) => {
    const stack = await setup(t);
    const c = await loggedIn(t, stack);
    t.same(text(await c.call(['#', '.tag=k'])), [
      '!trap .tag=k =message=no such command prefix',
      '!done .tag=k',
    ]);
  });

  t.test('a source address past its connection limit gets a fatal', async (t) => {
    const stack = await setup(t);
    const open = await Promise.all([1, 2, 3].map(() => RawClient.connect(stack.port)));
    t.teardown(() => Promise.all(open.map((c) => c.close())));
    await eventually(() => stack.router.listener.sessions.size === 3);
    const extra = await RawClient.connect(stack.port);
    t.same(text(await extra.untilClosed()), ['!fatal too many connections']);
    t.equal(stack.router.stats.clientsRefused, 1);
  });
});

t.test('commands pipelined behind a login wait for it and then run', async (t) => {
  const stack = await startStack(t);
  const c = await openRaw(t, stack.port);
  c.write(
    encodeSentences([
      ['/login', '=name=admin', '=password=secret'],
      ['/system/identity/print', '.tag=a'],
      ['/login', '=name=admin', '=password=wrong', '.tag=b'],
      ['/system/identity/print', '.tag=c'],
    ]),
  );
  const lines = text(await c.untilDone('c'));
  t.equal(lines[0], '!done', 'the login is answered first');
  t.ok(lines.includes('!done .tag=a'));
  t.same(
    lines.filter(taggedWith('b')),
    ['!trap .tag=b =message=invalid user name or password (6)', '!done .tag=b'],
    'a second login with a wrong password is refused',
  );
  t.ok(lines.includes('!done .tag=c'), 'and the session keeps its first login');
});

t.test('commands held behind a slow second login are bounded by the in-flight limit', async (t) => {
  const stack = await startStack(t, { config: { limits: { maxInFlightPerClient: 2 } } });
  const c = await loggedIn(t, stack);
  stack.sim.faults.latencyMs = 30; // the router takes its time to check the second login
  c.write(
    encodeSentences([
      ['/login', '=name=admin', '=password=other', '.tag=l'],
      ['/system/identity/print', '.tag=1'],
      ['/system/identity/print', '.tag=2'],
      ['/system/identity/print', '.tag=3'],
    ]),
  );
  const replies = text(
    await c.readUntil((s) => s.command === '!done' && s.tagString === '2', '!done .tag=2'),
  );
  t.same(replies.filter(taggedWith('3')), [
    '!trap .tag=3 =message=too many commands in flight (limit 2)',
    '!done .tag=3',
  ]);
  t.ok(replies.includes('!done .tag=1'), 'the held commands ran after the login');
});

t.test('a client that never logs in is closed when its time is up', async (t) => {
  const stack = await startStack(t, { config: { limits: { preLoginTimeoutMs: 20 } } });
  const c = await RawClient.connect(stack.port);
  t.same(text(await c.untilClosed()), ['!fatal login timeout']);
});

t.test('a login the router cannot check gets a trap naming why', async (t) => {
  const stack = await startStack(t, { sim: { users: { billing: 'pw' } } });
  await eventually(() => stack.router.pool.stats.ready === 1, 'the pool to open its session');
  stack.sim.faults.refuseConnections = true;
  const c = await openRaw(t, stack.port);
  t.same(text(await c.call(['/login', '=name=billing', '=password=pw'])), [
    '!trap =message=cannot verify the login: router unavailable',
    '!done',
  ]);
});

t.test('a user limited to another router cannot log in here', async (t) => {
  const stack = await startStack(t, {
    router: { name: 'here' },
    moreRouters: [{ name: 'other' }],
    config: {
      users: [
        { name: 'here', password: 'p' },
        { name: 'elsewhere', password: 'p', routers: ['other'] },
      ],
    },
  });
  const c = await openRaw(t, stack.port);
  t.same(text(await c.call(['/login', '=name=elsewhere', '=password=p'])), [
    '!trap =message=invalid user name or password (6)',
    '!done',
  ]);
  t.same(text(await c.login('here', 'p')), ['!done']);
});

t.test('commands waiting for a router session', async (t) => {
  const stack = await startStack(t, {
    sim: { streamIntervalMs: 5 },
    router: { pool: { min: 1, max: 1, maxInFlightPerSession: 1 } },
  });
  const busy = await loggedIn(t, stack);
  busy.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=s']);
  await busy.next();

  t.test('a cancel of a waiting command answers it without reaching the router', async (t) => {
    const c = await loggedIn(t, stack);
    const before = identityPrints(stack);
    c.send(['/system/identity/print', '.tag=w']);
    t.same(text(await c.call(['/cancel', '=tag=w', '.tag=x'])), [
      '!trap .tag=w =category=2 =message=interrupted',
      '!done .tag=w',
      '!done .tag=x',
    ]);
    t.equal(stack.router.pool.stats.waiting, 0, 'its request for a session was withdrawn');
    t.equal(identityPrints(stack), before);
  });

  t.test('a bare cancel answers queued untagged commands too', async (t) => {
    const c = await loggedIn(t, stack);
    c.send(['/system/identity/print']);
    c.send(['/system/resource/print']);
    c.send(['/cancel']);
    const replies = text(await c.read(5));
    t.equal(replies.filter((r) => r === '!trap =category=2 =message=interrupted').length, 2);
    t.equal(replies.filter((r) => r === '!done').length, 3);
  });

  t.test('a client that leaves while waiting sends nothing to the router', async (t) => {
    const c = await loggedIn(t, stack);
    const before = identityPrints(stack);
    c.send(['/system/identity/print', '.tag=gone']);
    await eventually(
      () => stack.router.pool.stats.waiting === 1,
      'the command to wait for a session',
    );
    const sessions = stack.router.listener.sessions.size;
    await c.close();
    // The client's side closes first; wait until rosgate has seen it too.
    await eventually(() => stack.router.listener.sessions.size === sessions - 1);
    busy.send(['/cancel', '=tag=s', '.tag=cs']);
    await busy.untilDone('s');
    const after = await loggedIn(t, stack);
    await after.call(['/system/resource/print', '.tag=r']);
    t.equal(identityPrints(stack), before);
  });
});

t.test('a graceful stop lets running commands finish, then cancels streams', async (t) => {
  const stack = await startStack(t, { sim: { streamIntervalMs: 5 } });
  const c = await loggedIn(t, stack);
  c.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=s']);
  await c.next();
  stack.sim.faults.latencyMs = 20;
  c.send(['/system/identity/print', '.tag=q']);
  await stack.app.stop(60);
  const lines = text(await c.untilClosed());
  t.ok(lines.includes('!done .tag=q'), 'the short command finished within the grace period');
  t.equal(lines.at(-1), '!fatal rosgate is shutting down');
  await eventually(
    () => stack.sim.activeStreams() === 0,
    'the stream to be cancelled on the router',
  );
  await t.resolves(stack.app.stop(0), 'a second stop is harmless');
});

t.test('a graceful stop serves connected clients until they leave, and no one new', async (t) => {
  const stack = await startStack(t);
  const c = await loggedIn(t, stack);
  stack.sim.faults.latencyMs = 30;
  c.send(['/system/identity/print', '.tag=q']);
  await eventually(() => stack.router.pool.stats.inFlight === 1, 'the print to reach the router');
  let isStopped = false;
  const stopping = stack.app.stop(60_000).then(() => {
    isStopped = true;
  });
  t.same(text(await c.untilDone('q')).at(-1), '!done .tag=q', 'the running command finishes');
  t.match(
    text(await c.call(['/ip/hotspot/user/print', '=count-only=', '.tag=n'])).at(-1),
    /^!done \.tag=n =ret=\d+$/,
    'a new command from a connected client is served while draining',
  );
  await t.rejects(RawClient.connect(stack.port), 'a new connection is refused');
  t.equal(isStopped, false, 'the stop waits while the client stays');
  await c.close();
  await stopping;
  t.equal(isStopped, true, 'and ends once the client has left');
});

t.test('a graceful stop that runs out of time cancels and closes', async (t) => {
  const stack = await startStack(t, { sim: { streamIntervalMs: 5 } });
  const c = await loggedIn(t, stack);
  c.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=m']);
  await eventually(() => stack.sim.activeStreams() === 1, 'the stream to run on the router');
  await stack.app.stop(20);
  const lines = text(await c.untilClosed());
  t.equal(lines.at(-1), '!fatal rosgate is shutting down');
  await eventually(
    () => stack.sim.activeStreams() === 0,
    'the stream to be cancelled on the router',
  );
});

t.test('a port already in use fails the start', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => blocker.close(resolve)));
  const port = (blocker.address() as net.AddressInfo).port;
  await t.rejects(startStack(t, { router: { listen: { host: '127.0.0.1', port } } }), {
    code: 'EADDRINUSE',
  });
});
