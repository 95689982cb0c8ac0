import t, { type Test } from 'tap';
import type { Sentence } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { text, type RawClient } from '../fixtures/raw-client.js';
import { loggedIn, startStack } from '../fixtures/stack.js';

/** Read until `rows` rows of the stream on `tag` have arrived. */
function streamRows(c: RawClient, tag: string, rows: number): Promise<Sentence[]> {
  let seen = 0;
  return c.readUntil(
    (s) => s.command === '!re' && s.tagString === tag && ++seen === rows,
    `${rows} rows on .tag=${tag}`,
  );
}

t.test('cancel is scoped to the client that asks', async (t) => {
  /** Each subtest's own app: none depends on another's traffic. */
  const setup = (t: Test) =>
    startStack(t, {
      sim: { streamIntervalMs: 5 },
      router: { pool: { min: 1, max: 1 } },
    });

  t.test(
    'a cancel by tag ends that command with interrupted, the cancel done, then the command done',
    async (t) => {
      const stack = await setup(t);
      const c = await loggedIn(t, stack);
      c.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=s1']);
      await streamRows(c, 's1', 2);
      c.send(['/cancel', '=tag=s1', '.tag=c1']);
      const tail = text((await c.untilDone('s1')).filter((s) => s.command !== '!re'));
      t.same(tail, [
        '!trap .tag=s1 =category=2 =message=interrupted',
        '!done .tag=c1',
        '!done .tag=s1',
      ]);
      await eventually(() => stack.sim.activeStreams() === 0, 'no stream left on the router');
    },
  );

  t.test("a bare cancel stops only the sender's streams", async (t) => {
    const stack = await setup(t);
    const a = await loggedIn(t, stack);
    const b = await loggedIn(t, stack);
    a.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=1']);
    b.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=1']);
    await streamRows(a, '1', 1);
    await streamRows(b, '1', 1);
    a.send(['/cancel', '.tag=x']);
    t.same(
      text((await a.untilDone('1')).filter((s) => s.command !== '!re')),
      ['!trap .tag=1 =category=2 =message=interrupted', '!done .tag=x', '!done .tag=1'],
      "the sender's stream ends",
    );
    t.same(
      (await streamRows(b, '1', 3)).map((s) => `${s.command} .tag=${s.tagString}`),
      ['!re .tag=1', '!re .tag=1', '!re .tag=1'],
      "the other client's stream keeps running",
    );
    t.equal(stack.sim.activeStreams(), 1);
    b.send(['/cancel']);
    await b.untilDone('1');
    await eventually(() => stack.sim.activeStreams() === 0, 'no stream left on the router');
  });

  t.test('a cancel of an unknown tag is answered here and never forwarded', async (t) => {
    const stack = await setup(t);
    const c = await loggedIn(t, stack);
    const cancels = stack.sim.counters.cancels;
    t.same(text(await c.call(['/cancel', '=tag=nope', '.tag=k'])), ['!done .tag=k']);
    t.equal(stack.sim.counters.cancels, cancels, 'the router saw no cancel');
  });

  t.test('a client that disconnects leaves no stream running on the router', async (t) => {
    const stack = await setup(t);
    const c = await loggedIn(t, stack);
    c.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=1']);
    c.send(['/ip/hotspot/user/print', '=follow=', '.tag=2']);
    await streamRows(c, '1', 1);
    await eventually(() => stack.sim.activeStreams() === 2, 'both streams to run on the router');
    await c.close();
    await eventually(() => stack.sim.activeStreams() === 0, 'both streams to be cancelled');
    const other = await loggedIn(t, stack);
    t.equal(
      String((await other.call(['/system/identity/print', '.tag=z'])).at(-1)),
      '!done .tag=z',
    );
  });

  t.test(
    'a reused tag gets both reply streams, each ended by one done, and nothing after',
    async (t) => {
      const stack = await setup(t);
      const c = await loggedIn(t, stack);
      c.send(['/ping', '=address=10.0.0.1', '=count=2', '.tag=r']);
      c.send(['/system/identity/print', '.tag=r']);
      let dones = 0;
      const replies = await c.readUntil(
        (s) => s.command === '!done' && ++dones === 2,
        'two !done on .tag=r',
      );
      const onTag = replies.filter((s) => s.tagString === 'r').map((s) => s.command);
      t.equal(onTag.filter((w) => w === '!re').length, 3, 'two ping rows and one identity row');
      t.equal(onTag.filter((w) => w === '!done').length, 2);
      t.equal(onTag.length, replies.length, 'every reply is on the tag');
      t.ok(await c.isSilent(20), 'nothing follows the last done');
    },
  );
});
