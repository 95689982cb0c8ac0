/**
 * Every reply rosgate writes itself carries `.tag` where current
 * RouterOS puts it, right after the reply word. Each kind is compared, word
 * by word, with what the simulator (tag first, as the router) sends in the
 * same situation: the reply word, then the tag, then the attributes by name
 * in their order.
 */
import t, { type Test } from 'tap';
import type { Sentence } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack } from '../fixtures/stack.js';

/** A sentence's words with values left out: `!trap .tag =category =message`. */
function shape(sentence: Sentence): string {
  return sentence.words
    .map((buffer, i) => {
      const word = buffer.toString('latin1');
      if (i === 0) return word;
      if (word.startsWith('.tag=')) return '.tag';
      const split = word.indexOf('=', 1);
      return word.startsWith('=') && split > 0 ? word.slice(0, split) : word;
    })
    .join(' ');
}

/** Checks that rosgate's reply has the router's shape and its tag right after the reply word. */
function sameShape(t: Test, rosgate: Sentence[], router: Sentence[], what: string): void {
  t.same(
    rosgate.map(shape),
    router.map(shape),
    `${what}: the router's words in the router's order`,
  );
  for (const sentence of rosgate) {
    t.ok(
      sentence.wordString(1).startsWith('.tag='),
      `${what}: the tag right after ${sentence.command}`,
    );
  }
}

/** A trap the simulator writes with a message only, and its `!done` (the router's order). */
async function routerTrap(t: Test, stack: Stack, tag: string): Promise<Sentence[]> {
  const direct = await openRaw(t, stack.sim.port, { user: 'admin', password: 'secret' });
  return direct.call(['/system/identity/print', '=colour=red', `.tag=${tag}`]);
}

t.test('logins: the done, the challenge with =ret=, and the refusal', async (t) => {
  const stack = await startStack(t, { sim: { version: '7.19' } });
  const sim = await openRaw(t, stack.sim.port);
  const c = await openRaw(t, stack.port);

  const challenge = await c.call(['/login', '.tag=l']);
  t.match(text(challenge), [/^!done \.tag=l =ret=[0-9a-f]{32}$/]);
  sameShape(t, challenge, await sim.call(['/login', '.tag=l']), 'the challenge');

  const refused = await c.call(['/login', '=name=admin', '=password=guess', '.tag=w']);
  const routerRefused = await sim.call(['/login', '=name=admin', '=password=guess', '.tag=w']);
  t.same(text(refused), text(routerRefused), 'the refusal, word for word');

  const ok = await c.call(['/login', '=name=admin', '=password=secret', '.tag=ok']);
  t.same(text(ok), text(await sim.call(['/login', '=name=admin', '=password=secret', '.tag=ok'])));

  const early = await openRaw(t, stack.port);
  t.same(
    text(await early.call(['/ip/address/print', '.tag=n'])),
    text(await (await openRaw(t, stack.sim.port)).call(['/ip/address/print', '.tag=n'])),
    'a command before login, word for word',
  );
});

t.test('refusals and denials: policy, input rule, in-flight limit', async (t) => {
  const stack = await startStack(t, { config: { limits: { maxInFlightPerClient: 1 } } });
  const c = await loggedIn(t, stack);
  const router = await routerTrap(t, stack, 'x');
  sameShape(t, await c.call(['/system/reboot', '.tag=x']), router, 'a policy denial');
  sameShape(
    t,
    await c.call(['/ip/hotspot/user/add', '=name=v', '=mac-address=zz', '.tag=x']),
    router,
    'an input rule',
  );
  const tooLong = await c.call(['/ip/hotspot/user/add', `=name=${'n'.repeat(1001)}`, '.tag=x']);
  t.match(text(tooLong)[0], /must be at most 1000 bytes/);
  sameShape(t, tooLong, router, 'a length limit');
  c.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=s']);
  await eventually(() => stack.sim.activeStreams() === 1, 'the stream to run');
  const overLimit = (await c.call(['/system/identity/print', '.tag=x'])).filter(
    (s) => s.tagString === 'x',
  );
  t.match(text(overLimit)[0], /too many commands in flight/);
  sameShape(t, overLimit, router, 'the in-flight limit');
});

