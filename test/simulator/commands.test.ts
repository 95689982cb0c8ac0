import t from 'tap';
import { openRaw, text } from '../fixtures/raw-client.js';
import { openApi, startTestSimulator } from '../fixtures/stack.js';

t.test('print returns every row with .id and booleans as true/false', async (t) => {
  const sim = await startTestSimulator(t, { version: '7.17', hotspotUsers: 20 });
  const api = await openApi(t, sim.port);
  const users = await api.write('/ip/hotspot/user/print');
  t.equal(users.length, 20);
  for (const user of users) {
    t.match(user['.id'], /^\*[0-9A-F]+$/);
    t.match(user.disabled, /^(true|false)$/);
    t.ok(user.name && user.password && user.profile && user['limit-uptime']);
  }
  t.same(await api.write('/ip/hotspot/user/getall', ['=count-only=']), [{ ret: '20' }]);
});

t.test('the same seed gives the same data and another seed different data', async (t) => {
  const a = await startTestSimulator(t, { seed: 7, hotspotUsers: 10 });
  const b = await startTestSimulator(t, { seed: 7, hotspotUsers: 10 });
  const c = await startTestSimulator(t, { seed: 8, hotspotUsers: 10 });
  const names = (s: typeof a): string[] =>
    s.data
      .require('/ip/hotspot/user')
      .rows()
      .map((r) => r.get('name')?.toString('latin1') as string);
  t.same(names(a), names(b));
  t.notSame(names(a), names(c));
});

t.test('system menus report identity, resource with the version, and clock', async (t) => {
  const now = Date.UTC(2025, 2, 4, 5, 6, 7);
  const sim = await startTestSimulator(t, { version: '6.47', now: () => now });
  const api = await openApi(t, sim.port);
  const [resource] = await api.write('/system/resource/print');
  t.equal(resource?.version, '6.47 (stable)');
  t.match(resource?.uptime, /^(\d+w)?(\d+d)?(\d+h)?(\d+m)?\d+s$/);
  t.ok(resource?.['board-name'] && resource['cpu-load'] !== undefined && resource['free-memory']);
  t.same(await api.write('/system/clock/print', ['=.proplist=time,date']), [
    { time: '05:06:07', date: 'mar/04/2025' },
  ]);
  const v7 = await startTestSimulator(t, { version: '7.10', now: () => now });
  t.same(
    await (await openApi(t, v7.port)).write('/system/clock/print', ['=.proplist=date']),
    [{ date: '2025-03-04' }],
    'from 7.10 the date reads as ISO',
  );
  await api.write('/system/identity/set', ['=name=edge-1']);
  t.same(await api.write('/system/identity/print'), [{ name: 'edge-1' }]);
  t.same(await api.write('/system/identity/get', ['=value-name=name']), [{ ret: 'edge-1' }]);
});

t.test('every documented menu can be printed', async (t) => {
  const sim = await startTestSimulator(t, { version: '7.17' });
  const api = await openApi(t, sim.port);
  for (const path of [
    '/interface',
    '/ip/address',
    '/ip/hotspot/user',
    '/ip/hotspot/user/profile',
    '/ip/hotspot/active',
    '/ip/hotspot/host',
    '/ppp/secret',
    '/ppp/profile',
    '/ppp/active',
    '/queue/simple',
    '/ip/firewall/address-list',
    '/user',
  ]) {
    const rows = await api.write(`${path}/print`);
    t.ok(rows.length > 0, path);
  }
});

t.test('queries filter interfaces as in the manual', async (t) => {
  const sim = await startTestSimulator(t, { version: '7.17', interfaces: 3 });
  const api = await openApi(t, sim.port);
  const rows = await api.write('/interface/print', [
    '?type=ether',
    '?type=vlan',
    '?#|',
    '=.proplist=name',
  ]);
  t.same(rows, [{ name: 'ether1' }, { name: 'ether2' }, { name: 'ether3' }, { name: 'vlan10' }]);
  const none = await api.write('/interface/print', [
    '?type=ether',
    '?type=vlan',
    '?#|!',
    '=.proplist=name,type',
  ]);
  t.same(none, [{ name: 'bridge1', type: 'bridge' }]);
});

