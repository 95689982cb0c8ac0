import t from 'tap';
import { cacheKey, proplistOf } from '../../src/cache/cache-key.js';
import { commandKind } from '../../src/cache/command-kind.js';
import { Sentence } from '../../src/protocol/index.js';
import { commandOf } from '../fixtures/cache-fake-handler.js';

const key = (...words: (string | Buffer)[]): string => cacheKey('r1', Sentence.from(words));

t.test('attributes in any order share a key', async (t) => {
  t.equal(key('/ip/address/print', '=a=1', '=b=2'), key('/ip/address/print', '=b=2', '=a=1'));
});

t.test('a .proplist is a set: order and duplicates do not matter', async (t) => {
  t.equal(
    key('/ppp/secret/print', '=.proplist=name,profile'),
    key('/ppp/secret/print', '=.proplist=profile,name,profile,'),
  );
  t.not(key('/ppp/secret/print', '=.proplist=name'), key('/ppp/secret/print'));
  t.same(proplistOf(Sentence.from(['/x/print', '=.proplist=b,a,,b'])), ['a', 'b']);
  t.equal(proplistOf(Sentence.from(['/x/print'])), undefined);
});

t.test('query words keep their order: they are a stack program', async (t) => {
  t.not(
    key('/ip/hotspot/user/print', '?name=a', '?name=b', '?#|'),
    key('/ip/hotspot/user/print', '?name=b', '?#|', '?name=a'),
  );
  t.equal(
    key('/ip/hotspot/user/print', '=.proplist=name', '?name=a'),
    key('/ip/hotspot/user/print', '?name=a', '=.proplist=name'),
  );
});

t.test('the client tag is not part of the key', async (t) => {
  t.equal(key('/system/identity/print', '.tag=7'), key('/system/identity/print', '.tag=abc'));
  t.equal(key('/system/identity/print', '.tag=7'), key('/system/identity/print'));
});

t.test('router, path, verb and values each tell requests apart', async (t) => {
  const base = key('/ip/address/print', '=detail=');
  t.not(cacheKey('r2', Sentence.from(['/ip/address/print', '=detail='])), base);
  t.not(key('/ip/route/print', '=detail='), base);
  t.not(key('/ip/address/getall', '=detail='), base);
  t.not(key('/ip/address/print', '=detail=yes'), base);
  t.not(key('/ip/address/print', '=count-only='), base);
  t.equal(key('/ip/address/print', '=detail'), base, '=name and =name= are the same empty value');
});

t.test('keys are byte exact: values that differ only in non-ASCII bytes differ', async (t) => {
  const a = key('/ip/hotspot/user/print', Buffer.from([0x3f, 0x6e, 0x3d, 0xe9])); // ?n=é (latin1)
  const b = key('/ip/hotspot/user/print', Buffer.from([0x3f, 0x6e, 0x3d, 0xc3, 0xa9])); // ?n=é (utf-8)
  t.not(a, b);
  const c = key('/ip/hotspot/user/print', Buffer.from('=comment=\xff', 'latin1'));
  const d = key('/ip/hotspot/user/print', Buffer.from('=comment=\xfe', 'latin1'));
  t.not(c, d);
});

t.test('an attribute value cannot pose as another attribute', async (t) => {
  t.not(key('/x/print', '=a=1,b=2'), key('/x/print', '=a=1', '=b=2'));
});

t.test(
  'commandKind: print and getall are reads, streams and read-only verbs bypass, the rest write',
  async (t) => {
    const kind = (...words: string[]) => commandKind(commandOf(words));
    t.equal(kind('/ip/hotspot/user/print'), 'read');
    t.equal(kind('/ip/hotspot/user/getall'), 'read');
    t.equal(kind('/ip/hotspot/user/print', '=count-only='), 'read');
    t.equal(kind('/interface/print', '=follow='), 'bypass');
    t.equal(kind('/interface/print', '=follow-only='), 'bypass');
    t.equal(kind('/interface/print', '=interval=1'), 'bypass');
    for (const verb of ['listen', 'get', 'monitor-traffic', 'ping', 'torch', 'export'])
      t.equal(kind(`/interface/${verb}`), 'bypass', verb);
    for (const verb of [
      'add',
      'set',
      'remove',
      'unset',
      'enable',
      'disable',
      'move',
      'reset-counters',
      'comment',
      'frobnicate',
    ])
      t.equal(kind(`/ip/hotspot/user/${verb}`), 'write', verb);
    for (const command of [
      '/execute',
      '/import',
      '/system/script/run',
      '/system/backup/load',
      '/system/reset-configuration',
    ])
      t.equal(kind(command), 'script', command);
  },
);

t.test(
  'an attribute given twice counts with its last value, a .proplist with its first',
  async (t) => {
    t.equal(key('/x/print', '=a=1', '=b=2', '=a=3'), key('/x/print', '=b=2', '=a=3'));
    t.not(key('/x/print', '=a=1', '=a=3'), key('/x/print', '=a=1'));
    t.equal(
      key('/x/print', '=.proplist=name', '=.proplist=comment'),
      key('/x/print', '=.proplist=name'),
    );
  },
);