t.test('flow: a full queue, an interrupted queued command, a cancel answered here', async (t) => {
  const stack = await startStack(t, {
    config: {
      cache: { enabled: false },
      flow: {
        rateLimit: { bucketSize: 1, refillTokens: 1, refillIntervalMs: 60_000, maxQueue: 1 },
      },
    },
  });
  const c = await loggedIn(t, stack);
  await c.call(['/system/identity/print', '.tag=go']);
  c.send(['/system/identity/print', '.tag=q']);
  await eventually(() => stack.router.flow.stats().queued.normal === 1, 'one command queued');
  const full = await c.call(['/system/identity/print', '.tag=x']);
  t.match(text(full)[0], /queue full/);
  sameShape(t, full, await routerTrap(t, stack, 'x'), 'a full queue');

  c.send(['/cancel', '=tag=q', '.tag=c']);
  let dones = 0;
  const cancelled = await c.readUntil(
    (s) => s.command === '!done' && ++dones === 2,
    'the dones of the cancel and the cancelled command',
  );
  const direct = await openRaw(t, stack.sim.port, { user: 'admin', password: 'secret' });
  direct.send(['/ip/hotspot/user/listen', '.tag=q']);
  await eventually(() => stack.sim.activeStreams() === 1, 'the listen to run');
  direct.send(['/cancel', '=tag=q', '.tag=c']);
  const routerCancel = await direct.read(3);
  const sorted = (sentences: Sentence[]): string[] => text(sentences).sort();
  t.same(
    sorted(cancelled),
    sorted(routerCancel),
    'the interrupted command and the cancel, word for word',
  );
  const unknown = await c.call(['/cancel', '=tag=nothing', '.tag=u']);
  t.same(text(unknown), text(await direct.call(['/cancel', '=tag=nothing', '.tag=u'])));
});

t.test('the breaker: a timeout, then the circuit open', async (t) => {
  const stack = await startStack(t, {
    config: {
      cache: { enabled: false },
      flow: {
        commandIdleTimeoutMs: 100,
        rateLimit: { enabled: false },
        breaker: { threshold: 3, volumeThreshold: 3, resetTimeoutMs: 60_000, monitoringMs: 5000 },
      },
    },
  });
  await eventually(() => stack.router.pool.stats.ready > 0, 'a router session to open');
  const router = await routerTrap(t, stack, 'x');
  const c = await loggedIn(t, stack);
  stack.sim.faults.stopAnswering = true;
  for (const tag of ['x', 'x', 'x'])
    sameShape(t, await c.call(['/ip/address/print', `.tag=${tag}`]), router, 'a timeout');
  const open = await c.call(['/ip/address/print', '.tag=x']);
  t.match(text(open)[0], /circuit open/);
  sameShape(t, open, router, 'the open circuit');
});

t.test('cache replays, !empty kept, and the keepalive answer', async (t) => {
  const stack = await startStack(t, {
    sim: { version: '7.19' },
    router: { emptyReplies: 'passthrough' },
  });
  const c = await loggedIn(t, stack);
  const direct = await openRaw(t, stack.sim.port, { user: 'admin', password: 'secret' });
  for (const words of [
    ['/ip/hotspot/user/print', '=.proplist=.id,name', '.tag=p'],
    ['/ip/hotspot/user/print', '?name=nobody', '.tag=p'],
  ]) {
    await c.call(words);
    const hits = stack.app.cache.stats()['default']?.hits ?? 0;
    const replay = await c.call(words);
    t.equal(stack.app.cache.stats()['default']?.hits, hits + 1, 'answered from the cache');
    t.same(text(replay), text(await direct.call(words)), `a replay of ${words[1]}, word for word`);
  }
  const keepalive = await c.call(['#', '.tag=k']);
  const routerDone = await direct.call(['/system/identity/set', '=name=MikroTik', '.tag=k']);
  t.same(text(keepalive), text(routerDone), 'the keepalive answer');
});

t.test('relayed replies keep the router order: a tag-last router stays tag-last', async (t) => {
  const stack = await startStack(t, { sim: { tagPosition: 'last' } });
  const c = await loggedIn(t, stack);
  t.same(text(await c.call(['/system/identity/print', '.tag=r'])), [
    '!re =name=MikroTik .tag=r',
    '!done .tag=r',
  ]);
  t.same(
    text(await c.call(['/system/reboot', '.tag=d'])),
    [
      '!trap .tag=d =message=not enough permissions (rosgate rule billing-deny-reboot)',
      '!done .tag=d',
    ],
    "rosgate's own replies have it first all the same",
  );
});
