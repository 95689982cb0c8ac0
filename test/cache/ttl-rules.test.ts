import t from 'tap';
import { compileGlob, isGlob } from '../../src/command/glob.js';
import { TtlRules } from '../../src/cache/ttl-rules.js';
import { SECTIONS } from '../../src/config/index.js';
import { Sentence } from '../../src/protocol/index.js';

const defaults = SECTIONS.cache.defaults;
const rules = new TtlRules(defaults.ttlRules, defaults.defaultTtlMs, defaults.volatileProperties);
const ttl = (...words: string[]): number => {
  const sentence = Sentence.from(words);
  const command = sentence.command;
  return rules.ttlFor(command.slice(0, command.lastIndexOf('/')), sentence);
};

t.test('counters and active-session tables live seconds', async (t) => {
  for (const path of [
    '/ip/hotspot/active',
    '/ip/hotspot/host',
    '/ppp/active',
    '/interface',
    '/queue/simple',
    '/ip/dhcp-server/lease',
    '/ip/arp',
    '/system/resource',
    '/interface/ethernet',
    '/interface/ethernet/switch/port',
  ]) {
    const ms = ttl(`${path}/print`);
    t.ok(ms >= 1000 && ms <= 5000, `${path}: ${ms} ms`);
  }
});

t.test('identity, profiles, routerboard and pools live minutes', async (t) => {
  for (const path of [
    '/system/identity',
    '/system/routerboard',
    '/ip/hotspot/user/profile',
    '/ppp/profile',
    '/ip/pool',
  ])
    t.ok(ttl(`${path}/print`) >= 60_000, path);
});

t.test('other menus get the default TTL', async (t) => {
  t.equal(ttl('/ip/address/print'), 300_000);
  const custom = new TtlRules([], 1234, []);
  t.equal(custom.ttlFor('/ip/address', Sentence.from(['/ip/address/print'])), 1234);
});

t.test(
  'hotspot users and PPP secrets live seconds when the print may show a counter',
  async (t) => {
    for (const path of ['/ip/hotspot/user', '/ppp/secret']) {
      t.equal(ttl(`${path}/print`), 5000, `${path} without .proplist`);
      t.equal(ttl(`${path}/print`, '=.proplist=name,uptime'), 5000, `${path} with uptime`);
      t.equal(ttl(`${path}/print`, '=.proplist=name,bytes-in'), 5000, `${path} with bytes-in`);
      t.equal(ttl(`${path}/print`, '=.proplist=limit-bytes-total'), 5000, `${path} with a limit`);
      t.equal(ttl(`${path}/print`, '=.proplist=.id,last-logged-out'), 5000);
    }
  },
);

t.test('a .proplist that leaves out every counter gets the longer TTL', async (t) => {
  t.equal(ttl('/ip/hotspot/user/print', '=.proplist=.id,name,profile,comment,disabled'), 300_000);
  t.equal(ttl('/ppp/secret/print', '=.proplist=name,password,profile'), 300_000);
});

t.test('a query on a counter makes the print volatile whatever its .proplist', async (t) => {
  t.equal(ttl('/ip/hotspot/user/print', '=.proplist=name', '?>bytes-in=1000'), 5000);
  t.equal(ttl('/ip/hotspot/user/print', '=.proplist=name', '?uptime'), 5000);
  t.equal(ttl('/ip/hotspot/user/print', '=.proplist=name', '?-uptime'), 5000);
  t.equal(ttl('/ip/hotspot/user/print', '=.proplist=name', '?=uptime=0s'), 5000);
  t.equal(ttl('/ip/hotspot/user/print', '=.proplist=name', '?<packets-in=3'), 5000);
  t.equal(ttl('/ip/hotspot/user/print', '=.proplist=name', '?name=a', '?name=b', '?#|'), 300_000);
});

t.test('a count-only print shows no property: only its queries can make it volatile', async (t) => {
  t.equal(ttl('/ip/hotspot/user/print', '=count-only='), 300_000);
  t.equal(ttl('/ip/hotspot/user/print', '=count-only=', '?bytes-out=0'), 5000);
});

t.test('the first matching rule wins', async (t) => {
  const first = new TtlRules(
    [
      { path: '/a/*', ttlMs: 1 },
      { path: '/a/b', ttlMs: 2 },
    ],
    9,
    [],
  );
  t.equal(first.ttlFor('/a/b', Sentence.from(['/a/b/print'])), 1);
});

t.test('globs: * inside a segment, ** any number of segments, the rest literal', async (t) => {
  t.ok(compileGlob('/interface/*')('/interface/vlan'));
  t.notOk(compileGlob('/interface/*')('/interface/bridge/port'));
  t.notOk(compileGlob('/interface/*')('/interface'));
  t.ok(compileGlob('/interface/**')('/interface/bridge/port'));
  t.ok(compileGlob('/interface/**')('/interface'), '** may stand for no segment');
  t.ok(compileGlob('bytes-*')('bytes-in'));
  t.notOk(compileGlob('bytes-*')('limit-bytes-in'));
  t.ok(compileGlob('a.b(c)')('a.b(c)'));
  t.notOk(compileGlob('a.b*')('axb'));
  t.ok(compileGlob('/x')('/x'));
  t.notOk(compileGlob('/x')('/xy'));
  t.ok(isGlob('/a/*'));
  t.notOk(isGlob('/a'));
});
