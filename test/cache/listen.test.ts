import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { cacheHarness, type CacheHarness } from '../fixtures/cache-fake-handler.js';

const USERS = ['/ip/hotspot/user/print', '=.proplist=name'];
const LISTEN = '/ip/hotspot/user/listen';

function watched(config: Record<string, unknown> = {}): CacheHarness {
  return cacheHarness({ listen: { paths: ['/ip/hotspot/user', '/ppp/secret'] }, ...config });
}

/** Prints the users and answers the print (not the listen). */
function fillUsers(h: CacheHarness, ...names: string[]): void {
  h.send(USERS);
  for (const name of names) h.router.last.reply('!re', `=name=${name}`);
  h.router.last.done();
}

t.test('the first print of a watched menu starts one listen on it, before the print', async (t) => {
  const h = watched();
  fillUsers(h, 'a');
  t.same(
    h.router.calls.map((c) => c.command),
    [LISTEN, '/ip/hotspot/user/print'],
  );
  const listen = h.router.of(LISTEN)[0];
  t.match(listen?.context, {
    router: 'r1',
    user: 'rosgate',
    clientId: 0,
    command: { menu: '/ip/hotspot/user', verb: 'listen' },
    receivedAt: h.clock.nowMs,
  });
  t.same(listen?.context.sentence.toString(), `${LISTEN} =.proplist=.id,name,.dead`);
  fillUsers(h, 'a');
  t.equal(h.send(USERS).context.notes.cache, 'hit');
  t.equal(h.router.of(LISTEN).length, 1, 'one listen per menu');
  t.equal(h.cache.stats()['r1']?.listensActive, 1);
});

t.test('a change the router reports invalidates the menu and its related menus', async (t) => {
  const h = watched();
  fillUsers(h, 'a');
  h.send(['/ip/hotspot/active/print']);
  h.router.last.done();
  const listen = h.router.of(LISTEN)[0];
  listen?.reply('!re', '=.id=*5');
  t.equal(h.send(USERS).context.notes.cache, 'miss');
  t.equal(h.send(['/ip/hotspot/active/print']).context.notes.cache, 'miss');
  t.equal(h.cache.stats()['r1']?.invalidations, 2);
});

t.test('a print in flight when the router reports a change is not kept', async (t) => {
  const h = watched();
  h.send(USERS);
  const print = h.router.last;
  // No name, no .dead: any row may have changed in any way.
  h.router.of(LISTEN)[0]?.reply('!re', '=.id=*1');
  print.done();
  t.equal(h.send(USERS).context.notes.cache, 'miss');
});

t.test('listen replies other than !re change nothing', async (t) => {
  const h = watched();
  fillUsers(h, 'a');
  h.router.of(LISTEN)[0]?.reply('!empty');
  t.equal(h.send(USERS).context.notes.cache, 'hit');
});

t.test(
  'a lost listen expires its menu, which is not served until the listen is back',
  async (t) => {
    const h = watched({
      listen: { paths: ['/ip/hotspot/user'], retryInitialMs: 1000, retryMaxMs: 4000 },
    });
    fillUsers(h, 'a');
    h.router.of(LISTEN)[0]?.refuse(ErrorCode.UpstreamClosed);
    t.match(
      h.cache.stats(),
      { r1: { entries: 1, invalidations: 1, listensActive: 0 } },
      'kept for serving stale only',
    );
    t.same(h.clock.pendingDelays, [1000]);
    t.match(
      h.logs().find((l) => l['level'] === 40),
      { router: 'r1', path: '/ip/hotspot/user', code: ErrorCode.UpstreamClosed, delayMs: 1000 },
    );
    // While it is down, prints go to the router and are not kept.
    fillUsers(h, 'a');
    t.equal(h.send(USERS).context.notes.cache, 'miss');
    h.router.last.done();
    t.equal(h.cache.stats()['r1']?.invalidations, 1, 'neither reply was kept fresh');

    h.clock.advance(1000);
    t.equal(h.router.of(LISTEN).length, 2, 'the listen is sent again');
    t.equal(
      h.send(USERS).context.notes.cache,
      'miss',
      'what was kept before the loss stays expired',
    );
    h.router.last.done();
    t.equal(h.send(USERS).context.notes.cache, 'hit');
  },
);

