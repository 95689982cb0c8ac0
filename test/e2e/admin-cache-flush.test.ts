import t from 'tap';
import { loggedIn, startStack } from '../fixtures/stack.js';
import { text } from '../fixtures/raw-client.js';
import { adminClient } from '../fixtures/wire-admin.js';

const TOKEN = 'e2e-cache-flush-token-0123456789';

t.test(
  'POST /monitoring/cache/flush drops kept replies, so the next print asks the router',
  async (t) => {
    const stack = await startStack(t, {
      config: { monitoring: { host: '127.0.0.1', port: 0, token: TOKEN } },
    });
    const admin = adminClient(stack.app.adminPort as number, TOKEN);
    const c = await loggedIn(t, stack);
    const prints = (): number => stack.sim.counters.commands['/system/identity/print'] ?? 0;
    const identity = async (): Promise<string | undefined> =>
      text(await c.call(['/system/identity/print', '.tag=i'])).at(-1);

    t.equal(await identity(), '!done .tag=i');
    const before = prints();
    t.equal(await identity(), '!done .tag=i');
    t.equal(prints(), before, 'the second print came from the cache');

    const refused = await admin.request('cache/flush', { method: 'POST', body: {}, token: false });
    t.equal(refused.status, 401, 'the flush needs the token');
    const bad = await admin.request('cache/flush', { method: 'POST', body: { path: 5 } });
    t.equal(bad.status, 400);
    t.equal(bad.json()['field'], 'path', 'a bad body names its field');

    const other = await admin.request('cache/flush', {
      method: 'POST',
      body: { path: '/ip/hotspot/user' },
    });
    t.same(other.json(), { flushed: 0 }, 'another menu keeps the identity reply');
    const flushed = await admin.request('cache/flush', {
      method: 'POST',
      body: { path: '/system/identity', router: 'default' },
    });
    t.equal(flushed.status, 200);
    t.same(flushed.json(), { flushed: 1 });
    t.equal(await identity(), '!done .tag=i');
    t.equal(prints(), before + 1, 'after the flush the print reaches the router');
  },
);

t.test('with the cache off, cache/flush is not found', async (t) => {
  const stack = await startStack(t, {
    config: {
      monitoring: { host: '127.0.0.1', port: 0, token: TOKEN },
      cache: { enabled: false },
    },
  });
  const admin = adminClient(stack.app.adminPort as number, TOKEN);
  const answer = await admin.request('cache/flush', { method: 'POST', body: {} });
  t.equal(answer.status, 404);
  t.match(answer.json(), { error: 'the cache is off', field: 'path' });
  // Turned on live, the cache can be flushed; turned off again, not.
  const on = await admin.request('config/cache', { method: 'PUT', body: { enabled: true } });
  t.equal(on.status, 200);
  const flushed = await admin.request('cache/flush', { method: 'POST', body: {} });
  t.equal(flushed.status, 200);
  t.same(flushed.json(), { flushed: 0 });
  await admin.request('config/cache', { method: 'PUT', body: { enabled: false } });
  t.equal((await admin.request('cache/flush', { method: 'POST', body: {} })).status, 404);
});
