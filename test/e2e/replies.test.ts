import t, { type Test } from 'tap';
import { text } from '../fixtures/raw-client.js';
import { loggedIn, startStack } from '../fixtures/stack.js';

t.test('replies reach the client as the router wrote them', async (t) => {
  /** Each subtest's own app: none depends on another's traffic. */
  const setup = (t: Test) => startStack(t, { sim: { version: '7.19' } });

  t.test(
    'untagged commands run one at a time in order and their replies carry no tag',
    async (t) => {
      const stack = await setup(t);
      const c = await loggedIn(t, stack);
      c.send(['/ip/hotspot/user/add', '=name=first', '=password=1']);
      c.send(['/ip/hotspot/user/add', '=name=second', '=password=2']);
      c.send(['/ip/hotspot/user/print', '?name=second', '=.proplist=name']);
      const replies = await c.read(4);
      t.match(text(replies), [
        /^!done =ret=\*[0-9A-F]+$/,
        /^!done =ret=\*[0-9A-F]+$/,
        '!re =name=second',
        '!done',
      ]);
      t.ok(
        replies.every((s) => s.tagIndex === -1),
        'no .tag word in any reply',
      );
    },
  );

  t.test('an empty tag counts as no tag', async (t) => {
    const stack = await setup(t);
    const c = await loggedIn(t, stack);
    t.same(text(await c.call(['/system/identity/set', '=name=edge', '.tag='])), ['!done']);
  });

  t.test('the !empty of RouterOS 7.18 is dropped by default', async (t) => {
    const stack = await setup(t);
    const c = await loggedIn(t, stack);
    t.same(text(await c.call(['/ip/hotspot/user/print', '?name=nobody', '.tag=e'])), [
      '!done .tag=e',
    ]);
  });

  t.test('both traps of an unknown path are forwarded, then one done', async (t) => {
    const stack = await setup(t);
    const c = await loggedIn(t, stack);
    t.same(text(await c.call(['/ip/nothing/print', '.tag=u'])), [
      '!trap .tag=u =category=0 =message=no such command or directory (nothing)',
      '!trap .tag=u =message=no such command prefix',
      '!done .tag=u',
    ]);
  });

  t.test(
    'the node-routeros keepalive is answered with its tag while the router is busy',
    async (t) => {
      const stack = await setup(t);
      const c = await loggedIn(t, stack);
      stack.sim.faults.stopAnswering = true;
      t.teardown(() => {
        stack.sim.faults.stopAnswering = false;
      });
      c.send(['/system/identity/print', '.tag=slow']);
      t.same(text(await c.call(['#', '.tag=ka'])), ['!done .tag=ka']);
    },
  );

  t.test('values that are not UTF-8 reach the router and come back byte for byte', async (t) => {
    const stack = await setup(t);
    const c = await loggedIn(t, stack);
    const comment = Buffer.from([
      0x3d, 0x63, 0x6f, 0x6d, 0x6d, 0x65, 0x6e, 0x74, 0x3d, 0xe9, 0xff, 0xfe, 0x3d, 0x7c,
    ]);
    await c.call(['/ip/hotspot/user/add', '=name=bytes', '=password=1', comment, '.tag=b']);
    const [row] = await c.call([
      '/ip/hotspot/user/print',
      '?name=bytes',
      '=.proplist=comment',
      '.tag=p',
    ]);
    t.same(row?.word(2), comment, 'the comment word is identical');
  });

  t.test('rows are forwarded as they arrive, before the command ends', async (t) => {
    const stack = await setup(t);
    const c = await loggedIn(t, stack);
    c.send(['/ip/hotspot/user/print', '=follow=', '=.proplist=name', '.tag=f']);
    t.equal((await c.next()).command, '!re', 'a row arrives while the print is still running');
    c.send(['/cancel', '=tag=f', '.tag=cf']);
    t.same(
      text(await c.untilDone('f')).filter((s) => !s.startsWith('!re')),
      ['!trap .tag=f =category=2 =message=interrupted', '!done .tag=cf', '!done .tag=f'],
    );
  });
});

t.test('the !empty reply is forwarded in passthrough mode', async (t) => {
  const stack = await startStack(t, {
    sim: { version: '7.19' },
    router: { emptyReplies: 'passthrough' },
  });
  const c = await loggedIn(t, stack);
  t.same(text(await c.call(['/ip/hotspot/user/print', '?name=nobody', '.tag=e'])), [
    '!empty .tag=e',
    '!done .tag=e',
  ]);
});
