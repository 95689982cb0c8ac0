import t from 'tap';
import { PriorityRules } from '../../src/flow/priority-rules.js';
import { flowContext } from '../fixtures/flow-fake-handler.js';

const builtIn = new PriorityRules();

function classify(words: string[], rules = builtIn, user?: string) {
  return rules.classify(flowContext(words, user === undefined ? {} : { user }));
}

t.test('writes and other actions are high', (t) => {
  for (const verb of ['add', 'set', 'remove', 'enable', 'disable', 'unset', 'move', 'reboot']) {
    t.equal(classify([`/ip/hotspot/user/${verb}`, '=name=v1']), 'high', verb);
  }
  t.end();
});

t.test('prints and getall are normal', (t) => {
  t.equal(classify(['/system/identity/print']), 'normal');
  t.equal(classify(['/ip/address/getall']), 'normal');
  t.equal(
    classify(['/ip/hotspot/user/print', '?name=v1']),
    'normal',
    'a query narrows a large menu',
  );
  t.equal(classify(['/ppp/secret/print', '=.id=*1']), 'normal', 'so does .id');
  t.equal(classify(['/interface/print', '=from=ether1']), 'normal', 'and from');
  t.end();
});

t.test('get and bounded monitors are reads: normal, not high', (t) => {
  t.equal(classify(['/system/resource/get', '=value-name=uptime']), 'normal');
  t.equal(classify(['/interface/ethernet/monitor', '=numbers=ether1', '=once=']), 'normal');
  t.equal(classify(['/ping', '=address=10.0.0.1', '=count=3']), 'normal');
  t.end();
});

t.test('interval on a write is a setting, not a stream: high', (t) => {
  const words = ['/system/scheduler/add', '=name=a', '=interval=1d', '=on-event=/log info a'];
  t.notOk(flowContext(words).command.isStream);
  t.equal(classify(words), 'high');
  t.end();
});

t.test('full-table prints of large menus are low', (t) => {
  const menus = [
    '/ip/hotspot/user',
    '/ppp/secret',
    '/ip/hotspot/active',
    '/ppp/active',
    '/ip/arp',
    '/ip/dhcp-server/lease',
    '/queue/simple',
    '/interface',
  ];
  for (const menu of menus) t.equal(classify([`${menu}/print`]), 'low', menu);
  t.equal(classify(['/ppp/active/print', '=.proplist=name']), 'low', 'a proplist reads every row');
  t.end();
});

t.test('streams are low, whatever their verb', (t) => {
  const streams = [
    ['/ip/hotspot/user/listen'],
    ['/interface/monitor-traffic', '=interface=ether1'],
    ['/ping', '=address=10.0.0.1'],
    ['/tool/torch', '=interface=ether1'],
    ['/interface/ethernet/monitor', '=numbers=ether1'],
    ['/tool/bandwidth-test', '=address=10.0.0.2'],
    ['/system/identity/print', '=follow='],
    ['/ip/address/print', '=follow-only='],
    ['/system/resource/print', '=interval=1'],
  ];
  for (const words of streams) {
    t.ok(flowContext(words).command.isStream, `${words.join(' ')} is a stream`);
    t.equal(classify(words), 'low', words.join(' '));
  }
  t.notOk(
    flowContext(['/ip/address/print', '=follow-up=x']).command.isStream,
    'a similar name is not',
  );
  t.end();
});

t.test('configured rules come first; the first that matches wins', (t) => {
  const rules = new PriorityRules([
    { user: 'reports', path: '/**', priority: 'low' },
    { path: '/ip/hotspot/user', verb: 'print', priority: 'high' },
    { path: '/ip/*/lease', priority: 'low' },
    { path: '/ip/hotspot/*', verb: 'add', priority: 'normal' },
  ]);
  t.equal(classify(['/ip/hotspot/user/add'], rules, 'reports'), 'low', 'by user, any path');
  t.equal(classify(['/ip/hotspot/user/print'], rules), 'high', 'by path and verb');
  t.equal(classify(['/ip/dhcp-server/lease/set'], rules), 'low', '* is one segment');
  t.equal(classify(['/ip/dhcp-server/x/lease/set'], rules), 'high', 'not two: built-in');
  t.equal(classify(['/ip/hotspot/active/add'], rules), 'normal', 'verb matches');
  t.equal(classify(['/ip/hotspot/active/remove'], rules), 'high', 'verb does not: built-in');
  t.equal(classify(['/system/identity/print'], rules, 'billing'), 'normal', 'other user: built-in');
  t.end();
});

t.test('path globs: ** covers a menu and everything below it; * stays inside a segment', (t) => {
  const rules = new PriorityRules([
    { path: '/ip/firewall/**', priority: 'low' },
    { path: '/ip/hot*', priority: 'high' },
    { path: '/queue.tree', priority: 'low' },
  ]);
  t.equal(classify(['/ip/firewall/print'], rules), 'low');
  t.equal(classify(['/ip/firewall/filter/print'], rules), 'low');
  t.equal(classify(['/ip/firewall-x/print'], rules), 'normal');
  t.equal(classify(['/ip/hotspot/print'], rules), 'high');
  t.equal(classify(['/ip/hotspot/user/print', '?name=a'], rules), 'normal');
  t.equal(classify(['/queue/tree/print'], rules), 'normal', 'a dot is a dot');
  t.end();
});
