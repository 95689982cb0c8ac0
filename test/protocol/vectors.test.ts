/**
 * Literal wire vectors (docs/routeros-api.md §1, §2; checklist items 1-7, 19, 20).
 * Each is decoded, encoded and round-tripped, and fed split at every byte
 * boundary and one byte at a time.
 */
import t from 'tap';
import { Decoder } from '../../src/protocol/decoder.js';
import { encodeSentence, encodeSentences } from '../../src/protocol/encoder.js';
import { Sentence } from '../../src/protocol/sentence.js';
import {
  byteByByte,
  decodeChunks,
  everySplit,
  hex,
  sentencesAsHex,
  toHex,
} from '../fixtures/bytes.js';

interface Vector {
  name: string;
  /** The wire bytes, grouped by word. */
  wire: string;
  /** The words, latin1 strings or hex for raw bytes. */
  words: (string | Buffer)[];
}

const vectors: Vector[] = [
  {
    name: '/login =name=admin =password=',
    wire: '06 2f6c6f67696e 0b 3d6e616d653d61646d696e 0a 3d70617373776f72643d 00',
    words: ['/login', '=name=admin', '=password='],
  },
  { name: '!done', wire: '05 21646f6e65 00', words: ['!done'] },
  {
    name: '!trap =category=2 =message=interrupted .tag=2 (an old capture: tag last)',
    wire: '05 2174726170 0b 3d63617465676f72793d32 14 3d6d6573736167653d696e746572727570746564 06 2e7461673d32 00',
    words: ['!trap', '=category=2', '=message=interrupted', '.tag=2'],
  },

  {
    name: 'a cp1252 byte E9 and invalid UTF-8 FF FE are kept as bytes',
    wire: '03 217265 0d 3d636f6d6d656e743d636166e9 0a 3d6e616d653d61fffe62 00',
    words: ['!re', hex('3d636f6d6d656e743d636166e9'), hex('3d6e616d653d61fffe62')],
  },
  {
    name: 'values with embedded = and empty values survive (=name=a=b=c, =comment=)',
    wire: '04 2f616464 0b 3d6e616d653d613d623d63 09 3d636f6d6d656e743d 07 3d64657461696c 00',
    words: ['/add', '=name=a=b=c', '=comment=', '=detail'],
  },
  {
    name: '.tag placed right after the reply word',
    wire: '03 217265 07 2e7461673d3137 05 3d613d6231 00',
    words: ['!re', '.tag=17', '=a=b1'],
  },
  {
    name: 'a word of 0x80 bytes uses a two-byte prefix',
    wire: `80 80 ${'3d'.repeat(0x80)} 00`,
    words: [Buffer.alloc(0x80, 0x3d)],
  },
  {
    name: 'a word of 0x3FFF bytes uses the longest two-byte prefix',
    wire: `bf ff ${'41'.repeat(0x3fff)} 00`,
    words: [Buffer.alloc(0x3fff, 0x41)],
  },
  {
    name: 'a word of 0x4000 bytes uses a three-byte prefix',
    wire: `c0 40 00 ${'41'.repeat(0x4000)} 00`,
    words: [Buffer.alloc(0x4000, 0x41)],
  },
];

const asBuffer = (w: string | Buffer): Buffer =>
  typeof w === 'string' ? Buffer.from(w, 'latin1') : w;
/** Long vectors are split at every boundary too, but only checked in aggregate. */
const isLong = (v: Vector): boolean => v.wire.length > 600;

for (const v of vectors) {
  t.test(`${v.name}: decodes, encodes and round-trips`, async (t) => {
    const wire = hex(v.wire);
    const expected = v.words.map((w) => asBuffer(w).toString('hex'));
    const sentences = new Decoder().decode(wire);
    t.equal(sentences.length, 1, 'one sentence');
    const s = sentences[0] as Sentence;
    t.same(sentencesAsHex([s]), [expected], 'decoded words');
    t.same(s.raw, wire, 'raw is the exact wire form');
    t.equal(s.byteLength, wire.length, 'byteLength counts prefixes and terminator');
    t.equal(s.wordCount, v.words.length, 'wordCount');
    const encoded = encodeSentence(v.words);
    t.equal(encoded.toString('hex'), wire.toString('hex'), 'encode gives the manual bytes');
    t.same(Sentence.from(v.words).raw, wire, 'Sentence.from gives the manual bytes');
    t.same(
      encodeSentence(s.words).toString('hex'),
      wire.toString('hex'),
      'decode then encode is identity',
    );
    t.same(
      sentencesAsHex(new Decoder().decode(encoded)),
      [expected],
      'encode then decode is identity',
    );
  });

  t.test(
    `${v.name}: decodes the same when split at every byte and fed one byte at a time`,
    async (t) => {
      const wire = hex(v.wire);
      const expected = v.words.map(asBuffer);
      let mismatches = 0;
      for (const chunks of [...everySplit(wire), byteByByte(wire)]) {
        const got = decodeChunks(chunks);
        const s = got.sentences[0];
        const ok =
          got.error === undefined &&
          got.sentences.length === 1 &&
          s !== undefined &&
          s.wordCount === expected.length &&
          expected.every((w, i) => s.word(i).equals(w)) &&
          s.raw.equals(wire) &&
          got.decoder.pendingBytes === 0;
        if (!ok) {
          mismatches++;
          if (!isLong(v)) t.fail(`chunks ${chunks.map(toHex).join(' | ')}`);
        }
      }
      t.equal(mismatches, 0, `all ${wire.length} chunkings decode to the same sentence`);
    },
  );
}

