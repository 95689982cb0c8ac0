import t from 'tap';
import { categoryOf } from '../../src/audit/audit-record.js';
import { parseAuditFileName, sortAuditFiles } from '../../src/audit/audit-files.js';
import type { AuditEvent } from '../../src/audit/audit-record.js';
import {
  ZERO_HASH,
  digestLine,
  eventBody,
  isRecordStart,
  parseLine,
} from '../../src/audit/chain-line.js';
import { decryptDetails, encryptDetails } from '../../src/audit/details-cipher.js';
import { LevelPolicy } from '../../src/audit/level-policy.js';
import { Redactor } from '../../src/audit/redactor.js';
import { Sentence } from '../../src/protocol/index.js';
import { canonicalText, digestText, lineOf } from '../fixtures/chain-text.js';
import { classifyCommand } from '../../src/command/classify.js';
import { sampleEvent } from '../fixtures/audit-helpers.js';
import { seededRandom } from '../fixtures/bytes.js';

const HASH = 'a'.repeat(64);

t.test(
  'the canonical form orders top-level fields by the record order and nested keys by name',
  async (t) => {
    const event = { ...sampleEvent(1), details: { zeta: [{ b: 1, a: 2 }], alpha: null } };
    const text = canonicalText(event, 9, ZERO_HASH);
    t.ok(text.startsWith(`{"seq":9,"prev":"${ZERO_HASH}","id":`));
    t.match(text, /"details":\{"alpha":null,"zeta":\[\{"a":2,"b":1\}\]\}\}$/);
    t.notMatch(text, /undefined/);
    const { details, ...rest } = event;
    const reordered = canonicalText({ details, ...rest }, 9, ZERO_HASH);
    t.equal(reordered, text, 'the order keys were given in does not matter');
  },
);

/** The canonical order of the fields from `id` on (ROUTEROS-API's audit format, chain-line.ts). */
const BODY_FIELDS = [
  'id',
  'timestamp',
  'kind',
  'level',
  'category',
  'action',
  'result',
  'userId',
  'ipAddress',
  'router',
  'replica',
  'connId',
  'path',
  'verb',
  'tag',
  'rule',
  'verdict',
  'cache',
  'rows',
  'duration',
  'details',
] as const;
const NUMBER_FIELDS = new Set(['connId', 'rows', 'duration']);

t.test(
  'the body is what JSON.stringify makes of the fields in order, for any values',
  async (t) => {
    const seed = Number(process.env['EVENT_BODY_SEED'] ?? Date.now() % 1_000_000);
    t.comment(`seed ${seed} (EVENT_BODY_SEED=${seed} replays it)`);
    const random = seededRandom(seed);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    // Plain words, the characters JSON escapes, lone surrogates, non-ASCII, repeats.
    const strings = [
      'billing',
      '10.0.0.5',
      '/ip/hotspot/user/print',
      '',
      'a"b',
      'back\\slash',
      'tab\there',
      'nl\n',
      '\u0000\u001f',
      '\ud800',
      'x\udc00y',
      'caf\u00e9',
      '\u{1f600}',
      'A|B|C',
      '{"json":1}',
      '*1A',
      '2026-12-07T10:00:00.000Z',
      'ok slash/ dot. colon: plus+ minus-',
    ];
    const text = (): string =>
      random() < 0.7 ? pick(strings) : Array.from({ length: 5 }, () => pick(strings)).join('');
    const numbers = [0, -0, 1, 42, 1.5, -3, 1e21, 2 ** 53, Number.NaN, Infinity, -Infinity];
    for (let i = 0; i < 3000; i++) {
      const event: Record<string, unknown> = {};
      for (const field of BODY_FIELDS) {
        if (random() < 0.2) continue;
        // Keys already in order: sorting them is the first test's.
        if (field === 'details')
          event[field] = { a: [pick(numbers), { b: text(), y: 1 }], z: text() };
        else event[field] = NUMBER_FIELDS.has(field) ? pick(numbers) : text();
      }
      const inOrder = Object.fromEntries(BODY_FIELDS.map((field) => [field, event[field]]));
      const expected = JSON.stringify(inOrder).slice(1, -1);
      const body = eventBody(event as unknown as AuditEvent);
      if (body !== expected) {
        t.equal(body, expected, `event ${i}`);
        return;
      }
    }
    t.pass('3000 random events');
  },
);

