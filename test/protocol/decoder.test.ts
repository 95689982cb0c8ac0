import t from 'tap';
import { isRosgateError, RosgateError } from '../../src/errors.js';
import { DEFAULT_DECODER_LIMITS, Decoder, type DecoderLimits } from '../../src/protocol/decoder.js';
import type { Sentence } from '../../src/protocol/sentence.js';
import {
  byteByByte,
  decodeChunks,
  everySplit,
  hex,
  lengthPrefix,
  sentenceBytes,
  sharesMemory,
  splitAt,
  thrown,
} from '../fixtures/bytes.js';

const DONE = '05 21646f6e65 00';

interface ErrorCase {
  name: string;
  /** Bytes fed as one chunk; a valid `!done` is appended after them. */
  wire: string;
  code: string;
  limits?: Partial<DecoderLimits>;
  /** Sentences expected before the error. */
  before: number;
}

const errorCases: ErrorCase[] = [
  // Checklist 3: reserved first bytes F1..FF.
  ...Array.from({ length: 15 }, (_, i): ErrorCase => {
    const byte = (0xf1 + i).toString(16);
    return {
      name: `first byte 0x${byte} of a sentence`,
      wire: `${byte} 00 00 00 00 00`,
      code: 'ROSGATE_FRAMING_CONTROL_BYTE',
      before: 0,
    };
  }),
  {
    name: 'control byte 0xF8 in the middle of a sentence',
    wire: '05 21646f6e65 f8',
    code: 'ROSGATE_FRAMING_CONTROL_BYTE',
    before: 0,
  },
  {
    name: 'control byte 0xFF right after a complete sentence',
    wire: `${DONE} ff`,
    code: 'ROSGATE_FRAMING_CONTROL_BYTE',
    before: 1,
  },
  // Checklist 7: a word larger than the cap.
  {
    name: 'a word one byte over maxWordBytes',
    wire: '09 3d613d3132333435 00',
    code: 'ROSGATE_WORD_TOO_LONG',
    limits: { maxWordBytes: 8 },
    before: 0,
  },
  {
    name: 'a bare header announcing a word over maxWordBytes',
    wire: `${DONE} 80 80`,
    code: 'ROSGATE_WORD_TOO_LONG',
    limits: { maxWordBytes: 0x7f },
    before: 1,
  },
  {
    name: 'a fifth word with maxWordsPerSentence 4',
    wire: '01 61 01 62 01 63 01 64 01 65 00',
    code: 'ROSGATE_TOO_MANY_WORDS',
    limits: { maxWordsPerSentence: 4 },
    before: 0,
  },
  {
    name: 'a sentence one byte over maxSentenceBytes',
    wire: '03 617263 03 646566 00',
    code: 'ROSGATE_SENTENCE_TOO_LONG',
    limits: { maxSentenceBytes: 8 },
    before: 0,
  },
];

for (const c of errorCases) {
  t.test(`${c.name} fails with ${c.code} and nothing is emitted after it`, async (t) => {
    const stream = Buffer.concat([hex(c.wire), hex(DONE)]);
    // As one chunk, split at every byte, and one byte at a time.
    for (const chunks of [[stream], ...everySplit(stream), byteByByte(stream)]) {
      const got = decodeChunks([...chunks, hex(DONE), hex(DONE)], c.limits);
      const label = `chunk sizes ${chunks.map((b) => b.length).join(',')}`;
      t.equal(got.sentences.length, c.before, `${label}: sentences before the error`);
      t.ok(isRosgateError(got.error, c.code as RosgateError['code']), `${label}: ${c.code}`);
      t.same(got.afterError, [], `${label}: nothing after the error`);
      t.equal(got.decoder.error, got.error, `${label}: the decoder remembers its error`);
      t.equal(got.decoder.pendingBytes, 0, `${label}: buffers released`);
    }
  });
}

