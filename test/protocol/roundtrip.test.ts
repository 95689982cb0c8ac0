/**
 * Property: decode(encode(words)) === words for random sentences in random
 * chunkings. fast-check prints its seed and path on failure.
 */
import fc from 'fast-check';
import t from 'tap';
import { Decoder } from '../../src/protocol/decoder.js';
import { encodeSentences } from '../../src/protocol/encoder.js';
import type { Sentence } from '../../src/protocol/sentence.js';
import { randomChunks, seededRandom, splitAt } from '../fixtures/bytes.js';

function decodeAll(chunks: Buffer[], decoder = new Decoder()): Sentence[] {
  const out: Sentence[] = [];
  for (const chunk of chunks) decoder.push(chunk, (s) => out.push(s));
  return out;
}

const wordArb = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a));
const sentenceArb = fc.array(wordArb, { minLength: 1, maxLength: 8 });

t.test('random sentences survive encode then decode in any chunking', async (t) => {
  fc.assert(
    fc.property(
      fc.array(sentenceArb, { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (sentences, cuts) => {
        const stream = encodeSentences(sentences);
        const offsets = [...new Set(cuts.map((c) => (c % (stream.length - 1)) + 1))].sort(
          (a, b) => a - b,
        );
        const decoded = decodeAll(splitAt(stream, ...offsets));
        return (
          decoded.length === sentences.length &&
          decoded.every(
            (s, i) =>
              s.wordCount === sentences[i]!.length &&
              sentences[i]!.every((w, j) => s.word(j).equals(w)),
          )
        );
      },
    ),
    { numRuns: 500 },
  );
  t.pass('500 random streams round-tripped');
});

t.test(
  'words of 0x3FFF, 0x4000, 0x1FFFFF and 0x200000 bytes round-trip in random chunkings',
  async (t) => {
    const limits = { maxWordBytes: 0x400000, maxSentenceBytes: 0x800000 };
    const sizes = [0x3fff, 0x4000, 0x1fffff, 0x200000];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.shuffledSubarray(sizes, { minLength: 1 }),
        (seed, picked) => {
          const random = seededRandom(seed);
          const words = picked.map((n, i) => Buffer.alloc(n, 0x41 + i));
          const stream = encodeSentences([
            ['!re', ...words, '.tag=1'],
            ['!done', '.tag=1'],
          ]);
          const decoded = decodeAll(randomChunks(stream, random, 0x10000), new Decoder(limits));
          return (
            decoded.length === 2 &&
            decoded[0]!.wordCount === words.length + 2 &&
            words.every((w, i) => decoded[0]!.word(i + 1).equals(w)) &&
            decoded[0]!.tagString === '1' &&
            decoded[1]!.command === '!done'
          );
        },
      ),
      { numRuns: 12 },
    );
    t.pass('large words round-tripped');
  },
);
