import t from 'tap';
import { openRaw, text } from '../fixtures/raw-client.js';
import { startStack } from '../fixtures/stack.js';
import { eventually } from '../fixtures/eventually.js';
import { adminClient } from '../fixtures/wire-admin.js';

// In a sidecar every client connects from 127.0.0.1, so one
// service guessing a password must not lock out the others.

const TOKEN = 'lockout-e2e-token-0123456789';
const LOCKED = /too many failed logins; try again in \d+s/;

interface LockoutRow {
  router: string;
  scope: string;
  source: string | null;
  user: string | null;
  failures: number;
  until: string;
}

t.test(
  'in a sidecar, wrong passwords for mallory lock mallory, not admin; DELETE ends it, audited',
  async (t) => {
    const stack = await startStack(t, {
      sim: { users: { mallory: 'mallory-right-pw' } },
      config: {
        monitoring: { host: '127.0.0.1', port: 0, token: TOKEN },
        audit: { dir: t.testdir(), flushIntervalMs: 10 },
        policy: { lockout: { maxAttempts: 3 } },
      },
    });
    const admin = adminClient(stack.app.adminPort as number, TOKEN);
    const login = async (user: string, password: string): Promise<string> => {
      const client = await openRaw(t, stack.port);
      return text(await client.login(user, password)).join(' | ');
    };
    const lockouts = async (query = ''): Promise<LockoutRow[]> =>
      (await admin.request(`lockouts${query}`)).json<{ lockouts: LockoutRow[] }>().lockouts;

    for (let i = 0; i < 3; i++) t.match(await login('mallory', `wrong-${i}`), /^!trap /);
    t.match(await login('mallory', 'wrong-3'), LOCKED, 'the fourth try meets the lockout');

    // The billing app's account, from the same 127.0.0.1, with the real client.
    const api = await stack.client({ user: 'admin', password: 'secret' });
    t.match(await api.write('/system/identity/print'), [{ name: /./ }], 'admin logs in and works');
    t.equal(await login('admin', 'secret'), '!done');
    t.match(await login('mallory', 'mallory-right-pw'), LOCKED, 'mallory is locked out');

    const [row, ...others] = await lockouts();
    t.same(others, []);
    t.match(row, {
      router: stack.router.config.name,
      scope: 'source-user',
      source: '127.0.0.1',
      user: 'mallory',
      failures: 3,
    });
    t.ok(Date.parse(row?.until ?? '') > Date.now(), 'until is ahead');
    const stats = (await admin.request('statistics')).json<{
      lockouts: LockoutRow[];
      events: { kind: string; message: string }[];
    }>();
    t.same(stats.lockouts, [row], 'the dashboard statistics show it');
    t.match(stats.events, [{ kind: 'lockout', message: 'user mallory from 127.0.0.1 locked out' }]);

    // A PUT of the policy with the same lockout rules keeps the lockout.
    const put = await admin.request('config/policy', {
      method: 'PUT',
      body: { lockout: { maxAttempts: 3 } },
    });
    t.equal(put.status, 200);
    t.same(await lockouts(), [row], 'the lockout survived the reload');

    const cleared = await admin.request('lockouts?user=mallory', { method: 'DELETE' });
    t.equal(cleared.status, 200);
    t.same(cleared.json(), { cleared: [row], count: 1 });
    t.same(await lockouts(), []);
    t.equal(await login('mallory', 'mallory-right-pw'), '!done', 'mallory logs in again');

    const records = await eventually(
      async () =>
        (await admin.request('audit-logs?kind=lockout')).json<{
          records: Record<string, unknown>[];
        }>().records,
      {
        until: (found) => found.some((r) => r['action'] === 'unlock'),
        what: 'the clearing on disk',
        intervalMs: 20,
        attempts: 250,
      },
    );
    t.match(records, [
      { action: 'lockout', userId: 'mallory', ipAddress: '127.0.0.1', details: { failures: 3 } },
      {
        action: 'unlock',
        category: 'security',
        result: 'success',
        ipAddress: '127.0.0.1',
        details: {
          filter: { user: 'mallory' },
          cleared: [{ scope: 'source-user', source: '127.0.0.1', user: 'mallory' }],
        },
      },
    ]);
  },
);

t.test('trusting no one brings back the lockout of the address as a whole', async (t) => {
  const stack = await startStack(t, {
    sim: { users: { mallory: 'mallory-right-pw' } },
    config: { policy: { lockout: { maxAttempts: 2, trustedSources: [] } } },
  });
  for (let i = 0; i < 2; i++) {
    const c = await openRaw(t, stack.port);
    t.match(text(await c.login('mallory', 'wrong')), [/^!trap/]);
  }
  const c = await openRaw(t, stack.port);
  t.match(text(await c.login('admin', 'secret')).join(' | '), LOCKED, 'admin shares the lock');
  t.match(stack.app.policy.lockouts(), [{ scope: 'source', address: '127.0.0.1' }]);
});

t.test(
  'a user locked out from every address is listed without a source, and only a DELETE that matches it ends it',
  async (t) => {
    const stack = await startStack(t, {
      sim: { users: { mallory: 'mallory-right-pw' } },
      config: {
        monitoring: { host: '127.0.0.1', port: 0, token: TOKEN },
        policy: { lockout: { maxAttempts: 5, userMaxAttempts: 2 } },
      },
    });
    const admin = adminClient(stack.app.adminPort as number, TOKEN);
    for (let i = 0; i < 2; i++) {
      const c = await openRaw(t, stack.port);
      t.match(text(await c.login('mallory', `wrong-${i}`)), [/^!trap/]);
    }
    const listed = (await admin.request('lockouts')).json<{ lockouts: LockoutRow[] }>().lockouts;
    t.match(listed, [{ scope: 'user', source: null, user: 'mallory', failures: 2 }]);

    const bySource = await admin.request('lockouts?source=127.0.0.1', { method: 'DELETE' });
    t.same(
      bySource.json(),
      { cleared: [], count: 0 },
      'a lockout with no source matches no source',
    );
    const c = await openRaw(t, stack.port);
    t.match(text(await c.login('mallory', 'mallory-right-pw')).join(' | '), LOCKED);

    const byUser = await admin.request('lockouts?user=mallory', { method: 'DELETE' });
    t.match(byUser.json(), {
      cleared: [{ scope: 'user', source: null, user: 'mallory' }],
      count: 1,
    });
    const d = await openRaw(t, stack.port);
    t.equal(text(await d.login('mallory', 'mallory-right-pw')).join(' | '), '!done');
  },
);