t.test('a line is its canonical form plus the hash, and reads back by position', async (t) => {
  const canonical = canonicalText(sampleEvent(1), 12345, HASH);
  const hash = digestText(canonical, undefined);
  const line = lineOf(canonical, hash);
  t.ok(line.endsWith(`,"hash":"${hash}"}\n`));
  const bytes = Buffer.from(line.slice(0, -1));
  const parsed = parseLine(bytes);
  t.same(parsed, { seq: 12345, prev: HASH, hash, bodyEnd: bytes.length - 75 });
  t.equal(digestLine(bytes, parsed?.bodyEnd as number, undefined), hash);
  const key = Buffer.from('k'.repeat(32));
  t.equal(digestLine(bytes, parsed?.bodyEnd as number, key), digestText(canonical, key));
  t.not(digestText(canonical, key), hash);
});

t.test('parseLine refuses anything without the exact record shape', async (t) => {
  const good = `{"seq":1,"prev":"${HASH}","x":1,"hash":"${HASH}"}`;
  t.ok(parseLine(Buffer.from(good)));
  const bad = {
    'too short': `{"seq":1,"hash":"${HASH}"}`,
    'not starting with seq': ` {"seq":1,"prev":"${HASH}","x":1,"hash":"${HASH}"}`,
    'seq without digits': `{"seq":x,"prev":"${HASH}","x":1,"hash":"${HASH}"}`,
    'seq of 16 digits': `{"seq":1234567890123456,"prev":"${HASH}","x":1,"hash":"${HASH}"}`,
    'no prev': `{"seq":1,"prev!":"${HASH}","x":1,"hash":"${HASH}"}`,
    'a short prev': `{"seq":1,"prev":"${HASH.slice(1)}","x":12,"hash":"${HASH}"}`,
    'a prev running into the hash': `{"seq":123,"prev":"${HASH.slice(1)},"hash":"${HASH}"}`,
    'no hash field': `{"seq":1,"prev":"${HASH}","x":1,"hash!":"${HASH}"}`,
    'no closing quote': `{"seq":1,"prev":"${HASH}","x":1,"hash":"${HASH}x}`,
    'no closing brace': `{"seq":1,"prev":"${HASH}","x":1,"hash":"${HASH}"]`,
  };
  for (const [what, line] of Object.entries(bad))
    t.equal(parseLine(Buffer.from(line)), undefined, what);
});

t.test('a record start is any beginning of {"seq":', async (t) => {
  t.ok(isRecordStart(Buffer.from('{"se')));
  t.ok(isRecordStart(Buffer.from('{"seq":12,"pr')));
  t.notOk(isRecordStart(Buffer.from('')));
  t.notOk(isRecordStart(Buffer.from('{"id"')));
});

t.test('encrypted details decrypt with their key only', async (t) => {
  const key = Buffer.alloc(32, 1);
  const sealed = encryptDetails({ attributes: { name: 'v1' } }, key);
  t.match(sealed, { enc: 'aes-256-gcm' });
  t.same(decryptDetails(sealed, key), { attributes: { name: 'v1' } });
  t.equal(decryptDetails(sealed, Buffer.alloc(32, 2)), undefined);
});

t.test('categories follow the menu path, the longest prefix first', async (t) => {
  const cases = {
    '/ip/hotspot/user': 'hotspot',
    '/ip/hotspot': 'hotspot',
    '/user': 'user_management',
    '/user/group': 'user_management',
    '/ppp/secret': 'ppp',
    '/ip/firewall/filter': 'security',
    '/system/resource': 'monitoring',
    '/system/reboot': 'system',
    '/system/backup': 'configuration',
    '/ip/address': 'network',
    '/interface/monitor-traffic': 'monitoring',
    '/interface/ethernet': 'network',
    '/ipsec': 'other',
    '/users': 'other',
    '/': 'other',
  };
  for (const [path, category] of Object.entries(cases)) t.equal(categoryOf(path), category, path);
});

const commandOf = (word: string) => classifyCommand(Sentence.from([word]));

