import t from 'tap';
import { Decoder } from '../../src/protocol/decoder.js';
import { Sentence } from '../../src/protocol/sentence.js';
import { hex, sharesMemory, toHex } from '../fixtures/bytes.js';

function one(wire: Buffer): Sentence {
  const out = new Decoder().decode(wire);
  if (out.length !== 1) throw new Error(`expected one sentence from ${toHex(wire)}`);
  return out[0] as Sentence;
}

const latin1 = (b: Buffer | undefined): string | undefined => b?.toString('latin1');

t.test(
  'attributes split at the second = only, and =name without a value is an empty value',
  async (t) => {
    // /add =names=x =name=a=b=c =detail =comment= =name=second ?q .tag=1
    const s = one(
      hex(
        '04 2f616464',
        '08 3d6e616d65733d78',
        '0b 3d6e616d653d613d623d63',
        '07 3d64657461696c',
        '09 3d636f6d6d656e743d',
        '02 3f71',
        '06 2e7461673d31',
        '00',
      ),
    );
    t.equal(
      latin1(s.attribute('name')),
      'a=b=c',
      'value keeps its = signs; =names= is a different attribute',
    );
    t.equal(s.attributeString('names'), 'x', 'attributeString');
    t.equal(s.attributeString('detail'), '', '=detail is an empty value');
    t.equal(s.attributeString('comment'), '', '=comment= is an empty value');
    t.equal(s.attribute('missing'), undefined, 'absent attribute');
    t.equal(s.attributeString('missing'), undefined, 'absent attribute as string');
    t.equal(s.attribute('tag'), undefined, '.tag is not an attribute');
    t.equal(s.attribute('add'), undefined, 'the command word is not an attribute');
    t.ok(s.hasAttribute('detail'), 'hasAttribute sees an empty value');
    t.notOk(s.hasAttribute('nam'), 'a prefix of a name is not the name');
    t.same(
      [...s.attributes()].map(([k, v]) => [k, v.toString('latin1')]),
      [
        ['names', 'x'],
        ['name', 'a=b=c'],
        ['detail', ''],
        ['comment', ''],
      ],
      'attributes() in order, without queries or the tag',
    );
    t.equal(s.attribute('name')?.buffer, s.raw.buffer, 'values are views, not copies');
  },
);

t.test('a later duplicate attribute wins in attributes(), the first in attribute()', async (t) => {
  const s = Sentence.from(['/set', '=name=first', '=name=second']);
  t.equal(
    latin1(s.attributes().get('name')),
    'second',
    'attributes() keeps the last, as the router does',
  );
  t.equal(s.attributeString('name'), 'first', 'attribute() returns the first match');
});

t.test('.tag is found anywhere after the command word', async (t) => {
  const cases: [string, string[], number][] = [
    ['right after the reply word', ['!re', '.tag=9', '=a=1'], 1],
    ['in the middle', ['!re', '=a=1', '.tag=9', '=b=2'], 2],
    ['last', ['!re', '=a=1', '=b=2', '.tag=9'], 3],
  ];
  for (const [name, words, index] of cases) {
    const s = one(Sentence.from(words).raw);
    t.equal(s.tagIndex, index, `${name}: index`);
    t.equal(latin1(s.tag), '9', `${name}: tag`);
    t.equal(s.tagString, '9', `${name}: tagString`);
  }
  const first = Sentence.from(['!re', '.tag=a', '.tag=b']);
  t.equal(first.tagString, 'a', 'the first .tag word counts');
  const none = Sentence.from(['.tag=1', '.ta', '.tagx', '=.tag=2']);
  t.equal(none.tagIndex, -1, 'the command word, short words and look-alikes are not tags');
  t.equal(none.tag, undefined, 'no tag');
  t.equal(none.tagString, undefined, 'no tag string');
  const empty = Sentence.from(['/ip/address/print', '.tag=']);
  t.equal(empty.tagIndex, 1, 'an empty .tag= word is located');
  t.equal(empty.tag, undefined, 'but counts as untagged (§4)');
  t.equal(empty.tagString, undefined, 'and has no tag string');
  const bytes = Sentence.from(['!re', hex('2e7461673de9ff')]);
  t.same(bytes.tag, hex('e9ff'), 'tag bytes are kept as bytes');
  t.equal(bytes.tagString, '\u00e9\u00ff', 'tagString is latin1');
});

