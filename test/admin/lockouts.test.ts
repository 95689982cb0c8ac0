import t from 'tap';
import type { LockoutSnapshot } from '../../src/admin/index.js';
import { startAdmin } from '../fixtures/admin-fakes.js';
import { startLockoutAdmin } from '../fixtures/lockout-admin.js';

const UNTIL = Date.UTC(2025, 0, 1, 12, 15, 0);

function lockouts(): LockoutSnapshot[] {
  return [
    { router: 'core', scope: 'source', source: '192.0.2.1', failures: 5, untilMs: UNTIL },
    {
      router: 'core',
      scope: 'source-user',
      source: '127.0.0.1',
      user: 'mallory',
      failures: 3,
      untilMs: UNTIL,
    },
    { router: 'edge', scope: 'user', user: 'mallory', failures: 20, untilMs: UNTIL },
  ];
}

t.test(
  'GET /monitoring/lockouts lists every lockout in force, or those the query names',
  async (t) => {
    const admin = await startLockoutAdmin(t, lockouts());
    const all = await admin.request('/monitoring/lockouts');
    t.equal(all.status, 200);
    t.same(all.json(), {
      lockouts: [
        {
          router: 'core',
          scope: 'source',
          source: '192.0.2.1',
          user: null,
          failures: 5,
          until: '2025-01-01T12:15:00.000Z',
        },
        {
          router: 'core',
          scope: 'source-user',
          source: '127.0.0.1',
          user: 'mallory',
          failures: 3,
          until: '2025-01-01T12:15:00.000Z',
        },
        {
          router: 'edge',
          scope: 'user',
          source: null,
          user: 'mallory',
          failures: 20,
          until: '2025-01-01T12:15:00.000Z',
        },
      ],
      count: 3,
    });
    const named = async (query: string) =>
      ((await admin.request(`/monitoring/lockouts?${query}`)).json() as { count: number }).count;
    t.equal(await named('user=mallory'), 2);
    t.equal(await named('source=::ffff:127.0.0.1'), 1, 'a mapped address is its IPv4 address');
    t.equal(await named('router=edge'), 1);
    t.equal(await named('router=core&user=mallory'), 1);
    t.equal(await named('user=nobody'), 0);
  },
);

t.test(
  'DELETE /monitoring/lockouts clears what the query names and says what it cleared',
  async (t) => {
    const admin = await startLockoutAdmin(t, lockouts());
    const one = await admin.request('/monitoring/lockouts?source=127.0.0.1&user=mallory', {
      method: 'DELETE',
    });
    t.equal(one.status, 200);
    t.match(one.json(), {
      cleared: [{ router: 'core', scope: 'source-user', source: '127.0.0.1', user: 'mallory' }],
      count: 1,
    });
    t.same(admin.clearings, [
      { filter: { source: '127.0.0.1', user: 'mallory' }, address: '127.0.0.1' },
    ]);
    const rest = await admin.request('/monitoring/lockouts', { method: 'DELETE' });
    t.match(rest.json(), { count: 2 });
    t.same(admin.clearings[1]?.filter, {}, 'no query clears all');
    t.match((await admin.request('/monitoring/lockouts')).json(), { lockouts: [], count: 0 });
  },
);

t.test('lockouts need the token, and a bad query is a 400 naming the field', async (t) => {
  const admin = await startLockoutAdmin(t, lockouts());
  t.equal((await admin.request('/monitoring/lockouts', { token: false })).status, 401);
  t.equal(
    (await admin.request('/monitoring/lockouts', { method: 'DELETE', token: false })).status,
    401,
  );
  const problems: [string, string, string][] = [
    ['source=nope', 'source', 'source must be an IP address'],
    ['user=', 'user', 'user must be 1-256 characters'],
    [`router=${'r'.repeat(257)}`, 'router', 'router must be 1-256 characters'],
    ['user=a&user=b', 'user', 'user may be given only once'],
    ['address=192.0.2.1', 'address', 'use router, source or user'],
  ];
  for (const [query, field, error] of problems) {
    for (const method of ['GET', 'DELETE']) {
      const res = await admin.request(`/monitoring/lockouts?${query}`, { method });
      t.equal(res.status, 400, `${method} ${query}`);
      t.same(res.json(), { error, field });
    }
  }
  t.same(admin.clearings, [], 'a refused query clears nothing');
  const put = await admin.request('/monitoring/lockouts', { method: 'PUT' });
  t.equal(put.status, 405);
});

t.test('without a clear function DELETE is a 404, and the list still answers', async (t) => {
  const admin = await startLockoutAdmin(t, lockouts(), false);
  const res = await admin.request('/monitoring/lockouts', { method: 'DELETE' });
  t.equal(res.status, 404);
  t.same(res.json(), { error: 'lockouts cannot be cleared here', field: 'path' });
  t.match((await admin.request('/monitoring/lockouts')).json(), { count: 3 });
});

t.test('the statistics carry the lockouts the dashboard draws', async (t) => {
  const admin = await startLockoutAdmin(t, lockouts());
  const stats = (await admin.request('/monitoring/statistics')).json() as {
    lockouts: { scope: string; until: string }[];
  };
  t.same(
    stats.lockouts.map((l) => l.scope),
    ['source', 'source-user', 'user'],
  );
  t.equal(stats.lockouts[0]?.until, '2025-01-01T12:15:00.000Z');
});

t.test('an app that tracks no lockouts lists none', async (t) => {
  const admin = await startAdmin(t);
  const res = await admin.request('/monitoring/lockouts', { token: true });
  t.equal(res.status, 200);
  t.same(res.json(), { lockouts: [], count: 0 });
  const stats = (await admin.request('/monitoring/statistics', { token: true })).json() as {
    lockouts: unknown;
  };
  t.same(stats.lockouts, []);
});
