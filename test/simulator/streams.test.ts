import t from 'tap';
import type { Sentence } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { startTestSimulator } from '../fixtures/stack.js';

const FAST = { streamIntervalMs: 5 };

t.test(
  '/cancel =tag=X on a listen writes trap(X) interrupted, done(cancel), done(X) in one write',
  async (t) => {
    const sim = await startTestSimulator(t, FAST);
    const c = await openRaw(t, sim.port, { user: 'admin' });
    c.send(['/ip/hotspot/user/listen', '.tag=X']);
    t.ok(await c.isSilent(20), 'listen is quiet while nothing changes');
    t.equal(sim.activeStreams(), 1);
    c.send(['/cancel', '=tag=X', '.tag=C']);
    const replies = await c.read(3);
    t.same(text(replies), [
      '!trap .tag=X =category=2 =message=interrupted',
      '!done .tag=C',
      '!done .tag=X',
    ]);
    t.equal(new Set(replies.map((r) => c.chunkOf(r))).size, 1);
    t.equal(sim.activeStreams(), 0);
    t.equal(sim.counters.cancels, 1);
    t.ok(await c.isSilent(20), 'nothing follows the final !done');
  },
);

t.test('listen reports additions, changes and removals with .dead=yes', async (t) => {
  const sim = await startTestSimulator(t, FAST);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/hotspot/user/listen', '.tag=L', '=.proplist=name,comment']);
  await eventually(() => sim.activeStreams() === 1, 'the listen to run');
  const menu = sim.data.require('/ip/hotspot/user');
  const id = menu.add({ name: 'new', comment: 'a' });
  t.equal(String(await c.next()), '!re .tag=L =name=new =comment=a');
  menu.set([id], { comment: 'b' });
  t.equal(String(await c.next()), '!re .tag=L =name=new =comment=b');
  menu.remove([id]);
  t.equal(String(await c.next()), `!re .tag=L =.id=${id} =.dead=yes`);
  c.send(['/ip/hotspot/user/listen', '=colour=red']);
  t.equal(String((await c.untilDone())[0]), '!trap =message=unknown parameter colour');
});

t.test(
  'refuseListen traps a listen with .proplist, or every listen, and can change live',
  async (t) => {
    const sim = await startTestSimulator(t, { ...FAST, refuseListen: 'proplist' });
    const c = await openRaw(t, sim.port, { user: 'admin' });
    t.same(text(await c.call(['/ip/hotspot/user/listen', '=.proplist=name,.dead', '.tag=a'])), [
      '!trap .tag=a =message=unknown parameter .proplist',
      '!done .tag=a',
    ]);
    c.send(['/ip/hotspot/user/listen', '.tag=b']);
    await eventually(() => sim.activeStreams() === 1, 'the listen without .proplist to run');
    sim.faults.refuseListen = 'always';
    t.same(text(await c.call(['/ip/hotspot/user/listen', '.tag=c'])), [
      '!trap .tag=c =category=0 =message=no such command or directory (listen)',
      '!done .tag=c',
    ]);
    t.equal(sim.activeStreams(), 1, 'a listen already running goes on');
  },
);

t.test('listen with a query reports only matching changes', async (t) => {
  const sim = await startTestSimulator(t, FAST);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ppp/secret/listen', '?profile=pppoe-50M', '=.proplist=name']);
  await eventually(() => sim.activeStreams() === 1, 'the listen to run');
  const menu = sim.data.require('/ppp/secret');
  menu.add({ name: 'silver-user', profile: 'pppoe-10M' });
  menu.add({ name: 'gold-user', profile: 'pppoe-50M' });
  t.equal(String(await c.next()), '!re =name=gold-user');
  t.ok(await c.isSilent(10));
});

t.test('print =follow= sends current rows then changes; =follow-only= only changes', async (t) => {
  const sim = await startTestSimulator(t, FAST);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send([
    '/ip/firewall/address-list/print',
    '=follow=',
    '?list=allowed',
    '=.proplist=address',
    '.tag=f',
  ]);
  t.equal(String(await c.next()), '!re .tag=f =address=203.0.113.4');
  t.equal(String(await c.next()), '!re .tag=f =address=203.0.113.5');
  c.send(['/ip/firewall/address-list/print', '=follow-only=', '=.proplist=address', '.tag=o']);
  t.ok(await c.isSilent(10));
  t.equal(sim.activeStreams(), 2);
  sim.data.require('/ip/firewall/address-list').add({ list: 'allowed', address: '198.51.100.1' });
  t.same(text(await c.read(2)).sort(), [
    '!re .tag=f =address=198.51.100.1',
    '!re .tag=o =address=198.51.100.1',
  ]);
  c.send(['/cancel']);
  const replies = await c.untilDone();
  t.same(
    replies.filter((s) => s.command === '!trap').length,
    2,
    'a bare /cancel cancels every command',
  );
  t.equal(String((await c.untilDone('f')).at(-1)), '!done .tag=f');
  t.equal(String((await c.untilDone('o')).at(-1)), '!done .tag=o');
  t.equal(sim.activeStreams(), 0);
});

