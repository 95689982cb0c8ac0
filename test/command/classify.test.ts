import t from 'tap';
import {
  attributeKeys,
  classifyCommand,
  describeCommand,
  hasAnyAttribute,
  splitCommand,
} from '../../src/command/classify.js';
import { Sentence } from '../../src/protocol/index.js';

const kindOf = (...words: string[]) => classifyCommand(Sentence.from(words)).kind;

t.test('the menu and verb come from the command word', async (t) => {
  const info = classifyCommand(Sentence.from(['/ip/hotspot/user/print', '?name=a']));
  t.equal(info.menu, '/ip/hotspot/user');
  t.equal(info.verb, 'print');
  t.same(splitCommand('/export'), { path: '/', verb: 'export' });
  t.same(splitCommand('#'), { path: '/', verb: '#' });
  const sentence = Sentence.from(['/ppp/secret/add', '=name=a']);
  const described = describeCommand(sentence);
  t.equal(described.sentence, sentence);
  t.same(described.command, classifyCommand(sentence));
  t.same(
    Object.keys(described).sort(),
    ['command', 'sentence'],
    'menu and verb live only in command',
  );
});

t.test('API words the session answers are kinds of their own', async (t) => {
  t.equal(kindOf('/login', '=name=a'), 'login');
  t.equal(kindOf('/cancel', '=tag=1'), 'cancel');
  t.equal(kindOf('/quit'), 'quit');
  t.equal(kindOf('#'), 'keepalive');
});

t.test('prints, getall, get and export are reads; only prints may be kept', async (t) => {
  for (const word of ['/ip/address/print', '/ip/address/getall']) {
    const info = classifyCommand(Sentence.from([word]));
    t.equal(info.kind, 'read', word);
    t.ok(info.isCacheable, word);
    t.notOk(info.mayChange, word);
  }
  for (const word of ['/system/resource/get', '/export', '/ip/firewall/export']) {
    const info = classifyCommand(Sentence.from([word]));
    t.equal(info.kind, 'read', word);
    t.notOk(info.isCacheable, word);
  }
});

t.test('a print with follow, follow-only or interval is a stream', async (t) => {
  for (const attribute of ['=follow=', '=follow-only=', '=interval=1', '=follow']) {
    const info = classifyCommand(Sentence.from(['/ip/address/print', attribute]));
    t.equal(info.kind, 'stream', attribute);
    t.ok(info.isStream, attribute);
    t.notOk(info.isCacheable, attribute);
  }
  t.equal(kindOf('/ip/address/print', '=follow-up=x'), 'read', 'a longer name is another one');
});

t.test('monitor-like commands stream unless once, count or duration bounds them', async (t) => {
  const verbs = [
    '/interface/ethernet/monitor',
    '/interface/monitor-traffic',
    '/ping',
    '/tool/torch',
    '/tool/bandwidth-test',
    '/tool/traceroute',
    '/tool/sniffer/sniff',
  ];
  for (const word of verbs) t.equal(kindOf(word), 'stream', word);
  t.equal(kindOf('/interface/ethernet/monitor', '=once='), 'read');
  t.equal(kindOf('/ping', '=address=10.0.0.1', '=count=3'), 'read');
  t.equal(kindOf('/tool/bandwidth-test', '=duration=10s'), 'read');
  t.equal(kindOf('/ip/hotspot/user/listen'), 'stream', 'listen always streams');
  t.equal(kindOf('/ip/hotspot/user/listen', '=once='), 'stream');
});

t.test('writes, with what they do to the rows they name', async (t) => {
  const effects: Record<string, string | undefined> = {
    add: 'add',
    remove: 'remove',
    set: 'change',
    enable: 'change',
    disable: 'change',
    'reset-counters': 'change',
    comment: 'change',
    unset: undefined,
    move: undefined,
  };
  for (const [verb, effect] of Object.entries(effects)) {
    const info = classifyCommand(Sentence.from([`/ip/hotspot/user/${verb}`]));
    t.equal(info.kind, 'write', verb);
    t.ok(info.mayChange, verb);
    t.equal(info.rowEffect, effect, verb);
  }
  t.equal(
    classifyCommand(Sentence.from(['/system/reboot'])).rowEffect,
    undefined,
    'an action names no rows',
  );
});

t.test('an interval on a write is a setting, not a stream', async (t) => {
  t.equal(kindOf('/system/scheduler/add', '=name=a', '=interval=1d'), 'write');
});

t.test('unknown verbs are actions: they may change the router', async (t) => {
  for (const word of ['/system/reboot', '/ip/dhcp-client/renew', '/tool/fetch']) {
    const info = classifyCommand(Sentence.from([word]));
    t.equal(info.kind, 'action', word);
    t.ok(info.mayChange, word);
  }
});

t.test('commands that run a script or load a configuration are scripts', async (t) => {
  const words = [
    '/execute',
    '/import',
    '/system/script/run',
    '/system/backup/load',
    '/system/reset-configuration',
  ];
  for (const word of words) {
    const info = classifyCommand(Sentence.from([word]));
    t.equal(info.kind, 'script', word);
    t.ok(info.mayChange, word);
  }
});

t.test('a value RouterOS runs as a script is noted, whatever the verb', async (t) => {
  const scheduler = classifyCommand(
    Sentence.from(['/system/scheduler/add', '=name=a', '=on-event=/user add name=x']),
  );
  t.ok(scheduler.carriesScript);
  t.equal(scheduler.kind, 'write', 'storing a script changes its own menu');
  t.ok(classifyCommand(Sentence.from(['/execute', '=script=:log info a'])).carriesScript);
  t.notOk(classifyCommand(Sentence.from(['/ip/hotspot/user/add', '=name=a'])).carriesScript);
  t.notOk(
    classifyCommand(Sentence.from(['/system/script/print', '?source=x'])).carriesScript,
    'a query is not a value to run',
  );
});

t.test('attribute prefixes match a bare name or name=value, nothing longer', async (t) => {
  const keys = attributeKeys(['once']);
  t.ok(hasAnyAttribute(Sentence.from(['/x/monitor', '=once']), keys));
  t.ok(hasAnyAttribute(Sentence.from(['/x/monitor', '=once=']), keys));
  t.notOk(hasAnyAttribute(Sentence.from(['/x/monitor', '=onceover=']), keys));
  t.notOk(hasAnyAttribute(Sentence.from(['/x/monitor', '?once=']), keys));
});
