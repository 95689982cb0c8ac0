import t from 'tap';
import { RouterAuthenticator } from '../../src/proxy/authenticator.js';
import { startSimulator } from '../../src/simulator/index.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { eventually } from '../fixtures/eventually.js';
import { fakeRouter, tagOf } from '../fixtures/fake-router.js';

// A live `limits` change reaches the login checks of a running router.

const pw = (s: string): Buffer => Buffer.from(s, 'latin1');

function authFor(port: number, maxConcurrentChecks?: number, failureTtlMs?: number) {
  return new RouterAuthenticator({
    connect: (username, password) =>
      new UpstreamConnection({ host: '127.0.0.1', port, username, password, timeoutMs: 2000 }),
    ttlMs: 60_000,
    ...(maxConcurrentChecks === undefined ? {} : { maxConcurrentChecks }),
    ...(failureTtlMs === undefined ? {} : { failureTtlMs }),
  });
}

t.test('a larger cap on login checks starts the waiting ones at once', async (t) => {
  const held: (() => void)[] = [];
  const port = await fakeRouter(t, (s, reply) => {
    if (s.command !== '/login') return reply('!done', tagOf(s));
    held.push(() => reply('!done', tagOf(s)));
  });
  const auth = authFor(port, 1);
  const results = ['a', 'b', 'c'].map((name) => auth.verifyPassword(name, pw('good')));
  await eventually(() => held.length === 1, 'one check at the router');
  t.same(auth.checks, { waiting: 2, running: 1 });
  auth.reconfigure({ ttlMs: 60_000, maxConcurrentChecks: 3 });
  await eventually(() => held.length === 3, 'the waiting checks to start');
  held.splice(0).forEach((release) => release());
  t.same(await Promise.all(results), [true, true, true]);
});

t.test('a shorter memory shortens what is remembered already', async (t) => {
  const sim = await startSimulator({ user: 'billing', password: 'pw' });
  t.teardown(() => sim.close());
  const auth = authFor(sim.port, undefined, 60_000);
  t.equal(await auth.verifyPassword('billing', pw('pw')), true);
  t.equal(await auth.verifyPassword('billing', pw('nope')), false);
  t.equal(await auth.verifyPassword('billing', pw('pw')), true);
  t.equal(await auth.verifyPassword('billing', pw('nope')), false);
  t.same([sim.counters.loginsOk, sim.counters.loginsFailed], [1, 1], 'both remembered');
  auth.reconfigure({ ttlMs: 0, failureTtlMs: 0 });
  t.equal(await auth.verifyPassword('billing', pw('pw')), true);
  t.equal(await auth.verifyPassword('billing', pw('nope')), false);
  t.same([sim.counters.loginsOk, sim.counters.loginsFailed], [2, 2], 'both asked again');
});

t.test('a key left out keeps its value, the default when it had none', async (t) => {
  const sim = await startSimulator({ user: 'billing', password: 'pw' });
  t.teardown(() => sim.close());
  const auth = authFor(sim.port);
  t.equal(await auth.verifyPassword('billing', pw('nope')), false);
  auth.reconfigure({ ttlMs: 0 });
  t.equal(await auth.verifyPassword('billing', pw('nope')), false);
  t.equal(sim.counters.loginsFailed, 1, 'the failure is still remembered for the default 5 s');
});
