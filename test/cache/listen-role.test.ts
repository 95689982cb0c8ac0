/**
 * The cache of a group's replica (issue 18): the replica that runs the
 * router's listens for the group starts every configured one at once and
 * tells the group what they report; a follower runs none and serves the
 * menus like unwatched ones, trusting them while the holder's listen runs.
 */
import { Writable } from 'node:stream';
import t from 'tap';
import { createCacheStage, type ListenRole } from '../../src/cache/index.js';
import { SECTIONS } from '../../src/config/index.js';
import { ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import type { WordInput } from '../../src/protocol/index.js';
import { ManualClock } from '../fixtures/cache-clock.js';
import { FakeHandler, RecordingSink, commandOf } from '../fixtures/cache-fake-handler.js';

const USERS = '/ip/hotspot/user';
const PROFILES = '/ppp/profile';
const PRINT = [`${USERS}/print`, '=.proplist=.id,name'];

/** A group's role the test sets by hand; records what the cache tells it. */
class FakeRole implements ListenRole {
  runsListens: boolean;
  readonly followed = new Set<string>();
  readonly events: string[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(runsListens: boolean) {
    this.runsListens = runsListens;
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  isFollowed(path: string): boolean {
    return this.followed.has(path);
  }

  listenStarted(path: string): void {
    this.events.push(`started ${path}`);
  }

  listenEnded(path: string, isLost: boolean): void {
    this.events.push(`${isLost ? 'lost' : 'stopped'} ${path}`);
  }

  report(path: string, rowKey: string | undefined): void {
    this.events.push(`report ${path} ${rowKey ?? 'menu'}`);
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** This replica starts (true) or stops (false) running the listens. */
  set(runsListens: boolean): void {
    this.runsListens = runsListens;
    for (const listener of this.#listeners) listener();
  }
}

function harness(role: FakeRole, options: { fallbackTtlMs?: number } = {}) {
  const config = SECTIONS.cache.schema.parse({
    listen: { paths: [USERS, PROFILES], retryInitialMs: 100 },
  });
  const clock = new ManualClock();
  const cache = createCacheStage({
    config,
    logger: createLogger('silent', new Writable({ write: (_c, _e, done) => done() })),
    now: clock.now,
    timers: clock,
    listenRole: () => role,
    fallbackTtlMs: () => options.fallbackTtlMs,
  });
  const router = new FakeHandler();
  const pipeline = cache.stage(router);
  const send = (words: readonly WordInput[]) => {
    const context = commandOf(words);
    pipeline.handle(context, new RecordingSink());
    return context;
  };
  /** A print answered by the router with one row. */
  const fill = () => {
    const context = send(PRINT);
    if (context.notes.cache === 'miss') {
      router.last.reply('!re', '=.id=*1', '=name=a');
      router.last.done();
    }
    return context.notes.cache;
  };
  const listens = (path: string) => router.of(`${path}/listen`);
  return { cache, router, clock, send, fill, listens };
}

t.test(
  'the replica that runs the listens for the group starts every configured one at once',
  async (t) => {
    const role = new FakeRole(true);
    const h = harness(role);
    t.equal(h.fill(), 'miss');
    t.same(
      h.router.calls.map((c) => c.command),
      [`${USERS}/listen`, `${PROFILES}/listen`, `${USERS}/print`],
      'both listens, before the first print',
    );
    t.same(role.events, [`started ${USERS}`, `started ${PROFILES}`]);
    t.equal(h.fill(), 'hit');
    t.equal(h.cache.stats()['r1']?.listensActive, 2);
  },
);

t.test('what the listens report goes to the group, by row when the row is known', async (t) => {
  const role = new FakeRole(true);
  const h = harness(role);
  h.fill();
  role.events.length = 0;
  h.listens(USERS)[0]?.reply('!re', '=.id=*1', '=name=b');
  h.listens(USERS)[0]?.reply('!re', '=.id=*2');
  h.listens(PROFILES)[0]?.reply('!re', '=.id=*3', '=name=gold');
  t.same(role.events, [
    `report ${USERS} {"kind":"named","ids":["*1"],"name":"b"}`,
    `report ${USERS} menu`,
    `report ${PROFILES} menu`,
  ]);
  t.equal(h.fill(), 'miss', 'dropped here too');
});

t.test('a lost or refused listen is reported to the group as ended', async (t) => {
  const role = new FakeRole(true);
  const h = harness(role);
  h.fill();
  role.events.length = 0;
  h.listens(USERS)[0]?.refuse(ErrorCode.UpstreamClosed);
  h.listens(PROFILES)[0]?.reply('!trap', '=message=no such command');
  h.listens(PROFILES)[0]?.done();
  t.same(role.events, [`lost ${USERS}`, `lost ${PROFILES}`, `started ${PROFILES}`]);
  h.clock.advance(100);
  t.same(role.events.slice(3), [`started ${USERS}`], 'sent again after the wait');
});

t.test(
  'a follower runs no listen and serves the menus like unwatched ones, capped while it cannot trust them',
  async (t) => {
    const role = new FakeRole(false);
    const h = harness(role, { fallbackTtlMs: 5000 });
    t.equal(h.fill(), 'miss');
    t.same(h.listens(USERS), [], 'no listen from a follower');
    t.equal(h.fill(), 'hit', 'kept and served while no listen covers it');
    h.clock.advance(5000);
    t.equal(h.fill(), 'miss', 'past the fallback TTL: the holder does not cover it');
    role.followed.add(USERS);
    h.clock.advance(5000);
    t.equal(h.fill(), 'miss', 'kept before the listen covered it: still capped');
    h.clock.advance(5000);
    t.equal(h.fill(), 'hit', "kept while the holder's listen covers it: no cap");
    t.equal(h.cache.stats()['r1']?.listensActive, 0, 'it runs none itself');
  },
);

t.test(
  'a follower that takes the listens over drops what it kept of their menus and starts them',
  async (t) => {
    const role = new FakeRole(false);
    const h = harness(role);
    h.fill();
    t.equal(h.fill(), 'hit');
    h.send(['/ip/hotspot/active/print']);
    h.router.last.done();
    role.set(true);
    t.equal(h.listens(USERS).length, 1, 'its own listen now');
    t.equal(h.listens(PROFILES).length, 1);
    t.equal(h.fill(), 'miss', 'what it kept as a follower is gone');
    t.equal(
      h.send(['/ip/hotspot/active/print']).notes.cache,
      'miss',
      'and what it kept of a related menu',
    );
    t.equal(h.fill(), 'hit');
    role.set(true);
    t.equal(h.listens(USERS).length, 1, 'no change: nothing sent again');
  },
);

t.test('a replica that hands the listens over stops its own, and keeps its replies', async (t) => {
  const role = new FakeRole(true);
  const h = harness(role);
  h.fill();
  h.listens(PROFILES)[0]?.refuse(ErrorCode.UpstreamClosed);
  role.events.length = 0;
  role.set(false);
  t.equal(h.listens(USERS)[0]?.cancels, 1, 'the running listen is cancelled');
  t.same(role.events, [`stopped ${USERS}`], 'the one waiting to be sent again just stops');
  h.clock.advance(1000);
  t.equal(h.listens(PROFILES).length, 1, 'and is not sent again');
  role.followed.add(USERS);
  t.equal(h.fill(), 'hit', 'the replies stay: the holder covers them');
  t.equal(h.cache.stats()['r1']?.listensActive, 0);
  role.set(true);
  t.equal(h.listens(USERS).length, 2, 'started again when it runs them again');
});

t.test('a closed cache stops following the role', async (t) => {
  const role = new FakeRole(false);
  const h = harness(role);
  h.fill();
  t.equal(role.listeners, 1);
  h.cache.close();
  t.equal(role.listeners, 0, 'no longer listening to the role');
  role.set(true);
  t.same(h.listens(USERS), [], 'and starts nothing');
});

t.test('closing the cache tells the group its running listens ended', async (t) => {
  const role = new FakeRole(true);
  const h = harness(role);
  h.fill();
  role.events.length = 0;
  h.cache.close();
  t.same(role.events, [`stopped ${USERS}`, `stopped ${PROFILES}`]);
});
