import t from 'tap';
import { cacheHarness, type CacheHarness, type FakeCall } from '../fixtures/cache-fake-handler.js';

// A router that answers the cache's listen with a trap.

const USERS = ['/ip/hotspot/user/print', '=.proplist=name'];
const LISTEN = '/ip/hotspot/user/listen';
const WARN = 40;

function watched(listen: Record<string, unknown> = {}): CacheHarness {
  return cacheHarness({
    listen: { paths: ['/ip/hotspot/user'], retryInitialMs: 1000, retryMaxMs: 4000, ...listen },
  });
}

/** Prints the users and answers the print (not the listen). */
function fillUsers(h: CacheHarness, words: string[] = USERS, id = '*1', name = 'a'): void {
  h.send(words);
  h.router.last.reply('!re', `=.id=${id}`, `=name=${name}`);
  h.router.last.done();
}

/** The router's refusal of a listen: a trap, then `!done`. */
function refuse(call: FakeCall | undefined, ...traps: string[][]): void {
  for (const words of traps) call?.reply('!trap', ...words);
  call?.done();
}

const listens = (h: CacheHarness): string[] =>
  h.router.of(LISTEN).map((call) => call.context.sentence.toString());

const warnings = (h: CacheHarness): Record<string, unknown>[] =>
  h.logs().filter((line) => line['level'] === WARN);

t.test(
  'a listen refused with .proplist is sent again at once without it, and its reports drop the whole menu',
  async (t) => {
    const h = watched();
    h.send(USERS);
    const print = h.router.last;
    refuse(
      h.router.of(LISTEN)[0],
      ['=message=unknown parameter .proplist'],
      ['=message=a second trap of the same refusal'],
    );
    t.same(listens(h), [`${LISTEN} =.proplist=.id,name,.dead`, LISTEN]);
    print.reply('!re', '=name=a');
    print.done();
    t.equal(
      h.send(USERS).context.notes.cache,
      'miss',
      'the print sent before the refusal was not kept',
    );
    h.router.last.done();
    t.equal(
      h.send(USERS).context.notes.cache,
      'hit',
      'the listen without .proplist guards the menu',
    );

    const nameA = [...USERS, '?name=a'];
    const nameB = [...USERS, '?name=b'];
    fillUsers(h, nameA);
    fillUsers(h, nameB, '*2', 'b');
    t.equal(h.send(nameB).context.notes.cache, 'hit');
    // With .proplist this report would reach only the `?name=a` reply; without it the menu goes.
    h.router.of(LISTEN)[1]?.reply('!re', '=.id=*1', '=name=a');
    t.equal(h.send(nameB).context.notes.cache, 'miss', 'a report drops the whole menu');
    t.match(h.cache.stats(), { r1: { listensActive: 1, listensRefused: 0 } });
    t.same(warnings(h), [], 'a listen that runs without .proplist is no warning');
    t.match(
      h.logs().find((line) => line['reason'] === 'unknown parameter .proplist'),
      { level: 30, router: 'r1', path: '/ip/hotspot/user' },
    );
  },
);

