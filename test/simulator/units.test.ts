import t from 'tap';
import { parseDuration, splitList } from '../../src/simulator/context.js';
import { Database, TrapError } from '../../src/simulator/database.js';
import { Prng } from '../../src/simulator/prng.js';
import { compileQuery } from '../../src/simulator/query.js';
import { formatUptime } from '../../src/simulator/seed.js';
import { LoginMode, parseVersion, versionProfile } from '../../src/simulator/version.js';
import { openRaw } from '../fixtures/raw-client.js';
import { startTestSimulator } from '../fixtures/stack.js';

t.test('version profiles follow the login and !empty history', async (t) => {
  t.match(versionProfile('6.42'), {
    loginMode: LoginMode.Legacy,
    emptyReplies: false,
    loginFailedMessage: 'cannot log in',
  });
  t.match(versionProfile('6.43'), {
    loginMode: LoginMode.Both,
    loginFailedMessage: 'invalid user name or password (6)',
  });
  t.match(versionProfile('6.45'), { loginMode: LoginMode.Both });
  t.match(versionProfile('6.45.1'), { loginMode: LoginMode.Plain });
  t.match(versionProfile('7.17'), { loginMode: LoginMode.Plain, emptyReplies: false });
  t.match(versionProfile('7.18'), { emptyReplies: true });
  t.match(versionProfile('8.0'), { emptyReplies: true });
  t.match(
    versionProfile('nonsense'),
    { loginMode: LoginMode.Legacy },
    'an unparsable version is treated as the oldest',
  );
  t.same(parseVersion('6.45.1'), [6, 45, 1]);
  t.equal(parseVersion('v7'), undefined);
});

t.test('durations parse in router seconds', async (t) => {
  t.equal(parseDuration('3'), 3);
  t.equal(parseDuration('500ms'), 0.5);
  t.equal(parseDuration('2m'), 120);
  t.equal(parseDuration('1h'), 3600);
  t.equal(parseDuration('00:01:05'), 65);
  t.equal(parseDuration('soon'), undefined);
  t.same(splitList(Buffer.from('*1,,*2')), ['*1', '*2']);
  t.same(splitList(undefined), []);
});

t.test('uptime is formatted like RouterOS', async (t) => {
  t.equal(formatUptime(0), '0s');
  t.equal(formatUptime(694861), '1w1d1h1m1s');
  t.equal(formatUptime(-5), '0s');
});

t.test('the generator is deterministic', async (t) => {
  const a = new Prng(42);
  const b = new Prng(42);
  t.same(
    [a.next(), a.int(1, 6), a.token(4), a.pick(['x', 'y'])],
    [b.next(), b.int(1, 6), b.token(4), b.pick(['x', 'y'])],
  );
});

t.test('one set of several rows cannot give two of them the same unique key', async (t) => {
  const menu = new Database().define({
    path: '/test',
    writable: { name: 'text', comment: 'text' },
    unique: ['name'],
  });
  const a = menu.add({ name: 'a' });
  const b = menu.add({ name: 'b' });
  t.throws(
    () => menu.set([a, b], { name: 'same' }),
    new TrapError('failure: already have such entry'),
  );
  t.same(
    menu.rows().map((row) => row.get('name')?.toString()),
    ['a', 'b'],
    'neither row changed',
  );
  menu.set([a, b], { comment: 'both' });
  t.equal(
    menu.find(b)?.get('comment')?.toString(),
    'both',
    'a set that keeps the keys apart is fine',
  );
  const unnamed = [menu.add({ comment: 'x' }), menu.add({ comment: 'y' })];
  menu.set(unnamed, { comment: 'z' });
  t.equal(
    menu.find(unnamed[1]!)?.get('comment')?.toString(),
    'z',
    'rows without the key never collide',
  );
  menu.set([a], { name: 'a2' });
  t.equal(menu.findBy('name', 'a2')?.get('.id')?.toString(), a);
});

t.test('menus validate, keep unique keys and notify listeners', async (t) => {
  const db = new Database();
  const menu = db.define({
    path: '/test',
    writable: { name: 'text', on: 'bool', mode: ['a', 'b'] },
    unique: ['name'],
  });
  const seen: string[] = [];
  const stop = menu.subscribe((row) => seen.push([...row.keys()].join(',')));
  const id = menu.add({ name: 'one', on: 'no', mode: 'a' });
  t.equal(menu.find(id)?.get('on')?.toString(), 'false');
  t.throws(() => menu.add({ name: 'one' }), new TrapError('failure: already have such entry'));
  t.throws(() => menu.add({ mode: 'c' }), {
    message: 'input does not match any value of mode',
    category: 1,
  });
  t.throws(() => menu.add({ size: '1' }), { message: 'unknown parameter size' });
  const other = menu.add({ mode: 'b' });
  t.equal(menu.find(other)?.has('name'), false, 'rows without the unique key do not collide');
  menu.unset([id], ['name']);
  menu.add({ name: 'one' });
  menu.set([id], new Map([['on', Buffer.from('yes')]]));
  menu.remove([id, id]);
  stop();
  menu.add({ name: 'quiet' });
  t.same(seen, [
    '.id,name,on,mode',
    '.id,mode',
    '.id,on,mode',
    '.id,name',
    '.id,on,mode',
    '.id,.dead',
  ]);
  t.equal(menu.size, 3);
  t.equal(menu.findBy('name', Buffer.from('quiet'))?.get('name')?.toString(), 'quiet');
  const single = db.define({ path: '/single', writable: { name: 'text' }, singleton: true });
  single.set(['ignored'], { name: 'x' });
  t.equal(single.find('anything')?.get('name')?.toString(), 'x');
  t.same([...single.verbs], ['print', 'getall', 'get', 'set', 'listen']);
});

