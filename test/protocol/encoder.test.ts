import t from 'tap';
import {
  encodeSentence,
  sentenceSize,
  stringEncoding,
  writeSentence,
} from '../../src/protocol/encoder.js';
import { Sentence } from '../../src/protocol/sentence.js';
import { hex, toHex } from '../fixtures/bytes.js';

t.test(
  'writeSentence writes at an offset and returns the offset past the terminator',
  async (t) => {
    const words = ['!done', hex('3d613de9')];
    const size = sentenceSize(words);
    t.equal(size, 1 + 5 + 1 + 4 + 1, 'size includes prefixes and terminator');
    const out = Buffer.alloc(size + 4, 0xaa);
    t.equal(writeSentence(out, 2, words), 2 + size, 'returns the end offset');
    t.equal(
      toHex(out),
      toHex(hex('aa aa 05 21646f6e65 04 3d613de9 00 aa aa')),
      'bytes around are untouched',
    );
  },
);

t.test(
  'byte strings (every char up to U+00FF) are written one char per byte (latin1)',
  async (t) => {
    t.equal(
      toHex(encodeSentence(['=a=\u00e9'])),
      toHex(hex('04 3d613de9 00')),
      'é is the single byte E9',
    );
    t.equal(sentenceSize(['\u00e9\u00ff']), 4, 'sized as latin1');
  },
);

t.test(
  'a string with a char above U+00FF is text, written as UTF-8, never cut to low bytes',
  async (t) => {
    t.equal(
      toHex(encodeSentence(['=password=\u043f\u0430\u0440\u043e\u043b\u044c'])),
      toHex(Buffer.concat([hex('16'), Buffer.from('=password=пароль', 'utf8'), hex('00')])),
      'пароль is its UTF-8 bytes, not ?0@>;L',
    );
    t.equal(
      sentenceSize(['=a=\u00e9\u20ac']),
      1 + 1 + 3 + 2 + 3,
      'sized as UTF-8: é and € as 2 and 3 bytes',
    );
    t.equal(stringEncoding('caf\u00e9'), 'latin1', 'a byte string');
    t.equal(stringEncoding('\u20ac'), 'utf8', 'text');
    const s = Sentence.from(['/system/identity/set', '=name=\u0440\u043e\u0443\u0442\u0435\u0440']);
    t.equal(
      s.attribute('name')?.toString('utf8'),
      'роутер',
      'Sentence.from finds the words where they were written',
    );
  },
);