t.test('.proplist limits properties and a row lacking all of them is a bare !re', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/interface/print', '=.proplist=comment', '?type=vlan', '.tag=p']);
  t.same(text(await c.untilDone('p')), ['!re .tag=p =comment=guests', '!done .tag=p']);
  c.send(['/interface/print', '=.proplist=comment', '?name=ether1']);
  t.same(text(await c.untilDone()), ['!re', '!done']);
});

t.test('count-only answers with !done =ret=<n> and no rows', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/interface/print', '=count-only=', '?type=ether']);
  t.same(text(await c.untilDone()), ['!done =ret=5']);
  c.send(['/interface/print', '=count-only=', '?type=nothing']);
  t.same(text(await c.untilDone()), ['!done =ret=0'], 'no !empty for count-only');
});

t.test(
  'a print without rows is !done before 7.18 and !empty then !done from 7.18, both tagged',
  async (t) => {
    const old = await startTestSimulator(t, { version: '7.17' });
    const c = await openRaw(t, old.port, { user: 'admin' });
    c.send(['/interface/print', '?type=nothing', '.tag=e']);
    t.same(text(await c.untilDone('e')), ['!done .tag=e']);
    const current = await startTestSimulator(t, { version: '7.18' });
    const d = await openRaw(t, current.port, { user: 'admin' });
    d.send(['/interface/print', '?type=nothing', '.tag=e']);
    const empty = await d.next();
    const done = await d.next();
    t.same(text([empty, done]), ['!empty .tag=e', '!done .tag=e']);
    t.equal(d.chunkOf(empty), d.chunkOf(done), 'written together');
    d.send(['/interface/print', '?type=nothing']);
    t.same(text(await d.untilDone()), ['!empty', '!done']);
    const forced = await startTestSimulator(t, { version: '7.19', emptyReplies: false });
    const e = await openRaw(t, forced.port, { user: 'admin' });
    e.send(['/interface/print', '?type=nothing']);
    t.same(text(await e.untilDone()), ['!done'], 'emptyReplies overrides the version');
  },
);

t.test('print accepts detail, stats, without-paging and from with ids or names', async (t) => {
  const sim = await startTestSimulator(t, { version: '7.17' });
  const api = await openApi(t, sim.port);
  const ether2 = sim.data
    .require('/interface')
    .find('ether2')
    ?.get('.id')
    ?.toString('latin1') as string;
  const rows = await api.write('/interface/print', [
    `=from=${ether2},ether3`,
    '=detail=',
    '=stats=',
    '=without-paging=',
    '=.proplist=name',
  ]);
  t.same(rows, [{ name: 'ether2' }, { name: 'ether3' }]);
  await t.rejects(api.write('/interface/print', ['=from=nope']), { message: 'no such item' });
  await t.rejects(api.write('/interface/print', ['=colour=red']), {
    message: 'unknown parameter colour',
  });
});

t.test('add returns the new id; a duplicate hotspot user name is refused', async (t) => {
  const sim = await startTestSimulator(t, { version: '7.17' });
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/hotspot/user/add', '=name=alice', '=password=x', '=disabled=yes', '.tag=3']);
  const [done] = await c.untilDone('3');
  t.match(String(done), /^!done \.tag=3 =ret=\*[0-9A-F]+$/);
  const id = done?.attributeString('ret') as string;
  t.equal(
    sim.data.require('/ip/hotspot/user').find(id)?.get('disabled')?.toString(),
    'true',
    'yes is stored as true',
  );
  c.send(['/ip/hotspot/user/add', '=name=alice']);
  t.same(text(await c.untilDone()), [
    '!trap =message=failure: already have user with this name for this server',
    '!done',
  ]);
  c.send(['/ip/firewall/address-list/add', '=list=blocked', '=address=203.0.113.1']);
  t.same(text(await c.untilDone()), ['!trap =message=failure: already have such entry', '!done']);
});