t.test('limits are enforced on the header, before the word is buffered', async (t) => {
  const MiB = 1024 * 1024;
  // 1 GiB = 0x40000000 needs the 5-byte form.
  const header = hex('f0 40 00 00 00');
  const decoder = new Decoder({ maxWordBytes: MiB });
  let err = thrown(() => decoder.push(header, () => t.fail('no sentence')));
  t.ok(isRosgateError(err, 'ROSGATE_WORD_TOO_LONG'), 'throws on the five header bytes alone');
  t.same(
    (err as RosgateError).details,
    { length: 0x40000000, limit: MiB },
    'details name length and limit',
  );

  // The header arriving one byte at a time: nothing thrown until it is complete.
  const slow = new Decoder({ maxWordBytes: MiB });
  for (const byte of header.subarray(0, 4)) slow.push(Buffer.of(byte), () => t.fail('no sentence'));
  t.equal(slow.pendingBytes, 4, 'the partial header is held');
  err = thrown(() => slow.push(header.subarray(4), () => t.fail('no sentence')));
  t.ok(isRosgateError(err, 'ROSGATE_WORD_TOO_LONG'), 'throws on the last header byte');

  // The sentence limit counts prefixes, earlier words and the terminator.
  const sized = new Decoder({ maxSentenceBytes: 100 });
  sized.push(hex('05 21646f6e65'), () => t.fail('no sentence'));
  err = thrown(() => sized.push(hex('e0 00 01 00'), () => t.fail('no sentence')));
  t.ok(
    isRosgateError(err, 'ROSGATE_SENTENCE_TOO_LONG'),
    'a header that would pass the sentence cap throws',
  );
  t.same(
    (err as RosgateError).details,
    { length: 6 + 4 + 256 + 1, limit: 100 },
    'details give the would-be size',
  );

  const counted = new Decoder({ maxWordsPerSentence: 2 });
  counted.push(hex('01 61 01 62'), () => t.fail('no sentence'));
  counted.push(hex('e0'), () => t.fail('no sentence'));
  t.equal(counted.pendingBytes, 5, 'an incomplete header of a third word is held');
  err = thrown(() => counted.push(hex('00 00 10'), () => t.fail('no sentence')));
  t.ok(
    isRosgateError(err, 'ROSGATE_TOO_MANY_WORDS'),
    'the third word header throws before its content',
  );
  t.same((err as RosgateError).details, { limit: 2 }, 'details give the limit');
});

t.test('words, sentences and word counts exactly at their limits are accepted', async (t) => {
  const limits = { maxWordBytes: 8, maxWordsPerSentence: 3, maxSentenceBytes: 19 };
  // 9 + 9 + 1 = 19 bytes with two words of 8 bytes.
  const atLimit = hex('08 3d613d3132333435 08 3d623d3132333435 00');
  const got = decodeChunks(byteByByte(atLimit), limits);
  t.equal(got.error, undefined, 'no error');
  t.equal(got.sentences.length, 1, 'decoded');
  const three = decodeChunks([hex('01 61 01 62 01 63 00')], limits);
  t.equal(three.sentences[0]?.wordCount, 3, 'three words with a limit of three');
  t.same(new Decoder().limits, DEFAULT_DECODER_LIMITS, 'defaults apply when no limits are given');
  t.same(
    new Decoder({ maxWordBytes: 5 }).limits,
    { ...DEFAULT_DECODER_LIMITS, maxWordBytes: 5 },
    'limits merge',
  );
});