// `!re` with a non-minimal prefix, a cp1252 word, the tag, an invalid-UTF-8
// word behind a non-minimal three-byte prefix, and a non-minimal terminator.
const RE = '80 03 217265';
const COMMENT = '0d 3d636f6d6d656e743d636166e9';
const TAG2 = '06 2e7461673d32';
const NAME = 'c0 00 0a 3d6e616d653d61fffe62';
const END = '80 00';

t.test(
  'withTag replaces, removes or inserts only the tag word; every other byte stays identical',
  async (t) => {
    const tagged = one(hex(RE, COMMENT, TAG2, NAME, END));
    t.equal(tagged.tagString, '2', 'decoded tag');
    const cases: [string, Buffer, string][] = [
      [
        'replaced by a longer string tag',
        tagged.withTag('1234'),
        `${RE} ${COMMENT} 09 2e7461673d31323334 ${NAME} ${END}`,
      ],
      [
        'replaced by a Buffer tag',
        tagged.withTag(hex('e9')),
        `${RE} ${COMMENT} 06 2e7461673de9 ${NAME} ${END}`,
      ],
      ['replaced by the same tag', tagged.withTag('2'), `${RE} ${COMMENT} ${TAG2} ${NAME} ${END}`],
      ['removed', tagged.withTag(undefined), `${RE} ${COMMENT} ${NAME} ${END}`],
      [
        'replaced by an empty tag',
        tagged.withTag(''),
        `${RE} ${COMMENT} 05 2e7461673d ${NAME} ${END}`,
      ],
    ];
    const untagged = one(hex(RE, COMMENT, NAME, END));
    cases.push(
      [
        'inserted right after the reply word, behind its non-minimal prefix',
        untagged.withTag('7'),
        `${RE} 06 2e7461673d37 ${COMMENT} ${NAME} ${END}`,
      ],
      [
        'left alone when there is none to remove',
        untagged.withTag(undefined),
        `${RE} ${COMMENT} ${NAME} ${END}`,
      ],
    );
    const tagLast = one(hex(RE, COMMENT, NAME, TAG2, END));
    cases.push(
      [
        'rewritten where an old router put it: last, before a non-minimal terminator',
        tagLast.withTag('1234'),
        `${RE} ${COMMENT} ${NAME} 09 2e7461673d31323334 ${END}`,
      ],
      ['removed from the end', tagLast.withTag(undefined), `${RE} ${COMMENT} ${NAME} ${END}`],
    );
    const long = 'x'.repeat(0x80 - 5);
    cases.push([
      'replaced by a tag that needs a two-byte prefix',
      tagged.withTag(long),
      `${RE} ${COMMENT} 80 80 2e7461673d${Buffer.from(long).toString('hex')} ${NAME} ${END}`,
    ]);
    for (const [name, got, want] of cases) t.equal(toHex(got), toHex(hex(want)), name);
    t.ok(
      sharesMemory(untagged.withTag(undefined), untagged.raw),
      'no tag and none wanted: the raw view, no copy',
    );
    t.same(tagged.raw, hex(RE, COMMENT, TAG2, NAME, END), 'the original sentence is not modified');
    const again = one(tagged.withTag('k3j9x0a1q'));
    t.equal(again.tagString, 'k3j9x0a1q', 'the rewritten sentence decodes with the new tag');
    t.equal(again.attributeString('comment'), 'caf\u00e9', 'and the same attributes');
  },
);

