import t from 'tap';
import { encodeSentence, sentenceSize, writeSentence } from '../../src/protocol/encoder.js';
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

t.test('strings are written one char per byte (latin1), never as UTF-8', async (t) => {
  t.equal(
    toHex(encodeSentence(['=a=\u00e9'])),
    toHex(hex('04 3d613de9 00')),
    'é is the single byte E9',
  );
  t.equal(sentenceSize(['\u00e9\u00ff']), 4, 'sized as latin1');
});