t.test('a chunk with nothing left over is adopted without copying', async (t) => {
  const chunk = Buffer.concat([hex(DONE), sentenceBytes('!re', '=name=u1', '.tag=7')]);
  const [done, re] = new Decoder().decode(chunk) as [Sentence, Sentence];
  t.equal(done.raw.buffer, chunk.buffer, 'first sentence views the chunk memory');
  t.equal(done.raw.byteOffset, chunk.byteOffset, 'at the chunk start');
  t.equal(re.raw.buffer, chunk.buffer, 'second sentence views the chunk memory');
  t.equal(re.raw.byteOffset, chunk.byteOffset + 7, 'right after the first');
  t.equal(re.word(1).buffer, chunk.buffer, 'words are views too');

  // After a partial sentence is completed, the next whole chunk is adopted again.
  const decoder = new Decoder();
  const [a, b] = splitAt(hex(DONE), 3);
  decoder.push(a as Buffer, () => t.fail('not yet'));
  const joined = decoder.decode(b as Buffer);
  t.equal(joined.length, 1, 'the split sentence completes');
  t.notOk(
    sharesMemory(joined[0]?.raw as Buffer, b as Buffer),
    'a joined sentence lives in the decoder buffer',
  );
  const fresh = hex(DONE);
  t.equal(
    decoder.decode(fresh)[0]?.raw.buffer,
    fresh.buffer,
    'the following whole chunk is adopted',
  );
});

t.test('handed-out sentences stay unchanged while later chunks are pushed', async (t) => {
  const sentences: Buffer[] = [];
  for (let i = 0; i < 40; i++)
    sentences.push(sentenceBytes('!re', `=.id=*${i.toString(16)}`, `=name=user${i}`, '.tag=3'));
  const stream = Buffer.concat(sentences);
  for (const size of [1, 2, 3, 5, 7, 16, 33, 100]) {
    const decoder = new Decoder();
    const seen: [Sentence, Buffer][] = [];
    for (let at = 0; at < stream.length; at += size) {
      // Each chunk is a copy the test later scribbles over, as a socket may reuse memory.
      const chunk = Buffer.from(stream.subarray(at, at + size));
      decoder.push(chunk, (s) => seen.push([s, Buffer.from(s.raw)]));
    }
    t.equal(seen.length, sentences.length, `${size}-byte chunks: all sentences`);
    t.ok(
      seen.every(([s, copy], i) => s.raw.equals(copy) && copy.equals(sentences[i] as Buffer)),
      `${size}-byte chunks: every view still holds its original bytes`,
    );
  }
});

t.test('pendingBytes counts the bytes of the sentence still being received', async (t) => {
  const decoder = new Decoder();
  const wire = hex('05 21646f6e65 0b 3d6e616d653d61646d696e 00');
  t.equal(decoder.pendingBytes, 0, 'fresh decoder');
  decoder.push(wire.subarray(0, 4), () => t.fail('not yet'));
  t.equal(decoder.pendingBytes, 4, 'part of the first word');
  decoder.push(wire.subarray(4, 10), () => t.fail('not yet'));
  t.equal(decoder.pendingBytes, 10, 'into the second word');
  const out: Sentence[] = [];
  decoder.push(Buffer.concat([wire.subarray(10), hex('05 2164')]), (s) => out.push(s));
  t.equal(out.length, 1, 'sentence completes');
  t.equal(decoder.pendingBytes, 3, 'only the start of the next sentence is pending');
  decoder.push(Buffer.alloc(0), () => t.fail('an empty chunk completes nothing'));
  t.equal(decoder.pendingBytes, 3, 'an empty chunk changes nothing');
});

t.test('a large word is buffered in one allocation sized from its header', async (t) => {
  const wire = sentenceBytes(Buffer.alloc(0x4000, 0x61));
  const decoder = new Decoder();
  const out: Sentence[] = [];
  for (const chunk of byteByByte(wire)) decoder.push(chunk, (s) => out.push(s));
  t.equal(out.length, 1, 'decoded');
  t.equal(
    out[0]?.raw.buffer.byteLength,
    wire.length,
    'the buffer is exactly word plus prefix plus terminator',
  );
});

t.test(
  'an exception from the sentence callback stops the decoder and reaches the caller',
  async (t) => {
    const decoder = new Decoder();
    const boom = new Error('consumer failed');
    const err = thrown(() =>
      decoder.push(hex(DONE, DONE), () => {
        throw boom;
      }),
    );
    t.equal(err, boom, 'the callback error propagates');
    t.equal(decoder.error, boom, 'and is remembered');
    t.same(decoder.decode(hex(DONE)), [], 'nothing is decoded afterwards');
  },
);

