import t from 'tap';
import type { Sentence } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text, type RawClient } from '../fixtures/raw-client.js';
import { loggedIn, startStack, type Stack, type StackOptions } from '../fixtures/stack.js';

const USERS_PRINT = '/ip/hotspot/user/print';
/** The billing table print: no counters in the `.proplist`, so the long TTL. */
const USERS = [USERS_PRINT, '=.proplist=.id,name,comment'];
const NO_RATE_LIMIT = { flow: { rateLimit: { enabled: false } } };

/** A stack on RouterOS 7.19 (which sends `!empty`) with no rate limit. */
function cachedStack(t: Tap, options: StackOptions = {}): Promise<Stack> {
  return startStack(t, {
    ...options,
    sim: { version: '7.19', hotspotUsers: 10, ...options.sim },
    config: { ...NO_RATE_LIMIT, ...options.config },
  });
}
type Tap = Parameters<typeof startStack>[0];

/** The cache's counters for the stack's router. */
function stats(stack: Stack) {
  const all = stack.app.cache.stats();
  return all[stack.router.config.name] as NonNullable<(typeof all)[string]>;
}

/** Unread sentences up to the `!done` of every one of `tags`, in any order. */
function untilDones(client: RawClient, tags: readonly string[]): Promise<Sentence[]> {
  const left = new Set(tags);
  return client.readUntil(
    (s) => {
      if (s.command === '!done') left.delete(s.tagString as string);
      return left.size === 0;
    },
    `!done on ${tags.join(' and ')}`,
  );
}

/** Commands the router ran, by command word. */
const ran = (stack: Stack, command: string): number => stack.sim.counters.commands[command] ?? 0;

/** Every sentence's bytes with its tag taken out, back to back. */
const untagged = (sentences: readonly Sentence[]): Buffer =>
  Buffer.concat(sentences.map((s) => s.withTag(undefined)));

t.test(
  'a repeated print is answered by rosgate with the router reply byte for byte, only the tag changed',
  async (t) => {
    const stack = await cachedStack(t);
    const writer = await openRaw(t, stack.sim.port, { user: 'admin', password: 'secret' });
    // A comment that is not UTF-8: the replay must keep its bytes.
    const comment = Buffer.from('caf\xe9 \xff|1', 'latin1');
    await writer.call([
      '/ip/hotspot/user/add',
      '=name=latin',
      '=password=x',
      Buffer.concat([Buffer.from('=comment='), comment]),
    ]);
    const c = await loggedIn(t, stack);
    const miss = await c.call([...USERS, '.tag=first']);
    const hit = await c.call([...USERS, '.tag=second']);
    const untaggedHit = await c.call(USERS);
    t.equal(ran(stack, USERS_PRINT), 1, 'one print reached the router');
    t.match(stats(stack), { misses: 1, hits: 2 });
    t.equal(hit.at(-1)?.tagString, 'second', 'the hit carries the client tag');
    t.ok(
      untaggedHit.every((s) => s.tagIndex === -1),
      'an untagged print gets an untagged replay',
    );
    const direct = await writer.call([...USERS, '.tag=straight']);
    t.equal(direct.length, 12, '11 users and the !done');
    t.same(untagged(miss), untagged(direct), 'the first answer is the router reply');
    t.same(untagged(hit), untagged(direct), 'the replay is the router reply');
    t.same(untagged(untaggedHit), untagged(direct));
    const latin = hit.find((s) => s.attributeString('name') === 'latin');
    t.same(latin?.attribute('comment'), comment, 'bytes that are not UTF-8 come back as they were');
  },
);

for (const mode of ['strip', 'passthrough'] as const) {
  t.test(`!empty replies stay as configured when served from the cache (${mode})`, async (t) => {
    const stack = await cachedStack(t, { router: { emptyReplies: mode } });
    const c = await loggedIn(t, stack);
    const expected = mode === 'strip' ? ['!done .tag=e'] : ['!empty .tag=e', '!done .tag=e'];
    const nobody = [USERS_PRINT, '?name=nobody', '.tag=e'];
    t.same(text(await c.call(nobody)), expected, 'from the router');
    t.same(text(await c.call(nobody)), expected, 'from the cache');
    t.equal(ran(stack, USERS_PRINT), 1);
    t.equal(stats(stack).hits, 1);
  });
}

