import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { RawClient } from '../fixtures/raw-client.js';
import { loggedIn, startStack } from '../fixtures/stack.js';

async function streamRows(c: RawClient, tag: string, rows: number): Promise<void> {
  while (c.received.filter((s) => s.command === '!re' && s.tagString === tag).length < rows) {
    await c.waitFor(c.received.length + 1);
  }
}

t.test('cancel is scoped to the client that asks', async (t) => {
  const stack = await startStack(t, {
    sim: { streamIntervalMs: 5 },
    router: { pool: { min: 1, max: 1 } },
  });

  t.test(
    'a cancel by tag ends that command with interrupted, the cancel done, then the command done',
    async (t) => {
      const c = await loggedIn(t, stack);
      c.send('/interface/monitor-traffic', '=interface=ether1', '.tag=s1');
      await streamRows(c, 's1', 2);
      c.send('/cancel', '=tag=s1', '.tag=c1');
      await c.untilDone('s1');
      await c.untilDone('c1');
      const tail = c.received.filter((s) => s.command !== '!re').map(String);
      t.same(tail.slice(1), [
        '!trap =category=2 =message=interrupted .tag=s1',
        '!done .tag=c1',
        '!done .tag=s1',
      ]);
      t.ok(await eventually(() => stack.sim.activeStreams() === 0), 'no stream left on the router');
    },
  );

  t.test("a bare cancel stops only the sender's streams", async (t) => {
    const a = await loggedIn(t, stack);
    const b = await loggedIn(t, stack);
    a.send('/interface/monitor-traffic', '=interface=ether1', '.tag=1');
    b.send('/interface/monitor-traffic', '=interface=ether1', '.tag=1');
    await streamRows(a, '1', 1);
    await streamRows(b, '1', 1);
    a.send('/cancel', '.tag=x');
    await a.untilDone('x');
    await a.untilDone('1');
    const bRows = b.received.length;
    await streamRows(b, '1', 3);
    t.ok(b.received.length > bRows, "the other client's stream keeps running");
    t.equal(stack.sim.activeStreams(), 1);
    b.send('/cancel');
    await b.untilDone(undefined);
    t.ok(await eventually(() => stack.sim.activeStreams() === 0));
  });

  t.test('a cancel of an unknown tag is answered here and never forwarded', async (t) => {
    const c = await loggedIn(t, stack);
    const cancels = stack.sim.counters.cancels;
    t.same(await c.call(['/cancel', '=tag=nope', '.tag=k']), ['!done .tag=k']);
    t.equal(stack.sim.counters.cancels, cancels, 'the router saw no cancel');
  });

  t.test('a client that disconnects leaves no stream running on the router', async (t) => {
    const c = await loggedIn(t, stack);
    c.send('/interface/monitor-traffic', '=interface=ether1', '.tag=1');
    c.send('/ip/hotspot/user/print', '=follow=', '.tag=2');
    await streamRows(c, '1', 1);
    t.ok(await eventually(() => stack.sim.activeStreams() === 2), 'both streams run on the router');
    await c.close();
    t.ok(await eventually(() => stack.sim.activeStreams() === 0), 'both streams were cancelled');
    const other = await loggedIn(t, stack);
    t.same(
      await other.call(['/system/identity/print', '.tag=z'], 2).then((r) => r[1]),
      '!done .tag=z',
    );
  });

  t.test(
    'a reused tag gets both reply streams, each ended by one done, and nothing after',
    async (t) => {
      const c = await loggedIn(t, stack);
      c.send('/ping', '=address=10.0.0.1', '=count=2', '.tag=r');
      c.send('/system/identity/print', '.tag=r');
      while (c.received.filter((s) => s.command === '!done' && s.tagString === 'r').length < 2) {
        await c.waitFor(c.received.length + 1);
      }
      const onTag = c.received.filter((s) => s.tagString === 'r').map((s) => s.command);
      t.equal(onTag.filter((w) => w === '!re').length, 3, 'two ping rows and one identity row');
      t.equal(onTag.filter((w) => w === '!done').length, 2);
      t.equal(onTag.at(-1), '!done', 'nothing follows the last done');
    },
  );
});