t.test(
  'a large chunk that completes a pending sentence is adopted after a short stitched head',
  async (t) => {
    const rows: Buffer[] = [];
    for (let i = 0; i < 30; i++)
      rows.push(sentenceBytes('!re', `=.id=*${i}`, `=comment=${'v'.repeat(100)}`, '.tag=1'));
    const stream = Buffer.concat(rows);
    const [first, second] = splitAt(stream, 5) as [Buffer, Buffer];
    const decoder = new Decoder();
    decoder.push(first, () => t.fail('not yet'));
    const out = decoder.decode(second);
    t.equal(out.length, rows.length, 'every sentence decoded');
    t.ok(
      out.every((s, i) => s.raw.equals(rows[i] as Buffer)),
      'each with its exact bytes',
    );
    t.notOk(
      sharesMemory(out[0]!.raw, second),
      'the straddling sentence was stitched in the decoder buffer',
    );
    t.ok(
      out.slice(1).every((s) => sharesMemory(s.raw, second)),
      'every later sentence is a view of the chunk itself',
    );
    t.equal(decoder.pendingBytes, 0, 'nothing pending');

    // The stream cut mid-sentence twice: the tail of the second chunk is pending
    // and continues in the adopted chunk.
    const cuts = decodeChunks(splitAt(stream, 5, 2000, 2100));
    t.equal(cuts.sentences.length, rows.length, 'decoded across three cuts');
    t.ok(
      cuts.sentences.every((s, i) => s.raw.equals(rows[i] as Buffer)),
      'with the exact bytes',
    );
  },
);

t.test('a pending sentence longer than the stitched head is copied whole', async (t) => {
  const words = Array.from({ length: 20 }, (_, i) => `=w${i}=${String(i).repeat(200)}`);
  const long = sentenceBytes('!re', ...words);
  const stream = Buffer.concat([long, sentenceBytes('!done')]);
  for (const at of [1, 2, 300, 1500]) {
    const got = decodeChunks(splitAt(stream, at));
    t.equal(got.sentences.length, 2, `split at ${at}: both sentences`);
    t.ok(got.sentences[0]?.raw.equals(long), `split at ${at}: the long sentence is intact`);
    t.equal(got.sentences[1]?.command, '!done', `split at ${at}: the next sentence follows`);
  }
});

t.test('a prefix announcing 4 MiB reserves nothing before the bytes arrive', async (t) => {
  const MiB = 1024 * 1024;
  const announced = 4 * MiB + 16;
  const decoder = new Decoder({ maxWordBytes: 8 * MiB, maxSentenceBytes: 8 * MiB });
  decoder.push(Buffer.concat([lengthPrefix(announced), Buffer.alloc(8, 0x61)]), () =>
    t.fail('not yet'),
  );
  decoder.push(Buffer.alloc(8, 0x62), () => t.fail('not yet'));
  t.equal(decoder.pendingBytes, 4 + 16, 'the prefix and the bytes that came are held');
  t.ok(
    decoder.capacity <= 2 * decoder.pendingBytes,
    `the buffer holds ${decoder.capacity} bytes, not the ${announced} announced`,
  );

  // The word arrives in 64 KiB chunks: the buffer grows with what arrived, doubling.
  const out: Sentence[] = [];
  let sent = 16;
  while (sent < announced) {
    const size = Math.min(64 * 1024, announced - sent);
    decoder.push(Buffer.alloc(size, 0x63), () => t.fail('not before the terminator'));
    sent += size;
    t.ok(decoder.capacity <= 2 * decoder.pendingBytes, 'never more than twice what arrived');
    if (t.counts.fail > 0) break;
  }
  decoder.push(Buffer.of(0), (s) => out.push(s));
  t.equal(out[0]?.word(0).length, announced, 'the whole word is decoded');
  t.equal(decoder.capacity, 0, 'and the buffer is released once handed out');
});