t.test('queries() lists query words in their order', async (t) => {
  const s = one(
    hex(
      '0f 2f69702f726f7574652f7072696e74',
      '0c 3f3e64697374616e63653d31',
      '06 2e7461673d31',
      '11 3f676174657761793d31302e302e302e31',
      '16 3d2e70726f706c6973743d6473742d61646472657373',
      '04 3f232621',
      '00',
    ),
  );
  t.same(
    s.queries().map((q) => q.toString('latin1')),
    ['?>distance=1', '?gateway=10.0.0.1', '?#&!'],
    'order kept, other words skipped',
  );
  t.same(Sentence.from(['?first']).queries(), [], 'the command word is never a query');
});

t.test('words are views addressed by index, with strings made on demand', async (t) => {
  const wire = hex('06 2f6c6f67696e 0b 3d6e616d653d61646d696e 0a 3d70617373776f72643d 00');
  const s = one(wire);
  t.equal(s.command, '/login', 'command');
  t.equal(s.command, '/login', 'command again (cached)');
  t.equal(s.wordString(1), '=name=admin', 'wordString');
  t.same(s.word(2), hex('3d70617373776f72643d'), 'word');
  t.equal(s.wordLength(1), 11, 'wordLength');
  t.equal(s.words, s.words, 'words are built once');
  t.same(
    s.words.map((w) => w.toString('latin1')),
    ['/login', '=name=admin', '=password='],
    'words',
  );
  t.ok(s.wordStartsWith(1, Buffer.from('=name=')), 'wordStartsWith matches a prefix');
  t.notOk(s.wordStartsWith(1, Buffer.from('=pass')), 'wordStartsWith refuses another prefix');
  t.notOk(
    s.wordStartsWith(0, Buffer.from('/login/long')),
    'wordStartsWith refuses a longer prefix',
  );
  t.equal(s.toString(), '/login =name=admin =password=', 'toString joins words');
  t.throws(() => s.word(3), RangeError, 'word past the end');
  t.throws(() => s.word(-1), RangeError, 'negative word index');
});

t.test('Sentence.from builds the same view a decoder would', async (t) => {
  const words = ['!re', hex('3d613de9'), 'x'.repeat(0x80), '.tag=5'];
  const built = Sentence.from(words);
  const decoded = one(built.raw);
  t.same(built.words, decoded.words, 'same words');
  t.equal(built.tagIndex, 3, 'tag located');
  t.equal(built.byteLength, 1 + 3 + 1 + 4 + 2 + 0x80 + 1 + 6 + 1, 'byteLength');
});

t.test(
  'a sentence with no words has an empty command and gets a tag inserted at its start',
  async (t) => {
    // Only constructible directly: the decoder never yields an empty sentence.
    const empty = new Sentence(hex('00'), 0, 1, []);
    t.equal(empty.wordCount, 0, 'no words');
    t.equal(empty.command, '', 'empty command');
    t.equal(
      toHex(empty.withTag('1')),
      toHex(hex('06 2e7461673d31 00')),
      'tag inserted before the terminator',
    );
  },
);

t.test('attributes are found by name however many different names are asked for', async (t) => {
  const s = Sentence.from(['!re', '=name=a', '=n299=last']);
  for (let i = 0; i < 300; i++) s.attribute(`n${i}`);
  t.equal(s.attributeString('n299'), 'last');
  t.equal(s.attributeString('n298'), undefined);
  t.equal(s.attributeString('name'), 'a');
});

t.test(
  'a tag rewrite copies short and long runs alike, and writes a tag string as latin1',
  async (t) => {
    const long = `=comment=${'x'.repeat(60)}`;
    const longTag = Buffer.from('t'.repeat(40), 'latin1');
    for (const [words, tag, expected] of [
      [['!re', '.tag=7', '=name=a'], 'k\u00e9', ['!re', '.tag=k\u00e9', '=name=a']],
      [
        [`/ip/hotspot/user/print${'/x'.repeat(20)}`, long, '.tag=7', long],
        longTag,
        [`/ip/hotspot/user/print${'/x'.repeat(20)}`, long, `.tag=${'t'.repeat(40)}`, long],
      ],
      [['!done', '.tag=7'], '\u0141', ['!done', '.tag=A']],
    ] as const) {
      const sentence = Sentence.from(words);
      const want = Sentence.from(expected).raw;
      t.same(sentence.withTag(tag), want, `${words[0]} with ${String(tag)}`);
      const out = Buffer.alloc(want.length + 3);
      t.equal(sentence.writeWithTag(tag, out, 3), want.length + 3, 'the offset after it');
      t.same(out.subarray(3), want);
    }
  },
);