t.test('streams are never cached: each one reaches the router', async (t) => {
  const stack = await cachedStack(t);
  const c = await loggedIn(t, stack);
  const streams = [
    [USERS_PRINT, '=follow-only='],
    ['/interface/print', '=interval=1'],
    ['/ip/address/listen'],
  ];
  for (let round = 0; round < 2; round++) {
    for (const [i, words] of streams.entries()) {
      c.send([...words, `.tag=s${i}`]);
      await eventually(() => stack.sim.activeStreams() === 1, `stream ${i} running on the router`);
      const cancelled = await c.call(['/cancel', `=tag=s${i}`, '.tag=x']);
      t.ok(
        cancelled.some((s) => s.command === '!done' && s.tagString === 'x'),
        'the cancel is answered',
      );
      await c.untilDone(`s${i}`);
      await eventually(() => stack.sim.activeStreams() === 0, `stream ${i} ended on the router`);
    }
    const once = await c.call([
      '/interface/monitor-traffic',
      '=interface=ether1',
      '=once=',
      '.tag=m',
    ]);
    t.equal(once.at(-1)?.command, '!done');
  }
  t.equal(ran(stack, USERS_PRINT), 2);
  t.equal(ran(stack, '/interface/print'), 2);
  t.equal(ran(stack, '/ip/address/listen'), 2);
  t.equal(ran(stack, '/interface/monitor-traffic'), 2);
  t.same(stack.app.cache.stats(), {}, 'the cache never saw a print it could keep');
});

t.test(
  'identical prints in flight share one router print; a leader that cancels leaves the others every row',
  async (t) => {
    const stack = await cachedStack(t);
    const straight = await openRaw(t, stack.sim.port, { user: 'admin', password: 'secret' });
    const expected = await straight.call([...USERS, '.tag=d']);
    const leader = await loggedIn(t, stack);
    const raw = await loggedIn(t, stack);
    const api = await stack.client();
    // Slow rows keep the print in flight while the others join.
    stack.sim.faults.rowLatencyMs = 10;
    leader.send([...USERS, '.tag=a']);
    await eventually(() => ran(stack, USERS_PRINT) === 2, 'the leader print on the router');
    raw.send([...USERS, '.tag=b']);
    const apiRows = api.write(USERS_PRINT, ['=.proplist=.id,name,comment']);
    await eventually(() => stats(stack).coalesced === 2, 'both joining the print in flight');
    leader.send(['/cancel', '=tag=a', '.tag=x']);
    const leaderEnd = text(await untilDones(leader, ['a', 'x']));
    t.same(
      leaderEnd.filter((s) => !s.startsWith('!re ')),
      ['!trap .tag=a =category=2 =message=interrupted', '!done .tag=a', '!done .tag=x'],
      'the leader is interrupted by rosgate itself',
    );
    const joined = await raw.untilDone('b');
    t.same(untagged(joined), untagged(expected), 'a joiner gets every row, as the router sent it');
    t.same(
      ((await apiRows) as Record<string, string>[]).map((row) => row['name']),
      expected.slice(0, -1).map((s) => s.attributeString('name')),
      'node-routeros gets every row too',
    );
    t.equal(ran(stack, USERS_PRINT), 2, 'one print through rosgate, one straight');
    t.equal(stack.sim.counters.cancels, 0, 'the router print was never cancelled');
    stack.sim.faults.rowLatencyMs = 0;
    t.same(untagged(await raw.call([...USERS, '.tag=c'])), untagged(expected));
    t.equal(ran(stack, USERS_PRINT), 2, 'the shared reply was kept');

    // Alone, a print that is cancelled is cancelled on the router.
    stack.sim.faults.rowLatencyMs = 10;
    leader.send([USERS_PRINT, '.tag=alone']);
    await eventually(() => ran(stack, USERS_PRINT) === 3, 'the lone print on the router');
    leader.send(['/cancel', '=tag=alone', '.tag=y']);
    await untilDones(leader, ['alone', 'y']);
    await eventually(() => stack.sim.counters.cancels === 1, 'the router print cancelled');
  },
);

t.test(
  'a change made straight on the router reaches the cache through listen: the next print shows it',
  async (t) => {
    const stack = await cachedStack(t);
    const c = await loggedIn(t, stack);
    const before = await c.call(USERS);
    await eventually(() => stack.sim.activeStreams() === 1, 'the cache listen on the router');
    t.equal(ran(stack, '/ip/hotspot/user/listen'), 1);
    t.equal(stats(stack).listensActive, 1);
    await c.call(USERS);
    t.equal(ran(stack, USERS_PRINT), 1, 'served from the cache');

    // Winbox, or a script on the router: a session of its own, not through rosgate.
    const winbox = await openRaw(t, stack.sim.port, { user: 'admin', password: 'secret' });
    const id = before[0]?.attributeString('.id') as string;
    await winbox.call(['/ip/hotspot/user/set', `=.id=${id}`, '=comment=changed in winbox']);
    await eventually(() => stats(stack).invalidations > 0, 'the listen reporting the change');
    const after = await c.call(USERS);
    t.equal(after[0]?.attributeString('comment'), 'changed in winbox');
    t.equal(ran(stack, USERS_PRINT), 2);
    t.equal(ran(stack, '/ip/hotspot/user/listen'), 1, 'still one listen');
  },
);