t.test('unknown parameters and bad values are refused with the documented traps', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/hotspot/user/add', '=name=bob', '=colour=red']);
  t.same(text(await c.untilDone()), ['!trap =message=unknown parameter colour', '!done']);
  c.send(['/ip/hotspot/user/add', '=name=bob', '=disabled=maybe']);
  t.same(text(await c.untilDone()), [
    '!trap =category=1 =message=input does not match any value of disabled',
    '!done',
  ]);
  c.send(['/ppp/secret/add', '=name=bob', '=service=carrier-pigeon']);
  t.same(text(await c.untilDone()), [
    '!trap =category=1 =message=input does not match any value of service',
    '!done',
  ]);
  c.send(['/ip/hotspot/user/add', '=.id=*1', '=name=x']);
  t.equal(String((await c.untilDone())[0]), '!trap =message=unknown parameter .id');
});

t.test('parameters named like built-in members of an object are unknown parameters', async (t) => {
  // `constructor` was found on Object.prototype: a function taken for a kind of value, whose
  // TypeError cost the client its connection instead of a trap.
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    c.send(['/ip/hotspot/user/add', '=name=bob', `=${name}=x`]);
    t.same(text(await c.untilDone()), [`!trap =message=unknown parameter ${name}`, '!done']);
    c.send(['/ip/hotspot/user/unset', '=numbers=*0', `=value-name=${name}`]);
    t.same(text(await c.untilDone()), [`!trap =message=unknown parameter ${name}`, '!done']);
  }
});

t.test(
  'a profile or interface that does not exist is refused, as a router refuses it; a duplicate secret is worded as routers word it',
  async (t) => {
    const sim = await startTestSimulator(t);
    const c = await openRaw(t, sim.port, { user: 'admin' });
    const refusal = (name: string) => [
      `!trap =category=1 =message=input does not match any value of ${name}`,
      '!done',
    ];
    c.send(['/ip/hotspot/user/add', '=name=v1', '=profile=doesnotexist']);
    t.same(text(await c.untilDone()), refusal('profile'));
    c.send(['/ip/hotspot/user/add', '=name=v1', '=profile=1h-2M']);
    t.equal(String((await c.untilDone()).at(-1)).split(' ')[0], '!done', 'an existing profile');
    c.send(['/ip/hotspot/user/set', '=numbers=v1', '=profile=gold']);
    t.same(text(await c.untilDone()), refusal('profile'), 'set is checked too');
    c.send(['/ppp/secret/add', '=name=p1', '=profile=pppoe-1G']);
    t.same(text(await c.untilDone()), refusal('profile'));
    c.send(['/ip/address/add', '=address=192.0.2.1/24', '=interface=ether99']);
    t.same(text(await c.untilDone()), refusal('interface'));
    c.send(['/ppp/secret/add', '=name=p1', '=profile=pppoe-10M']);
    await c.untilDone();
    c.send(['/ppp/secret/add', '=name=p1']);
    t.same(text(await c.untilDone()), [
      '!trap =message=failure: secret with the same name already exists',
      '!done',
    ]);
  },
);

t.test('the unknown-parameter and no-such-item texts are configurable', async (t) => {
  const sim = await startTestSimulator(t, {
    unknownParameterMessage: () => 'unknown parameter',
    noSuchItemMessage: 'no such item (4)',
  });
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/hotspot/user/add', '=colour=red']);
  t.equal(String((await c.untilDone())[0]), '!trap =message=unknown parameter');
  c.send(['/ip/hotspot/user/remove', '=.id=*FFFF']);
  t.equal(String((await c.untilDone())[0]), '!trap =message=no such item (4)');
});

t.test('an unknown path gets two traps then !done', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/adress/print', '.tag=u']);
  t.same(text(await c.untilDone('u')), [
    '!trap .tag=u =category=0 =message=no such command or directory (adress)',
    '!trap .tag=u =message=no such command prefix',
    '!done .tag=u',
  ]);
  const cases: [string, string][] = [
    ['/ip/address/frobnicate', 'frobnicate'],
    ['/system/resource/add', 'add'],
    ['/ip/hotspot', 'hotspot'],
    ['/ppp/profile/enable', 'enable'],
    ['foo', 'foo'],
    ['/', ''],
  ];
  for (const [path, word] of cases) {
    c.send([path]);
    t.equal(
      String((await c.untilDone())[0]),
      `!trap =category=0 =message=no such command or directory (${word})`,
      path,
    );
  }
});

