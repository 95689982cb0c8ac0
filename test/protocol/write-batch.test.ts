import t from 'tap';
import { Decoder } from '../../src/protocol/decoder.js';
import { encodeSentences } from '../../src/protocol/encoder.js';
import { WriteBatch } from '../../src/protocol/write-batch.js';
import { Sentence } from '../../src/protocol/sentence.js';
import { sharesMemory } from '../fixtures/bytes.js';

const decoded = (...sentences: string[][]): Sentence[] =>
  new Decoder().decode(encodeSentences(sentences));

t.test('a batch takes buffers and re-tagged sentences as one buffer, in order', async (t) => {
  const [re, done] = decoded(['!re', '.tag=a1', '=name=x'], ['!done', '.tag=a1']) as Sentence[];
  const batch = new WriteBatch();
  t.equal(batch.isEmpty, true);
  const bytes = encodeSentences([['!done', '.tag=9']]);
  batch.push(bytes);
  batch.pushSentence(re as Sentence, undefined);
  batch.pushSentence(done as Sentence, 'client-tag');
  const expected = Buffer.concat([
    bytes,
    (re as Sentence).withTag(undefined),
    (done as Sentence).withTag('client-tag'),
  ]);
  t.equal(batch.byteLength, expected.length, 'its length is known before it is built');
  t.same(batch.take(), expected);
  t.equal(batch.isEmpty, true, 'taking empties it');
  t.equal(batch.byteLength, 0);
});

t.test('a batch of one part is not copied when it is bytes already', async (t) => {
  const batch = new WriteBatch();
  const bytes = encodeSentences([['!done']]);
  batch.push(bytes);
  t.equal(batch.take(), bytes);
  const [untagged] = decoded(['!re', '=name=x']) as Sentence[];
  batch.pushSentence(untagged as Sentence, undefined);
  t.ok(sharesMemory(batch.take(), (untagged as Sentence).raw), 'a sentence that keeps its bytes');
  const [tagged] = decoded(['!re', '.tag=1', '=name=x']) as Sentence[];
  batch.pushSentence(tagged as Sentence, Buffer.from('22'));
  t.same(batch.take(), encodeSentences([['!re', '.tag=22', '=name=x']]));
});

t.test('a cleared batch holds nothing', async (t) => {
  const batch = new WriteBatch();
  batch.push(Buffer.from([0]));
  batch.clear();
  t.equal(batch.isEmpty, true);
  t.equal(batch.byteLength, 0);
});

t.test('a batch takes a command with the one tag that goes upstream', async (t) => {
  const [plain, twice] = decoded(
    ['/ip/hotspot/user/add', '.tag=c', '=name=V1'],
    ['/ip/hotspot/user/add', '.tag=c', '=name=V2', '.tag=d'],
  ) as Sentence[];
  const batch = new WriteBatch();
  batch.pushSoleTagged(plain as Sentence, '7');
  batch.pushSoleTagged(twice as Sentence, Buffer.from('8'));
  const expected = encodeSentences([
    ['/ip/hotspot/user/add', '.tag=7', '=name=V1'],
    ['/ip/hotspot/user/add', '.tag=8', '=name=V2'],
  ]);
  t.equal(batch.byteLength, expected.length, 'a second tag word is not counted');
  t.same(batch.take(), expected, 'in place, and re-encoded without the second tag word');
});

t.test('a batch of many parts (a cached table) is taken whole, and the next is new', async (t) => {
  const rows = Array.from({ length: 200 }, (_, i) => ['!re', '.tag=u', `=name=V${i}`]);
  const sentences = decoded(...rows);
  const batch = new WriteBatch();
  for (const s of sentences) batch.pushSentence(s, 'c');
  t.same(batch.take(), encodeSentences(rows.map((r) => ['!re', '.tag=c', r[2] as string])));
  t.equal(batch.isEmpty, true);
  const [one] = sentences;
  batch.pushSentence(one as Sentence, 'd');
  t.same(batch.take(), encodeSentences([['!re', '.tag=d', '=name=V0']]), 'then one part alone');
});