t.test('login-sized limits refuse a 64 KiB sentence until they are raised', async (t) => {
  const big = sentenceBytes('/login', `=name=${'x'.repeat(64 * 1024)}`);
  const before = decodeChunks([big], { maxWordBytes: 8192, maxSentenceBytes: 8192 });
  t.ok(isRosgateError(before.error, 'ROSGATE_WORD_TOO_LONG'), 'a framing error before login');
  const decoder = new Decoder({ maxWordBytes: 8192, maxSentenceBytes: 8192 });
  decoder.push(sentenceBytes('/login', '=name=a'), () => undefined);
  decoder.setLimits({ maxWordBytes: 1024 * 1024 });
  t.equal(decoder.limits.maxWordBytes, 1024 * 1024, 'the new limits are in force');
  t.equal(
    decoder.limits.maxSentenceBytes,
    DEFAULT_DECODER_LIMITS.maxSentenceBytes,
    'limits not given fall back to the defaults',
  );
  t.equal(decoder.decode(big).length, 1, 'the same sentence is accepted after login');
});

t.test('a non-minimal lone terminator is skipped and counted', async (t) => {
  const got = decodeChunks([hex('80 00', DONE, '80 00')]);
  t.equal(got.sentences.length, 1, 'only the real sentence is emitted');
  t.equal(got.decoder.emptySentences, 2, 'both empty sentences are counted');
});

t.test(
  'a decoder paused in a callback keeps what follows until it resumes, with the limits then',
  async (t) => {
    const login = sentenceBytes('/login', '=name=a');
    const big = sentenceBytes('/set', `=comment=${'x'.repeat(64 * 1024)}`);
    const small = sentenceBytes('/a');
    const decoder = new Decoder({ maxWordBytes: 8192, maxSentenceBytes: 8192 });
    const seen: string[] = [];
    const onSentence = (sentence: Sentence): void => {
      seen.push(sentence.command);
      if (sentence.command === '/login') decoder.pause();
    };
    decoder.push(Buffer.concat([login, big.subarray(0, 100)]), onSentence);
    t.same(seen, ['/login'], 'nothing is delivered after the sentence that paused it');
    // Large enough to take the stitching path, still paused.
    decoder.push(big.subarray(100, 5000), onSentence);
    decoder.push(Buffer.concat([big.subarray(5000), small]), onSentence);
    t.same(seen, ['/login'], 'bytes pushed while paused wait, unchecked');
    decoder.setLimits({});
    decoder.resume(onSentence);
    t.same(seen, ['/login', '/set', '/a'], 'resumed: decoded with the new limits, in order');
    decoder.push(small, onSentence);
    t.same(seen.at(-1), '/a', 'and it goes on as before');
  },
);

t.test('a decoder resumed into a limit fails as a push would, for good', async (t) => {
  const decoder = new Decoder({ maxWordBytes: 8192, maxSentenceBytes: 8192 });
  const seen: string[] = [];
  decoder.push(
    Buffer.concat([
      sentenceBytes('/login', '=name=a'),
      sentenceBytes('/set', `=comment=${'x'.repeat(64 * 1024)}`),
    ]),
    (sentence) => {
      seen.push(sentence.command);
      decoder.pause();
    },
  );
  t.ok(
    isRosgateError(
      thrown(() => decoder.resume(() => undefined)),
      'ROSGATE_WORD_TOO_LONG',
    ),
    'the limits of the time are enforced',
  );
  t.ok(isRosgateError(decoder.error, 'ROSGATE_WORD_TOO_LONG'), 'the error is kept');
  decoder.resume(() => seen.push('more'));
  decoder.push(sentenceBytes('/a'), () => seen.push('more'));
  t.same(seen, ['/login'], 'nothing more is delivered');
});