t.test('all vectors back to back in one stream decode in order at every split', async (t) => {
  const short = vectors.filter((v) => !isLong(v));
  const stream = encodeSentences(short.map((v) => v.words));
  t.equal(
    stream.toString('hex'),
    short.map((v) => hex(v.wire).toString('hex')).join(''),
    'encodeSentences concatenates',
  );
  const expected = short.map((v) => v.words.map((w) => asBuffer(w).toString('hex')));
  for (const chunks of [[stream], ...everySplit(stream), byteByByte(stream)]) {
    const got = decodeChunks(chunks);
    if (JSON.stringify(sentencesAsHex(got.sentences)) !== JSON.stringify(expected)) {
      t.fail(`chunk sizes ${chunks.map((c) => c.length).join(',')}`);
    }
  }
  t.pass('every chunking decodes every sentence in order');
});

t.test(
  'a lone 00 is an empty sentence: skipped, counted, and it does not disturb neighbours',
  async (t) => {
    const stream = hex('00 05 21646f6e65 00 00 00 03 217265 00 00');
    for (const chunks of [[stream], ...everySplit(stream), byteByByte(stream)]) {
      const got = decodeChunks(chunks);
      t.same(
        got.sentences.map((s) => s.command),
        ['!done', '!re'],
        `chunk sizes ${chunks.map((c) => c.length).join(',')}`,
      );
      t.equal(got.decoder.emptySentences, 4, 'four empty sentences counted');
      t.equal(got.decoder.pendingBytes, 0, 'nothing pending');
    }
    t.same(new Decoder().decode(hex('00')), [], 'a single 00 yields nothing');
  },
);

t.test('a non-minimal length prefix decodes; re-encoding is minimal', async (t) => {
  // 5 as `80 05`, `c0 00 05`, `e0 00 00 05`, `f0 00 00 00 05`; terminator as `80 00`.
  const stream = hex(
    '80 05 21646f6e65 00',
    'c0 00 05 21646f6e65 e0 00 00 03 3d613d f0 00 00 00 03 3d623d 00',
    '03 217265 80 00',
    '05 21646f6e65 00',
  );
  const expected = [['!done'], ['!done', '=a=', '=b='], ['!re'], ['!done']].map((ws) =>
    ws.map((w) => Buffer.from(w, 'latin1').toString('hex')),
  );
  for (const chunks of [[stream], ...everySplit(stream), byteByByte(stream)]) {
    const got = decodeChunks(chunks);
    if (
      JSON.stringify(sentencesAsHex(got.sentences)) !== JSON.stringify(expected) ||
      got.error !== undefined
    ) {
      t.fail(`chunk sizes ${chunks.map((c) => c.length).join(',')}`);
    }
  }
  const [first, second, third] = new Decoder().decode(stream) as [Sentence, Sentence, Sentence];
  t.same(first.raw, hex('80 05 21646f6e65 00'), 'raw keeps the non-minimal prefix');
  t.same(third.raw, hex('03 217265 80 00'), 'raw keeps a non-minimal terminator');
  t.same(encodeSentence(first.words), hex('05 21646f6e65 00'), 're-encoded minimally');
  t.same(
    encodeSentence(second.words),
    hex('05 21646f6e65 03 3d613d 03 3d623d 00'),
    're-encoded minimally',
  );
  t.same(
    encodeSentence(third.words),
    hex('03 217265 00'),
    'a non-minimal terminator re-encodes as 00',
  );
});

t.test('the encoder never writes an empty sentence or a zero-length word', async (t) => {
  t.throws(() => encodeSentence([]), RangeError, 'no words');
  t.throws(() => encodeSentence(['!done', '']), RangeError, 'empty string word');
  t.throws(() => encodeSentence([Buffer.alloc(0)]), RangeError, 'empty Buffer word');
  t.throws(() => encodeSentences([['!re'], []]), RangeError, 'an empty sentence in a batch');
  t.throws(() => Sentence.from([]), RangeError, 'Sentence.from with no words');
});