t.test(
  'level rules: first match wins, * is one segment, ** any depth, /** also the path itself',
  async (t) => {
    const policy = new LevelPolicy([
      { path: '/system/resource', verb: 'print', level: 'none' },
      { path: '/ip/hotspot/**', level: 'full' },
      { path: '/ppp/*/add', level: 'metadata' },
      { path: '/tool/**/x.y', level: 'full' },
    ]);
    t.equal(policy.levelFor(commandOf('/system/resource/print')), 'none');
    t.equal(policy.levelFor(commandOf('/system/resource/monitor')), 'metadata');
    t.equal(policy.levelFor(commandOf('/ip/hotspot/add')), 'full');
    t.equal(policy.levelFor(commandOf('/ip/hotspot/user/profile/print')), 'full');
    t.equal(policy.levelFor(commandOf('/ip/hotspotx/add')), 'request');
    t.equal(policy.levelFor(commandOf('/ppp/secret/add/x')), 'metadata');
    t.equal(policy.levelFor(commandOf('/ppp/secret/more/add/x')), 'request');
    t.equal(policy.levelFor(commandOf('/tool/a/b/x.y/x')), 'full');
    t.equal(policy.levelFor(commandOf('/tool/a/b/xzy/x')), 'request', 'a dot is a dot');
    t.equal(policy.levelFor(commandOf('/ip/address/getall')), 'metadata');
    t.equal(policy.levelFor(commandOf('/ip/address/set')), 'request');
    t.equal(policy.levelFor(commandOf('/tool/torch')), 'metadata', 'a stream changes nothing');
    t.equal(policy.levelFor(commandOf('/system/reboot')), 'request', 'an action may');
  },
);

t.test('the redactor knows secrets by name, extra names in any case', async (t) => {
  const redactor = new Redactor(['Comment']);
  for (const name of [
    'password',
    'new-password',
    'secret',
    'shared-secret',
    'passphrase',
    'private-key',
    'pre-shared-key',
    'wpa-pre-shared-key',
    'key',
    'static-key-0',
    'static-key-3',
    'pin',
    'response',
    'comment',
    'COMMENT',
  ])
    t.ok(redactor.isSecret(name), name);
  for (const name of ['name', 'keyboard', 'monkey', 'responses', 'profile', 'pinned', 'key-10x'])
    t.notOk(redactor.isSecret(name), name);
  const sentence = Sentence.from(['/x', '=password', '=name=a=b', '?>password=1', '?<uptime=5']);
  t.same(redactor.attributes(sentence), { password: '***', name: 'a=b' });
  t.same(redactor.queries(sentence), ['?>password=***', '?<uptime=5']);
  t.same(new Redactor().attributes(Sentence.from(['/x', '=comment=c'])), { comment: 'c' });
});

t.test(
  'attribute names an object literal treats specially are recorded like any other',
  async (t) => {
    // `=__proto__=...` went to a plain object's prototype setter and vanished from the record.
    const sentence = Sentence.from([
      '/ip/hotspot/user/add',
      '=name=x',
      '=__proto__=evil',
      '=constructor=y',
    ]);
    const attributes = new Redactor().attributes(sentence);
    t.same(Object.keys(attributes), ['name', '__proto__', 'constructor']);
    t.equal(attributes['__proto__'], 'evil');
    const body = eventBody({ ...sampleEvent(1), details: { attributes } });
    t.match(
      body,
      /"details":\{"attributes":\{"__proto__":"evil","constructor":"y","name":"x"\}\}$/,
    );
    const parsed = (JSON.parse(`{${body}}`) as { details: { attributes: object } }).details
      .attributes;
    t.same(Object.entries(parsed), [
      ['__proto__', 'evil'],
      ['constructor', 'y'],
      ['name', 'x'],
    ]);
  },
);

t.test('audit files sort by date then index; other names keep their order', async (t) => {
  t.same(parseAuditFileName('/x/audit-2024-05-01.12.jsonl'), { date: '2024-05-01', index: 12 });
  t.equal(parseAuditFileName('audit-2024-05-01.txt'), undefined);
  t.same(
    sortAuditFiles([
      'd/audit-2024-05-02.jsonl',
      'd/audit-2024-05-01.10.jsonl',
      'd/audit-2024-05-01.jsonl',
      'd/audit-2024-05-01.2.jsonl',
    ]),
    [
      'd/audit-2024-05-01.jsonl',
      'd/audit-2024-05-01.2.jsonl',
      'd/audit-2024-05-01.10.jsonl',
      'd/audit-2024-05-02.jsonl',
    ],
  );
  t.same(sortAuditFiles(['b.jsonl', 'audit-2024-05-01.jsonl', 'a.jsonl']), [
    'b.jsonl',
    'audit-2024-05-01.jsonl',
    'a.jsonl',
  ]);
});
