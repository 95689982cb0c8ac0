/**
 * Seeded random-input fuzz (after mqtt-packet's testRandom): any
 * byte stream, in any chunking, may only yield Sentences or a RosgateError.
 * Replay a failure with ROSGATE_FUZZ_SEED=<seed> npx tap test/protocol/fuzz.test.ts
 */
import t from 'tap';
import { RosgateError } from '../../src/errors.js';
import { Decoder, type DecoderLimits } from '../../src/protocol/decoder.js';
import { Sentence } from '../../src/protocol/sentence.js';
import { randomChunks, randomInt, seededRandom, sentenceBytes } from '../fixtures/bytes.js';

const seed = Number(process.env['ROSGATE_FUZZ_SEED'] ?? Date.now() % 0x7fffffff);
const INPUTS = 10_000;

/** Random bytes, half of the time mixed with fragments of valid sentences. */
function randomStream(random: () => number): Buffer {
  const parts: Buffer[] = [];
  const count = randomInt(random, 1, 6);
  for (let i = 0; i < count; i++) {
    if (random() < 0.5) {
      const bytes = Buffer.alloc(randomInt(random, 0, 40));
      for (let j = 0; j < bytes.length; j++) {
        // Bias towards interesting first bytes: terminators, prefix classes, control bytes.
        bytes[j] =
          random() < 0.3
            ? [0x00, 0x01, 0x7f, 0x80, 0xbf, 0xc0, 0xe0, 0xf0, 0xf7, 0xf8, 0xff][
                randomInt(random, 0, 10)
              ]!
            : randomInt(random, 0, 255);
      }
      parts.push(bytes);
    } else {
      const words: Buffer[] = [];
      for (let w = randomInt(random, 1, 5); w > 0; w--)
        words.push(Buffer.alloc(randomInt(random, 1, 150), randomInt(random, 0, 255)));
      const sentence = sentenceBytes(...words);
      parts.push(
        random() < 0.7 ? sentence : sentence.subarray(0, randomInt(random, 0, sentence.length)),
      );
    }
  }
  return Buffer.concat(parts);
}

t.test(
  `random bytes in random chunks yield only Sentences or a RosgateError (seed ${seed})`,
  async (t) => {
    t.comment(`fuzz seed ${seed}`);
    const random = seededRandom(seed);
    let sentences = 0;
    let errors = 0;
    const problems: string[] = [];
    for (let input = 0; input < INPUTS && problems.length === 0; input++) {
      const stream = randomStream(random);
      const limits: Partial<DecoderLimits> =
        random() < 0.5
          ? {}
          : {
              maxWordBytes: randomInt(random, 1, 200),
              maxWordsPerSentence: randomInt(random, 1, 8),
              maxSentenceBytes: randomInt(random, 1, 400),
            };
      const decoder = new Decoder(limits);
      const where = `seed ${seed}, input ${input}, stream ${stream.toString('hex')}`;
      let failed = false;
      // Small chunks, and chunks large enough to take the decoder's stitch path.
      for (const chunk of randomChunks(stream, random, random() < 0.5 ? 32 : 2048)) {
        try {
          decoder.push(chunk, (s) => {
            if (failed) problems.push(`sentence after error (${where})`);
            if (!(s instanceof Sentence) || s.wordCount < 1)
              problems.push(`bad sentence (${where})`);
            // The raw bytes re-decode to the same words: the view is consistent.
            const again = new Decoder({ maxWordBytes: 1 << 20 }).decode(Buffer.from(s.raw));
            if (again.length !== 1 || !again[0]!.words.every((w, i) => w.equals(s.word(i))))
              problems.push(`raw mismatch (${where})`);
            sentences++;
          });
        } catch (err) {
          if (!(err instanceof RosgateError)) problems.push(`threw ${String(err)} (${where})`);
          if (failed) problems.push(`threw twice (${where})`);
          failed = true;
          errors++;
        }
      }
    }
    t.same(problems, [], `no problems (seed ${seed})`);
    t.ok(sentences > 1000, `the fuzz reached valid sentences (${sentences}, seed ${seed})`);
    t.ok(errors > 1000, `the fuzz reached error paths (${errors}, seed ${seed})`);
  },
);
