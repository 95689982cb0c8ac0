import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { RouterAuthenticator, UserListAuthenticator } from '../../src/proxy/authenticator.js';
import { startSimulator } from '../../src/simulator/index.js';
import { fakeRouter, tagOf } from '../fixtures/fake-router.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';

async function setup(t: { teardown(fn: () => unknown): void }) {
  const sim = await startSimulator({ user: 'billing', password: 'pw' });
  t.teardown(() => sim.close());
  let now = 1_000;
  const auth = new RouterAuthenticator({
    connect: (username, password) =>
      new UpstreamConnection({
        host: '127.0.0.1',
        port: sim.port,
        username,
        password,
        timeoutMs: 2000,
      }),
    ttlMs: 100,
    now: () => now,
  });
  return { sim, auth, advance: (ms: number) => (now += ms) };
}

const pw = (s: string): Buffer => Buffer.from(s, 'latin1');

t.test('the router decides, and a success is remembered until its time is up', async (t) => {
  const { sim, auth, advance } = await setup(t);
  t.equal(await auth.verifyPassword('billing', pw('wrong')), false);
  t.equal(await auth.verifyPassword('billing', pw('pw')), true);
  t.equal(await auth.verifyPassword('billing', pw('pw')), true);
  t.equal(sim.counters.loginsOk, 1, 'the second check was answered from memory');
  t.equal(
    await auth.verifyPassword('billing', pw('other')),
    false,
    'a remembered login does not admit another password',
  );
  advance(100);
  t.equal(await auth.verifyPassword('billing', pw('pw')), true);
  t.equal(sim.counters.loginsOk, 2, 'after the time is up the router is asked again');
  t.equal(auth.secretFor('billing'), undefined, 'the router never reveals a secret');
});

t.test('identical logins arriving together share one router check', async (t) => {
  const { sim, auth } = await setup(t);
  const results = await Promise.all(
    Array.from({ length: 5 }, () => auth.verifyPassword('billing', pw('pw'))),
  );
  t.same(results, [true, true, true, true, true]);
  t.equal(sim.counters.loginsOk, 1);
});

t.test('the oldest remembered login is dropped past the bound', async (t) => {
  let logins = 0;
  // A router that admits everyone, counting logins.
  const port = await fakeRouter(t, (s, reply) => {
    if (s.command === '/login') logins++;
    reply('!done', tagOf(s));
  });
  const auth = new RouterAuthenticator({
    connect: (username, password) =>
      new UpstreamConnection({ host: '127.0.0.1', port, username, password, timeoutMs: 2000 }),
    ttlMs: 60_000,
    maxEntries: 1,
  });
  await auth.verifyPassword('a', pw('1'));
  await auth.verifyPassword('b', pw('2'));
  await auth.verifyPassword('b', pw('2'));
  t.equal(logins, 2, 'b is remembered');
  await auth.verifyPassword('a', pw('1'));
  t.equal(logins, 3, 'a was dropped to keep the bound');
});

t.test('an unreachable router is an error, not a refusal', async (t) => {
  const { sim, auth } = await setup(t);
  sim.faults.refuseConnections = true;
  await t.rejects(auth.verifyPassword('billing', pw('pw')), {
    code: ErrorCode.UpstreamClosed,
    message: 'cannot verify the login: router unavailable',
  });
});

t.test('configured users are checked by their own verifier', async (t) => {
  const auth = new UserListAuthenticator([
    { name: 'a', verify: async (p) => p.equals(pw('x')), secret: pw('x') },
  ]);
  t.equal(await auth.verifyPassword('a', pw('x')), true);
  t.equal(await auth.verifyPassword('a', pw('y')), false);
  t.equal(await auth.verifyPassword('b', pw('x')), false, 'an unknown user is refused');
  t.same(auth.secretFor('a'), pw('x'));
  t.equal(auth.secretFor('b'), undefined);
});