t.test(
  'listen retries back off, doubling up to retryMaxMs, and a kept reply resets them',
  async (t) => {
    const h = watched({
      listen: { paths: ['/ip/hotspot/user'], retryInitialMs: 1000, retryMaxMs: 4000 },
    });
    h.router.onCommand = (call) => {
      if (call.command === LISTEN) call.refuse(ErrorCode.BreakerOpen);
    };
    fillUsers(h, 'a');
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      delays.push(...h.clock.pendingDelays);
      h.clock.advance(h.clock.pendingDelays[0] as number);
    }
    t.same(delays, [1000, 2000, 4000, 4000]);
    t.equal(
      h.logs().filter((l) => l['level'] === 40).length,
      1,
      'only the first loss in a row warns',
    );
    t.equal(
      h.logs().filter((l) => l['level'] === 20 && l['path'] === '/ip/hotspot/user').length,
      4,
    );

    h.router.onCommand = undefined;
    h.clock.advance(4000);
    fillUsers(h, 'a');
    h.router.of(LISTEN).at(-1)?.done();
    t.same(h.clock.pendingDelays, [1000], 'the router answered in between: back to the first wait');
  },
);

t.test(
  'a listen that ends with a trap is refused, not lost: sent again at once without .proplist',
  async (t) => {
    const h = watched();
    fillUsers(h, 'a');
    const listen = h.router.of(LISTEN)[0];
    listen?.reply('!trap', '=message=no such command');
    listen?.done();
    t.equal(h.cache.stats()['r1']?.invalidations, 1, 'what it guarded is fresh no more');
    t.equal(h.send(USERS).context.notes.cache, 'miss');
    t.equal(h.router.of(LISTEN).length, 2, 'no wait (test/cache/refused-listen.test.ts)');
    t.same(h.clock.pendingDelays, []);
  },
);

t.test('a listen the inner handler throws on counts as lost', async (t) => {
  const h = watched();
  h.router.onCommand = (call) => {
    if (call.command === LISTEN) throw new Error('bug');
  };
  fillUsers(h, 'a');
  t.equal(h.send(USERS).context.notes.cache, 'miss');
  t.match(
    h.logs().find((l) => l['level'] === 40),
    { code: ErrorCode.Internal },
  );
  t.equal(h.clock.pendingDelays.length, 1);
});

t.test('close cancels every listen and stops retries; no new listen starts', async (t) => {
  const h = watched();
  fillUsers(h, 'a');
  h.send(['/ppp/secret/print']);
  h.router.last.done();
  h.router.of('/ppp/secret/listen')[0]?.refuse(ErrorCode.UpstreamClosed);
  t.equal(h.clock.pendingDelays.length, 1);
  h.cache.close();
  t.equal(h.router.of(LISTEN)[0]?.cancels, 1);
  t.same(h.clock.pendingDelays, [], 'the waiting retry is gone');
  t.equal(h.cache.stats()['r1']?.listensActive, 0);
  t.equal(
    h.send(USERS).context.notes.cache,
    'miss',
    'a watched menu is not served without its listen',
  );
  h.router.last.done();
  h.clock.advance(60_000);
  t.equal(
    h.router.calls.filter((c) => c.context.command.verb === 'listen').length,
    2,
    'nothing was sent again',
  );
});

t.test('menus not watched are cached without a listen', async (t) => {
  const h = watched();
  h.send(['/ip/pool/print']);
  h.router.last.done();
  t.equal(h.router.calls.length, 1);
  t.equal(h.send(['/ip/pool/print']).context.notes.cache, 'hit');
});

t.test('by default the user, secret and profile menus are watched', async (t) => {
  const h = cacheHarness({ listen: {} });
  for (const path of [
    '/ip/hotspot/user',
    '/ppp/secret',
    '/ip/hotspot/user/profile',
    '/ppp/profile',
  ]) {
    h.send([`${path}/print`]);
    t.equal(h.router.of(`${path}/listen`).length, 1, path);
  }
  const off = cacheHarness({ listen: { enabled: false } });
  off.send(['/ppp/secret/print']);
  t.equal(off.router.of('/ppp/secret/listen').length, 0, 'listen.enabled false turns them off');
});