t.test('print =interval= reprints every interval until cancelled', async (t) => {
  const sim = await startTestSimulator(t, FAST);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/address/print', '=interval=1', '=.proplist=address', '.tag=i']);
  const seen: string[] = [];
  for (const row of await c.read(6)) seen.push(row.attributeString('address') as string);
  t.same(seen, [
    '192.168.88.1/24',
    '10.5.50.1/24',
    '192.168.88.1/24',
    '10.5.50.1/24',
    '192.168.88.1/24',
    '10.5.50.1/24',
  ]);
  c.send(['/cancel', '=tag=i']);
  const rest = await c.untilDone('i');
  t.ok(rest.some((s) => s.command === '!trap' && s.attributeString('message') === 'interrupted'));
  c.send(['/ip/address/print', '=interval=soon']);
  t.equal(
    String((await c.untilDone())[0]),
    '!trap =category=1 =message=input does not match any value of interval',
  );
});

t.test(
  'print =interval= =from= reprints the rows it names every round, less any removed since',
  async (t) => {
    const sim = await startTestSimulator(t, FAST);
    const menu = sim.data.require('/ip/address');
    const [first, second] = menu.rows().map((row) => String(row.get('.id'))) as [string, string];
    const c = await openRaw(t, sim.port, { user: 'admin' });
    c.send(['/ip/address/print', '=interval=1', `=from=${second}`, '=.proplist=.id', '.tag=i']);
    const ids = async (count: number) =>
      (await c.read(count)).map((row) => row.attributeString('.id'));
    t.same(await ids(3), [second, second, second], 'only the row it names, round after round');
    menu.set([second], { address: '192.0.2.1/24' });
    menu.remove([first]);
    t.same(await ids(3), [second, second, second], 'another row removed changes nothing');
    c.send(['/cancel', '=tag=i']);
    await c.untilDone('i');
    const users = sim.data.require('/ip/hotspot/user');
    const named = String(users.rows()[0]?.get('name'));
    c.send([
      '/ip/hotspot/user/print',
      '=interval=1',
      `=from=${named}`,
      '=.proplist=name',
      '.tag=n',
    ]);
    const names = async (count: number) =>
      (await c.read(count)).map((row) => row.attributeString('name'));
    await names(2);
    users.set([named], { name: 'renamed' });
    const later = await names(8);
    t.equal(later.at(-1), 'renamed', 'a row named by =from= and renamed since stays in the rounds');
    c.send(['/cancel', '=tag=n']);
    await c.untilDone('n');
  },
);

t.test('monitor-traffic streams one row per interface per interval until cancelled', async (t) => {
  const sim = await startTestSimulator(t, FAST);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/interface/monitor-traffic', '=interface=ether1,ether2', '.tag=m']);
  const names: string[] = [];
  for (const row of await c.read(6)) {
    t.equal(row.command, '!re');
    t.equal(row.tagString, 'm');
    t.match(row.attributeString('rx-bits-per-second'), /^\d+$/);
    names.push(row.attributeString('name') as string);
  }
  t.same(names, ['ether1', 'ether2', 'ether1', 'ether2', 'ether1', 'ether2']);
  t.equal(sim.activeStreams(), 1);
  c.send(['/cancel', '=tag=m']);
  await c.untilDone('m');
  t.equal(sim.activeStreams(), 0);
});

t.test('monitor-traffic =once= gives one round then !done', async (t) => {
  const sim = await startTestSimulator(t, FAST);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/interface/monitor-traffic', '=interface=ether1', '=once=']);
  const replies = await c.untilDone();
  t.same(
    replies.map((s) => s.command),
    ['!re', '!done'],
  );
  t.equal(replies[0]?.attributeString('name'), 'ether1');
});

t.test('streaming tools refuse bad arguments with traps', async (t) => {
  const sim = await startTestSimulator(t, FAST);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  const cases: [string[], string][] = [
    [
      ['/interface/monitor-traffic', '=interface=ether99'],
      '=message=input does not match any value of interface',
    ],
    [['/interface/monitor-traffic'], '=message=missing value(s) of argument(s) interface'],
    [
      ['/interface/monitor-traffic', '=interface=ether1', '=colour=red'],
      '=message=unknown parameter colour',
    ],
    [['/ping'], '=message=missing value(s) of argument(s) address'],
    [['/ping', '=address=1.1.1.1', '=count=0'], '=message=input does not match any value of count'],
    [['/ping', '=address=1.1.1.1', '=count=x'], '=message=input does not match any value of count'],
    [
      ['/ping', '=address=1.1.1.1', '=interval=never'],
      '=message=input does not match any value of interval',
    ],
    [
      ['/tool/torch', '=interface=ether1', '=duration=0'],
      '=message=input does not match any value of duration',
    ],
  ];
  for (const [words, message] of cases) {
    c.send(words);
    const [trap] = await c.untilDone();
    t.equal(trap?.wordString(trap.wordCount - 1), message, words.join(' '));
  }
  t.equal(sim.activeStreams(), 0);
});