t.test(
  'a print larger than the socket buffers waits for the reader and stops when it leaves',
  async (t) => {
    const sim = await startTestSimulator(t, { version: '7.17', hotspotUsers: 0 });
    const menu = sim.data.require('/ip/hotspot/user');
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 200; i++) menu.add({ name: `big${i}`, comment: big });
    const c = await openRaw(t, sim.port, { user: 'admin' });
    c.socket.pause();
    c.send(['/ip/hotspot/user/print', '.tag=b']);
    // Time for the simulator to fill the socket buffers of a reader that does
    // not read (nothing observable says it has); not a wait for a timer.
    await new Promise((r) => setTimeout(r, 40));
    c.socket.resume();
    const replies = await c.untilDone('b');
    t.equal(replies.length, 201);
    const d = await openRaw(t, sim.port, { user: 'admin' });
    d.socket.pause();
    d.send(['/ip/hotspot/user/print', '.tag=b']);
    await new Promise((r) => setTimeout(r, 40));
    d.close();
    await d.closed;
    const e = await openRaw(t, sim.port, { user: 'admin' });
    e.socket.pause();
    e.send(['/ip/hotspot/user/print', '.tag=b']);
    await new Promise((r) => setTimeout(r, 40));
    e.socket.resume();
    e.send(['/cancel', '=tag=b']);
    const rest = await e.untilDone('b');
    t.ok(
      rest.some((s) => s.command === '!trap'),
      'the cancel interrupted the waiting print',
    );
  },
);

t.test('a command writes nothing after its end and runs late cleanups at once', async (t) => {
  const { Command } = await import('../../src/simulator/command.js');
  const written: Buffer[] = [];
  const sink = { send: (data: Buffer) => written.push(data) > 0, drained: () => Promise.resolve() };
  const timers = { setTimeout: () => 0, clearTimeout: () => {} };
  const command = new Command(sink, timers, '/x', Buffer.from('t'));
  t.equal(command.send([]), true, 'nothing to send');
  t.equal(written.length, 0);
  command.finish();
  command.finish();
  command.abandon();
  command.fail('late');
  t.equal(command.send([['!re']]), true);
  t.equal(written.length, 1, 'only the first !done was written');
  let ran = false;
  command.onEnd(() => {
    ran = true;
  });
  t.ok(ran);
  await command.sleep(10);
  await command.drained();
});

t.test(
  'a menu selects the rows a query accepts, as printed: hidden values unseen, read values fresh',
  async (t) => {
    const db = new Database();
    const users = db.define({
      path: '/user',
      writable: { name: 'text', password: 'text', group: ['full', 'read'] },
      unique: ['name'],
      hidden: ['password'],
    });
    users.add({ name: 'alice', password: 'pw1', group: 'full' });
    users.add({ name: 'bob', password: 'pw2', group: 'read' });
    const names = (rows: readonly Map<string, Buffer>[]): string[] =>
      rows.map((row) => String(row.get('name')));
    t.same(names(users.select(compileQuery([Buffer.from('?group=read')]))), ['bob']);
    t.same(
      names(users.select(compileQuery([]))),
      ['alice', 'bob'],
      'no query: every row, in order',
    );
    t.same(
      users.select(compileQuery([Buffer.from('?password=pw1')])),
      [],
      'a hidden value matches nothing',
    );
    t.same(names(users.select(compileQuery([Buffer.from('?-password')]))), ['alice', 'bob']);
    t.notOk(users.select(compileQuery([]))[0]?.has('password'), 'and is not in the rows');
    let reads = 0;
    const clock = db.define({
      path: '/clock',
      writable: { time: 'text' },
      singleton: true,
      refresh: (row) => row.set('time', Buffer.from(String(++reads))),
    });
    clock.set([], { time: '0' });
    t.equal(
      clock.select(compileQuery([Buffer.from('?time=1')])).length,
      1,
      'the value as read now',
    );
    t.equal(clock.select(compileQuery([Buffer.from('?time=1')])).length, 0, 'and again');
  },
);
