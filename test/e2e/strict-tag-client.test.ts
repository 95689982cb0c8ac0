/**
 * A client that reads `.tag` only right after the reply word, as
 * mikronode-ng does, logs in, is refused and gets its traps through rosgate,
 * whichever order the router behind it writes its own tags in.
 */
import t from 'tap';
import type { TagPosition } from '../../src/simulator/index.js';
import { eventually } from '../fixtures/eventually.js';
import { startStack, startTestSimulator } from '../fixtures/stack.js';
import { StrictTagClient } from '../fixtures/strict-tag-client.js';

const ORDERS: readonly TagPosition[] = ['first', 'last'];

for (const tagPosition of ORDERS) {
  t.test(`through rosgate, in front of a router writing its tags ${tagPosition}`, async (t) => {
    const stack = await startStack(t, { sim: { tagPosition } });
    await eventually(() => stack.router.pool.stats.ready > 0, 'a router session to open');

    const plain = await StrictTagClient.connect(t, stack.port);
    await plain.login('admin', 'secret');
    const denied = await plain.command(['/system/reboot']);
    t.same(denied.traps, ['not enough permissions (rosgate rule billing-deny-reboot)']);
    const invalid = await plain.command(['/ip/hotspot/user/add', '=name=v', '=mac-address=zz']);
    t.same(invalid.traps, ['invalid value for mac-address: must be a MAC address']);
    const keepalive = await plain.command(['#']);
    t.same(keepalive.traps, [], 'the keepalive is answered');

    const legacy = await StrictTagClient.connect(t, stack.port);
    await legacy.legacyLogin('admin', 'secret');
    t.same((await legacy.command(['/system/reboot'])).traps.length, 1, 'the legacy login works');

    const wrong = await StrictTagClient.connect(t, stack.port);
    await t.rejects(wrong.login('admin', 'guess'), {
      message: 'invalid user name or password (6)',
    });
    const wrongLegacy = await StrictTagClient.connect(t, stack.port);
    await t.rejects(wrongLegacy.legacyLogin('admin', 'guess'), {
      message: 'invalid user name or password (6)',
    });
    const early = await StrictTagClient.connect(t, stack.port);
    t.same((await early.command(['/ip/address/print'])).traps, ['not logged in']);
  });
}

t.test('the client reads relayed rows when the router writes its tags first', async (t) => {
  const stack = await startStack(t);
  const c = await StrictTagClient.connect(t, stack.port);
  await c.login('admin', 'secret');
  const reply = await c.command(['/system/identity/print']);
  t.same(reply.rows, [new Map([['name', 'MikroTik']])]);
});

t.test('the client is strict: a router that writes its tags last breaks it', async (t) => {
  const first = await startTestSimulator(t, { password: 'secret', version: '6.44' });
  const c = await StrictTagClient.connect(t, first.port);
  await c.legacyLogin('admin', 'secret');
  t.same((await c.command(['/system/identity/print'])).rows.length, 1, 'the router order works');

  const last = await startTestSimulator(t, {
    password: 'secret',
    version: '6.44',
    tagPosition: 'last',
  });
  const broken = await StrictTagClient.connect(t, last.port);
  await t.rejects(broken.legacyLogin('admin', 'secret'), {
    message: /^a reply without a tag after its reply word: !done =ret=[0-9a-f]{32} \.tag=1$/,
  });
  await t.rejects(broken.command(['/system/identity/print']), {
    message: /a reply without a tag after its reply word/,
  });
});