/** Prints the same three tables `rounds` times from each client; returns the client commands. */
async function billingReads(t: Tap, stack: Stack, rounds: number): Promise<number> {
  const raws = [await loggedIn(t, stack), await loggedIn(t, stack)];
  const api = await stack.client();
  const tables = [
    ['/system/identity/print'],
    USERS,
    ['/ppp/secret/print', '=.proplist=.id,name,profile'],
  ];
  let commands = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [command, ...params] of tables) {
      await Promise.all([
        ...raws.map((raw) => raw.call([command as string, ...params])),
        api.write(command as string, params),
      ]);
      commands += raws.length + 1;
    }
  }
  return commands;
}

/** Router commands but logins. */
function routerCommands(stack: Stack): number {
  let total = 0;
  for (const [command, count] of Object.entries(stack.sim.counters.commands))
    if (command !== '/login') total += count;
  return total;
}

t.test(
  "the simulator's counters prove the router commands per client command, with the cache and without",
  async (t) => {
    const cached = await cachedStack(t);
    const commands = await billingReads(t, cached, 10);
    t.equal(commands, 90);
    t.same(
      Object.fromEntries(
        Object.entries(cached.sim.counters.commands).filter(([c]) => c !== '/login'),
      ),
      {
        '/system/identity/print': 1,
        '/ip/hotspot/user/listen': 1,
        '/ip/hotspot/user/print': 1,
        '/ppp/secret/listen': 1,
        '/ppp/secret/print': 1,
      },
      'one print per table, and one listen per watched menu',
    );
    t.ok(
      routerCommands(cached) / commands <= 0.1,
      'at most 0.1 router commands per client command',
    );

    const off = await cachedStack(t, { config: { cache: { enabled: false } } });
    t.equal(await billingReads(t, off, 10), 90);
    t.equal(routerCommands(off), 90, 'without the cache, one router command per client command');
  },
);

t.test(
  'a write to one hotspot user keeps the cached lookups of the others, and drops every reply it can make wrong',
  async (t) => {
    // Without the listen, whose reports arrive when they do: the writes alone decide.
    const stack = await cachedStack(t, { config: { cache: { listen: { enabled: false } } } });
    const c = await loggedIn(t, stack);
    const [a, b] = (await c.call(USERS))
      .filter((s) => s.command === '!re')
      .map((s) => ({ id: s.attributeString('.id') as string, name: s.attributeString('name') }));
    const lookup = (filter: string): string[] => [
      USERS_PRINT,
      filter,
      '=.proplist=.id,name,comment',
    ];
    /** The names a print shows, and whether it reached the router. */
    const names = async (words: string[]) => {
      const before = ran(stack, USERS_PRINT);
      const rows = (await c.call(words)).filter((s) => s.command === '!re');
      return {
        names: rows.map((s) => s.attributeString('name')),
        isCached: ran(stack, USERS_PRINT) === before,
      };
    };
    for (const filter of [
      `?name=${a?.name}`,
      `?name=${b?.name}`,
      '?name=v1',
      '?name=renamed',
      '?comment=vip',
    ])
      await names(lookup(filter));

    const [added] = await c.call(['/ip/hotspot/user/add', '=name=v1', '=password=x']);
    t.same(await names(lookup(`?name=${a?.name}`)), { names: [a?.name], isCached: true });
    t.same(await names(lookup('?name=v1')), { names: ['v1'], isCached: false }, 'the add shows');

    await c.call(['/ip/hotspot/user/set', `=.id=${a?.id}`, '=name=renamed']);
    t.same(await names(lookup('?name=renamed')), { names: ['renamed'], isCached: false });
    t.same(await names(lookup(`?name=${a?.name}`)), { names: [], isCached: false });
    t.same(await names(lookup(`?name=${b?.name}`)), { names: [b?.name], isCached: true });

    await c.call(['/ip/hotspot/user/set', `=.id=${b?.id}`, '=comment=vip']);
    t.same(
      await names(lookup('?comment=vip')),
      { names: [b?.name], isCached: false },
      'it matches now',
    );
    t.same(await names(lookup('?name=renamed')), { names: ['renamed'], isCached: true });

    await c.call(['/ip/hotspot/user/remove', `=.id=${added?.attributeString('ret')}`]);
    t.same(await names(lookup('?name=v1')), { names: [], isCached: false });
    t.same(await names(lookup('?name=renamed')), { names: ['renamed'], isCached: true });
  },
);