t.test(
  'the command word of a reply is the same string every time; other words are read',
  async (t) => {
    for (const word of [
      '!re',
      '!done',
      '!trap',
      '!empty',
      '!fatal',
      '!dona',
      '!x',
      '/ip/print',
      '!',
    ])
      t.equal(Sentence.from([word, '=a=b']).command, word, word);
    t.equal(one(Sentence.from(['!trap', '.tag=1']).raw).command, '!trap', 'decoded too');
  },
);

t.test(
  'a tag written by Number#toString(36) reads back as its number; any other tag as none',
  async (t) => {
    for (const id of [1, 35, 36, 46, 1295, 36 ** 10 - 1])
      t.equal(Sentence.from(['!re', `.tag=${id.toString(36)}`]).tagId, id, id.toString(36));
    for (const tag of ['01', 'A', '1-', '1{', 'zzzzzzzzzzz', '', '1 '])
      t.equal(Sentence.from(['!done', `.tag=${tag}`]).tagId, undefined, `'${tag}'`);
    t.equal(Sentence.from(['!done']).tagId, undefined, 'no tag');
  },
);

t.test(
  'a bare .tag word is a tag word with an empty value: the sentence is untagged',
  async (t) => {
    const bare = Sentence.from(['/ip/address/print', '.tag', '=a=1']);
    t.equal(bare.tagIndex, 1, 'the bare .tag word is located');
    t.equal(bare.tag, undefined, 'no tag value');
    t.equal(bare.tagString, undefined, 'no tag string');
    t.equal(bare.tagId, undefined, 'no tag id');
    t.equal(
      toHex(bare.withTag('5')),
      toHex(Sentence.from(['/ip/address/print', '.tag=5', '=a=1']).raw),
      'withTag rewrites it in place',
    );
  },
);

t.test(
  'withSoleTag leaves exactly one tag word, the given one, in place of the first',
  async (t) => {
    const wire = (words: string[]): string => toHex(Sentence.from(words).raw);
    const cases: [string, string[], string[]][] = [
      ['no tag word: inserted after the command', ['/a', '=x=1'], ['/a', '.tag=u', '=x=1']],
      ['one tag word: rewritten', ['/a', '=x=1', '.tag=c'], ['/a', '=x=1', '.tag=u']],
      [
        'a second .tag= word: dropped',
        ['/a', '.tag=c', '=x=1', '.tag=7'],
        ['/a', '.tag=u', '=x=1'],
      ],
      [
        'a bare .tag after a tag: dropped',
        ['/a', '.tag=c', '.tag', '=x=1'],
        ['/a', '.tag=u', '=x=1'],
      ],
      ['a bare .tag first: rewritten', ['/a', '.tag', '.tag=9'], ['/a', '.tag=u']],
      ['empty tags: all replaced', ['/a', '.tag=', '.tag=', '.tag='], ['/a', '.tag=u']],
    ];
    for (const [name, words, expected] of cases) {
      const s = one(Sentence.from(words).raw);
      t.equal(toHex(s.withSoleTag('u')), wire(expected), name);
      t.equal(toHex(s.withSoleTag(Buffer.from('u'))), wire(expected), `${name} (tag as bytes)`);
    }
    const lookAlikes = Sentence.from(['/a', '.tag=c', '=.tag=7', '.tagx=1', '?.tag=2']);
    t.equal(
      toHex(lookAlikes.withSoleTag('u')),
      wire(['/a', '.tag=u', '=.tag=7', '.tagx=1', '?.tag=2']),
      'attributes, queries and look-alikes named like a tag are kept',
    );
  },
);
