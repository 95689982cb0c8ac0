import t from 'tap';
import { encodeSentence } from '../../src/protocol/index.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { openApi, startTestSimulator } from '../fixtures/stack.js';

t.test('a reserved control byte closes that connection only, with no reply', async (t) => {
  const sim = await startTestSimulator(t);
  const bad = await openRaw(t, sim.port, { user: 'admin' });
  const good = await openRaw(t, sim.port, { user: 'admin' });
  bad.write(Buffer.from([0xf8, 0x01, 0x02]));
  await bad.closed;
  t.equal(bad.unread, 0, 'nothing was written back');
  const bad2 = await openRaw(t, sim.port);
  bad2.write(Buffer.from([0xf1, 0, 0, 0, 0]));
  await bad2.closed;
  good.send(['/system/identity/print']);
  t.same(text(await good.untilDone()), ['!re =name=MikroTik', '!done']);
});

t.test('a word larger than the configured cap closes the connection', async (t) => {
  const sim = await startTestSimulator(t, { decoderLimits: { maxWordBytes: 64 } });
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/system/identity/set', `=name=${'x'.repeat(100)}`]);
  await c.closed;
  t.equal(c.unread, 0);
});

t.test('an empty sentence gets no reply and changes nothing', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port);
  c.write(Buffer.from([0, 0, 0]));
  t.ok(await c.isSilent(20));
  c.send(['/login', '=name=admin', '=password=']);
  t.equal(String(await c.next()), '!done');
  c.write(Buffer.from([0]));
  c.send(['/system/identity/print', '.tag=1']);
  t.same(text(await c.untilDone('1')), ['!re .tag=1 =name=MikroTik', '!done .tag=1']);
});

t.test('sentences split into 1-byte chunks are executed once complete', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  const bytes = encodeSentence(['/system/identity/print', '.tag=x']);
  for (const byte of bytes) c.write(Buffer.from([byte]));
  t.same(text(await c.untilDone('x')), ['!re .tag=x =name=MikroTik', '!done .tag=x']);
});

t.test('untagged and empty-tagged commands are answered without a tag word', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/system/identity/print']);
  t.same(text(await c.untilDone()), ['!re =name=MikroTik', '!done']);
  c.send(['/system/identity/print', '.tag=']);
  t.same(text(await c.untilDone()), ['!re =name=MikroTik', '!done']);
});

t.test('every reply of a tagged command carries its tag right after the reply word', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/nope/print', '.tag=q']);
  const replies = await c.untilDone('q');
  t.equal(replies.length, 3);
  for (const s of replies) t.equal(s.wordString(1), '.tag=q');
  c.send(['/ip/hotspot/user/print', '.tag=a b']);
  for (const s of await c.untilDone('a b')) t.equal(s.wordString(1), '.tag=a b');
});

t.test('with tagPosition last every reply carries its tag after its other words', async (t) => {
  const sim = await startTestSimulator(t, { tagPosition: 'last' });
  const c = await openRaw(t, sim.port, { user: 'admin' });
  t.same(text(await c.call(['/nope/print', '.tag=q'])), [
    '!trap =category=0 =message=no such command or directory (nope) .tag=q',
    '!trap =message=no such command prefix .tag=q',
    '!done .tag=q',
  ]);
  t.same(text(await c.call(['/system/identity/print', '.tag=p'])), [
    '!re =name=MikroTik .tag=p',
    '!done .tag=p',
  ]);
  const [challenge] = await c.call(['/login', '.tag=l']);
  t.match(String(challenge), /^!done =ret=[0-9a-f]{32} \.tag=l$/);
  t.same(text(await c.call(['/ip/hotspot/user/print', '?name=nobody', '.tag=e'])), [
    '!empty .tag=e',
    '!done .tag=e',
  ]);
  t.same(text(await c.call(['/system/identity/print'])), ['!re =name=MikroTik', '!done']);
});

t.test('value bytes round trip exactly: cp1252, invalid UTF-8, embedded =, JSON', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
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
    const id = done?.attributeString('ret') as string;
    t.ok(
      sim.data.require('/ip/hotspot/user').find(id)?.get('comment')?.equals(value),
      `stored ${i}`,
    );
    c.send(['/ip/hotspot/user/print', `?name=v${i}`, '=.proplist=comment']);
    const [row] = await c.untilDone();
    t.ok(
      row?.word(1).equals(Buffer.concat([Buffer.from('=comment=', 'latin1'), value])),
      `printed ${i}`,
    );
  }
});

t.test('an empty value and a value-less =name word are both empty values', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/hotspot/user/add', '=name=e1', '=comment=']);
  await c.untilDone();
  c.send(['/ip/hotspot/user/print', '?name=e1', '=.proplist=comment', '=detail']);
  t.same(text(await c.untilDone()), ['!re =comment=', '!done']);
});

t.test(
  'unknown commands, including node-routeros keepalive #, get the unknown-path traps',
  async (t) => {
    const sim = await startTestSimulator(t);
    const api = await openApi(t, sim.port);
    await t.rejects(api.write('#'), { message: 'no such command or directory (#)' });
  },
);

t.test('the simulator never sends an empty sentence or an empty word', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/hotspot/user/add', '=name=z', '=comment=']);
  await c.untilDone();
  c.send(['/ip/hotspot/user/print', '=.proplist=nothing']);
  const replies = await c.untilDone();
  t.ok(replies.length > 1);
  for (const s of replies) {
    t.ok(s.wordCount > 0);
    for (const word of s.words) t.ok(word.length > 0);
  }
});

t.test('a command with several tag words is answered on the first or the last', async (t) => {
  for (const duplicateTags of ['first', 'last'] as const) {
    const sim = await startTestSimulator(t, { duplicateTags });
    const c = await openRaw(t, sim.port, { user: 'admin' });
    const expected = duplicateTags === 'first' ? 'a' : 'b';
    c.send(['/system/identity/print', '.tag=a', '?a=b', '.tag=b']);
    t.same(
      text(await c.untilDone(expected)).at(-1),
      `!done .tag=${expected}`,
      `${duplicateTags}: answered on .tag=${expected}`,
    );
    c.send(['/system/identity/print', '.tag=a', '.tag']);
    const last = text(await c.untilDone(duplicateTags === 'first' ? 'a' : undefined));
    t.same(
      last.at(-1),
      duplicateTags === 'first' ? '!done .tag=a' : '!done',
      `${duplicateTags}: a bare .tag is an empty tag`,
    );
  }
});
