import t from 'tap';
import {
  attributeWords,
  doneWords,
  encodeDone,
  encodeFatal,
  encodeTrapDone,
  fatalWords,
  reWords,
  tagWords,
  TrapCategory,
  trapWords,
} from '../../src/protocol/replies.js';
import { hex, toHex } from '../fixtures/bytes.js';

const str = (words: (string | Buffer)[]): string[] =>
  words.map((w) => (typeof w === 'string' ? w : w.toString('latin1')));

t.test(
  'an untagged reply has no .tag word at all; a tagged one carries it right after the reply word',
  async (t) => {
    t.same(tagWords(undefined), [], 'untagged');
    t.same(str(tagWords('7')), ['.tag=7'], 'string tag');
    t.same(str(tagWords(hex('e9'))), ['.tag=\u00e9'], 'Buffer tag, bytes kept');
    t.same(str(doneWords(undefined)), ['!done'], 'bare !done');
    t.same(str(doneWords('1', { ret: '*3' })), ['!done', '.tag=1', '=ret=*3'], '!done with =ret=');
    t.same(
      str(reWords('x', { name: 'a=b', comment: '' })),
      ['!re', '.tag=x', '=name=a=b', '=comment='],
      '!re row',
    );
    t.same(
      str(attributeWords({ raw: hex('fffe') })),
      ['=raw=\u00ff\u00fe'],
      'Buffer values kept byte for byte',
    );
  },
);

t.test('!trap always has =message=, and =category= only when given', async (t) => {
  t.same(str(trapWords(undefined, 'failure')), ['!trap', '=message=failure'], 'no category');
  t.same(
    str(trapWords('2', 'interrupted', TrapCategory.Interrupted)),
    ['!trap', '.tag=2', '=category=2', '=message=interrupted'],
    'category 2 and tag',
  );
  t.same(
    str(trapWords(undefined, 'x', TrapCategory.MissingItem)),
    ['!trap', '=category=0', '=message=x'],
    'category 0 is written',
  );
  t.same(Object.values(TrapCategory), [0, 1, 2, 3, 4, 5, 6, 7], 'the eight categories of §2');
});

t.test('reply encoders produce the exact wire bytes', async (t) => {
  t.equal(toHex(encodeDone(undefined)), toHex(hex('05 21646f6e65 00')), '!done');
  t.equal(
    toHex(encodeDone('2', { ret: '*3' })),
    toHex(hex('05 21646f6e65 06 2e7461673d32 07 3d7265743d2a33 00')),
    '!done .tag=2 =ret=*3',
  );
  t.equal(
    toHex(encodeTrapDone('2', 'interrupted', TrapCategory.Interrupted)),
    toHex(
      hex(
        '05 2174726170 06 2e7461673d32 0b 3d63617465676f72793d32 14 3d6d6573736167653d696e746572727570746564 00',
        '05 21646f6e65 06 2e7461673d32 00',
      ),
    ),
    '!trap then !done in one buffer, both tagged',
  );
  t.equal(
    toHex(encodeFatal('session terminated on request')),
    toHex(
      hex(
        '06 2166617461 6c',
        '1d',
        Buffer.from('session terminated on request').toString('hex'),
        '00',
      ),
    ),
    '!fatal with a raw reason word',
  );
  t.same(str(fatalWords('bye')), ['!fatal', 'bye'], 'fatal words');
});