t.test(
  'a listen refused with and without .proplist: the menu is served as unwatched, with one warning and a slow retry',
  async (t) => {
    const h = watched({ refusedRetryMs: 120_000 });
    h.send(USERS);
    const print = h.router.last;
    refuse(h.router.of(LISTEN)[0], ['=message=unknown parameter .proplist']);
    // A trap without a message is a refusal all the same.
    refuse(h.router.of(LISTEN)[1], []);
    print.done();
    t.match(h.cache.stats(), { r1: { listensActive: 0, listensRefused: 1 } });
    t.same(h.clock.pendingDelays, [120_000], 'one slow retry is waiting');

    fillUsers(h);
    t.equal(h.send(USERS).context.notes.cache, 'hit', 'hits happen again');
    t.equal(h.send(USERS).context.notes.cache, 'hit');
    t.match(warnings(h), [
      { router: 'r1', path: '/ip/hotspot/user', reason: '', delayMs: 120_000 },
    ]);
    t.equal(warnings(h).length, 1);

    // Writes through rosgate still invalidate, row by row.
    fillUsers(h, [...USERS, '?name=b'], '*2', 'b');
    h.send(['/ip/hotspot/user/set', '=.id=*1', '=comment=x']);
    h.router.last.done();
    t.equal(h.send(USERS).context.notes.cache, 'miss', 'the written row is dropped');
    h.router.last.done();
    t.equal(h.send([...USERS, '?name=b']).context.notes.cache, 'hit', 'other rows stay');

    // The slow retry asks for .proplist again; a router that still refuses costs no new warning.
    h.clock.advance(120_000);
    t.equal(listens(h).length, 3);
    t.equal(listens(h)[2], `${LISTEN} =.proplist=.id,name,.dead`);
    refuse(h.router.of(LISTEN)[2], ['=message=unknown parameter .proplist']);
    refuse(h.router.of(LISTEN)[3], ['=message=no such command']);
    t.equal(warnings(h).length, 1, 'still one warning');
    t.same(h.clock.pendingDelays, [120_000]);
    t.equal(
      h.send([...USERS, '?name=b']).context.notes.cache,
      'hit',
      'a retry refused again drops nothing',
    );

    // A router that accepts it later watches the menu again.
    h.clock.advance(120_000);
    t.equal(listens(h).length, 5);
    t.match(h.cache.stats(), { r1: { listensActive: 1, listensRefused: 0 } });
    t.same(h.clock.pendingDelays, []);
    h.cache.close();
  },
);

t.test('an interrupted trap ends the listen as a loss, not a refusal', async (t) => {
  const h = watched();
  fillUsers(h);
  refuse(h.router.of(LISTEN)[0], ['=category=2', '=message=interrupted']);
  t.same(h.clock.pendingDelays, [1000], 'the short retry of a lost listen');
  t.equal(listens(h).length, 1, 'no listen without .proplist');
  t.equal(h.send(USERS).context.notes.cache, 'miss', 'a lost listen serves nothing');
  t.match(warnings(h), [{ path: '/ip/hotspot/user', delayMs: 1000 }]);
});

t.test('a listen lost after a refusal is sent again without .proplist', async (t) => {
  const h = watched();
  fillUsers(h);
  refuse(h.router.of(LISTEN)[0], ['=message=unknown parameter .proplist']);
  h.router.of(LISTEN)[1]?.done();
  h.clock.advance(1000);
  t.same(listens(h), [`${LISTEN} =.proplist=.id,name,.dead`, LISTEN, LISTEN]);
});

t.test('closing the cache stops the slow retry of a refused listen', async (t) => {
  const h = watched();
  fillUsers(h);
  refuse(h.router.of(LISTEN)[0], ['=message=unknown parameter .proplist']);
  refuse(h.router.of(LISTEN)[1], ['=message=no such command']);
  t.same(h.clock.pendingDelays, [300_000], 'five minutes by default');
  h.cache.close();
  t.same(h.clock.pendingDelays, []);
});

t.test(
  'a refusal whose !done arrives after the cache closed is not acted on: no listen again, no retry',
  async (t) => {
    const h = watched();
    fillUsers(h);
    const listen = h.router.of(LISTEN)[0];
    listen?.reply('!trap', '=message=unknown parameter .proplist');
    h.cache.close();
    t.equal(listen?.cancels, 1, 'the listen is cancelled');
    t.ok(listen?.isEnded, 'and answered with its !done');
    t.equal(listens(h).length, 1, 'no listen without .proplist is sent');
    t.same(h.clock.pendingDelays, [], 'no retry waits');
    t.notOk(
      h.logs().some((line) => line['reason'] === 'unknown parameter .proplist'),
      'the refusal is not logged',
    );
  },
);