t.test('set, enable, disable, unset and remove change rows by id, name or list', async (t) => {
  const sim = await startTestSimulator(t, { version: '7.17' });
  const api = await openApi(t, sim.port);
  const menu = sim.data.require('/ppp/secret');
  const [first, second] = menu.rows().map((r) => r.get('.id')?.toString('latin1') as string);
  await api.write('/ppp/secret/set', [`=.id=${first}`, '=comment=café', '=profile=pppoe-50M']);
  t.equal(
    menu
      .find(first as string)
      ?.get('profile')
      ?.toString(),
    'pppoe-50M',
  );
  await api.write('/ppp/secret/set', ['=numbers=client0002', '=password=new']);
  t.equal(menu.find('client0002')?.get('password')?.toString(), 'new', 'a name works as id');
  await api.write('/ppp/secret/disable', [`=.id=${first},${second}`]);
  t.same(
    menu.rows().map((r) => r.get('disabled')?.toString()),
    ['true', 'true'],
  );
  await api.write('/ppp/secret/enable', [`=numbers=${(second as string).toLowerCase()}`]);
  t.equal(
    menu
      .find(second as string)
      ?.get('disabled')
      ?.toString(),
    'false',
    'ids match case-insensitively',
  );
  await api.write('/ppp/secret/unset', [`=.id=${first}`, '=value-name=comment']);
  t.notOk(menu.find(first as string)?.has('comment'));
  t.same(await api.write('/ppp/secret/get', [`=number=${first}`, '=value-name=name']), [
    { ret: 'client0001' },
  ]);
  await t.rejects(api.write('/ppp/secret/get', [`=.id=${first}`, '=value-name=colour']), {
    message: 'unknown parameter colour',
  });
  await t.rejects(api.write('/ppp/secret/get', ['=value-name=name']), { message: 'no such item' });
  await t.rejects(api.write('/ppp/secret/get', [`=.id=${first}`]), {
    message: 'unknown parameter ',
  });
  await t.rejects(api.write('/ppp/secret/set', ['=comment=x']), { message: 'no such item' });
  await t.rejects(api.write('/ppp/secret/set', ['=.id=*FF', '=comment=x']), {
    message: 'no such item',
  });
  await t.rejects(api.write('/ppp/secret/unset', [`=.id=${first}`, '=value-name=colour']), {
    message: 'unknown parameter colour',
  });
  await t.rejects(api.write('/ppp/secret/remove', [`=.id=${first}`, '=comment=x']), {
    message: 'unknown parameter comment',
  });
  await t.rejects(api.write('/ppp/secret/remove', [`=.id=${first},*FF`]), {
    message: 'no such item',
  });
  t.equal(menu.size, 2, 'nothing is removed when one id is missing');
  await api.write('/ppp/secret/remove', [`=.id=${first},${second}`]);
  t.equal(menu.size, 0);
  t.same(await api.write('/ppp/secret/print'), []);
});

t.test('set may not give a name that another row has', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/interface/set', '=.id=ether1', '=name=ether2']);
  t.equal(
    String((await c.untilDone())[0]),
    '!trap =message=failure: already have interface with such name',
  );
  c.send(['/interface/set', '=.id=ether1', '=name=wan']);
  t.same(text(await c.untilDone()), ['!done']);
  c.send(['/interface/set', '=.id=ether2', '=name=ether1']);
  t.same(text(await c.untilDone()), ['!done'], 'the old name is free again');
});

t.test('the data API seeds and inspects menus', async (t) => {
  const sim = await startTestSimulator(t);
  const menu = sim.data.require('/ip/hotspot/user');
  const id = menu.add({ name: 'seeded', comment: Buffer.from([0xe9]) });
  t.equal(menu.findBy('name', 'seeded')?.get('.id')?.toString(), id);
  t.equal(menu.findBy('name', 'nobody'), undefined);
  t.ok(sim.data.paths().includes('/ppp/secret'));
  t.equal(sim.data.menu('/nope'), undefined);
  t.throws(() => sim.data.require('/nope'), RangeError);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/hotspot/user/print', '?name=seeded', '=.proplist=comment']);
  const [row] = await c.untilDone();
  t.equal(row?.attributeString('comment'), '\u00e9');
});
