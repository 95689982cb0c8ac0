import t from 'tap';
import { RawClient, text } from '../fixtures/raw-client.js';
import { loggedIn, startStack } from '../fixtures/stack.js';

t.test(
  'through rosgate, a billing login that asks for a reboot gets a trap and the router never sees it',
  async (t) => {
    const stack = await startStack(t);
    const client = await loggedIn(t, stack);
    t.same(text(await client.call(['/system/reboot', '.tag=7'])), [
      '!trap .tag=7 =message=not enough permissions (rosgate rule billing-deny-reboot)',
      '!done .tag=7',
    ]);
    t.same(
      text(await client.call(['/ip/hotspot/user/add', '=name=v', '=mac-address=zz', '.tag=8'])),
      [
        '!trap .tag=8 =message=invalid value for mac-address: must be a MAC address',
        '!done .tag=8',
      ],
    );
    const identity = text(await client.call(['/system/identity/print', '.tag=9']));
    t.match(identity, [/^!re \.tag=9 =name=/, '!done .tag=9'], 'the connection stays usable');
    t.equal(stack.sim.counters.commands['/system/reboot'], undefined);
    t.equal(stack.sim.counters.commands['/ip/hotspot/user/add'], undefined);
  },
);

t.test('through rosgate, a user mapped to admin may reboot', async (t) => {
  const stack = await startStack(t, { config: { policy: { users: { admin: 'admin' } } } });
  const client = await loggedIn(t, stack);
  t.same(text(await client.call(['/system/reboot', '.tag=1'])).at(-1), '!done .tag=1');
  t.equal(stack.sim.counters.commands['/system/reboot'], 1);
});

t.test(
  'through rosgate, failed logins past the limit are refused without reaching the router',
  async (t) => {
    const stack = await startStack(t, {
      sim: { users: { billing: 'b1ll' } },
      config: { policy: { lockout: { maxAttempts: 2 } } },
    });
    const failedBefore = stack.sim.counters.loginsFailed;
    const attempt = async (password: string): Promise<string> => {
      const client = await RawClient.connect(stack.port);
      t.teardown(() => client.close());
      return text(await client.login('billing', password)).join(' | ');
    };
    t.match(await attempt('wrong1'), /^!trap /);
    t.match(await attempt('wrong2'), /^!trap /);
    t.match(await attempt('b1ll'), /too many failed logins; try again in 900s/);
    t.equal(stack.sim.counters.loginsFailed - failedBefore, 2, 'the router checked two logins');
    t.same(stack.app.policy.routerStats(stack.router.config.name).lockouts, 1);
  },
);
