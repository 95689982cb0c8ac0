/**
 * When the router drops its sessions, each
 * failure below used to end the whole process with an uncaught
 * ROSGATE_UPSTREAM_CLOSED. Here the process must live (no uncaught
 * exception), every command must get its answer, and the client's
 * connection must stay usable.
 */
import t, { type Test } from 'tap';
import type { Sentence } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { fakeRouter, tagOf } from '../fixtures/fake-router.js';
import { text, type RawClient } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from '../fixtures/stack.js';

type Tap = Test;

/**
 * Watches for exceptions escaping to the process while the test runs; the
 * returned check asserts there were none.
 */
function watchUncaught(t: Tap): () => void {
  const escaped: unknown[] = [];
  const monitor = (err: unknown): void => {
    escaped.push(err);
  };
  process.on('uncaughtExceptionMonitor', monitor);
  t.teardown(() => {
    process.off('uncaughtExceptionMonitor', monitor);
  });
  return () => t.same(escaped, [], 'no exception escaped to the process');
}

/** Reads until `count` untagged `!done`s have arrived. */
function untaggedDones(c: RawClient, count: number): Promise<Sentence[]> {
  let dones = 0;
  return c.readUntil(
    (s) => s.command === '!done' && s.tagString === undefined && ++dones === count,
    `${count} untagged !done`,
  );
}

/** The connection still carries a command to the router and back. */
async function stillUsable(t: Tap, c: RawClient, tag: string): Promise<void> {
  t.equal(
    String((await c.call(['/system/identity/print', `.tag=${tag}`])).at(-1)),
    `!done .tag=${tag}`,
    'the client connection is still usable',
  );
}

/** Without the cache and the breaker every command reaches the router and fails on its own. */
const DIRECT = { cache: { enabled: false }, flow: { breaker: { enabled: false } } };

t.test('an untagged stream and an untagged command behind it survive a router drop', async (t) => {
  const noneEscaped = watchUncaught(t);
  const stack = await startStack(t, { sim: { streamIntervalMs: 5 }, config: DIRECT });
  const c = await loggedIn(t, stack);
  // The way PHP clients pipeline: a long-running command, then another right behind it.
  c.send(['/interface/monitor-traffic', '=interface=ether1']);
  c.send(['/system/identity/print']);
  await c.next();
  await eventually(() => stack.sim.activeStreams() === 1, 'the stream to run on the router');
  stack.sim.faults.dropAll();
  const replies = text(await untaggedDones(c, 2));
  t.ok(
    replies.includes('!trap =message=router closed the connection'),
    'the stream ends with a trap naming the reason',
  );
  t.equal(replies.filter((r) => r === '!done').length, 2, 'both commands are answered');
  await stillUsable(t, c, 'after');
  noneEscaped();
});

t.test('a client waiting for the only router session survives a router drop', async (t) => {
  const noneEscaped = watchUncaught(t);
  const stack = await startStack(t, {
    sim: { streamIntervalMs: 5 },
    router: { pool: { min: 1, max: 1, maxInFlightPerSession: 1, reconnectInitialDelayMs: 5 } },
    config: DIRECT,
  });
  const [a, b] = await Promise.all([loggedIn(t, stack), loggedIn(t, stack)]);
  a.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=s']);
  await a.next();
  b.send(['/system/identity/print', '.tag=w']);
  await eventually(() => stack.router.pool.stats.waiting === 1, 'the second client to wait');
  stack.sim.faults.dropAll();
  t.match(text(await a.untilDone('s')).slice(-2), [
    '!trap .tag=s =message=router closed the connection',
    '!done .tag=s',
  ]);
  t.match(
    text(await b.untilDone('w')),
    ['!re .tag=w =name=MikroTik', '!done .tag=w'],
    'the waiting command is served on a fresh session',
  );
  await stillUsable(t, a, 'a2');
  noneEscaped();
});

t.test('a health probe that times out under a waiting client is survived', async (t) => {
  const noneEscaped = watchUncaught(t);
  const stack = await startStack(t, {
    sim: { streamIntervalMs: 5 },
    router: {
      timeoutMs: 100,
      pool: {
        min: 1,
        max: 1,
        maxInFlightPerSession: 1,
        healthCheckIntervalMs: 20,
        reconnectInitialDelayMs: 5,
      },
    },
    config: DIRECT,
  });
  const [a, b] = await Promise.all([loggedIn(t, stack), loggedIn(t, stack)]);
  a.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=s']);
  await a.next();
  b.send(['/system/identity/print', '.tag=w']);
  await eventually(() => stack.router.pool.stats.waiting === 1, 'the second client to wait');
  stack.sim.faults.stopAnswering = true;
  const streamEnd = text(await a.untilDone('s')).slice(-2);
  t.match(streamEnd[0], /^!trap \.tag=s =message=router did not answer .*$/);
  stack.sim.faults.stopAnswering = false;
  const waited = text(await b.untilDone('w'));
  t.equal(waited.at(-1), '!done .tag=w', 'the waiting command is answered');
  await stillUsable(t, a, 'a2');
  await stillUsable(t, b, 'b2');
  noneEscaped();
});

t.test('a !fatal from the router under untagged commands is survived', async (t) => {
  const noneEscaped = watchUncaught(t);
  let sessions = 0;
  const port = await fakeRouter(t, (s, reply, socket) => {
    if (s.command === '/login') {
      sessions++;
      return reply('!done', tagOf(s));
    }
    if (s.command === '/interface/monitor-traffic') {
      reply('!re', '=rx-bits-per-second=1', tagOf(s));
      // The router reboots: it says so and closes every session.
      setTimeout(() => {
        reply('!fatal', 'router rebooting');
        socket.end();
      }, 10);
      return;
    }
    reply('!re', '=name=fake', tagOf(s));
    reply('!done', tagOf(s));
  });
  const stack: Stack = await startStack(t, {
    router: { port, pool: { min: 1, max: 1, reconnectInitialDelayMs: 5 } },
    config: DIRECT,
  });
  const c = await loggedIn(t, stack);
  c.send(['/interface/monitor-traffic', '=interface=ether1']);
  c.send(['/system/identity/print']);
  const replies = text(await untaggedDones(c, 2));
  t.ok(
    replies.includes('!trap =message=router ended the session: router rebooting'),
    "the stream ends with the router's reason",
  );
  t.equal(replies.filter((r) => r === '!done').length, 2, 'both commands are answered');
  t.equal(
    String((await c.call(['/system/identity/print', '.tag=x'])).at(-1)),
    '!done .tag=x',
    'the client connection is still usable',
  );
  t.ok(sessions >= 2, 'on a new router session');
  noneEscaped();
});