t.test('ping =count=3 gives three rows then !done', async (t) => {
  const sim = await startTestSimulator(t, FAST);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ping', '=address=192.0.2.1', '=count=3', '=size=100', '.tag=p']);
  const replies = await c.untilDone('p');
  t.same(
    replies.map((s) => s.command),
    ['!re', '!re', '!re', '!done'],
  );
  t.same(
    replies.slice(0, 3).map((s) => s.attributeString('seq')),
    ['0', '1', '2'],
  );
  const last = replies[2] as Sentence;
  t.same(
    ['host', 'size', 'sent', 'received', 'packet-loss'].map((name) => last.attributeString(name)),
    ['192.0.2.1', '100', '3', '3', '0'],
  );
  t.equal(sim.activeStreams(), 0);
});

t.test('ping without a count streams until cancelled and then counts as stopped', async (t) => {
  const sim = await startTestSimulator(t, FAST);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/tool/ping', '=address=192.0.2.1', '=interval=2', '.tag=p']);
  for (let i = 0; i < 3; i++) t.equal((await c.next()).command, '!re');
  t.equal(sim.activeStreams(), 1);
  c.send(['/cancel', '=tag=p', '.tag=c']);
  const replies = await c.untilDone('p');
  t.same(text(replies.slice(-3)), [
    '!trap .tag=p =category=2 =message=interrupted',
    '!done .tag=c',
    '!done .tag=p',
  ]);
  t.equal(sim.activeStreams(), 0);
});

t.test('torch rows carry .section, and =duration= ends it', async (t) => {
  const sim = await startTestSimulator(t, FAST);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/tool/torch', '=interface=ether1', '=duration=2', '=src-address=0.0.0.0/0']);
  const replies = await c.untilDone();
  t.equal(replies.at(-1)?.command, '!done');
  const sections = replies.slice(0, -1).map((s) => s.attributeString('.section'));
  t.same(sections, ['0', '0', '0', '1', '1', '1']);
  c.send(['/tool/torch', '=interface=ether1', '.tag=t']);
  const first = await c.next();
  t.equal(first.attributeString('.section'), '0');
  t.equal(sim.activeStreams(), 1);
  c.send(['/cancel', '=tag=t']);
  await c.untilDone('t');
  t.equal(sim.activeStreams(), 0);
});

t.test('/cancel of an unknown tag is answered with !done, or a trap when configured', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/cancel', '=tag=nothing', '.tag=c']);
  t.same(text(await c.untilDone('c')), ['!done .tag=c']);
  c.send(['/cancel']);
  t.same(text(await c.untilDone()), ['!done'], 'a bare cancel with nothing running is just !done');
  const strict = await startTestSimulator(t, { cancelUnknownTagReply: 'trap' });
  const d = await openRaw(t, strict.port, { user: 'admin' });
  d.send(['/cancel', '=tag=nothing']);
  t.same(text(await d.untilDone()), ['!trap =category=0 =message=no such command', '!done']);
});

t.test('a client that disconnects leaves no stream running', async (t) => {
  const sim = await startTestSimulator(t, FAST);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/hotspot/user/listen']);
  c.send(['/ping', '=address=192.0.2.1']);
  c.send(['/tool/torch', '=interface=ether2']);
  c.send(['/ip/address/print', '=interval=1']);
  c.send(['/interface/monitor-traffic', '=interface=ether1']);
  c.send(['/ip/address/print', '=follow-only=']);
  await eventually(() => sim.activeStreams() === 6, 'six streams to run');
  await c.close();
  await eventually(() => sim.activeStreams() === 0, 'every stream to stop');
  t.equal(sim.counters.cancels, 0, 'no /cancel was needed');
});

t.test(
  'a stream leaves nothing behind per tick: its end clears only the timer it waits on',
  async (t) => {
    const cleared = { count: 0 };
    const sim = await startTestSimulator(t, {
      streamIntervalMs: 1,
      timers: {
        setTimeout: (fn, ms) => setTimeout(fn, ms),
        clearTimeout: (handle) => {
          cleared.count++;
          clearTimeout(handle as NodeJS.Timeout);
        },
      },
    });
    const c = await openRaw(t, sim.port, { user: 'admin' });
    c.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=m']);
    for (let i = 0; i < 30; i++) await c.next();
    const before = cleared.count;
    c.send(['/cancel', '=tag=m', '.tag=c']);
    await eventually(() => sim.activeStreams() === 0, 'the stream to end');
    t.ok(
      cleared.count - before <= 1,
      `30 ticks later, the end cleared ${cleared.count - before} timer(s), not one per tick`,
    );
  },
);
