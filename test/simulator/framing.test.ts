import t from 'tap';
import { encodeSentence } from '../../src/protocol/index.js';
import { openApi, openRaw, startTestSimulator } from '../fixtures/sim-client.js';

t.test('a reserved control byte closes that connection only, with no reply', async (t) => {
  const sim = await startTestSimulator(t);
  const bad = await openRaw(t, sim, true);
  const good = await openRaw(t, sim, true);
  bad.write(Buffer.from([0xf8, 0x01, 0x02]));
  await bad.closed;
  t.equal(bad.buffered, 0, 'nothing was written back');
  const bad2 = await openRaw(t, sim);
  bad2.write(Buffer.from([0xf1, 0, 0, 0, 0]));
  await bad2.closed;
  good.send(['/system/identity/print']);
  t.same(await good.untilDone(), [['!re', '=name=MikroTik'], ['!done']]);
});

t.test('a word larger than the configured cap closes the connection', async (t) => {
  const sim = await startTestSimulator(t, { decoderLimits: { maxWordBytes: 64 } });
  const c = await openRaw(t, sim, true);
  c.send(['/system/identity/set', `=name=${'x'.repeat(100)}`]);
  await c.closed;
  t.equal(c.buffered, 0);
});

t.test('an empty sentence gets no reply and changes nothing', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim);
  c.write(Buffer.from([0, 0, 0]));
  t.ok(await c.isSilent(20));
  c.send(['/login', '=name=admin', '=password=']);
  t.same((await c.next()).words, ['!done']);
  c.write(Buffer.from([0]));
  c.send(['/system/identity/print', '.tag=1']);
  t.same(await c.untilDone('1'), [
    ['!re', '=name=MikroTik', '.tag=1'],
    ['!done', '.tag=1'],
  ]);
});

t.test('sentences split into 1-byte chunks are executed once complete', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim, true);
  const bytes = encodeSentence(['/system/identity/print', '.tag=x']);
  for (const byte of bytes) c.write(Buffer.from([byte]));
  t.same(await c.untilDone('x'), [
    ['!re', '=name=MikroTik', '.tag=x'],
    ['!done', '.tag=x'],
  ]);
});

t.test('untagged and empty-tagged commands are answered without a tag word', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim, true);
  c.send(['/system/identity/print']);
  t.same(await c.untilDone(), [['!re', '=name=MikroTik'], ['!done']]);
  c.send(['/system/identity/print', '.tag=']);
  t.same(await c.untilDone(), [['!re', '=name=MikroTik'], ['!done']]);
});

t.test('every reply of a tagged command carries its tag', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim, true);
  c.send(['/nope/print', '.tag=q']);
  const replies = await c.untilDone('q');
  t.equal(replies.length, 3);
  for (const words of replies) t.equal(words[words.length - 1], '.tag=q');
  c.send(['/ip/hotspot/user/print', '.tag=a b']);
  for (const words of await c.untilDone('a b')) t.equal(words[words.length - 1], '.tag=a b');
});

t.test('value bytes round trip exactly: cp1252, invalid UTF-8, embedded =, JSON', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim, true);
  const values = [
    Buffer.from([0x63, 0x61, 0x66, 0xe9]),
    Buffer.from([0xff, 0xfe, 0x00, 0x41]),
    Buffer.from('a=b=c', 'latin1'),
    Buffer.from('{"plan":"1d","price":5000}', 'latin1'),
    Buffer.from('VOUCHER_SYSTEM|5000|1d|batch1', 'latin1'),
  ];
  for (const [i, value] of values.entries()) {
    c.send([
      '/ip/hotspot/user/add',
      `=name=v${i}`,
      Buffer.concat([Buffer.from('=comment=', 'latin1'), value]),
    ]);
    const [done] = await c.untilDone();
    const id = (done as string[])[1]?.slice(5) as string;
    t.ok(
      sim.data.require('/ip/hotspot/user').find(id)?.get('comment')?.equals(value),
      `stored ${i}`,
    );
    c.send(['/ip/hotspot/user/print', `?name=v${i}`, '=.proplist=comment']);
    const [row] = await c.untilDone();
    t.ok(
      Buffer.from((row as string[])[1] as string, 'latin1').equals(
        Buffer.concat([Buffer.from('=comment=', 'latin1'), value]),
      ),
      `printed ${i}`,
    );
  }
});

t.test('an empty value and a value-less =name word are both empty values', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim, true);
  c.send(['/ip/hotspot/user/add', '=name=e1', '=comment=']);
  await c.untilDone();
  c.send(['/ip/hotspot/user/print', '?name=e1', '=.proplist=comment', '=detail']);
  t.same(await c.untilDone(), [['!re', '=comment='], ['!done']]);
});

t.test(
  'unknown commands, including node-routeros keepalive #, get the unknown-path traps',
  async (t) => {
    const sim = await startTestSimulator(t);
    const api = await openApi(t, sim);
    await t.rejects(api.write('#'), { message: 'no such command or directory (#)' });
  },
);

t.test('the simulator never sends an empty sentence or an empty word', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim, true);
  c.send(['/ip/hotspot/user/add', '=name=z', '=comment=']);
  await c.untilDone();
  c.send(['/ip/hotspot/user/print', '=.proplist=nothing']);
  const replies = await c.untilDone();
  t.ok(replies.length > 1);
  for (const words of replies) {
    t.ok(words.length > 0);
    for (const word of words) t.ok(word.length > 0);
  }
});
